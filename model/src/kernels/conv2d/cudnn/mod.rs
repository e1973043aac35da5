//! The convolution's three passes by NVIDIA's cuDNN, on burn's CUDA runtime: the route PyTorch
//! takes (and candle), for [`super::GpuConvolution::Cudnn`]. cuDNN works on cubecl-cuda's own
//! buffers, on the stream cubecl orders them on (`patches/cubecl-cuda`: a buffer's resource
//! says which), so nothing is copied and nothing waits: cuDNN's kernels queue behind cubecl's
//! and cubecl's next ones behind them.
//!
//! - libcudnn (cuDNN 8 or 9) is loaded when first used, through cudarc's bindings; where it is
//!   missing, [`available`] says so in a sentence naming it, and the passes go by implicit GEMM.
//! - TF32 is allowed (cuDNN's default math), as PyTorch allows it for convolutions by default.
//! - The algorithm of each pass and shape is the fastest of cuDNN's candidates, timed once per
//!   shape by cuDNN itself (`cudnnFind…Algorithm`, as PyTorch's `cudnn.benchmark`, which its twin
//!   turns on), among those whose workspace fits [`MAX_WORKSPACE`]; where the timing is refused,
//!   or with `MODNET_CUDNN_ALGORITHMS=heuristic`, its heuristics' first choice.

use core::ffi::c_void;
use std::format;
use std::string::String;
use std::sync::OnceLock;

use burn::backend::{DType, Shape, TensorMetadata};
use burn_cubecl::CubeDevice;
use burn_cubecl::cubecl::cuda::CudaRuntime;
use burn_cubecl::kernel::into_contiguous;
use burn_cubecl::tensor::CubeTensor;
use cubecl_runtime::runtime::Runtime;
use cudarc::cudnn::result::{self, CudnnError};

mod call;

use call::Call;

use super::Pass;
use super::shape::ConvShape;

/// The largest workspace an algorithm may ask for (bytes); PyTorch lets cuDNN take what it wants.
pub const MAX_WORKSPACE: usize = 1 << 30;

/// Whether cuDNN can run here: `Ok` with its version, or a sentence naming the library that was
/// not found (asked once).
pub fn available() -> Result<String, String> {
    static ANSWER: OnceLock<Result<String, String>> = OnceLock::new();
    ANSWER.get_or_init(find_library).clone()
}

fn find_library() -> Result<String, String> {
    let names = cudarc::get_lib_name_candidates("cudnn");
    // SAFETY: loading cuDNN runs its initialisers only, as cudarc's own loading does.
    let found = names
        .iter()
        .any(|name| unsafe { libloading::Library::new(name) }.is_ok());
    if !found {
        return Err(format!(
            "cuDNN's library was not found (tried {}, …): install cuDNN 9 (NVIDIA's packages, or \
             `pip install nvidia-cudnn-cu12`) and put its lib folder on LD_LIBRARY_PATH",
            names[..3].join(", ")
        ));
    }
    let version = result::get_version();
    if version < 8000 {
        return Err(format!(
            "cuDNN {version} was found; the convolutions need cuDNN 8 or newer"
        ));
    }
    Ok(format!(
        "cuDNN {}.{}.{}",
        version / 10000,
        version / 100 % 100,
        version % 100
    ))
}

/// A tensor's CUDA device index, when it is an `f32` tensor on burn's CUDA runtime.
fn cuda_f32(x: &CubeTensor) -> Option<usize> {
    match (&x.device, x.dtype) {
        (CubeDevice::Cuda(d), DType::F32) => Some(d.index),
        _ => None,
    }
}

/// One pass of the convolution of `x` by `weight` (padding `ph`, `pw`) by cuDNN — `None` where
/// cuDNN does not apply (not CUDA, not `f32`, or no library). `other` is the bias for the
/// forward pass and the output's gradient for both gradients.
pub fn pass(
    pass: Pass,
    x: &CubeTensor,
    weight: &CubeTensor,
    other: &CubeTensor,
    ph: usize,
    pw: usize,
) -> Option<Result<CubeTensor, String>> {
    let device = applies(x)?;
    let s = ConvShape::of(x.shape().dims(), weight.shape().dims(), [ph, pw]);
    let (out, inputs, bias) = match pass {
        Pass::Forward => ([s.batch, s.c_out, s.oh(), s.ow()], [x, weight], Some(other)),
        Pass::InputGrad => ([s.batch, s.c_in, s.h, s.w], [weight, other], None),
        Pass::WeightGrad => ([s.c_out, s.c_in, s.kh, s.kw], [x, other], None),
    };
    Some(run(device, pass, s, out, inputs, bias))
}

