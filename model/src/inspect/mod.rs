//! Looking inside a model: its intermediate tensors as pictures ([`picture`]) and the frequency
//! responses of its learned filters ([`response`]).

pub mod picture;
pub mod response;
