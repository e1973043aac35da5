//! The model crate's contract, on the Flex CPU backend (one test on NdArray).

use burn::module::Module;
use burn::tensor::{Device, Distribution, Tensor, TensorData};
use modnet::clip::read_back;
use modnet::{
    ChunkPlan, ClipResults, ClipTagging, ModNet, ModNetConfig, ModelError, ResNetConfig,
    ResNetWidths, SampleRate, TemporalConfig,
};

const SECOND: usize = 16000;

fn small_widths(config: ModNetConfig) -> ModNetConfig {
    let resnet = ResNetConfig::new().with_widths(ResNetWidths::Custom { narrow: 4, wide: 8 });
    config.with_resnet(resnet)
}

fn noise(batch: usize, samples: usize, device: &Device) -> Tensor<2> {
    Tensor::random([batch, samples], Distribution::Uniform(-0.5, 0.5), device)
}

fn values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    read_back::values(t).unwrap()
}

/// Each chunk of `plan` run alone: `[plan.len() × 50]` probabilities.
fn chunk_by_chunk(model: &ModNet, samples: &[f32], plan: &ChunkPlan, device: &Device) -> Vec<f32> {
    plan.starts
        .iter()
        .flat_map(|&start| {
            let one = ChunkPlan::one_at(samples.len(), plan.chunk, start).unwrap();
            model
                .batch_probabilities(&one.batch(0, samples).unwrap(), device)
                .unwrap()
        })
        .collect()
}

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

/// One optimiser-free training step: batch norm statistics move, so a round trip that dropped
/// them would show.
fn trained_a_little(config: &ModNetConfig) -> ModNet {
    let device = Device::flex().autodiff();
    let model = config.init(&device).unwrap();
    let _ = model.forward(noise(2, 2 * SECOND, &device)).unwrap();
    model.valid()
}

#[test]
fn weights_round_trip_is_bit_identical() {
    let device = Device::flex();
    for config in [ModNetConfig::small(), small_widths(ModNetConfig::modnet())] {
        let model = trained_a_little(&config);
        let bytes = model.to_bytes().unwrap();
        let loaded = ModNet::from_bytes(&bytes, &device).unwrap();
        assert_eq!(loaded.config(), &config);
        let x = noise(2, 2 * SECOND, &device);
        let a = values(model.forward(x.clone()).unwrap());
        let b = values(loaded.forward(x.clone()).unwrap());
        assert_eq!(a, b, "outputs after save → load");
        // Loading into a freshly initialised model of the same config gives the same, too.
        let fresh = config.init(&device).unwrap().load_bytes(&bytes).unwrap();
        assert_eq!(values(fresh.forward(x).unwrap()), a);
    }
}

/// safetensors writes its header from hash maps: without sorting, the same weights gave files
/// that differed in metadata key order from save to save.
#[test]
fn equal_weights_make_equal_files() {
    let model = trained_a_little(&ModNetConfig::small());
    let first = model.to_bytes().unwrap();
    for _ in 0..8 {
        assert!(model.to_bytes().unwrap() == first, "a second save differs");
    }
    let n = u64::from_le_bytes(first[..8].try_into().unwrap()) as usize;
    assert_eq!(n % 8, 0, "the data stays 8-byte aligned");
    let header = std::str::from_utf8(&first[8..8 + n]).unwrap();
    let (_, parsed) = safetensors::SafeTensors::read_metadata(&first).unwrap();
    let mut keys: Vec<String> = parsed.metadata().clone().unwrap().into_keys().collect();
    assert!(keys.len() >= 2, "{keys:?}");
    // Where each key is written in the raw header (a key inside the escaped config JSON reads
    // `\"key\":`, never `"key":`).
    let at = |k: &String| header.find(&format!("\"{k}\":")).unwrap();
    keys.sort_by_key(at);
    let mut sorted = keys.clone();
    sorted.sort();
    assert_eq!(keys, sorted, "metadata keys in sorted order");
    let loaded = ModNet::from_bytes(&first, &Device::flex()).unwrap();
    assert_eq!(loaded.config(), model.config());
}

