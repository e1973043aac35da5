//! The page's handle on the engine worker: starts it, sends requests, turns its messages (and its
//! death) into callbacks.

use std::cell::RefCell;
use std::rc::Rc;

use js_sys::{Float32Array, Object, Reflect, Uint8Array};
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;
use web_sys::{MessageEvent, Worker};

use crate::messages::{BODY, Convolutions, EngineKind, FromEngine, PAYLOAD, Share, ToEngine};

impl EngineKind {
    fn loader(self) -> &'static str {
        // Written by trunk's `data-loader-shim` (file hashes are off in Trunk.toml).
        match self {
            EngineKind::Gpu => "./engine_gpu_loader.js",
            EngineKind::Cpu => "./engine_cpu_loader.js",
        }
    }
}

/// Requests waiting for the worker to say it is ready: a worker drops messages that arrive
/// while its wasm is still loading. `None` once it is ready.
type Queue = Rc<RefCell<Option<Vec<(Object, js_sys::Array)>>>>;

/// A running engine worker.
pub struct EngineClient {
    pub kind: EngineKind,
    worker: Worker,
    queue: Queue,
    _on_message: Closure<dyn FnMut(MessageEvent)>,
    _on_error: Closure<dyn FnMut(web_sys::Event)>,
}

impl EngineClient {
    /// Starts an engine; `on_message` gets its messages, `on_death` a sentence if the worker
    /// fails to load or crashes.
    pub fn start(
        kind: EngineKind,
        mut on_message: impl FnMut(FromEngine) + 'static,
        mut on_death: impl FnMut(String) + 'static,
    ) -> Result<Self, String> {
        let worker = Worker::new(kind.loader())
            .map_err(|e| format!("the engine worker could not start: {e:?}"))?;
        let queue: Queue = Rc::new(RefCell::new(Some(Vec::new())));
        let (worker_in, queue_in) = (worker.clone(), queue.clone());
        let on_message_closure =
            Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| {
                let body = Reflect::get(&event.data(), &BODY.into()).unwrap_or(JsValue::UNDEFINED);
                match serde_wasm_bindgen::from_value::<FromEngine>(body) {
                    Ok(message) => {
                        if matches!(message, FromEngine::Ready { .. }) {
                            for (object, transfer) in
                                queue_in.borrow_mut().take().unwrap_or_default()
                            {
                                if let Err(e) =
                                    worker_in.post_message_with_transfer(&object, &transfer)
                                {
                                    web_sys::console::error_1(&e);
                                }
                            }
                        }
                        on_message(message)
                    }
                    Err(e) => {
                        web_sys::console::error_1(&format!("unreadable engine message: {e}").into())
                    }
                }
            });
        let on_error_closure =
            Closure::<dyn FnMut(web_sys::Event)>::new(move |event: web_sys::Event| {
                let text = Reflect::get(&event, &"message".into())
                    .ok()
                    .and_then(|m| m.as_string())
                    .unwrap_or_else(|| "the engine worker stopped".into());
                event.prevent_default();
                on_death(text);
            });
        worker.set_onmessage(Some(on_message_closure.as_ref().unchecked_ref()));
        worker.set_onerror(Some(on_error_closure.as_ref().unchecked_ref()));
        Ok(Self {
            kind,
            worker,
            queue,
            _on_message: on_message_closure,
            _on_error: on_error_closure,
        })
    }

    fn post(&self, message: &ToEngine, payload: Option<JsValue>) -> Result<(), String> {
        let object = Object::new();
        let body = serde_wasm_bindgen::to_value(message).map_err(|e| e.to_string())?;
        let _ = Reflect::set(&object, &BODY.into(), &body);
        let transfer = js_sys::Array::new();
        if let Some(p) = payload {
            let _ = Reflect::set(&object, &PAYLOAD.into(), &p);
            // Hand the (copied) buffer over instead of copying it once more.
            if let Ok(buffer) = Reflect::get(&p, &"buffer".into()) {
                transfer.push(&buffer);
            }
        }
        if let Some(waiting) = self.queue.borrow_mut().as_mut() {
            waiting.push((object, transfer));
            return Ok(());
        }
        self.worker
            .post_message_with_transfer(&object, &transfer)
            .map_err(|e| format!("the engine did not take the request: {e:?}"))
    }

    /// Loads a weights file; on a GPU, with the route the address names and those remembered
    /// ([`ToEngine::Load`]).
    pub fn load(
        &self,
        name: &str,
        bytes: &[u8],
        gpu_conv: Option<&str>,
        remembered: &[Convolutions],
    ) -> Result<(), String> {
        let payload = Uint8Array::from(bytes);
        let request = ToEngine::Load {
            name: name.into(),
            gpu_conv: gpu_conv.map(str::to_string),
            remembered: remembered.to_vec(),
        };
        self.post(&request, Some(payload.into()))
    }

    /// Runs `share` of the batches of a clip of mono samples at the model's rate.
    pub fn tag(&self, job: u32, samples: &[f32], share: Share) -> Result<(), String> {
        let payload = Float32Array::from(samples);
        self.post(&ToEngine::Tag { job, share }, Some(payload.into()))
    }

    /// Tags and pictures of one live chunk, `start` samples after listening began.
    pub fn listen(&self, job: u32, samples: &[f32], start: u64) -> Result<(), String> {
        let payload = Float32Array::from(samples);
        self.post(&ToEngine::Listen { job, start }, Some(payload.into()))
    }

    /// The pooled embeddings of example `example` (mono samples at the model's rate).
    pub fn embed(&self, job: u32, example: usize, samples: &[f32]) -> Result<(), String> {
        let payload = Float32Array::from(samples);
        self.post(&ToEngine::Embed { job, example }, Some(payload.into()))
    }

    /// Learns heads from embedded examples (see [`ToEngine::Learn`]).
    pub fn learn(
        &self,
        job: u32,
        examples: Vec<Vec<f32>>,
        tags: Vec<(String, Vec<Option<bool>>)>,
        background: Option<&[u8]>,
    ) -> Result<(), String> {
        let payload = background.map(|b| Uint8Array::from(b).into());
        self.post(
            &ToEngine::Learn {
                job,
                examples,
                tags,
            },
            payload,
        )
    }

    /// Runs the user's tags of a head file beside the model's, or none.
    pub fn heads(&self, name: &str, file: Option<&[u8]>) -> Result<(), String> {
        let payload = file.map(|f| Uint8Array::from(f).into());
        self.post(&ToEngine::Heads { name: name.into() }, payload)
    }

    /// Pictures of the chunk starting at `start` of the last tagged clip.
    pub fn pictures(&self, job: u32, start: usize) -> Result<(), String> {
        self.post(&ToEngine::Pictures { job, start }, None)
    }
}

impl Drop for EngineClient {
    fn drop(&mut self) {
        self.worker.terminate();
    }
}
