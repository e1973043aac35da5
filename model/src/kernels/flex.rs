//! Flex tensors to and from the plain `f32` slices the CPU kernels compute on, for every
//! kernel's burn extension.

use alloc::borrow::Cow;
use alloc::vec::Vec;

use burn::backend::TensorMetadata;
use burn::backend::flex::FlexTensor;
use burn::tensor::TensorData;

/// A Flex tensor's `f32` values, row-major (copied only when not contiguous).
pub(crate) fn values(t: &FlexTensor) -> Cow<'_, [f32]> {
    match t.as_slice::<f32>() {
        Some(v) => Cow::Borrowed(v),
        None => Cow::Owned(t.to_contiguous().as_slice::<f32>().unwrap_or(&[]).to_vec()),
    }
}

/// A Flex tensor of `shape` holding `values`.
pub(crate) fn flex<const D: usize>(values: Vec<f32>, shape: [usize; D]) -> FlexTensor {
    FlexTensor::from_data(TensorData::new(values, shape))
}

/// A Flex tensor shaped as `like` holding `values`.
pub(crate) fn flex_like(values: Vec<f32>, like: &FlexTensor) -> FlexTensor {
    FlexTensor::from_data(TensorData::new(values, like.shape()))
}
