//! The flags of every command that runs a model: which device (`--backend`), how convolutions
//! run on a GPU (`--gpu-conv`), and which weights (`--weights`, the built-in model by default).

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;
use modnet::{GpuConvolution, ModNet};

use super::route::{self as choice, GpuConvChoice};
use modnet_audio::backend::{Backend, device};
use modnet_audio::files::load_model;
use modnet_audio::route;

/// Which device computes, and how convolutions run on a GPU.
#[derive(Args, Clone, Debug)]
pub(crate) struct DeviceArgs {
    /// Compute device.
    #[arg(long, value_enum, default_value_t = Backend::Auto)]
    pub(crate) backend: Backend,
    /// How convolutions run on a GPU (see the README's GPU section); the CPU ignores it.
    #[arg(long, value_parser = choice::parser(), default_value = "auto")]
    pub(crate) gpu_conv: GpuConvChoice,
}

impl DeviceArgs {
    /// The device `--backend` names, or a clear error when this build or machine lacks it.
    pub(crate) fn device(&self) -> Result<burn::tensor::Device> {
        device(self.backend)
    }
}

/// The model a command runs.
#[derive(Args, Clone, Debug)]
pub(crate) struct WeightsArgs {
    /// Weights file (default: the built-in model, SincModNet distilled from an MTAT-trained
    /// teacher: the 50 MTAT tags; see MODEL_CARD.md).
    #[arg(long)]
    pub(crate) weights: Option<PathBuf>,
}

impl WeightsArgs {
    /// The model on `device`, its convolutions on a GPU as `on` says (`auto`: the fastest
    /// route at a forward pass of a clip's batch, [`route::time_tagging`]).
    pub(crate) fn load(&self, on: &DeviceArgs, device: &burn::tensor::Device) -> Result<ModNet> {
        let mut model = load_model(self.weights.as_deref(), device)?;
        let route = on.gpu_conv.resolve(device, &route::tagging_work(), || {
            route::time_tagging(&model, device)
        })?;
        model.set_gpu_convolution(route);
        Ok(model)
    }
}

impl DeviceArgs {
    /// The route of `--gpu-conv` for training `config` at `batch` chunks on `device` (`auto`:
    /// the fastest at a training step — forward, loss, backward — of a new model).
    pub(crate) fn training_route(
        &self,
        config: &modnet::ModNetConfig,
        batch: usize,
        device: &burn::tensor::Device,
    ) -> Result<GpuConvolution> {
        let train_device = device.clone().autodiff();
        let work = format!("training step of {batch} chunks");
        // One input and one new model for every route and run, made at the first (nothing is
        // timed on the CPU).
        let x = std::cell::OnceCell::new();
        let model = std::cell::OnceCell::new();
        self.gpu_conv.resolve(device, &work, || {
            route::time_routes(device, |route| {
                let x = x.get_or_init(|| route::noise(batch, config.chunk_samples, &train_device));
                let mut timed: ModNet = match model.get() {
                    Some(m) => ModNet::clone(m),
                    None => {
                        let m = config.init(&train_device)?;
                        let _ = model.set(m.clone());
                        m
                    }
                };
                timed.set_gpu_convolution(route);
                let loss = timed.forward(x.clone())?.powi_scalar(2).mean();
                let grads = loss.backward();
                // The step's work done (a GPU queues it), while its gradients are still held.
                train_device
                    .sync()
                    .map_err(|e| anyhow::anyhow!("a timed training step: {e:?}"))?;
                drop(grads);
                Ok(())
            })
        })
    }
}
