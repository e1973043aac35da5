//! One cuDNN convolution call: its descriptors, the algorithm chosen for its shape (once per
//! device, pass and shape), and the launch on a stream given by the caller. Raw pointers in,
//! cuDNN's own status out; [`super`] owns the buffers.

use core::cell::RefCell;
use core::ffi::c_void;
use core::mem::MaybeUninit;
use std::format;
use std::string::String;
use std::sync::Mutex;
use std::vec::Vec;

use cudarc::cudnn::result;
use cudarc::cudnn::sys::{self, cudnnConvolutionMode_t as Mode, cudnnDataType_t as Data};
use cudarc::driver::sys::CUstream;

use super::MAX_WORKSPACE;
use crate::kernels::conv2d::Pass;
use crate::kernels::conv2d::shape::ConvShape;

/// An algorithm of one of the passes.
#[derive(Debug, Clone, Copy)]
enum Algo {
    Forward(sys::cudnnConvolutionFwdAlgo_t),
    Data(sys::cudnnConvolutionBwdDataAlgo_t),
    Filter(sys::cudnnConvolutionBwdFilterAlgo_t),
}

/// The algorithm cuDNN chose for a pass and shape, its math type and its workspace in bytes.
#[derive(Debug, Clone, Copy)]
struct Choice {
    algo: Algo,
    math: sys::cudnnMathType_t,
    workspace: usize,
}

type Key = (usize, Pass, ConvShape);
static CHOSEN: Mutex<Vec<(Key, Choice)>> = Mutex::new(Vec::new());

/// A handle per thread and device (cuDNN's handles are not shared between threads), with the
/// device's primary context (the one cubecl-cuda uses), retained once for the thread's life.
struct Handle {
    handle: sys::cudnnHandle_t,
    context: cudarc::driver::sys::CUcontext,
}

impl Drop for Handle {
    fn drop(&mut self) {
        // SAFETY: created by `create_handle` and dropped once.
        let _ = unsafe { result::destroy_handle(self.handle) };
    }
}

std::thread_local! {
    static HANDLES: RefCell<Vec<(usize, Handle)>> = const { RefCell::new(Vec::new()) };
}

/// This thread's handle on `device`, its context made current (cuDNN's calls run in it).
fn handle(device: usize) -> Result<sys::cudnnHandle_t, String> {
    let driver = |e: cudarc::driver::DriverError| format!("CUDA refused device {device}: {e:?}");
    HANDLES.with(|handles| {
        let mut handles = handles.borrow_mut();
        if let Some((_, h)) = handles.iter().find(|(d, _)| *d == device) {
            // SAFETY: a context retained below, never released while the thread lives.
            unsafe { cudarc::driver::result::ctx::set_current(h.context) }.map_err(driver)?;
            return Ok(h.handle);
        }
        // SAFETY: the device exists (cubecl opened it); retaining its primary context counts
        // one more reference to the context cubecl already holds.
        let context = unsafe {
            let dev = cudarc::driver::result::device::get(device as i32).map_err(driver)?;
            let context = cudarc::driver::result::primary_ctx::retain(dev).map_err(driver)?;
            cudarc::driver::result::ctx::set_current(context).map_err(driver)?;
            context
        };
        let handle =
            result::create_handle().map_err(|e| format!("cuDNN could not start: {e:?}"))?;
        handles.push((device, Handle { handle, context }));
        Ok(handle)
    })
}

/// The descriptors of one shape: input, weight, output, bias, convolution.
struct Descriptors {
    x: sys::cudnnTensorDescriptor_t,
    w: sys::cudnnFilterDescriptor_t,
    y: sys::cudnnTensorDescriptor_t,
    bias: sys::cudnnTensorDescriptor_t,
    conv: sys::cudnnConvolutionDescriptor_t,
}

