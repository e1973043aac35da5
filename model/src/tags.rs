//! The 50 MagnaTagATune tags, in the label-column order of `tags.npy` (Won et al.'s split), which
//! is the order of the model's outputs.

use alloc::string::{String, ToString};
use alloc::vec::Vec;

/// The top-50 MTAT tags in `tags.npy` order.
pub const MTAT_TAGS: [&str; 50] = [
    "guitar",
    "classical",
    "slow",
    "techno",
    "strings",
    "drums",
    "electronic",
    "rock",
    "fast",
    "piano",
    "ambient",
    "beat",
    "violin",
    "vocal",
    "synth",
    "female",
    "indian",
    "opera",
    "male",
    "singing",
    "vocals",
    "no vocals",
    "harpsichord",
    "loud",
    "quiet",
    "flute",
    "woman",
    "male vocal",
    "no vocal",
    "pop",
    "soft",
    "sitar",
    "solo",
    "man",
    "classic",
    "choir",
    "voice",
    "new age",
    "dance",
    "male voice",
    "female vocal",
    "beats",
    "harp",
    "cello",
    "no voice",
    "weird",
    "country",
    "metal",
    "female voice",
    "choral",
];

/// The MTAT tags as owned strings, the default vocabulary of a model configuration.
pub fn mtat_tags() -> Vec<String> {
    MTAT_TAGS.iter().map(|t| t.to_string()).collect()
}

/// The paper's tag categories (its Fig. 2 groups the per-tag results by them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TagGroup {
    /// Genres and styles (rock, classical, techno…).
    Genre,
    /// Instruments (guitar, piano, sitar…).
    Instrument,
    /// Voice: its presence, absence and kind (male vocal, choir, no vocals…).
    Vocal,
    /// Mood and dynamics (slow, loud, quiet, soft, weird).
    Mood,
    /// The rest (beat, beats, solo).
    Other,
}

impl TagGroup {
    /// The groups in display order.
    pub const ALL: [TagGroup; 5] = [
        Self::Genre,
        Self::Instrument,
        Self::Vocal,
        Self::Mood,
        Self::Other,
    ];

    /// Its name, in lower case.
    pub fn name(self) -> &'static str {
        match self {
            Self::Genre => "genre",
            Self::Instrument => "instrument",
            Self::Vocal => "vocal",
            Self::Mood => "mood",
            Self::Other => "other",
        }
    }

    /// The group of an MTAT tag; any other tag is [`TagGroup::Other`].
    pub fn of(tag: &str) -> Self {
        const GENRE: [&str; 13] = [
            "classical",
            "techno",
            "electronic",
            "rock",
            "indian",
            "opera",
            "pop",
            "classic",
            "new age",
            "dance",
            "country",
            "metal",
            "ambient",
        ];
        const INSTRUMENT: [&str; 12] = [
            "guitar",
            "strings",
            "drums",
            "piano",
            "violin",
            "synth",
            "harpsichord",
            "flute",
            "sitar",
            "harp",
            "cello",
            "choir",
        ];
        const VOCAL: [&str; 16] = [
            "vocal",
            "female",
            "male",
            "singing",
            "vocals",
            "no vocals",
            "woman",
            "male vocal",
            "no vocal",
            "man",
            "voice",
            "male voice",
            "female vocal",
            "no voice",
            "female voice",
            "choral",
        ];
        const MOOD: [&str; 6] = ["slow", "fast", "loud", "quiet", "soft", "weird"];
        if GENRE.contains(&tag) {
            Self::Genre
        } else if INSTRUMENT.contains(&tag) {
            Self::Instrument
        } else if VOCAL.contains(&tag) {
            Self::Vocal
        } else if MOOD.contains(&tag) {
            Self::Mood
        } else {
            Self::Other
        }
    }
}
