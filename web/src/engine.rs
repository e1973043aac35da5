//! The model side of the page, run in a web worker so that the page never freezes: loads weights,
//! tags clips chunk by chunk with progress, computes the front-end's pictures.
//!
//! Two builds of this file exist: `engine_cpu` (Flex) and `engine_gpu` (burn's wgpu backend on
//! WebGPU). All model code comes from the `modnet` crate; nothing here does DSP of its own.

use std::cell::RefCell;
use std::rc::Rc;

use burn::tensor::{Device, Tensor, TensorData};
use futures::StreamExt;
use futures::channel::mpsc;
use js_sys::{Float32Array, Object, Reflect, Uint8Array};
use modnet::heads::join_rows;
use modnet::{
    BankResponses, BaseModel, ChunkPlan, ClipTagging, FilterOrder, Inside, InsidePictures, ModNet,
    PICTURE_RANGE_DB, RESPONSE_POINTS, TagHeads,
};
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;
use web_sys::{DedicatedWorkerGlobalScope, MessageEvent};

use crate::browser::now_millis;
use crate::messages::{
    BODY, BatchProbabilities, ChunkPictures, EngineKind, FromEngine, Heard, ModelInfo, PAYLOAD,
    Share, ToEngine,
};

mod convolutions;
mod device;
mod teach;

use device::acquire;
use teach::{embed, learn, use_heads};

/// Columns of the pictures (frames are mean-pooled down to this).
const PICTURE_COLS: usize = 400;

/// Starts the worker: installs the message handler at once (messages sent while the device
/// starts are queued), acquires the device, then answers messages one at a time.
pub fn run_worker(compute: EngineKind) {
    console_error_panic_hook::set_once();
    let scope: DedicatedWorkerGlobalScope = js_sys::global().unchecked_into();
    let (tx, mut rx) = mpsc::unbounded::<MessageEvent>();
    let onmessage = Closure::<dyn FnMut(MessageEvent)>::new(move |event| {
        let _ = tx.unbounded_send(event);
    });
    scope.set_onmessage(Some(onmessage.as_ref().unchecked_ref()));
    onmessage.forget();
    wasm_bindgen_futures::spawn_local(async move {
        let post = Poster(scope.clone());
        let (device, backend, adapter) = match acquire(compute, &scope).await {
            Ok(found) => found,
            Err(reason) => {
                post.send(&FromEngine::GpuUnavailable { reason });
                return;
            }
        };
        post.send(&FromEngine::Ready { backend });
        let engine = Rc::new(RefCell::new(Engine {
            device,
            adapter,
            model: None,
            order: FilterOrder::default(),
            samples: Vec::new(),
            base: None,
            heads: None,
        }));
        while let Some(event) = rx.next().await {
            // The request is parsed once; a failure is reported with its job when it has one.
            let (job, result) = match read_body(&event) {
                Ok(request) => {
                    let job = match request {
                        ToEngine::Tag { job, .. }
                        | ToEngine::Pictures { job, .. }
                        | ToEngine::Listen { job, .. }
                        | ToEngine::Embed { job, .. }
                        | ToEngine::Learn { job, .. } => Some(job),
                        ToEngine::Load { .. } | ToEngine::Heads { .. } => None,
                    };
                    (job, handle(&engine, request, &event, &post).await)
                }
                Err(message) => (None, Err(message)),
            };
            if let Err(message) = result {
                post.send(&FromEngine::Error { job, message });
            }
        }
    });
}

struct Poster(DedicatedWorkerGlobalScope);

impl Poster {
    fn send(&self, message: &FromEngine) {
        let object = Object::new();
        let body = serde_wasm_bindgen::to_value(message).unwrap_or(JsValue::NULL);
        let _ = Reflect::set(&object, &BODY.into(), &body);
        if let Err(e) = self.0.post_message(&object) {
            web_sys::console::error_2(&"posting a message failed".into(), &e);
        }
    }
}

