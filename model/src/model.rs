//! The tagger: front-end + back-end, with the checked entry points that the trainer and the page
//! call.

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use burn::module::{Module, ModuleVisitor, Param};
use burn::tensor::activation::sigmoid;
use burn::tensor::{Device, Tensor};

use crate::config::ModNetConfig;
use crate::error::ModelError;
use crate::layers::frontend::FrontEnd;
use crate::layers::resnet::ResNet;

/// Every stage of the model on a batch of chunks ([`ModNet::inside`]).
#[derive(Debug, Clone)]
pub struct Inside {
    /// Band envelopes (sinc layer and r1): `[batch, bands, frames]`.
    pub filterbank: Tensor<3>,
    /// The modulation representation the back-end sees: `[batch, M, bands, frames']`.
    pub modulation: Tensor<4>,
    /// Tag probabilities: `[batch, n_tags]`.
    pub probabilities: Tensor<2>,
    /// The pooled embeddings the probabilities came from (what the user's tag heads read):
    /// `[batch, width₇]`.
    pub embeddings: Tensor<2>,
}

/// ModNet, SincModNet or the max-pool baseline, as its [`ModNetConfig`] says.
#[derive(Module, Debug)]
pub struct ModNet {
    /// Sinc filterbank and temporal stage.
    pub frontend: FrontEnd,
    /// 2-D ResNet and head.
    pub resnet: ResNet,
    #[module(skip)]
    config: ModNetConfig,
}

impl ModNetConfig {
    /// Builds the model after checking the configuration.
    pub fn init(&self, device: &Device) -> Result<ModNet, ModelError> {
        self.validate()?;
        Ok(ModNet {
            frontend: self.frontend().init(device),
            resnet: self
                .resnet
                .init(self.temporal.channels(), self.n_tags(), device),
            config: self.clone(),
        })
    }
}

impl ModNet {
    /// Sets how the model's convolutions run on a GPU (burn's cubecl runtimes), for every layer:
    /// a setting of this model in this process, not of its weights (a loaded model starts with
    /// [`GpuConvolution::Direct`]); the CPU backends ignore it.
    ///
    /// [`GpuConvolution::Direct`]: crate::kernels::GpuConvolution::Direct
    pub fn set_gpu_convolution(&mut self, gpu: crate::kernels::GpuConvolution) {
        self.frontend.set_gpu_convolution(gpu);
        self.resnet.set_gpu_convolution(gpu);
    }

    /// The configuration the model was built from.
    pub fn config(&self) -> &ModNetConfig {
        &self.config
    }

    /// Checks a waveform batch: rank-2 `[batch, samples]`, non-empty, long enough.
    pub fn check_waveform(&self, waveform: &Tensor<2>) -> Result<(), ModelError> {
        let [batch, samples] = waveform.dims();
        if batch == 0 || samples == 0 {
            return Err(ModelError::EmptyInput);
        }
        let min_samples = self.config.min_samples();
        if samples < min_samples {
            return Err(ModelError::TooShort {
                samples,
                min_samples,
            });
        }
        Ok(())
    }

    /// The band envelopes (the filterbank picture): sinc layer and r1.
    ///
    /// - input: `[batch, samples]` mono at the configured sample rate
    /// - output: `[batch, bands, frames]`
    pub fn filterbank(&self, waveform: Tensor<2>) -> Result<Tensor<3>, ModelError> {
        self.check_waveform(&waveform)?;
        Ok(self.frontend.filterbank(waveform))
    }

    /// The modulation representation the back-end sees (after r2 and norm).
    ///
    /// - input: `[batch, samples]`
    /// - output: `[batch, M, bands, frames']`
    pub fn modulation(&self, waveform: Tensor<2>) -> Result<Tensor<4>, ModelError> {
        self.check_waveform(&waveform)?;
        Ok(self.frontend.forward(waveform))
    }

    /// The band envelopes, the modulation representation, the tag probabilities and the pooled
    /// embeddings in one pass
    /// (what a page shows of a chunk: [`ModNet::filterbank`], [`ModNet::modulation`] and
    /// [`ModNet::probabilities`] would run the front-end three times).
    ///
    /// - input: `[batch, samples]`
    /// - output: `[batch, bands, frames]`, `[batch, M, bands, frames']`, `[batch, n_tags]`
    pub fn inside(&self, waveform: Tensor<2>) -> Result<Inside, ModelError> {
        self.check_waveform(&waveform)?;
        let filterbank = self.frontend.filterbank(waveform);
        let modulation = self.frontend.modulation(filterbank.clone());
        let embeddings = self.resnet.features(modulation.clone());
        let probabilities = sigmoid(self.resnet.classify(embeddings.clone()));
        Ok(Inside {
            filterbank,
            modulation,
            probabilities,
            embeddings,
        })
    }

