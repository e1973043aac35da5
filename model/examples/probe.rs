use burn::optim::{AdamConfig, GradientsParams, Optimizer};
use burn::tensor::{Device, Distribution, Tensor};
use modnet::{ModNetConfig, ResNetConfig, ResNetWidths};
use std::time::Instant;
fn main() {
    let which = std::env::args().nth(1).unwrap_or("hcnn".into());
    let config = match which.as_str() {
        "small" => ModNetConfig::small(),
        _ => ModNetConfig::sincmodnet()
            .with_resnet(ResNetConfig::new().with_widths(ResNetWidths::Hcnn)),
    };
    if std::env::var("KEEP").is_ok() {
        modnet::kernels::keep_freed_memory();
    }
    let ad = Device::flex().autodiff();
    let mut model = config.init(&ad).unwrap();
    let mut optim = AdamConfig::new().init();
    let x = Tensor::<2>::random([4, 80_000], Distribution::Uniform(-0.5, 0.5), &ad);
    let y = Tensor::<2>::random([4, 50], Distribution::Uniform(0.0, 1.0), &ad);
    for _ in 0..std::env::var("STEPS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(6)
    {
        let t = Instant::now();
        let logits = model.forward(x.clone()).unwrap();
        let loss = burn::nn::loss::BinaryCrossEntropyLossConfig::new()
            .with_logits(true)
            .init(&ad)
            .forward(logits, y.clone().greater_elem(0.5).int());
        let tf = t.elapsed().as_secs_f64() * 1e3;
        let grads = GradientsParams::from_grads(loss.clone().backward(), &model);
        model = optim.step(1e-3, model, grads);
        let _ = loss.into_scalar::<f32>();
        let rss = std::fs::read_to_string("/proc/self/status")
            .unwrap()
            .lines()
            .find(|l| l.starts_with("VmHWM"))
            .unwrap()
            .to_string();
        println!(
            "step {:.0} ms (forward graph {:.0} ms) {rss}",
            t.elapsed().as_secs_f64() * 1e3,
            tf
        );
    }
}
