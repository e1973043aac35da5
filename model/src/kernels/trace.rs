//! Which of the project's CPU kernels ran on this thread, counted per kernel route: tests read
//! it to show that a comparison with burn compared *our* kernel (had the dispatch fallen back to
//! burn's, both sides would be burn's and agree), and that other backends keep burn's. And, on
//! request, which convolutions ran (any device): `bench --layers` times each.
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

/// A convolution's shapes as [`super::conv2d`] saw them: input, weight, padding.
pub type ConvShapes = ([usize; 4], [usize; 4], [usize; 2]);

#[cfg(feature = "std")]
std::thread_local! {
    /// While recording: each distinct convolution this thread ran, with how many times.
    static CONVS: core::cell::RefCell<Option<alloc::vec::Vec<(ConvShapes, usize)>>> =
        const { core::cell::RefCell::new(None) };
}

/// Starts recording the convolutions this thread runs (forgetting any recorded before).
pub fn record_convolutions() {
    #[cfg(feature = "std")]
    CONVS.with(|c| *c.borrow_mut() = Some(alloc::vec::Vec::new()));
}

/// Stops recording, and gives the distinct convolutions recorded with how many times each ran,
/// in the order first seen (`bench --layers` times each).
pub fn recorded_convolutions() -> alloc::vec::Vec<(ConvShapes, usize)> {
    #[cfg(feature = "std")]
    return CONVS.with(|c| c.borrow_mut().take().unwrap_or_default());
    #[cfg(not(feature = "std"))]
    alloc::vec::Vec::new()
}

/// Notes one convolution, while recording.
pub(crate) fn saw_convolution(shapes: ConvShapes) {
    #[cfg(feature = "std")]
    CONVS.with(|c| {
        if let Some(seen) = c.borrow_mut().as_mut() {
            match seen.iter_mut().find(|(s, _)| *s == shapes) {
                Some((_, times)) => *times += 1,
                None => seen.push((shapes, 1)),
            }
        }
    });
    #[cfg(not(feature = "std"))]
    let _ = shapes;
}
