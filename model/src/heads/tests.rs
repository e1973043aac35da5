use alloc::string::{String, ToString};
use alloc::vec;
use alloc::vec::Vec;

use super::*;

/// Examples of `chunks` rows each: the tag's examples centred at +shift on feature 0, the
/// others at −shift, every feature with unit noise (a fixed LCG).
fn examples(labels: &[bool], chunks: usize, dim: usize, shift: f32) -> Vec<Example> {
    let mut state = 99u64;
    let mut noise = move || {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        ((state >> 33) as f32 / (1u64 << 31) as f32 - 0.5) * 3.4
    };
    labels
        .iter()
        .map(|&l| Example {
            chunks: (0..chunks * dim)
                .map(|k| {
                    let centre = if k % dim == 0 { shift } else { 0.0 };
                    (if l { centre } else { -centre }) + noise() + 5.0
                })
                .collect(),
        })
        .collect()
}

fn tag(name: &str, labels: &[bool]) -> TagExamples {
    TagExamples {
        name: name.to_string(),
        labels: labels.iter().map(|&l| Some(l)).collect(),
    }
}

#[test]
fn a_head_learns_a_direction_and_cross_validates_it() {
    let labels: Vec<bool> = (0..30).map(|i| i % 3 == 0).collect();
    let data = examples(&labels, 4, 6, 1.5);
    let heads = learn_heads(&data, 6, &[tag("bright", &labels)], None).unwrap();
    let head = &heads[0];
    assert_eq!(
        (head.report.examples, head.report.counter_examples),
        (10, 20)
    );
    assert_eq!(head.report.folds, 5);
    let auc = head.report.cv_roc_auc.unwrap();
    assert!(auc > 0.9, "cross-validated ROC-AUC {auc}");
    assert!(
        head.report.warnings.is_empty(),
        "{:?}",
        head.report.warnings
    );
    // The weights are on raw features (the +5 offset folded into the bias).
    let others = head.weight[1..].iter().fold(0.0f32, |m, w| m.max(w.abs()));
    assert!(head.weight[0] > 2.0 * others, "{:?}", head.weight);
    let heads = TagHeads {
        base: BaseModel::of_weights("m".into(), b"w"),
        heads,
    };
    let fresh = examples(&[true, false], 8, 6, 3.0);
    let clip = |e: &Example| {
        let p = heads.probabilities(&e.chunks);
        p.iter().sum::<f32>() / p.len() as f32
    };
    assert!(
        clip(&fresh[0]) > head_threshold(&heads),
        "{}",
        clip(&fresh[0])
    );
    assert!(
        clip(&fresh[1]) < head_threshold(&heads),
        "{}",
        clip(&fresh[1])
    );
}

fn head_threshold(heads: &TagHeads) -> f32 {
    heads.heads[0].threshold
}

#[test]
fn one_sided_and_tiny_example_sets_are_refused_or_warned() {
    let data = examples(&[true, true, false], 2, 3, 1.0);
    let e = learn_heads(&data, 3, &[tag("a", &[true, true, true])], None).unwrap_err();
    assert!(e.to_string().contains("no counter-examples"), "{e}");
    let e = learn_heads(&data, 3, &[tag("a", &[false, false, false])], None).unwrap_err();
    assert!(e.to_string().contains("no examples"), "{e}");
    let heads = learn_heads(&data, 3, &[tag("a", &[true, true, false])], None).unwrap();
    let report = &heads[0].report;
    assert_eq!((report.folds, report.cv_roc_auc), (0, None));
    assert!(report.warnings.iter().any(|w| w.contains("cross-validate")));
    assert!(
        report
            .warnings
            .iter()
            .any(|w| w.contains("only 2 examples"))
    );
    let ragged = vec![Example {
        chunks: vec![1.0; 5],
    }];
    let e = learn_heads(&ragged, 3, &[tag("a", &[true])], None).unwrap_err();
    assert!(e.to_string().contains("whole number"), "{e}");
}

#[test]
fn names_that_clash_or_confuse_a_table_are_refused() {
    let model_tags = ["piano".to_string(), "female vocal".to_string()];
    let check = |names: &[&str]| {
        let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        check_names(&names, &model_tags)
    };
    assert!(check(&["cinematic tension", "needs vocal clearance"]).is_ok());
    for (names, why) in [
        (&["Piano"][..], "the model's own tag 'piano'"),
        (&["a", "A"], "twice"),
        (&[""], "empty"),
        (&[" x"], "space"),
        (&["a;b"], "separators"),
        (&["a\nb"], "control"),
    ] {
        let e = check(names).unwrap_err();
        assert!(e.to_string().contains(why), "{names:?}: {e}");
    }
}

