//! Reading a tensor's values back from its device: the one place the crate, the trainer and
//! the page do it. Native callers wait for the device; the browser cannot block its thread and
//! awaits the same values.

use alloc::format;
use alloc::vec::Vec;
use burn::tensor::{Tensor, TensorData};

use crate::error::ModelError;

/// The values of `t`, row-major, as `f32`, waiting for the device to finish computing them.
pub fn values<const D: usize>(t: Tensor<D>) -> Result<Vec<f32>, ModelError> {
    let data = t.try_into_data().map_err(device_error)?;
    to_f32(data)
}

/// [`values`] without blocking: what a WebGPU page awaits.
pub async fn values_async<const D: usize>(t: Tensor<D>) -> Result<Vec<f32>, ModelError> {
    let data = t.into_data_async().await.map_err(device_error)?;
    to_f32(data)
}

/// A device's failure in words. A buffer it could not allocate (a batch whose activations
/// outgrow the GPU's largest buffer: the paper preset at batch 64 on an H200 through wgpu asked
/// for 2.57 GB) is said first and plainly, not at the end of burn's long chain of skipped kernels.
fn device_error(error: impl core::fmt::Debug) -> ModelError {
    let text = format!("{error:?}");
    const ALLOCATION: &str = "can't allocate buffer of size: ";
    let Some(at) = text.find(ALLOCATION) else {
        return ModelError::Device(text);
    };
    let digits = text[at + ALLOCATION.len()..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect::<alloc::string::String>();
    let size = match digits.parse::<u64>() {
        Ok(bytes) => format!("{:.2} GB", bytes as f64 / 1e9),
        Err(_) => "a buffer".into(),
    };
    ModelError::Device(format!(
        "it could not allocate {size} for one tensor: the batch (or chunk) is too large for \
         this device; use a smaller batch or shorter chunks"
    ))
}

/// Half-precision devices give their own float type back; callers always see `f32`.
fn to_f32(data: TensorData) -> Result<Vec<f32>, ModelError> {
    data.try_into_vec_as::<f32>()
        .map_err(|e| ModelError::Device(format!("unexpected values: {e:?}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;

    #[test]
    fn an_allocation_failure_is_said_plainly() {
        let chain = "Several failures at once\n  skipped `UnaryFloat`: it needed memory\n\
                     Caused by:\n  can't allocate buffer of size: 2574254080\nNo backtrace";
        let said = device_error(chain).to_string();
        assert!(said.contains("could not allocate 2.57 GB"), "{said}");
        assert!(said.contains("smaller batch"), "{said}");
        assert!(!said.contains("skipped"), "{said}");
        // Any other failure keeps burn's own words.
        let other = device_error("lost device").to_string();
        assert!(other.ends_with("\"lost device\""), "{other}");
    }
}