/// A file as format 1 wrote it: the ResNet's tensors under `backend.*`, its config key `backend`.
fn as_format_1(bytes: &[u8]) -> Vec<u8> {
    let file = safetensors::SafeTensors::deserialize(bytes).unwrap();
    let (_, header) = safetensors::SafeTensors::read_metadata(bytes).unwrap();
    let mut metadata = header.metadata().clone().unwrap();
    let json = metadata["modnet.config"].replacen("\"resnet\"", "\"backend\"", 1);
    assert!(json.contains("\"backend\""));
    metadata.insert("modnet.config".into(), json);
    metadata.insert("modnet.format".into(), "modnet-weights/1".into());
    let tensors = file.tensors().into_iter().map(|(name, view)| {
        let name = match name.strip_prefix("resnet.") {
            Some(rest) => format!("backend.{rest}"),
            None => name,
        };
        (name, view)
    });
    safetensors::serialize(tensors, Some(metadata)).unwrap()
}

#[test]
fn format_1_files_load_with_the_same_outputs() {
    let device = Device::flex();
    let config = ModNetConfig::small();
    let model = trained_a_little(&config);
    let v1 = as_format_1(&model.to_bytes().unwrap());
    assert_eq!(modnet::weights::read_config(&v1).unwrap(), config);
    let loaded = ModNet::from_bytes(&v1, &device).unwrap();
    let x = noise(1, 2 * SECOND, &device);
    assert_eq!(
        values(loaded.forward(x.clone()).unwrap()),
        values(model.forward(x).unwrap())
    );
    // Upgraded bytes are a current file with the ResNet under its new name.
    let upgraded = modnet::weights::upgrade(&v1).unwrap();
    let file = safetensors::SafeTensors::deserialize(&upgraded).unwrap();
    assert!(file.names().iter().any(|n| n.starts_with("resnet.")));
    assert!(!file.names().iter().any(|n| n.starts_with("backend.")));
    // A format nobody wrote is still refused by name.
    let mut header = safetensors::SafeTensors::read_metadata(&v1)
        .unwrap()
        .1
        .metadata()
        .clone()
        .unwrap();
    header.insert("modnet.format".into(), "modnet-weights/9".into());
    let file = safetensors::SafeTensors::deserialize(&v1).unwrap();
    let v9 = safetensors::serialize(file.tensors(), Some(header)).unwrap();
    let err = ModNet::from_bytes(&v9, &device).unwrap_err().to_string();
    assert!(err.contains("modnet-weights/9"), "{err}");
}

#[test]
fn weights_of_another_config_are_refused() {
    let device = Device::flex();
    let bytes = ModNetConfig::small()
        .init(&device)
        .unwrap()
        .to_bytes()
        .unwrap();
    let other = small_widths(ModNetConfig::modnet()).init(&device).unwrap();
    match other.load_bytes(&bytes) {
        Err(ModelError::ConfigMismatch { .. }) => {}
        other => panic!("expected a config mismatch, got {:?}", other.map(|_| ())),
    }
    for garbage in [
        &b""[..],
        b"not a weights file at all",
        &bytes[..bytes.len() / 2],
    ] {
        let err = ModNet::from_bytes(garbage, &device).unwrap_err();
        assert!(matches!(err, ModelError::Weights(_)), "{err}");
    }
    // A safetensors file that is not ours.
    let foreign = safetensors_without_metadata();
    let err = ModNet::from_bytes(&foreign, &device).unwrap_err();
    assert!(
        err.to_string().contains("not one written by modnet"),
        "{err}"
    );
}

fn safetensors_without_metadata() -> Vec<u8> {
    // Header {"x":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}} padded to 8 bytes.
    let mut header = br#"{"x":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#.to_vec();
    while !header.len().is_multiple_of(8) {
        header.push(b' ');
    }
    let mut bytes = (header.len() as u64).to_le_bytes().to_vec();
    bytes.extend(header);
    bytes.extend(1f32.to_le_bytes());
    bytes
}

