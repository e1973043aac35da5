//! Which of the project's CPU kernels ran on this thread, counted per kernel route: tests read
//! it to show that a comparison with burn compared *our* kernel (had the dispatch fallen back to
//! burn's, both sides would be burn's and agree), and that other backends keep burn's.
//!
//! A thread-local counter (with `std`; without it nothing is counted): the kernels are entered
//! on the caller's thread (Flex computes eagerly, and burn's autodiff runs the backward on the
//! thread that asked for it), and tests running side by side do not see each other's counts.

/// A kernel route, as counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// The convolution by `kh` matrix multiplies over strided views (fewer than 64 input channels).
    ConvForwardRows,
    /// The convolution over the unfolded image, one multiply per image (64 input channels or more).
    ConvForwardUnfolded,
    /// Winograd's 3×3 convolution.
    ConvForwardWinograd,
    /// The weight gradient over strided views.
    ConvWeightGradRows,
    /// The weight gradient over the unfolded image.
    ConvWeightGradUnfolded,
    /// The input gradient (a convolution with the flipped kernel).
    ConvInputGrad,
    /// The symmetric filterbank (inference).
    SymmetricFilterbank,
    /// Batch normalisation in training, forward.
    BatchNormForward,
    /// Batch normalisation in training, backward.
    BatchNormBackward,
    /// Batch normalisation in inference (with its ReLU or residual sum).
    BatchNormInference,
    /// Max pooling, forward.
    MaxPoolForward,
    /// Max pooling, backward.
    MaxPoolBackward,
}

#[cfg(feature = "std")]
const ROUTES: usize = Route::MaxPoolBackward as usize + 1;

#[cfg(feature = "std")]
std::thread_local! {
    static COUNTS: core::cell::Cell<[u64; ROUTES]> = const { core::cell::Cell::new([0; ROUTES]) };
}

/// Counts one run of `route` on this thread.
pub(crate) fn count(route: Route) {
    #[cfg(feature = "std")]
    COUNTS.with(|c| {
        let mut counts = c.get();
        counts[route as usize] += 1;
        c.set(counts);
    });
    #[cfg(not(feature = "std"))]
    let _ = route;
}

/// How many times `route` ran on this thread so far (always 0 without `std`).
pub fn runs(route: Route) -> u64 {
    #[cfg(feature = "std")]
    return COUNTS.with(|c| c.get()[route as usize]);
    #[cfg(not(feature = "std"))]
    {
        let _ = route;
        0
    }
}
