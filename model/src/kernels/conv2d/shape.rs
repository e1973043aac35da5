//! The geometry of one convolution, shared by the direct kernel (`direct.rs`), Winograd's
//! (`winograd.rs`), the burn extension, cuDNN's descriptors (`cudnn/`) and the unfolded form's
//! tiles (`unfolded/`): its own file, so that no kernel imports another for it.

/// The geometry of one convolution.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConvShape {
    /// Images.
    pub batch: usize,
    /// Input channels.
    pub c_in: usize,
    /// Output channels.
    pub c_out: usize,
    /// Input height.
    pub h: usize,
    /// Input width.
    pub w: usize,
    /// Kernel height.
    pub kh: usize,
    /// Kernel width.
    pub kw: usize,
    /// Zero rows above and below.
    pub ph: usize,
    /// Zero columns left and right.
    pub pw: usize,
}

impl ConvShape {
    /// The geometry of `x` `[batch, c_in, h, w]` convolved with `weight` `[c_out, c_in, kh, kw]`
    /// at padding `[ph, pw]`.
    pub fn of(
        [batch, c_in, h, w]: [usize; 4],
        [c_out, _, kh, kw]: [usize; 4],
        [ph, pw]: [usize; 2],
    ) -> Self {
        Self {
            batch,
            c_in,
            c_out,
            h,
            w,
            kh,
            kw,
            ph,
            pw,
        }
    }

    /// Output height.
    pub fn oh(&self) -> usize {
        self.h + 2 * self.ph + 1 - self.kh
    }
    /// Output width.
    pub fn ow(&self) -> usize {
        self.w + 2 * self.pw + 1 - self.kw
    }
    /// Output positions per image.
    pub(crate) fn positions(&self) -> usize {
        self.oh() * self.ow()
    }
    /// Rows of the unfolded input: one per (input channel, kernel tap).
    pub(crate) fn taps(&self) -> usize {
        self.c_in * self.kh * self.kw
    }
    pub(crate) fn image(&self) -> usize {
        self.c_in * self.h * self.w
    }
    pub(crate) fn out_image(&self) -> usize {
        self.c_out * self.positions()
    }
    /// For output column `ox` reading input column `ox + kx − pw`: the valid output columns.
    pub(crate) fn columns(&self, kx: usize) -> (usize, usize) {
        let ow = self.ow();
        let first = self.pw.saturating_sub(kx);
        let last = (self.w + self.pw).saturating_sub(kx).min(ow);
        (first, last.max(first))
    }
}