#[test]
fn bad_input_gets_an_error_not_a_panic() {
    let device = Device::flex();
    let model = ModNetConfig::small().init(&device).unwrap();
    let empty = Tensor::<2>::zeros([0, 80000], &device);
    assert_eq!(model.forward(empty).unwrap_err(), ModelError::EmptyInput);
    let short = Tensor::<2>::zeros([1, 1000], &device);
    assert!(matches!(
        model.forward(short).unwrap_err(),
        ModelError::TooShort { samples: 1000, .. }
    ));
    let min = model.config().min_samples();
    assert_eq!(min, 257 + 10 * 128);
    assert_eq!(
        model
            .forward(Tensor::zeros([1, min], &device))
            .unwrap()
            .dims(),
        [1, 50]
    );

    // Whole clips.
    assert_eq!(
        model.tag_clip(&[], false, &device).unwrap_err(),
        ModelError::EmptyInput
    );
    let nan = vec![f32::NAN; 1000];
    assert_eq!(
        model.tag_clip(&nan, false, &device).unwrap_err(),
        ModelError::NonFinite
    );
    // Silence is valid input and gives finite probabilities.
    let tags = model
        .tag_clip(&vec![0.0; 3 * SECOND], true, &device)
        .unwrap();
    assert!(tags.notice.unwrap().contains("zero-padded"));
    assert!(
        tags.probabilities
            .iter()
            .all(|v| v.is_finite() && (0.0..=1.0).contains(v))
    );

    // Configurations that cannot work are refused with a reason.
    let floor = ModNetConfig::small().with_resnet(ResNetConfig::new().with_ceil_mode(false));
    let err = floor.init(&device).unwrap_err();
    assert!(err.to_string().contains("pool down to nothing"), "{err}");
    assert!(ModNetConfig::preset("nope").is_err());
    assert!(ModNetConfig::from_json("{").is_err());
}

#[test]
fn flex_and_ndarray_agree() {
    #[allow(deprecated)]
    let ndarray = Device::ndarray();
    let flex = Device::flex();
    let model = ModNetConfig::small().init(&flex).unwrap();
    let bytes = model.to_bytes().unwrap();
    let other = ModNet::from_bytes(&bytes, &ndarray).unwrap();
    let x: Vec<f32> = (0..2 * SECOND)
        .map(|i| (i as f32 * 0.05).sin() * 0.3 + ((i * 7919) % 1000) as f32 / 5000.0)
        .collect();
    let run = |m: &ModNet, d: &Device| {
        values(
            m.forward(Tensor::from_data(
                TensorData::new(x.clone(), [1, x.len()]),
                d,
            ))
            .unwrap(),
        )
    };
    let (a, b) = (run(&model, &flex), run(&other, &ndarray));
    let scale = a.iter().fold(0f32, |m, v| m.max(v.abs()));
    let worst = a
        .iter()
        .zip(&b)
        .fold(0f32, |m, (x, y)| m.max((x - y).abs()));
    println!("flex vs ndarray: max |diff| {worst:e} on logits up to {scale}");
    for (x, y) in a.iter().zip(&b) {
        assert!(
            (x - y).abs() <= 1e-4 * scale.max(1.0),
            "flex {x} vs ndarray {y}"
        );
    }
}

