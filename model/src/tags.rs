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