fn read_body(event: &MessageEvent) -> Result<ToEngine, String> {
    let body = Reflect::get(&event.data(), &BODY.into()).map_err(|e| format!("{e:?}"))?;
    serde_wasm_bindgen::from_value(body).map_err(|e| format!("unreadable request: {e}"))
}

fn payload(event: &MessageEvent) -> JsValue {
    Reflect::get(&event.data(), &PAYLOAD.into()).unwrap_or(JsValue::UNDEFINED)
}

struct Engine {
    device: Device,
    /// What the browser says of the GPU (empty on the CPU).
    adapter: String,
    model: Option<ModNet>,
    /// The drawing order of the filters (rows and pictures, low to high).
    order: FilterOrder,
    /// The last tagged clip.
    samples: Vec<f32>,
    /// The loaded model's identity (what heads are checked against).
    base: Option<BaseModel>,
    /// The user's tags, run beside the model's.
    heads: Option<TagHeads>,
}

async fn handle(
    engine: &Rc<RefCell<Engine>>,
    request: ToEngine,
    event: &MessageEvent,
    post: &Poster,
) -> Result<(), String> {
    match request {
        ToEngine::Load {
            name,
            gpu_conv,
            remembered,
        } => {
            let bytes = payload(event)
                .dyn_into::<Uint8Array>()
                .map_err(|_| "no weights file in the request".to_string())?
                .to_vec();
            let asked = convolutions::Asked {
                name: gpu_conv.as_deref(),
                remembered: &remembered,
            };
            let info = load(engine, &bytes, name, asked, post).await?;
            post.send(&FromEngine::Model(info));
        }
        ToEngine::Tag { job, share } => {
            let samples = payload(event)
                .dyn_into::<Float32Array>()
                .map_err(|_| "no samples in the request".to_string())?
                .to_vec();
            engine.borrow_mut().samples = samples;
            tag(engine, job, share, post).await?;
        }
        ToEngine::Pictures { job, start } => {
            let pictures = pictures(engine, job, start).await?;
            post.send(&FromEngine::Pictures(pictures));
        }
        ToEngine::Listen { job, start } => {
            let samples = payload(event)
                .dyn_into::<Float32Array>()
                .map_err(|_| "no samples in the request".to_string())?
                .to_vec();
            let heard = listen(engine, job, samples, start).await?;
            post.send(&FromEngine::Heard(heard));
        }
        ToEngine::Embed { job, example } => {
            let samples = payload(event)
                .dyn_into::<Float32Array>()
                .map_err(|_| "no samples in the request".to_string())?
                .to_vec();
            let embeddings = embed(engine, &samples).await?;
            post.send(&FromEngine::Embedded {
                job,
                example,
                embeddings,
            });
        }
        ToEngine::Learn {
            job,
            examples,
            tags,
        } => {
            let background = payload(event)
                .dyn_into::<Uint8Array>()
                .ok()
                .map(|b| b.to_vec());
            let file = learn(engine, examples, tags, background.as_deref())?;
            post.send(&FromEngine::Learned { job, file });
        }
        ToEngine::Heads { name } => {
            let bytes = payload(event)
                .dyn_into::<Uint8Array>()
                .ok()
                .map(|b| b.to_vec());
            let info = use_heads(engine, name, bytes)?;
            post.send(&FromEngine::Heads(info));
        }
    }
    Ok(())
}

async fn read<const D: usize>(t: Tensor<D>) -> Result<Vec<f32>, String> {
    modnet::clip::read_back::values_async(t)
        .await
        .map_err(|e| e.to_string())
}