#[test]
fn evaluation_protocol_positions() {
    // A 29.1 s MTAT clip: hop = (len − 80000) / 16.
    let len = 465_984;
    let plan = ChunkPlan::evaluation(len, 80_000, 16).unwrap();
    let hop = (len - 80_000) / 16;
    assert_eq!(plan.starts, (0..16).map(|i| i * hop).collect::<Vec<_>>());
    assert!(!plan.padded && plan.notice(SampleRate::PAPER).is_none());
    assert!(plan.starts[15] + 80_000 <= len);

    let short = ChunkPlan::evaluation(3 * SECOND, 80_000, 16).unwrap();
    assert_eq!(short.starts, vec![0]);
    assert!(
        short
            .notice(SampleRate::PAPER)
            .unwrap()
            .contains("zero-padded")
    );
    let rows = short.batch(0, &vec![1.0; 3 * SECOND]).unwrap().samples;
    assert_eq!(rows.len(), 80_000);
    assert_eq!(short.batch(1, &vec![1.0; 3 * SECOND]), None);
    // One chunk anywhere (the page's pictures): moved back inside the clip, padded past its end.
    let one = ChunkPlan::one_at(3 * SECOND, 80_000, 10 * SECOND).unwrap();
    assert_eq!(
        (one.starts.clone(), one.padded),
        (vec![3 * SECOND - 1], true)
    );
    let whole = ChunkPlan::one_at(12 * SECOND, 80_000, SECOND).unwrap();
    assert_eq!((whole.starts.clone(), whole.padded), (vec![SECOND], false));
    assert_eq!(rows.iter().sum::<f32>(), (3 * SECOND) as f32);

    // A clip less than 16 samples longer than a chunk: one chunk, not 16 identical ones.
    for len in [80_000, 80_015] {
        let one = ChunkPlan::evaluation(len, 80_000, 16).unwrap();
        assert_eq!(one.starts, vec![0]);
        assert!(!one.padded);
    }
    assert_eq!(ChunkPlan::evaluation(80_016, 80_000, 16).unwrap().len(), 16);

    // The last timeline chunk ends at the clip's end: no chunk of mostly zero padding.
    let timeline = ChunkPlan::timeline(12 * SECOND, 80_000).unwrap();
    assert_eq!(timeline.starts, vec![0, 80_000, 112_000]);
    assert!(!timeline.padded && timeline.notice(SampleRate::PAPER).is_none());
    let short = ChunkPlan::timeline(3 * SECOND, 80_000).unwrap();
    assert!(short.padded && short.starts == vec![0]);
    assert_eq!(
        ChunkPlan::timeline(0, 80_000).unwrap_err(),
        ModelError::EmptyInput
    );
}

#[test]
fn clip_score_is_the_mean_of_chunk_sigmoids() {
    let device = Device::flex();
    let model = ModNetConfig::small().init(&device).unwrap();
    let samples: Vec<f32> = (0..7 * SECOND)
        .map(|i| ((i as f32) * 0.01).sin() * 0.2)
        .collect();
    let plan = ChunkPlan::evaluation(samples.len(), 80_000, 16).unwrap();
    // Each chunk alone, against the clip run in batches of four.
    let chunks = chunk_by_chunk(&model, &samples, &plan, &device);
    let clip = model
        .tag_clip(&samples, false, &device)
        .unwrap()
        .probabilities;
    for tag in 0..50 {
        let mean = (0..16).map(|c| chunks[c * 50 + tag]).sum::<f32>() / 16.0;
        assert!((mean - clip[tag]).abs() < 1e-5);
    }
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

#[test]
fn every_mtat_tag_has_its_group() {
    use modnet::{MTAT_TAGS, TagGroup};
    let count = |g: TagGroup| MTAT_TAGS.iter().filter(|t| TagGroup::of(t) == g).count();
    // 13 genres, 12 instruments, 16 vocal tags, 6 moods: the 3 left are beat, beats and solo.
    assert_eq!(count(TagGroup::Genre), 13);
    assert_eq!(count(TagGroup::Instrument), 12);
    assert_eq!(count(TagGroup::Vocal), 16);
    assert_eq!(count(TagGroup::Mood), 6);
    let other: Vec<&str> = MTAT_TAGS
        .iter()
        .copied()
        .filter(|t| TagGroup::of(t) == TagGroup::Other)
        .collect();
    assert_eq!(other, ["beat", "solo", "beats"]);
    assert_eq!(TagGroup::of("not an MTAT tag"), TagGroup::Other);
}

#[test]
fn tag_prior_sets_the_output_biases() {
    let device = Device::flex();
    let model = small_widths(ModNetConfig::small()).init(&device).unwrap();
    let prior: Vec<f32> = (0..50).map(|i| 0.01 + 0.019 * i as f32).collect();
    let model = model.with_tag_prior(&prior).unwrap();
    let bytes = model.to_bytes().unwrap();
    let file = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let name = file
        .names()
        .into_iter()
        .find(|n| n.contains("dense2") && n.ends_with("bias"))
        .expect("a head bias tensor")
        .to_string();
    let bias: Vec<f32> = file
        .tensor(&name)
        .unwrap()
        .data()
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes(b.try_into().unwrap()))
        .collect();
    for (b, p) in bias.iter().zip(&prior) {
        let logit = (p / (1.0 - p)).ln();
        assert!((b - logit).abs() < 1e-5, "{b} vs {logit}");
    }
    assert!(matches!(
        small_widths(ModNetConfig::small())
            .init(&device)
            .unwrap()
            .with_tag_prior(&[0.5; 3]),
        Err(ModelError::Shape(_))
    ));
}

