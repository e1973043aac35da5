//! The symmetric filterbank against its definition, tap by tap, and the model's route (the
//! kernel on Flex in inference) against the polyphase convolution.

use alloc::format;
use alloc::vec;
use alloc::vec::Vec;

use burn::tensor::{Device, Distribution, Tensor, TensorData};

use crate::kernels::GpuConvolution;
use crate::kernels::testing::{assert_close, ran, values};
use crate::kernels::trace::Route;

/// A symmetric bank by its definition, tap by tap (`half`: each kernel's first `L + 1` taps).
fn symmetric_bank_by_definition(
    x: &[f32],
    half: &[f32],
    s: &super::symmetric::BankShape,
) -> Vec<f32> {
    let (rows, frames, taps) = (s.rows, s.frames(), s.taps());
    let mut y = vec![0.0f32; s.batch * s.filters * rows * frames];
    for n in 0..s.batch {
        for f in 0..s.filters {
            let h = &half[f * s.half..(f + 1) * s.half];
            for r in 0..rows {
                let row = &x[(n * rows + r) * s.samples..][..s.samples];
                for t in 0..frames {
                    let mut sum = 0.0f32;
                    for k in 0..taps {
                        sum += h[k.min(taps - 1 - k)] * row[t * s.stride + k];
                    }
                    y[((n * s.filters + f) * rows + r) * frames + t] = sum;
                }
            }
        }
    }
    y
}

#[test]
fn symmetric_filterbanks_match_the_definition_and_the_convolution() {
    // The sinc layers' shapes (80 × 257 at stride 10 on 2 s; 20 × 129 at stride 16 on 80 bands)
    // and awkward ones: stride 1, a kernel as long as the signal, a stride longer than the
    // kernel, one tap, batch 3.
    use super::symmetric::{BankShape, forward};
    let device = Device::flex();
    device.seed(6);
    for (batch, rows, samples, filters, half, stride) in [
        (1, 1, 32_000, 80, 129, 10),
        (2, 80, 700, 20, 65, 16),
        (3, 2, 50, 4, 5, 1),
        (1, 3, 9, 2, 5, 4),
        (2, 1, 40, 3, 3, 7),
        (1, 2, 10, 2, 1, 3),
    ] {
        let s = BankShape {
            batch,
            rows,
            samples,
            filters,
            half,
            stride,
        };
        let x = values(Tensor::<3>::random(
            [batch, rows, samples],
            Distribution::Uniform(-1.0, 1.0),
            &device,
        ));
        let h = values(Tensor::<2>::random(
            [filters, half],
            Distribution::Uniform(-0.5, 0.5),
            &device,
        ));
        assert_close(
            &format!("{s:?}"),
            &forward(&x, &h, &s),
            &symmetric_bank_by_definition(&x, &h, &s),
        );
        // The model's route (the kernel on Flex in inference) against the plain convolution.
        let x = Tensor::<3>::from_data(TensorData::new(x, [batch, rows, samples]), &device);
        let h = Tensor::<2>::from_data(TensorData::new(h, [filters, half]), &device);
        let kernels = match half {
            1 => h,
            _ => Tensor::cat(vec![h.clone(), h.narrow(1, 0, half - 1).flip([1])], 1),
        };
        let ours = ran(&format!("{s:?}"), &[Route::SymmetricFilterbank], || {
            super::symmetric_filterbank_rows(
                x.clone(),
                kernels.clone(),
                stride,
                GpuConvolution::Direct,
            )
        });
        let plain = super::strided_filterbank_rows(x, kernels, stride, GpuConvolution::Direct);
        assert_eq!(ours.dims(), [batch, filters, rows, s.frames()]);
        assert_close(
            &format!("{s:?} by the model"),
            &values(ours),
            &values(plain),
        );
    }
}
