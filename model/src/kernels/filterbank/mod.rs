//! Banks of long, strided filters on one-channel signals — both front-end layers — every route
//! side by side: on any backend the polyphase form, one stride-1 convolution ([`polyphase`],
//! differentiable); in inference on Flex, for kernels symmetric about their centre tap (the sinc
//! band-passes), the project's kernel that adds the samples meeting equal taps first
//! ([`symmetric`], half the multiplies; `extension.rs` makes it a burn operation).

#[cfg(feature = "cpu-kernels")]
mod extension;
mod polyphase;
#[cfg(feature = "cpu-kernels")]
pub(crate) mod symmetric;
#[cfg(all(test, feature = "cpu-kernels"))]
mod tests;

#[cfg(feature = "cpu-kernels")]
pub use extension::FilterbankKernels;
pub use polyphase::{
    strided_filterbank, strided_filterbank_rows, symmetric_filterbank, symmetric_filterbank_rows,
};
