//! Weights files: bit-identical round trips, equal weights make equal files, format 1 still
//! loads, and another configuration's, damaged or absurd files are refused with an error.

use super::*;

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
