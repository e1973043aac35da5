#!/usr/bin/env bash
# Step 1 of the distillation corpus: download the Debian packages whose music is used and
# unpack them (no root install). WORK defaults to corpus-work/ (ignored by git); every step is
# skipped when its output is there, so the script can be re-run after an interruption.
#
# Never add hedgewars-data, drascula-music or performous: they are kept for an independent check.
set -euo pipefail
WORK="${1:-corpus-work}"
PACKAGES=(
  0ad-data wesnoth-1.16-music warzone2100-music supertuxkart-data
  fretsonfire-songs-muldjord fretsonfire-songs-sectoid
  noiz2sa-data torus-trooper-data tumiki-fighters-data parsec47-data mu-cade-data
  gunroar-data titanion-data rrootage-data
  ufoai-music planetblupi-music-ogg naev-data supertux-data widelands-data
  megaglest-data freecol nexuiz-music colobot-common-sounds asc-music lincity-ng-data
  hyperrogue-music singularity-music warmux-data flare-game
  extremetuxracer-data frozen-bubble-data lugaru-data scorched3d-data
  fluid-soundfont-gm
)
mkdir -p "$WORK/debs" "$WORK/pkgs" "$WORK/credits"
cd "$WORK/debs"
missing=()
for p in "${PACKAGES[@]}"; do
  compgen -G "${p}_*.deb" > /dev/null || missing+=("$p")
done
if ((${#missing[@]})); then
  apt-get update -q
  apt-get download "${missing[@]}"
fi
cd ..
# Credits are copied afresh: a package dropped from the list leaves none behind.
rm -f credits/*.copyright
for p in "${PACKAGES[@]}"; do
  deb=$(ls debs/"${p}"_*.deb | head -1)
  if [[ ! -e "pkgs/$p/.done" ]]; then
    echo "unpacking $deb"
    rm -rf "pkgs/$p"
    dpkg -x "$deb" "pkgs/$p"
    # Where the music is inside a game's archive, keep only that.
    case $p in
      0ad-data) archive=usr/share/games/0ad/mods/public/public.zip music='audio/music/*' ;;
      ufoai-music) archive=usr/share/games/ufoai/base/0music.pk3 music='music/*' ;;
      nexuiz-music) archive=usr/share/games/nexuiz/data/music.pk3 music='sound/cdtracks/*' ;;
      *) archive='' ;;
    esac
    if [[ -n $archive ]]; then
      unzip -q -o "pkgs/$p/$archive" "$music" -d "pkgs/$p/music"
      rm -f "pkgs/$p/$archive"
    fi
    touch "pkgs/$p/.done"
  fi
  # The licence of each package travels with the corpus.
  cp "pkgs/$p/usr/share/doc/$p/copyright" "credits/$p.copyright"
  echo "$p $(basename "$deb")" >> credits/packages.txt.tmp
done
sort -u credits/packages.txt.tmp > credits/packages.txt && rm credits/packages.txt.tmp
echo "unpacked ${#PACKAGES[@]} packages into $WORK/pkgs"
