//! The model crate's integration tests, as one test binary (one link of burn instead of two).

mod gradient;
mod model;