impl Descriptors {
    fn new(d: &ConvShape) -> Result<Self, result::CudnnError> {
        let nchw = sys::cudnnTensorFormat_t::CUDNN_TENSOR_NCHW;
        let i = |v: usize| v as i32;
        let descriptors = Self {
            x: result::create_tensor_descriptor()?,
            w: result::create_filter_descriptor()?,
            y: result::create_tensor_descriptor()?,
            bias: result::create_tensor_descriptor()?,
            conv: result::create_convolution_descriptor()?,
        };
        // SAFETY: each descriptor was just created, and is destroyed by `drop`.
        unsafe {
            let f32 = Data::CUDNN_DATA_FLOAT;
            result::set_tensor4d_descriptor(
                descriptors.x,
                nchw,
                f32,
                [d.batch, d.c_in, d.h, d.w].map(i),
            )?;
            result::set_filter4d_descriptor(
                descriptors.w,
                f32,
                nchw,
                [d.c_out, d.c_in, d.kh, d.kw].map(i),
            )?;
            result::set_tensor4d_descriptor(
                descriptors.y,
                nchw,
                f32,
                [d.batch, d.c_out, d.oh(), d.ow()].map(i),
            )?;
            result::set_tensor4d_descriptor(
                descriptors.bias,
                nchw,
                f32,
                [1, d.c_out, 1, 1].map(i),
            )?;
            let (ph, pw) = (i(d.ph), i(d.pw));
            result::set_convolution2d_descriptor(
                descriptors.conv,
                ph,
                pw,
                1,
                1,
                1,
                1,
                Mode::CUDNN_CROSS_CORRELATION,
                f32,
            )?;
        }
        Ok(descriptors)
    }
}

impl Drop for Descriptors {
    fn drop(&mut self) {
        // SAFETY: created in `new`, destroyed once.
        unsafe {
            let _ = result::destroy_tensor_descriptor(self.x);
            let _ = result::destroy_filter_descriptor(self.w);
            let _ = result::destroy_tensor_descriptor(self.y);
            let _ = result::destroy_tensor_descriptor(self.bias);
            let _ = result::destroy_convolution_descriptor(self.conv);
        }
    }
}

/// A pass ready to launch: descriptors set, algorithm and math type chosen.
pub struct Call {
    handle: sys::cudnnHandle_t,
    pass: Pass,
    descriptors: Descriptors,
    algo: Algo,
    /// Workspace the algorithm needs, in bytes.
    pub workspace: usize,
}

impl Call {
    pub fn new(device: usize, pass: Pass, dims: ConvShape) -> Result<Self, String> {
        let handle = handle(device)?;
        let refused =
            |e: result::CudnnError| format!("cuDNN refused the {pass:?} pass of {dims:?}: {e:?}");
        let descriptors = Descriptors::new(&dims).map_err(refused)?;
        let key = (device, pass, dims);
        let known = CHOSEN
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, c)| *c);
        let choice = match known {
            Some(choice) => choice,
            None => {
                let choice = choose(handle, pass, &descriptors).map_err(refused)?;
                CHOSEN
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push((key, choice));
                choice
            }
        };
        // SAFETY: the descriptor is live.
        unsafe { result::set_convolution_math_type(descriptors.conv, choice.math) }
            .map_err(refused)?;
        Ok(Self {
            handle,
            pass,
            descriptors,
            algo: choice.algo,
            workspace: choice.workspace,
        })
    }

    /// Launches the pass on `stream`: `inputs` are (forward) x and weight, (data) weight and
    /// the output's gradient, (filter) x and the output's gradient; `bias` is added to the
    /// forward pass's output.
    ///
    /// # Safety
    /// Every pointer addresses a live, contiguous `f32` buffer of the pass's shape on the
    /// handle's device, and `workspace` at least [`Call::workspace`] bytes, until the stream
    /// has run the work.
    pub unsafe fn launch(
        &self,
        stream: CUstream,
        [a, b]: [*mut c_void; 2],
        out: *mut c_void,
        bias: Option<*mut c_void>,
        workspace: *mut c_void,
    ) -> Result<(), result::CudnnError> {
        let (one, zero) = (1.0f32, 0.0f32);
        let (one, zero) = (
            &one as *const f32 as *const c_void,
            &zero as *const f32 as *const c_void,
        );
        let d = &self.descriptors;
        let ws = self.workspace;
        unsafe {
            result::set_stream(self.handle, stream as sys::cudaStream_t)?;
            match self.algo {
                Algo::Forward(algo) => {
                    result::convolution_forward(
                        self.handle,
                        one,
                        d.x,
                        a,
                        d.w,
                        b,
                        d.conv,
                        algo,
                        workspace,
                        ws,
                        zero,
                        d.y,
                        out,
                    )?;
                    if let Some(bias) = bias {
                        sys::cudnnAddTensor(self.handle, one, d.bias, bias, one, d.y, out)
                            .result()?;
                    }
                }
                Algo::Data(algo) => result::convolution_backward_data(
                    self.handle,
                    one,
                    d.w,
                    a,
                    d.y,
                    b,
                    d.conv,
                    algo,
                    workspace,
                    ws,
                    zero,
                    d.x,
                    out,
                )?,
                Algo::Filter(algo) => result::convolution_backward_filter(
                    self.handle,
                    one,
                    d.x,
                    a,
                    d.y,
                    b,
                    d.conv,
                    algo,
                    workspace,
                    ws,
                    zero,
                    d.w,
                    out,
                )?,
            }
        }
        debug_assert!(matches!(
            (self.pass, self.algo),
            (Pass::Forward, Algo::Forward(_))
                | (Pass::InputGrad, Algo::Data(_))
                | (Pass::WeightGrad, Algo::Filter(_))
        ));
        Ok(())
    }
}