#[test]
fn head_files_round_trip_and_damaged_ones_are_refused() {
    let labels: Vec<bool> = (0..12).map(|i| i % 2 == 0).collect();
    let data = examples(&labels, 2, 4, 2.0);
    let heads = TagHeads {
        base: BaseModel::of_weights("SincModNet".into(), b"weights"),
        heads: learn_heads(&data, 4, &[tag("x", &labels), tag("y z", &labels)], None).unwrap(),
    };
    let bytes = heads.to_bytes().unwrap();
    assert_eq!(
        bytes,
        heads.to_bytes().unwrap(),
        "the same heads make the same bytes"
    );
    assert_eq!(TagHeads::from_bytes(&bytes).unwrap(), heads);
    let refused = |bytes: &[u8], why: &str| {
        let e = TagHeads::from_bytes(bytes).unwrap_err().to_string();
        assert!(e.starts_with("your tags: not a head file"), "{e}");
        assert!(e.contains(why), "{why}: {e}");
    };
    refused(&bytes[..bytes.len() - 3], "");
    refused(b"not at all", "");
    // A NaN weight: the data section is at the end, the bias and threshold before the weights
    // in sorted order; poison the last float (a weight).
    let mut poisoned = bytes.clone();
    let n = poisoned.len();
    poisoned[n - 4..].copy_from_slice(&f32::NAN.to_le_bytes());
    refused(&poisoned, "NaN");
    let mut other_format = bytes.clone();
    let at = bytes
        .windows(14)
        .position(|w| w == b"modnet-heads/1")
        .unwrap();
    other_format[at + 13] = b'9';
    refused(&other_format, "its format is 'modnet-heads/9'");
}

#[test]
fn heads_of_another_model_are_refused_by_name() {
    let heads = TagHeads {
        base: BaseModel::of_weights("SincModNet A".into(), b"a"),
        heads: Vec::new(),
    };
    assert!(
        heads
            .check_base(&BaseModel::of_weights("SincModNet A".into(), b"a"))
            .is_ok()
    );
    let other = BaseModel::of_weights("SincModNet B".into(), b"b");
    let e = heads.check_base(&other).unwrap_err().to_string();
    assert!(
        e.contains("SincModNet A") && e.contains("SincModNet B"),
        "{e}"
    );
    assert!(
        e.contains(heads.base.short()) && e.contains(other.short()),
        "{e}"
    );
}

/// The one-pass probabilities are the model's and the heads' on `embed`'s features.
#[test]
fn tags_and_heads_come_from_one_pass() {
    use burn::tensor::Device;
    let device = Device::flex();
    device.seed(3);
    let resnet =
        crate::ResNetConfig::new().with_widths(crate::ResNetWidths::Custom { narrow: 4, wide: 8 });
    let model = crate::ModNetConfig::small()
        .with_resnet(resnet)
        .init(&device)
        .unwrap()
        .for_inference();
    let chunk = model.config().chunk_samples;
    let samples: Vec<f32> = (0..chunk * 2)
        .map(|i| libm::sinf(i as f32 * 0.013) * 0.3)
        .collect();
    let batch = crate::ChunkPlan::timeline(samples.len(), chunk)
        .unwrap()
        .batch(0, &samples)
        .unwrap();
    let dim = 8;
    let heads = TagHeads {
        base: BaseModel::of(&model).unwrap(),
        heads: (0..2)
            .map(|h| TagHead {
                name: alloc::format!("t{h}"),
                weight: (0..dim)
                    .map(|k| (k as f32 - 3.0) * 0.1 * (h as f32 + 1.0))
                    .collect(),
                bias: 0.2,
                threshold: 0.5,
                report: learn_report(),
            })
            .collect(),
    };
    let joined = model
        .batch_probabilities_with(&batch, &heads, &device)
        .unwrap();
    let tags = model.batch_probabilities(&batch, &device).unwrap();
    let embeddings = crate::clip::read_back::values(
        model
            .embed(batch.tensor(&device), EmbeddingLayer::Pooled)
            .unwrap(),
    )
    .unwrap();
    let rows = batch.rows;
    assert_eq!(
        joined,
        join_rows(&tags, &heads.probabilities(&embeddings), rows)
    );
    assert_eq!(joined.len(), rows * (model.config().n_tags() + 2));
}

fn learn_report() -> HeadReport {
    HeadReport {
        examples: 1,
        counter_examples: 1,
        background: 0,
        folds: 0,
        cv_roc_auc: None,
        l2: 0.1,
        warnings: Vec::new(),
    }
}