/// Loads the weights file `bytes`; on a GPU, its convolutions by the route `asked` names or
/// remembers, or the fastest there (each route's timing said to the page as it starts).
async fn load(
    engine: &Rc<RefCell<Engine>>,
    bytes: &[u8],
    name: String,
    asked: convolutions::Asked<'_>,
    post: &Poster,
) -> Result<ModelInfo, String> {
    let (device, adapter) = {
        let e = engine.borrow();
        (e.device.clone(), e.adapter.clone())
    };
    let mut model = ModNet::from_bytes(bytes, &device)
        .map_err(|e| format!("{name} is not a modnet weights file: {e}"))?
        .for_inference();
    let timing = |route, index, count| {
        post.send(&FromEngine::TimingConvolutions {
            route,
            index,
            count,
        })
    };
    let convolutions = convolutions::choose(&model, &device, &adapter, asked, timing).await?;
    if let Some(c) = &convolutions {
        model.set_gpu_convolution(c.route);
    }
    let tensors = model.response_tensors();
    let modulation = match tensors.modulation_kernels {
        Some(kernels) => Some((
            read(kernels).await?,
            match tensors.modulation_cutoffs {
                Some(c) => Some(read(c).await?),
                None => None,
            },
        )),
        None => None,
    };
    let responses = BankResponses::from_data(
        &model,
        read(tensors.filterbank_kernels).await?,
        read(tensors.filterbank_cutoffs).await?,
        modulation,
        RESPONSE_POINTS,
    );
    let config = model.config();
    let info = ModelInfo {
        name,
        summary: model.summary(),
        tags: config.tags.clone(),
        chunk_samples: config.chunk_samples,
        sample_rate: config.sample_rate,
        filterbank: responses.filterbank.ordered_by_centre(),
        modulation: responses.modulation.as_ref().map(|r| r.ordered_by_centre()),
        convolutions,
    };
    let mut e = engine.borrow_mut();
    e.order = FilterOrder::of(&responses);
    // Heads belong to the model they were learned on: a new model starts without them. The
    // identity is the file's SHA-256, as natively (the trainer's files are written sorted).
    e.base = Some(BaseModel::of_weights(model.summary(), bytes));
    e.heads = None;
    e.model = Some(model);
    Ok(info)
}

fn model_of(engine: &Rc<RefCell<Engine>>) -> Result<(ModNet, Device), String> {
    let e = engine.borrow();
    let model = e.model.clone().ok_or("no model is loaded yet")?;
    Ok((model, e.device.clone()))
}

/// Runs `share` of the clip's batches (the clip protocol of the model crate), posting each
/// batch's probabilities as soon as it has them; the page puts the shares together.
async fn tag(
    engine: &Rc<RefCell<Engine>>,
    job: u32,
    share: Share,
    post: &Poster,
) -> Result<(), String> {
    let (model, device) = model_of(engine)?;
    let heads = engine.borrow().heads.clone();
    let samples = std::mem::take(&mut engine.borrow_mut().samples);
    let result = tag_share(&model, heads.as_ref(), &device, &samples, job, share, post).await;
    engine.borrow_mut().samples = samples;
    result
}

async fn tag_share(
    model: &ModNet,
    heads: Option<&TagHeads>,
    device: &Device,
    samples: &[f32],
    job: u32,
    share: Share,
    post: &Poster,
) -> Result<(), String> {
    modnet::clip::protocol::check_samples(samples).map_err(|e| e.to_string())?;
    let tagging = ClipTagging::new(samples.len(), model.config().chunk_samples, true)
        .map_err(|e| e.to_string())?;
    let mine = (0..tagging.batch_count()).filter(|&i| share.has(i));
    for (batch, chunks) in mine.filter_map(|i| Some((i, tagging.batch(i, samples)?))) {
        let probabilities = match heads {
            // The user's tags from the same pass: the pooled features the model's head reads.
            Some(heads) => {
                let (p, e) = model
                    .probabilities_and_embeddings(chunks.tensor(device))
                    .map_err(|e| e.to_string())?;
                let user = heads.probabilities(&read(e).await?);
                join_rows(&read(p).await?, &user, chunks.rows)
            }
            None => {
                read(
                    model
                        .probabilities(chunks.tensor(device))
                        .map_err(|e| e.to_string())?,
                )
                .await?
            }
        };
        post.send(&FromEngine::Batch(BatchProbabilities {
            job,
            batch,
            rows: chunks.rows,
            probabilities,
        }));
    }
    Ok(())
}

