"""Which music a corpus is made of: the Debian packages, where each keeps its music (globs
under WORK/pkgs/PKG), the licences read by hand, and how tracks are split. corpus.py's steps
take a Catalogue: DISTILLATION (the built-in model's training corpus) by default, UNSEEN for the
independent check of unseen.py (three packages the corpus never uses, all a test split).
"""

import hashlib
from dataclasses import dataclass
from typing import Callable


@dataclass(frozen=True)
class Catalogue:
    """A corpus's sources."""

    # package -> globs of its music under WORK/pkgs/PKG (or "fretsonfire": song + guitar stems)
    music: dict
    # package -> licence, where its copyright file is not machine-readable (DEP-5) or names no
    # stanza for the music: read by hand from credits/PKG.copyright
    licences: dict
    # (package, track) -> "train", "valid" or "test"
    split: Callable[[str, str], str]
    # folders of WORK with tracks made for the corpus (render.py's renders, sing.py's voices)
    made: tuple = ()


# Where each package keeps its music (globs under WORK/pkgs/PKG). Fret's on Fire is special.
_MUSIC = {
    "0ad-data": ["music/audio/music/**/*.ogg"],
    "wesnoth-1.16-music": ["usr/share/**/music/*.ogg"],
    "warzone2100-music": ["usr/share/**/*.opus"],
    "supertuxkart-data": ["usr/share/games/supertuxkart/data/music/*.ogg"],
    "noiz2sa-data": ["usr/share/**/*.ogg"],
    "torus-trooper-data": ["usr/share/**/*.ogg"],
    "tumiki-fighters-data": ["usr/share/**/*.ogg"],
    "parsec47-data": ["usr/share/**/*.ogg"],
    "mu-cade-data": ["usr/share/**/*.ogg"],
    "gunroar-data": ["usr/share/**/*.ogg"],
    "titanion-data": ["usr/share/**/*.ogg"],
    "rrootage-data": ["usr/share/**/*.ogg"],
    "fretsonfire-songs-muldjord": "fretsonfire",
    "fretsonfire-songs-sectoid": "fretsonfire",
    # The second edition: rock, orchestral, ambient, dance, harpsichord, sitar, folk.
    "ufoai-music": ["music/music/*.ogg"],
    "nexuiz-music": ["music/sound/cdtracks/*.ogg"],
    "planetblupi-music-ogg": ["usr/share/planetblupi/music/*.ogg"],
    "naev-data": ["usr/share/naev/dat/snd/music/*.ogg"],
    "supertux-data": ["usr/share/games/supertux2/music/**/*.ogg"],
    "widelands-data": ["usr/share/games/widelands/data/music/*.ogg"],
    "megaglest-data": ["usr/share/games/megaglest/**/music/*.ogg"],
    "freecol": ["usr/share/games/freecol/default/resources/music/**/*.ogg"],
    "colobot-common-sounds": ["usr/share/games/colobot/music/*.ogg"],
    "asc-music": ["usr/share/games/asc/music/*.mp3"],
    "lincity-ng-data": ["usr/share/games/lincity-ng/music/**/*.ogg"],
    "hyperrogue-music": ["usr/share/hyperrogue/music/*.ogg"],
    "singularity-music": ["usr/share/games/singularity/music/**/*.ogg"],
    "warmux-data": ["usr/share/games/warmux/music/**/*.ogg"],
    "flare-game": ["usr/share/games/flare/mods/*/music/*.ogg"],
    "extremetuxracer-data": ["usr/share/games/etr/music/*.ogg"],
    "frozen-bubble-data": ["usr/share/games/frozen-bubble/snd/*.ogg"],
    "lugaru-data": ["usr/share/games/lugaru/Sounds/*.ogg"],
    "scorched3d-data": ["usr/share/games/scorched3d/data/globalmods/none/data/music/*.ogg"],
}


# The licence of each package's music where its copyright file is not machine-readable (DEP-5)
# or names no stanza for the music: read by hand from credits/PKG.copyright.
_LICENCES = {
    "0ad-data": "CC-BY-SA-3.0",
    "wesnoth-1.16-music": "GPL-2+",
    "warzone2100-music": "GPL-2+",
    "fretsonfire-songs-muldjord": "CC-BY-SA-3.0",
    "fretsonfire-songs-sectoid": "Expat (MIT)",
    "nexuiz-music": "GPL-2+",
    "singularity-music": "CC-BY-SA-3.0",
    "warmux-data": "GPL-2+",
    "renders": "music21 corpus scores (BSD-3-clause / public domain), rendered with FluidR3_GM (MIT)",
    "voices": "music21 corpus melodies (BSD-3-clause / public domain) sung by Sinsy (pysinsy, "
              "BSD-3-clause; HTS voice 'NIT song070 f001', CC-BY-3.0) and Festival (X11-style), "
              "mixed with corpus tracks of the licences above",
}
_ABA_GAMES = "BSD-2-clause (Kenta Cho)"
_ABA_PACKAGES = {"noiz2sa-data", "torus-trooper-data", "tumiki-fighters-data", "parsec47-data",
                "mu-cade-data", "gunroar-data", "titanion-data", "rrootage-data"}


_LICENCES.update({pkg: _ABA_GAMES for pkg in _ABA_PACKAGES})


def split_by_track(pkg: str, track: str) -> str:
    """10 % test, 10 % valid, 80 % train, by a hash of the track's name: no track is in two
    splits, and all renders and voicings of a piece are in the piece's."""
    if pkg in ("renders", "voices"):  # PIECE__…: all renders of a piece in one split
        track = track.split("__")[0]
    h = int(hashlib.sha256(f"{pkg}/{track}".encode()).hexdigest()[:8], 16) % 100
    return "test" if h < 10 else "valid" if h < 20 else "train"


DISTILLATION = Catalogue(music=_MUSIC, licences=_LICENCES, split=split_by_track, made=("renders", "voices"))

# Kept for an independent check of the result: never part of the distillation corpus.
RESERVED = {"hedgewars-data", "drascula-music", "performous"}
assert not RESERVED & DISTILLATION.music.keys()

UNSEEN = Catalogue(
    music={
        "hedgewars-data": ["usr/share/games/hedgewars/Data/Music/*.ogg"],
        "drascula-music": ["usr/share/scummvm/drascula/audio/*.ogg"],
        "performous": ["usr/share/games/performous/themes/default/*.ogg"],
    },
    licences={"hedgewars-data": "GPL-2 / see credits", "drascula-music": "see credits"},
    split=lambda pkg, track: "test",
)
