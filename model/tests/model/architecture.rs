//! The architecture as the paper and SincNet give it: parameter counts, every modulation stride,
//! the max-pool baseline, each stage's output, the filter banks' responses and options, the
//! configuration's JSON.

use super::*;

/// The trainable parameters of a model, counted from the architecture (ARCHITECTURE.md) layer
/// by layer, independently of the code that builds it: the sinc layer's two edges per filter,
/// the temporal stage, the seven ResNet layers (3×3 convolutions with bias, batch norms' γ and β)
/// and the head (Linear → BatchNorm1d → Linear).
fn expected_parameters(temporal: &str, widths: [usize; 7], tags: usize) -> usize {
    let (m, filters) = (20, 80);
    let (temporal, channels) = match temporal {
        "sinc" => (2 * m, m),
        "fir" => (m * 128, m),
        _ => (0, 1), // max pooling: one channel, nothing to learn
    };
    let conv = |c_in: usize, c_out: usize| c_out * c_in * 9 + c_out + 2 * c_out;
    let res = |c: usize| 2 * conv(c, c);
    let w = widths;
    let resnet = conv(channels, w[0])
        + (1..4).map(|i| res(w[i])).sum::<usize>()
        + conv(w[3], w[4])
        + (5..7).map(|i| res(w[i])).sum::<usize>();
    let head = (w[6] * w[6] + w[6]) + 2 * w[6] + (w[6] * tags + tags);
    2 * filters + temporal + resnet + head
}

#[test]
fn parameter_counts_match_the_architecture() {
    let device = Device::flex();
    let count = |c: ModNetConfig| c.init(&device).unwrap().num_trainable_params();
    let hcnn = |c: ModNetConfig| c.with_resnet(ResNetConfig::new().with_widths(ResNetWidths::Hcnn));
    let hcnn_widths = [128, 128, 128, 128, 256, 256, 256];
    // The HarmonicCNN widths: the PyTorch twin (model/benches/torch_modnet.py) counts the same 3 647 866.
    assert_eq!(
        count(hcnn(ModNetConfig::sincmodnet())),
        expected_parameters("sinc", hcnn_widths, 50)
    );
    assert_eq!(
        count(hcnn(ModNetConfig::modnet())),
        expected_parameters("fir", hcnn_widths, 50)
    );
    // The presets (paper widths, 50 tags; `small` 16 ×4, 32 ×3).
    let paper = [256; 7];
    assert_eq!(
        count(ModNetConfig::sincmodnet()),
        expected_parameters("sinc", paper, 50)
    );
    assert_eq!(
        count(ModNetConfig::modnet()),
        expected_parameters("fir", paper, 50)
    );
    assert_eq!(
        count(ModNetConfig::maxpool_baseline()),
        expected_parameters("maxpool", paper, 50)
    );
    assert_eq!(
        count(ModNetConfig::small()),
        expected_parameters("sinc", [16, 16, 16, 16, 32, 32, 32], 50)
    );
}

#[test]
fn every_modulation_stride_runs_through_the_resnet() {
    let device = Device::flex();
    let samples = 5 * SECOND;
    for stride in [16, 32, 64, 128, 160, 256] {
        for base in [ModNetConfig::sincmodnet(), ModNetConfig::modnet()] {
            let config = small_widths(base);
            let temporal = config.temporal.clone().with_stride(stride);
            let config = config.with_temporal(temporal);
            let model = config.init(&device).unwrap();
            let m = config.temporal.channels();
            let t2 = config.modulation_frames(samples);
            let (k, _) = config.temporal.geometry();
            assert_eq!(t2, (7975 - k) / stride + 1, "T2 for stride {stride}");
            let x = noise(2, samples, &device);
            assert_eq!(model.filterbank(x.clone()).unwrap().dims(), [2, 80, 7975]);
            assert_eq!(model.modulation(x.clone()).unwrap().dims(), [2, m, 80, t2]);
            let logits = model.forward(x).unwrap();
            assert_eq!(logits.dims(), [2, 50], "stride {stride}");
            assert!(
                values(logits).iter().all(|v| v.is_finite()),
                "stride {stride}"
            );
        }
    }
    // The paper's defaults: T2 = 491 at stride 16, 50 at stride 160.
    let config = ModNetConfig::sincmodnet();
    assert_eq!(config.modulation_frames(samples), 491);
    let fir = ModNetConfig::modnet();
    let fir = fir.clone().with_temporal(fir.temporal.with_stride(160));
    assert_eq!(fir.modulation_frames(samples), 50);
}

#[test]
fn maxpool_baseline_has_one_channel() {
    let device = Device::flex();
    let config = small_widths(ModNetConfig::maxpool_baseline());
    let model = config.init(&device).unwrap();
    let x = noise(1, 5 * SECOND, &device);
    assert_eq!(model.modulation(x.clone()).unwrap().dims(), [1, 1, 80, 62]);
    assert_eq!(model.forward(x).unwrap().dims(), [1, 50]);
    assert!(model.response_tensors().modulation_kernels.is_none());
}