/// Tags and pictures of one live chunk.
async fn listen(
    engine: &Rc<RefCell<Engine>>,
    job: u32,
    samples: Vec<f32>,
    start: u64,
) -> Result<Heard, String> {
    let (model, device) = model_of(engine)?;
    let chunk = model.config().chunk_samples;
    if samples.len() != chunk {
        return Err(format!(
            "a live chunk must hold {chunk} samples, not {}",
            samples.len()
        ));
    }
    modnet::clip::protocol::check_samples(&samples).map_err(|e| e.to_string())?;
    let started = now_millis();
    let wave = Tensor::<2>::from_data(TensorData::new(samples, [1, chunk]), &device);
    let inside = model.inside(wave).map_err(|e| e.to_string())?;
    let mut probabilities = read(inside.probabilities.clone()).await?;
    // The user's tags follow the model's, as in a clip's batches.
    let heads = engine.borrow().heads.clone();
    if let Some(heads) = heads {
        probabilities.extend(heads.probabilities(&read(inside.embeddings.clone()).await?));
    }
    let start = usize::try_from(start).unwrap_or(usize::MAX);
    let pictures = chunk_pictures(engine, inside, job, start, started).await?;
    Ok(Heard {
        job,
        probabilities,
        pictures,
        millis: now_millis() - started,
    })
}

async fn pictures(
    engine: &Rc<RefCell<Engine>>,
    job: u32,
    start: usize,
) -> Result<ChunkPictures, String> {
    let (model, device) = model_of(engine)?;
    let started = now_millis();
    let (chunk, x) = {
        let e = engine.borrow();
        if e.samples.is_empty() {
            return Err("no clip has been tagged yet".into());
        }
        let chunk = model.config().chunk_samples;
        let plan = ChunkPlan::one_at(e.samples.len(), chunk, start).map_err(|e| e.to_string())?;
        let batch = plan.batch(0, &e.samples).ok_or("no chunk to picture")?;
        (chunk, batch.samples)
    };
    let wave = Tensor::<2>::from_data(TensorData::new(x, [1, chunk]), &device);
    let inside = model.inside(wave).map_err(|e| e.to_string())?;
    chunk_pictures(engine, inside, job, start, started).await
}

/// The filterbank and modulation pictures of one chunk's [`Inside`] (batch 1), rows ordered
/// by centre frequency; `millis` counts from `started` ([`now_millis`], before the model ran).
async fn chunk_pictures(
    engine: &Rc<RefCell<Engine>>,
    inside: Inside,
    job: u32,
    start: usize,
    started: f64,
) -> Result<ChunkPictures, String> {
    let order = engine.borrow().order.clone();
    let [_, bands, frames] = inside.filterbank.dims();
    let filterbank = read(inside.filterbank).await?;
    let modulation_dims = inside.modulation.dims();
    // The baseline has no modulation filters: nothing of its stand-in is read back.
    let modulation = if order.modulation.is_empty() {
        Vec::new()
    } else {
        read(inside.modulation).await?
    };
    let [_, filters, mod_bands, mod_frames] = modulation_dims;
    let drawn = InsidePictures::new(
        &order,
        &filterbank,
        [bands, frames],
        &modulation,
        [filters, mod_bands, mod_frames],
        PICTURE_COLS,
        PICTURE_RANGE_DB,
    );
    Ok(ChunkPictures {
        job,
        start,
        filterbank: drawn.filterbank,
        modulation: drawn.modulation,
        modulation_centre_hz: order.modulation_centre_hz,
        filterbank_centre_hz: order.filterbank_centre_hz,
        millis: now_millis() - started,
    })
}