#[test]
fn another_dropout_keeps_the_weights() {
    let device = Device::flex();
    let model = small_widths(ModNetConfig::small()).init(&device).unwrap();
    let (before, dropout) = (model.to_bytes().unwrap(), model.config().resnet.dropout);
    assert_ne!(dropout, 0.1);
    let x = noise(2, model.config().chunk_samples, &device);
    let expected = values(model.for_inference().forward(x.clone()).unwrap());
    let other = model.with_dropout(0.1).unwrap();
    assert_eq!(other.config().resnet.dropout, 0.1);
    assert_eq!(values(other.for_inference().forward(x).unwrap()), expected);
    // The file differs only in the configuration it records.
    let reloaded = ModNet::from_bytes(&other.to_bytes().unwrap(), &device).unwrap();
    assert_eq!(reloaded.config().resnet.dropout, 0.1);
    let back = reloaded.with_dropout(dropout).unwrap().to_bytes().unwrap();
    assert_eq!(back, before);
    assert!(matches!(
        other.with_dropout(1.0),
        Err(ModelError::InvalidConfig(_))
    ));
}

#[test]
fn clip_tagging_batches_and_reduces_as_the_protocol_says() {
    use modnet::TAG_BATCH;
    let device = Device::flex();
    let model = small_widths(ModNetConfig::small()).init(&device).unwrap();
    let chunk = model.config().chunk_samples;
    let samples: Vec<f32> = (0..chunk * 5 / 2)
        .map(|i| ((i as f32) * 0.003).sin() * 0.3)
        .collect();
    let tagging = ClipTagging::new(samples.len(), chunk, true).unwrap();
    assert_eq!(tagging.evaluation.len(), 16);
    assert_eq!(tagging.timeline.len(), 3);
    let batches: Vec<_> = (0..tagging.batch_count())
        .map(|i| tagging.batch(i, &samples).unwrap())
        .collect();
    // 16 evaluation chunks in batches of 4, then 3 timeline chunks in one.
    assert_eq!(batches.len(), 16 / TAG_BATCH + 1);
    assert_eq!(tagging.batch(batches.len(), &samples), None);
    // A long clip: 16 + 25 chunks, the timeline's last batch a partial one.
    let long = ClipTagging::new(chunk * 25, chunk, true).unwrap();
    assert_eq!(long.batch_count(), 4 + 7);
    // Batch by batch from the plans: the evaluation's first, then the timeline's.
    let ramp: Vec<f32> = (0..chunk * 25).map(|i| i as f32).collect();
    for index in 0..long.batch_count() {
        let (plan, i) = if index < 4 {
            (&long.evaluation, index)
        } else {
            (&long.timeline, index - 4)
        };
        assert_eq!(
            long.batch(index, &ramp),
            plan.batch(i, &ramp),
            "batch {index}"
        );
    }
    let timeline_last = long.batch(long.batch_count() - 1, &ramp).unwrap();
    assert_eq!(timeline_last.rows, 25 % TAG_BATCH);
    assert_eq!(timeline_last.samples[0], (24 * chunk) as f32);
    assert_eq!(long.batch(long.batch_count(), &ramp), None);
    assert!(batches.iter().all(|b| b.samples.len() == b.rows * chunk));
    let per_batch: Vec<Vec<f32>> = batches
        .iter()
        .map(|b| values(model.probabilities(b.tensor(&device)).unwrap()))
        .collect();
    let tags = tagging
        .finish(per_batch.clone(), 50, SampleRate::PAPER)
        .unwrap();
    assert_eq!(tags.timeline.len(), 3);
    assert_eq!(tags.timeline_starts, vec![0, chunk, samples.len() - chunk]);
    // The timeline as the page draws it: rows = tags, columns = chunks.
    let picture = tags.timeline_picture();
    assert_eq!((picture.rows, picture.cols), (50, 3));
    for (c, row) in tags.timeline.iter().enumerate() {
        for (t, &p) in row.iter().enumerate() {
            assert_eq!(picture.values[t * 3 + c], p);
        }
    }
    let direct = chunk_by_chunk(&model, &samples, &tagging.evaluation, &device);
    for t in 0..50 {
        let mean = (0..16).map(|c| direct[c * 50 + t]).sum::<f32>() / 16.0;
        assert!((mean - tags.probabilities[t]).abs() < 1e-5);
    }
    // Probabilities of the wrong size are refused, not misread.
    let mut short = per_batch.clone();
    short[4].pop();
    assert!(tagging.finish(short, 50, SampleRate::PAPER).is_err());
    assert!(
        tagging
            .finish(per_batch[1..].to_vec(), 50, SampleRate::PAPER)
            .is_err()
    );

    // Batch by batch, as several workers give them back: nothing until the evaluation batches
    // are in, then the final clip tags with the timeline filling in.
    let mut results = ClipResults::new(tagging.clone(), 50, SampleRate::PAPER);
    assert_eq!(results.total(), 19);
    for i in [4, 0, 2, 1] {
        assert!(results.add(i, per_batch[i].clone()).unwrap().is_none());
    }
    assert_eq!(results.done(), 3 + 12);
    // A batch given twice is counted once.
    assert!(results.add(4, per_batch[4].clone()).unwrap().is_none());
    assert_eq!(results.done(), 15);
    let mut early = ClipResults::new(tagging.clone(), 50, SampleRate::PAPER);
    for (i, batch) in per_batch.iter().enumerate().take(4) {
        early.add(i, batch.clone()).unwrap();
    }
    let early = early.tags().unwrap();
    assert_eq!(early.probabilities, tags.probabilities);
    assert_eq!(early.timeline.len(), 3);
    assert!(early.timeline.iter().all(Vec::is_empty));
    assert_eq!(early.timeline_done(), 0);
    assert!(!results.is_complete());
    let done = results.add(3, per_batch[3].clone()).unwrap().unwrap();
    assert!(results.is_complete());
    assert_eq!(done, tags);
    // A batch of the wrong size, or one the clip does not have, is refused and not kept.
    assert!(results.add(4, per_batch[4][1..].to_vec()).is_err());
    assert!(results.add(5, per_batch[4].clone()).is_err());
    assert_eq!(results.tags().unwrap(), tags);
}

#[test]
fn damaged_weights_and_absurd_configs_are_refused() {
    let device = Device::flex();
    let model = small_widths(ModNetConfig::small()).init(&device).unwrap();
    let mut bytes = model.to_bytes().unwrap();
    // The first float of the data section becomes NaN.
    let header = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    bytes[8 + header..8 + header + 4].copy_from_slice(&f32::NAN.to_le_bytes());
    match ModNet::from_bytes(&bytes, &device) {
        Err(ModelError::Weights(msg)) => assert!(msg.contains("NaN"), "{msg}"),
        other => panic!("NaN weights were accepted: {:?}", other.map(|_| ())),
    }
    // A configuration asking for a 10^12-sample chunk (4 TB a batch row) is refused when read.
    let mut config = ModNetConfig::small();
    config.chunk_samples = 1_000_000_000_000;
    assert!(matches!(
        config.validate(),
        Err(ModelError::InvalidConfig(msg)) if msg.contains("longer than")
    ));
    let json = config.to_json();
    assert!(
        ModNetConfig::from_json(&json)
            .and_then(|c| c.validate())
            .is_err()
    );
}