#[test]
fn inside_is_each_stage_in_one_pass() {
    let device = Device::flex();
    let model = small_widths(ModNetConfig::sincmodnet())
        .init(&device)
        .unwrap()
        .for_inference();
    let x = noise(2, 5 * SECOND, &device);
    let inside = model.inside(x.clone()).unwrap();
    let pairs = [
        (
            values(inside.filterbank),
            values(model.filterbank(x.clone()).unwrap()),
        ),
        (
            values(inside.modulation),
            values(model.modulation(x.clone()).unwrap()),
        ),
        (
            values(inside.probabilities),
            values(model.probabilities(x).unwrap()),
        ),
    ];
    for (one_pass, alone) in pairs {
        assert_eq!(one_pass.len(), alone.len());
        assert!(one_pass.iter().zip(&alone).all(|(a, b)| a == b));
    }
    assert!(
        model.inside(noise(1, 10, &device)).is_err(),
        "inputs are checked"
    );
}

#[test]
fn filter_responses_describe_the_banks() {
    let device = Device::flex();
    let model = ModNetConfig::small().init(&device).unwrap();
    let r = model.filter_responses(512).unwrap();
    let fb = &r.filterbank;
    assert_eq!(fb.len(), 80);
    assert_eq!(*fb.freqs_hz.last().unwrap(), 8000.0);
    // Mel init: increasing centres, each inside its band, the response peaking near it.
    assert!(fb.centre_hz.windows(2).all(|w| w[0] < w[1]));
    for i in 0..80 {
        assert!(fb.low_hz[i] < fb.centre_hz[i] && fb.centre_hz[i] < fb.high_hz[i]);
        let db = &fb.magnitude_db[i];
        let peak = (0..db.len())
            .max_by(|&a, &b| db[a].total_cmp(&db[b]))
            .unwrap();
        let f = fb.freqs_hz[peak];
        let slack = 2.0 * 8000.0 / 511.0 + 30.0;
        assert!(
            f >= fb.low_hz[i] - slack && f <= fb.high_hz[i] + slack,
            "filter {i} peaks at {f}"
        );
    }
    let m = r.modulation.unwrap();
    assert_eq!(m.len(), 20);
    assert_eq!(*m.freqs_hz.last().unwrap(), 800.0);
    assert!((m.low_hz[0] - 0.5).abs() < 1e-4 && (m.high_hz[19] - 400.0).abs() < 1e-3);

    // ModNet's Hamming-grid FIR bank: low-pass windows, longer windows narrower.
    let fir = small_widths(ModNetConfig::modnet()).init(&device).unwrap();
    let m = fir.filter_responses(512).unwrap().modulation.unwrap();
    assert_eq!(m.len(), 20);
    assert!(
        m.centre_hz.iter().all(|&c| c < 1.0),
        "Hamming windows are low-pass"
    );
    assert!(
        m.high_hz[0] < m.high_hz[5]
            && m.high_hz[5] < m.high_hz[10]
            && m.high_hz[10] < m.high_hz[15]
    );
}

#[test]
fn hamming_grid_places_distinct_windows() {
    let TemporalConfig::Fir(fir) = ModNetConfig::modnet().temporal else {
        panic!("ModNet has an FIR bank")
    };
    let kernels = fir.hamming_grid(&[128, 64, 32, 16], 5);
    let rows: Vec<&[f32]> = kernels.chunks(128).collect();
    assert_eq!(rows.len(), 20);
    for (i, a) in rows.iter().enumerate() {
        for b in &rows[i + 1..] {
            assert_ne!(a, b, "two identical initial kernels never become different");
        }
    }
    // A 16-tap window at position 2 is centred on the kernel's middle.
    let r = rows[17];
    let taps: Vec<usize> = (0..128).filter(|&t| r[t] > 0.0).collect();
    assert_eq!(taps.len(), 16);
    assert_eq!(taps[0] + taps[15], 127);
}

#[test]
fn config_survives_json() {
    for name in modnet::PRESETS {
        let config = ModNetConfig::preset(name).unwrap();
        assert_eq!(
            ModNetConfig::from_json(&config.to_json()).unwrap(),
            config,
            "{name}"
        );
    }
}

#[test]
fn fir_options_kaiming_init_and_weight_norm() {
    use modnet::{FirInit, FirModulationConfig};
    let device = Device::flex();
    device.seed(7);
    let kaiming = FirModulationConfig::new()
        .with_init(FirInit::KaimingUniform)
        .init(&device);
    let w = values(kaiming.kernels());
    let bound = 1.0 / (128f32).sqrt();
    assert_eq!(w.len(), 20 * 128);
    assert!(w.iter().all(|v| v.abs() <= bound), "U(±1/√fan_in)");
    assert!(w.iter().any(|v| v.abs() > bound / 2.0), "not all near zero");

    let normed = FirModulationConfig::new()
        .with_weight_norm(true)
        .init(&device);
    for row in values(normed.kernels()).chunks(128) {
        let norm = row.iter().map(|v| v * v).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-5, "unit L2 norm, got {norm}");
    }
    // Through the whole model as well.
    let config = small_widths(ModNetConfig::modnet().with_temporal(TemporalConfig::Fir(
        FirModulationConfig::new().with_weight_norm(true),
    )));
    let model = config.init(&device).unwrap();
    assert_eq!(
        model.forward(noise(1, 5 * SECOND, &device)).unwrap().dims(),
        [1, 50]
    );
}