fn applies(x: &CubeTensor) -> Option<usize> {
    let device = cuda_f32(x)?;
    available().ok()?;
    Some(device)
}

/// One pass: its two inputs (forward: x and weight; data: weight and dy; filter: x and dy) made
/// contiguous, the output and the workspace allocated by cubecl, cuDNN launched on the stream
/// cubecl ordered them on, and the bias added (forward).
fn run(
    device: usize,
    pass: Pass,
    dims: ConvShape,
    out_shape: [usize; 4],
    inputs: [&CubeTensor; 2],
    bias: Option<&CubeTensor>,
) -> Result<CubeTensor, String> {
    let [a, b] = inputs.map(|t| into_contiguous(t.clone()));
    let bias = bias.map(|t| into_contiguous(t.clone()));
    let client = a.client.clone();
    let bytes = out_shape.iter().product::<usize>() * core::mem::size_of::<f32>();
    let out = CubeTensor::new_contiguous(
        client.clone(),
        a.device.clone(),
        Shape::from(out_shape),
        client.empty(bytes),
        DType::F32,
    );
    let call = Call::new(device, pass, dims)?;
    let workspace = (call.workspace > 0).then(|| client.empty(call.workspace));

    // Each resource holds its buffer in place until it drops, after the launch: the work
    // queued on the stream keeps the order cubecl gave it.
    type Server = <CudaRuntime as Runtime>::Server;
    let resource = |handle: &burn_cubecl::cubecl::server::Handle| {
        client
            .get_resource::<Server>(handle.clone())
            .map_err(|e| format!("cuDNN's {pass:?} pass could not reach a CUDA buffer: {e:?}"))
    };
    let (ra, rb, rout) = (
        resource(&a.handle)?,
        resource(&b.handle)?,
        resource(&out.handle)?,
    );
    let rbias = bias.as_ref().map(|t| resource(&t.handle)).transpose()?;
    let rwork = workspace.as_ref().map(resource).transpose()?;
    let ptr = |r: &u64| *r as *mut c_void;
    let stream = rout.resource().stream;
    // SAFETY: the resources hold these buffers (contiguous f32 of the pass's shapes, the
    // workspace of the size asked) in place until the launch is queued; the stream runs it
    // before anything cubecl queues later on them.
    unsafe {
        call.launch(
            stream,
            [ptr(&ra.resource().ptr), ptr(&rb.resource().ptr)],
            ptr(&rout.resource().ptr),
            rbias.as_ref().map(|r| ptr(&r.resource().ptr)),
            rwork
                .as_ref()
                .map_or(core::ptr::null_mut(), |r| ptr(&r.resource().ptr)),
        )
    }
    .map_err(|e| describe(pass, &dims, e))?;
    drop((ra, rb, rout, rbias, rwork));
    Ok(out)
}

fn describe(pass: Pass, dims: &ConvShape, e: CudnnError) -> String {
    format!("cuDNN refused the {pass:?} pass of {dims:?}: {e:?}")
}

#[cfg(test)]
mod tests {
    use super::ConvShape;

    /// Where libcudnn loads, its version; where it does not (this project's CI), a sentence
    /// that names the library and how to get it.
    #[test]
    fn availability_is_a_version_or_a_sentence_naming_the_library() {
        match super::available() {
            Ok(version) => assert!(version.starts_with("cuDNN "), "{version}"),
            Err(why) => {
                assert!(why.contains("libcudnn.so"), "{why}");
                assert!(why.contains("LD_LIBRARY_PATH"), "{why}");
            }
        }
    }

    /// The output sizes cuDNN's descriptors are given: stride 1, zero padding.
    #[test]
    fn output_sizes_are_a_stride_one_convolution() {
        let dims = |h, w, kh, kw, ph, pw| ConvShape::of([2, 3, h, w], [4, 3, kh, kw], [ph, pw]);
        let same = dims(7, 9, 3, 3, 1, 1);
        assert_eq!((same.oh(), same.ow()), (7, 9));
        let valid = dims(7, 9, 3, 3, 0, 0);
        assert_eq!((valid.oh(), valid.ow()), (5, 7));
        let row = dims(4, 50, 1, 9, 0, 4);
        assert_eq!((row.oh(), row.ow()), (4, 50));
    }
}
