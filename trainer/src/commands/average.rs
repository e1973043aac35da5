//! `trainer average`: one model from several weights files of the same model, tensor by tensor
//! (checkpoint averaging). The weights of a run's last epochs (`train --keep-epochs`) lie around
//! the minimum the optimiser circles at a fixed learning rate; their mean often lies closer to it
//! than any one of them. `trainer eval --split valid` says whether it does.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result, anyhow, bail};
use burn::tensor::Device;
use clap::Args;
use modnet::ModNet;
use safetensors::tensor::{Dtype, SafeTensors, TensorView};

use modnet_audio::files::{OutputKind, check_writable};
use modnet_audio::files::{load_weights, save_weights};

#[derive(Args)]
pub struct AverageArgs {
    /// Weights files of one model (the same configuration), two or more: say a run's
    /// `epochs/epoch-*.safetensors`.
    #[arg(long, num_args = 2.., required = true, value_name = "WEIGHTS")]
    pub(crate) weights: Vec<PathBuf>,
    /// The weights file to write.
    #[arg(long)]
    pub(crate) out: PathBuf,
}

/// Runs the command.
pub fn run(args: AverageArgs) -> Result<ExitCode> {
    check_writable(&args.out, OutputKind::Safetensors)?;
    let device = Device::flex();
    let mut models = Vec::with_capacity(args.weights.len());
    for path in &args.weights {
        let model = load_weights(path, &device)?;
        if let Some(first) = models.first().map(ModNet::config)
            && first != model.config()
        {
            bail!(
                "{} is another model than {} (their configurations differ): only weights of \
                 one model can be averaged",
                path.display(),
                args.weights[0].display()
            );
        }
        models.push(model);
    }
    let mean = average(&models, &device)?;
    save_weights(&mean, &args.out)?;
    eprintln!(
        "wrote {}: the mean of {} weights files ({})",
        args.out.display(),
        models.len(),
        mean.summary()
    );
    Ok(ExitCode::SUCCESS)
}

/// The mean of models of one configuration, tensor by tensor: the weights and the batch norms'
/// running statistics alike (the running variance of a mean is then a mean of variances, close
/// for weights as near each other as a run's last epochs). Sums are taken in f64.
pub fn average(models: &[ModNet], device: &Device) -> Result<ModNet> {
    // Same configuration, same tensors: no tensor is summed over fewer models than `n`.
    if let Some(i) = models.iter().position(|m| m.config() != models[0].config()) {
        bail!("model {i} has another configuration than model 0: they cannot be averaged");
    }
    let files = models
        .iter()
        .map(|m| {
            m.to_bytes()
                .map_err(|e| anyhow!("encoding the weights: {e}"))
        })
        .collect::<Result<Vec<_>>>()?;
    let Some(first) = files.first() else {
        bail!("no weights to average");
    };
    let parsed = files
        .iter()
        .map(|bytes| SafeTensors::deserialize(bytes).context("reading encoded weights"))
        .collect::<Result<Vec<_>>>()?;
    let mut sums: BTreeMap<String, (Vec<usize>, Vec<f64>)> = BTreeMap::new();
    for tensors in &parsed {
        for (name, view) in tensors.tensors() {
            if view.dtype() != Dtype::F32 {
                bail!(
                    "{name} is {:?}, not float32: it cannot be averaged",
                    view.dtype()
                );
            }
            let (shape, sum) = sums
                .entry(name.clone())
                .or_insert_with(|| (view.shape().to_vec(), vec![0.0; view.data().len() / 4]));
            if shape.as_slice() != view.shape() {
                bail!("{name} has another shape in one of the models");
            }
            for (s, v) in sum.iter_mut().zip(view.data().chunks_exact(4)) {
                *s += f64::from(f32::from_le_bytes([v[0], v[1], v[2], v[3]]));
            }
        }
    }
    let n = models.len() as f64;
    let means: Vec<(String, Vec<usize>, Vec<u8>)> = sums
        .into_iter()
        .map(|(name, (shape, sum))| {
            let bytes = sum
                .iter()
                .flat_map(|s| ((s / n) as f32).to_le_bytes())
                .collect();
            (name, shape, bytes)
        })
        .collect();
    let views = means
        .iter()
        .map(|(name, shape, bytes)| {
            Ok((
                name.as_str(),
                TensorView::new(Dtype::F32, shape.clone(), bytes)?,
            ))
        })
        .collect::<Result<Vec<_>, safetensors::SafeTensorError>>()?;
    let metadata = SafeTensors::read_metadata(first)?.1.metadata().clone();
    let bytes = safetensors::serialize(views, metadata)?;
    ModNet::from_bytes(&bytes, device).map_err(|e| anyhow!("the averaged weights: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use modnet::ModNetConfig;

    fn tensors(model: &ModNet) -> BTreeMap<String, Vec<f32>> {
        let bytes = model.to_bytes().unwrap();
        let parsed = SafeTensors::deserialize(&bytes).unwrap();
        parsed
            .tensors()
            .into_iter()
            .map(|(name, view)| {
                let values = view
                    .data()
                    .chunks_exact(4)
                    .map(|v| f32::from_le_bytes([v[0], v[1], v[2], v[3]]))
                    .collect();
                (name, values)
            })
            .collect()
    }

    #[test]
    fn the_mean_is_taken_tensor_by_tensor() {
        let device = Device::flex();
        let config = ModNetConfig::small();
        let models: Vec<ModNet> = (0..3)
            .map(|seed| {
                device.seed(seed);
                config.init(&device).unwrap()
            })
            .collect();
        let mean = average(&models, &device).unwrap();
        assert_eq!(mean.config(), &config);
        let each: Vec<_> = models.iter().map(tensors).collect();
        let got = tensors(&mean);
        assert_eq!(got.len(), each[0].len());
        let mut differing = 0;
        for (name, values) in &got {
            for (i, v) in values.iter().enumerate() {
                let expected = each.iter().map(|t| f64::from(t[name][i])).sum::<f64>() / 3.0;
                assert!(
                    (f64::from(*v) - expected).abs() <= 1e-6 * expected.abs().max(1.0),
                    "{name}[{i}]: {v} against {expected}"
                );
                differing += usize::from(each[0][name][i] != each[1][name][i]);
            }
        }
        // Random initialisations differ, so the test averages something.
        assert!(
            differing > 1000,
            "only {differing} values differ between the models"
        );
        // One model's mean is itself, bit for bit.
        let alone = average(&models[..1], &device).unwrap();
        assert_eq!(tensors(&alone), each[0]);
    }
}