    /// Tag logits.
    ///
    /// - input: `[batch, samples]`
    /// - output: `[batch, n_tags]`
    pub fn forward(&self, waveform: Tensor<2>) -> Result<Tensor<2>, ModelError> {
        self.check_waveform(&waveform)?;
        Ok(self.resnet.forward(self.frontend.forward(waveform)))
    }

    /// Tag probabilities (sigmoid of the logits).
    ///
    /// - input: `[batch, samples]`
    /// - output: `[batch, n_tags]`
    pub fn probabilities(&self, waveform: Tensor<2>) -> Result<Tensor<2>, ModelError> {
        Ok(sigmoid(self.forward(waveform)?))
    }

    /// Number of trainable parameters (what PyTorch's `parameters()` counts): all parameters but
    /// batch norm's running statistics, which burn's `num_params` includes.
    pub fn num_trainable_params(&self) -> usize {
        #[derive(Default)]
        struct Count {
            path: Vec<String>,
            total: usize,
        }
        impl ModuleVisitor for Count {
            fn enter_module(&mut self, name: &str, _container_type: &str) {
                self.path.push(name.to_string());
            }
            fn exit_module(&mut self, _name: &str, _container_type: &str) {
                self.path.pop();
            }
            fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
                let running = matches!(
                    self.path.last().map(String::as_str),
                    Some("running_mean" | "running_var")
                );
                if !running {
                    self.total += param.lazy_shape().num_elements();
                }
            }
        }
        let mut count = Count::default();
        self.visit(&mut count);
        count.total
    }

    /// The path of the first parameter holding NaN or an infinity, if any: such weights give
    /// NaN tags, so checkpoints that hold them are refused. Reads values back synchronously:
    /// for native backends (weights files are checked from their bytes instead).
    pub fn first_non_finite(&self) -> Option<String> {
        #[derive(Default)]
        struct Find {
            path: Vec<String>,
            found: Option<String>,
        }
        impl ModuleVisitor for Find {
            fn enter_module(&mut self, name: &str, _container_type: &str) {
                self.path.push(name.to_string());
            }
            fn exit_module(&mut self, _name: &str, _container_type: &str) {
                self.path.pop();
            }
            fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
                if self.found.is_some() {
                    return;
                }
                let finite = param.val().is_finite().all().into_scalar::<bool>();
                if !finite {
                    self.found = Some(self.path.join("."));
                }
            }
        }
        let mut find = Find::default();
        self.visit(&mut find);
        find.found
    }

    /// The model with its output biases set to the log-odds of `prior` (one probability per
    /// tag, each clamped to [1e-4, 1 − 1e-4]): an untrained model then outputs the label
    /// frequencies instead of 0.5 everywhere, and training does not spend its first steps there.
    pub fn with_tag_prior(self, prior: &[f32]) -> Result<Self, ModelError> {
        if prior.len() != self.config.n_tags() {
            return Err(ModelError::Shape(format!(
                "{} prior probabilities for {} tags",
                prior.len(),
                self.config.n_tags()
            )));
        }
        let logits: Vec<f32> = prior
            .iter()
            .map(|&p| {
                let p = p.clamp(1e-4, 1.0 - 1e-4);
                libm::logf(p / (1.0 - p))
            })
            .collect();
        let device = self.devices()[0].clone();
        let bias = Tensor::from_data(
            burn::tensor::TensorData::new(logits, [prior.len()]),
            &device,
        );
        Ok(Self {
            resnet: self.resnet.with_output_bias(bias),
            ..self
        })
    }

    /// The model with dropout `p` before its last layer. Dropout is a training setting, not a
    /// weight: the same weights can go on training with another.
    pub fn with_dropout(self, p: f64) -> Result<Self, ModelError> {
        let mut config = self.config.clone();
        config.resnet.dropout = p;
        config.validate()?;
        Ok(Self {
            resnet: self.resnet.with_dropout(p),
            config,
            ..self
        })
    }

    /// A copy ready for inference: eval-mode batch norm, no dropout, no autodiff graph.
    pub fn for_inference(&self) -> Self {
        self.valid()
    }

    /// A one-line description: kind of temporal stage, stride, widths, tags, parameters.
    pub fn summary(&self) -> alloc::string::String {
        let temporal = match &self.config.temporal {
            crate::layers::modulation::TemporalConfig::Fir(c) => {
                format!("ModNet (FIR ×{})", c.n_filters)
            }
            crate::layers::modulation::TemporalConfig::Sinc(c) => {
                format!("SincModNet (sinc ×{})", c.n_filters)
            }
            crate::layers::modulation::TemporalConfig::MaxPool(c) => {
                format!("max-pool baseline ({}/{})", c.kernel_size, c.stride)
            }
        };
        format!(
            "{temporal}, stride {}, widths {:?}, {} tags, {} parameters",
            self.config.temporal.geometry().1,
            self.config.resnet.widths.widths(),
            self.config.n_tags(),
            self.num_trainable_params()
        )
    }
}
