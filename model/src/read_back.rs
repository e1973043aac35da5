//! Reading a tensor's values back from its device: the one place the crate, the trainer and
//! the page do it. Native callers wait for the device; the browser cannot block its thread and
//! awaits the same values.

use alloc::format;
use alloc::vec::Vec;
use burn::tensor::{Tensor, TensorData};

use crate::error::ModelError;

/// The values of `t`, row-major, as `f32`, waiting for the device to finish computing them.
pub fn values<const D: usize>(t: Tensor<D>) -> Result<Vec<f32>, ModelError> {
    let data = t
        .try_into_data()
        .map_err(|e| ModelError::Device(format!("{e:?}")))?;
    to_f32(data)
}

/// [`values`] without blocking: what a WebGPU page awaits.
pub async fn values_async<const D: usize>(t: Tensor<D>) -> Result<Vec<f32>, ModelError> {
    let data = t
        .into_data_async()
        .await
        .map_err(|e| ModelError::Device(format!("{e:?}")))?;
    to_f32(data)
}

/// Half-precision devices give their own float type back; callers always see `f32`.
fn to_f32(data: TensorData) -> Result<Vec<f32>, ModelError> {
    data.try_into_vec_as::<f32>()
        .map_err(|e| ModelError::Device(format!("unexpected values: {e:?}")))
}