/// Up to this many candidates are asked of cuDNN.
const CANDIDATES: usize = 8;

/// How a pass's algorithm is chosen: cuDNN runs every candidate once and the fastest is kept
/// (`Timed`, what PyTorch's `cudnn.benchmark` does; cuDNN allocates its own buffers for it), or
/// its heuristics' first choice (`Heuristic`). `MODNET_CUDNN_ALGORITHMS=heuristic` asks for
/// the second; a timing cuDNN refuses falls back to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Selection {
    Timed,
    Heuristic,
}

/// cuDNN's fastest (timed) or first (heuristic) candidate whose workspace fits [`MAX_WORKSPACE`].
fn choose(
    handle: sys::cudnnHandle_t,
    pass: Pass,
    d: &Descriptors,
) -> Result<Choice, result::CudnnError> {
    let heuristic = std::env::var("MODNET_CUDNN_ALGORITHMS").is_ok_and(|v| v == "heuristic");
    if !heuristic && let Ok(choice) = choose_by(Selection::Timed, handle, pass, d) {
        return Ok(choice);
    }
    choose_by(Selection::Heuristic, handle, pass, d)
}

fn choose_by(
    selection: Selection,
    handle: sys::cudnnHandle_t,
    pass: Pass,
    d: &Descriptors,
) -> Result<Choice, result::CudnnError> {
    let mut count = 0;
    let not_supported = result::CudnnError(sys::cudnnStatus_t::CUDNN_STATUS_NOT_SUPPORTED);
    let timed = selection == Selection::Timed;
    // SAFETY: the descriptors are live; cuDNN writes at most CANDIDATES results, sorted by its
    // estimate (heuristics) or its measured time (timed).
    unsafe {
        macro_rules! first_fitting {
            ($perf:ty, $find:ident, $get:ident, $size:ident, $variant:ident, ($($desc:expr),*)) => {{
                let mut perf: [MaybeUninit<$perf>; CANDIDATES] = [const { MaybeUninit::uninit() }; CANDIDATES];
                let asked = CANDIDATES as i32;
                let out = perf.as_mut_ptr().cast();
                let status = if timed {
                    sys::$find(handle, $($desc),*, asked, &mut count, out)
                } else {
                    sys::$get(handle, $($desc),*, asked, &mut count, out)
                };
                status.result()?;
                let found = perf[..count.max(0) as usize].iter().map(|p| p.assume_init()).filter(|p| p.status == sys::cudnnStatus_t::CUDNN_STATUS_SUCCESS).find(|p| p.memory <= MAX_WORKSPACE).ok_or(not_supported)?;
                let workspace = result::$size(handle, $($desc),*, found.algo)?;
                Choice { algo: Algo::$variant(found.algo), math: found.mathType, workspace }
            }};
        }
        Ok(match pass {
            Pass::Forward => first_fitting!(
                sys::cudnnConvolutionFwdAlgoPerf_t,
                cudnnFindConvolutionForwardAlgorithm,
                cudnnGetConvolutionForwardAlgorithm_v7,
                get_convolution_forward_workspace_size,
                Forward,
                (d.x, d.w, d.conv, d.y)
            ),
            Pass::InputGrad => first_fitting!(
                sys::cudnnConvolutionBwdDataAlgoPerf_t,
                cudnnFindConvolutionBackwardDataAlgorithm,
                cudnnGetConvolutionBackwardDataAlgorithm_v7,
                get_convolution_backward_data_workspace_size,
                Data,
                (d.w, d.y, d.conv, d.x)
            ),
            Pass::WeightGrad => first_fitting!(
                sys::cudnnConvolutionBwdFilterAlgoPerf_t,
                cudnnFindConvolutionBackwardFilterAlgorithm,
                cudnnGetConvolutionBackwardFilterAlgorithm_v7,
                get_convolution_backward_filter_workspace_size,
                Filter,
                (d.x, d.y, d.conv, d.w)
            ),
        })
    }
}