/// `learn` and `check_for` refuse a tag named as one of the model's, and `check_for` heads of
/// another model.
#[test]
fn heads_are_learned_and_checked_for_one_model() {
    let labels: Vec<bool> = (0..6).map(|i| i % 2 == 0).collect();
    let data = examples(&labels, 1, 3, 2.0);
    let base = BaseModel::of_weights("m".into(), b"w");
    let model_tags = ["piano".to_string()];
    let e = TagHeads::learn(
        base.clone(),
        &model_tags,
        &data,
        3,
        &[tag("Piano", &labels)],
        None,
    );
    assert!(e.unwrap_err().to_string().contains("the model's own tag"));
    let heads = TagHeads::learn(
        base.clone(),
        &model_tags,
        &data,
        3,
        &[tag("keys", &labels)],
        None,
    )
    .unwrap();
    assert!(heads.check_for(&base, &model_tags).is_ok());
    let e = heads.check_for(&base, &["keys".to_string()]).unwrap_err();
    assert!(e.to_string().contains("the model's own tag 'keys'"), "{e}");
    let other = BaseModel::of_weights("m".into(), b"other");
    assert!(
        heads
            .check_for(&other, &model_tags)
            .unwrap_err()
            .to_string()
            .contains("another model")
    );
}

/// A background of `clips` clips like the examples without the tag, of the model `base`.
fn background(base: &BaseModel, clips: usize, dim: usize) -> Background {
    let rows = examples(&vec![false; clips], 1, dim, 2.0);
    Background {
        base: base.clone(),
        dim,
        embeddings: rows.into_iter().flat_map(|e| e.chunks).collect(),
        source: "test clips".into(),
    }
}

/// With no counter-example, the model's background set stands in (and is reported); another
/// model's is left out, and the tag is refused with a sentence.
#[test]
fn a_background_stands_in_for_counter_examples() {
    let base = BaseModel::of_weights("m".into(), b"w");
    let data = examples(&[true; 6], 1, 3, 2.0);
    let only = [tag("keys", &[true; 6])];
    let set = background(&base, 40, 3);
    let heads = TagHeads::learn(base.clone(), &[], &data, 3, &only, Some(&set)).unwrap();
    let report = &heads.heads[0].report;
    assert_eq!((report.examples, report.counter_examples), (6, 0));
    assert_eq!((report.background, report.folds), (40, 5));
    assert!(
        report.warnings[0].contains("background set (40 clips"),
        "{report:?}"
    );
    // A clip like the examples scores above one like the background.
    let probe = examples(&[true, false], 1, 3, 2.0);
    let p = heads.probabilities(&[probe[0].chunks.clone(), probe[1].chunks.clone()].concat());
    assert!(p[0] > 0.5 && p[1] < 0.5, "{p:?}");
    // With counter-examples of its own, a tag leaves the background out.
    let labels = [
        true, true, true, true, true, false, false, false, false, false,
    ];
    let data10 = examples(&labels, 1, 3, 2.0);
    let heads = learn_heads(&data10, 3, &[tag("keys", &labels)], Some(&set)).unwrap();
    assert_eq!(heads[0].report.background, 0);
    assert_eq!(heads[0].report.counter_examples, 5);
    let other = background(&BaseModel::of_weights("m".into(), b"other"), 40, 3);
    let e = TagHeads::learn(base.clone(), &[], &data, 3, &only, Some(&other)).unwrap_err();
    assert!(e.to_string().contains("no counter-examples"), "{e}");
    let e = learn_heads(&data, 3, &only, Some(&background(&base, 4, 2))).unwrap_err();
    assert!(e.to_string().contains("2 features a clip"), "{e}");
}

#[test]
fn background_files_round_trip_and_damage_is_refused() {
    let set = background(&BaseModel::of_weights("m".into(), b"w"), 7, 3);
    let bytes = set.to_bytes().unwrap();
    assert_eq!(Background::from_bytes(&bytes).unwrap(), set);
    assert_eq!(
        set.to_bytes().unwrap(),
        bytes,
        "the same set, the same bytes"
    );
    let e = Background::from_bytes(&bytes[..bytes.len() - 3]).unwrap_err();
    assert!(e.to_string().contains("not a background file"), "{e}");
    let labels = [true, false, true, false];
    let heads = TagHeads {
        base: set.base.clone(),
        heads: learn_heads(&examples(&labels, 1, 3, 2.0), 3, &[tag("a", &labels)], None).unwrap(),
    };
    let e = Background::from_bytes(&heads.to_bytes().unwrap()).unwrap_err();
    assert!(e.to_string().contains("'modnet-heads/1'"), "{e}");
}
