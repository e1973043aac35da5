//! Parity with the reference implementations, from numbers they produced (`fixtures/golden`,
//! with its README): SincNet's own `SincConv_fast` run under PyTorch, and the MTAT tag order.
//!
//! Tolerances (golden README: "kernels and outputs to ~1e-5 relative, gradients to ~1e-3
//! relative" in f32):
//! - kernels, conv outputs: max |ours − ref| ≤ 1e-5 · max |ref|
//! - gradients: every element |ours − ref| ≤ 1e-3 · |ref| + 1e-5 · max |ref|

use burn::tensor::{Device, Tensor, TensorData};
use modnet::{SincConvConfig, SincInit};
use modnet_e2e::{fixture, max_rel_err, read_safetensors};

struct Case {
    file: &'static str,
    config: SincConvConfig,
}

fn cases() -> Vec<Case> {
    let mut linear = SincConvConfig::modulation(20);
    linear.init = SincInit::Linear {
        low_hz: 0.5,
        high_hz: 64.0,
    };
    vec![
        Case {
            file: "sinc_paper_init",
            config: SincConvConfig::time_frequency(),
        },
        Case {
            file: "sinc_paper_perturbed",
            config: SincConvConfig::time_frequency(),
        },
        Case {
            file: "sinc_modulation_linear",
            config: linear,
        },
    ]
}

fn to_vec<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data().try_to_vec::<f32>().unwrap()
}

fn check_grad(name: &str, ours: &[f32], reference: &[f32]) {
    assert_eq!(ours.len(), reference.len());
    let scale = reference.iter().fold(0f32, |m, v| m.max(v.abs()));
    for (i, (a, e)) in ours.iter().zip(reference).enumerate() {
        let tol = 1e-3 * e.abs() + 1e-5 * scale;
        assert!(
            (a - e).abs() <= tol,
            "{name}[{i}]: ours {a:e}, SincNet {e:e} (|diff| {:e} > {tol:e})",
            (a - e).abs()
        );
    }
}

#[test]
fn sinc_layers_match_sincnet() {
    for case in cases() {
        let golden = read_safetensors(&fixture(&format!("golden/{}.safetensors", case.file)));
        let get = |k: &str| golden[k].1.clone();
        let (n, k) = (golden["filters"].0[0], golden["filters"].0[1]);
        assert_eq!((n, k), (case.config.n_filters, case.config.kernel_len()));

        // The initial parameters (mel or linear) for the unperturbed files; the reference edges
        // were computed in f32, hence the f32 tolerance.
        if case.file != "sinc_paper_perturbed" {
            let (low, band) = case.config.initial_parameters();
            assert!(
                max_rel_err(&low, &get("low_hz_")) <= 1e-5,
                "{}: low_hz_ init",
                case.file
            );
            assert!(
                max_rel_err(&band, &get("band_hz_")) <= 1e-5,
                "{}: band_hz_ init",
                case.file
            );
        }

        let device = Device::flex().autodiff();
        let layer = case
            .config
            .init_with(get("low_hz_"), get("band_hz_"), &device);
        let kernels = to_vec(layer.kernels());
        let err = max_rel_err(&kernels, &get("filters"));
        assert!(
            err <= 1e-5,
            "{}: kernels differ by {err:e} (relative)",
            case.file
        );
        println!("{}: kernels max rel err {err:.2e}", case.file);

        let input = get("input");
        let samples = input.len();
        let x = Tensor::<3>::from_data(TensorData::new(input, [1, 1, samples]), &device);
        let y = layer.forward(x);
        assert_eq!(
            y.dims(),
            [1, golden["output"].0[0], golden["output"].0[1]],
            "{}",
            case.file
        );
        let err = max_rel_err(&to_vec(y.clone()), &get("output"));
        assert!(
            err <= 1e-5,
            "{}: outputs differ by {err:e} (relative)",
            case.file
        );
        println!("{}: outputs max rel err {err:.2e}", case.file);

        let loss = y.square().mean();
        let grads = loss.backward();
        let grad_low = layer
            .low_hz
            .val()
            .grad(&grads)
            .expect("gradient for low_hz_");
        let grad_band = layer
            .band_hz
            .val()
            .grad(&grads)
            .expect("gradient for band_hz_");
        let (grad_low, grad_band) = (to_vec(grad_low), to_vec(grad_band));
        check_grad(
            &format!("{} d/d low_hz_", case.file),
            &grad_low,
            &get("grad_low_hz_"),
        );
        check_grad(
            &format!("{} d/d band_hz_", case.file),
            &grad_band,
            &get("grad_band_hz_"),
        );
        println!(
            "{}: gradients max rel err low {:.2e}, band {:.2e}",
            case.file,
            max_rel_err(&grad_low, &get("grad_low_hz_")),
            max_rel_err(&grad_band, &get("grad_band_hz_"))
        );
    }
}

/// The order the teachers' 50 outputs come in: musicnn's MTT labels, as the corpus script that
/// labels the distillation corpus writes them down (scripts/corpus/corpus.py, `MTAT_TAGS`) — a
/// source apart from the model crate's list and the MTAT split files' `tags.npy`.
fn teacher_tag_order() -> Vec<String> {
    let script = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/corpus/corpus.py"),
    )
    .unwrap();
    let start = script
        .find("MTAT_TAGS = [")
        .expect("MTAT_TAGS in corpus.py");
    let list = &script[start..start + script[start..].find(']').unwrap()];
    list.split('"')
        .skip(1)
        .step_by(2)
        .map(str::to_string)
        .collect()
}

#[test]
fn mtat_tags_are_the_teachers_order() {
    // A student whose outputs are in another order than its teacher's learns every tag wrong.
    let teacher = teacher_tag_order();
    assert_eq!(teacher.len(), 50);
    assert_eq!(modnet::MTAT_TAGS.to_vec(), teacher);
    assert_eq!(modnet::ModNetConfig::sincmodnet().tags, teacher);
    // The MTAT split files the trainer ships (trainer/data/mtat/tags.npy) carry the same order.
    assert_eq!(trainer::data::mtat::tags(), teacher);
}

#[test]
fn metrics_match_scikit_learn() {
    let golden: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(fixture("golden/metrics_sklearn.json")).unwrap(),
    )
    .unwrap();
    let matrix = |key: &str| -> (Vec<f32>, usize) {
        let rows = golden[key].as_array().unwrap();
        let width = rows[0].as_array().unwrap().len();
        let flat = rows
            .iter()
            .flat_map(|r| {
                r.as_array()
                    .unwrap()
                    .iter()
                    .map(|v| v.as_f64().unwrap() as f32)
            })
            .collect();
        (flat, width)
    };
    let (labels, n_tags) = matrix("labels");
    let (scores, _) = matrix("scores");
    let m = trainer::metrics::tag_metrics(&labels, &scores, n_tags);
    let per_tag = |key: &str| -> Vec<f64> {
        golden[key]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect()
    };
    for (t, (ours, theirs)) in m.roc_auc.iter().zip(per_tag("roc_auc_per_tag")).enumerate() {
        assert!(
            (ours.unwrap() - theirs).abs() <= 1e-6,
            "ROC-AUC tag {t}: {ours:?} vs {theirs}"
        );
    }
    for (t, (ours, theirs)) in m
        .average_precision
        .iter()
        .zip(per_tag("average_precision_per_tag"))
        .enumerate()
    {
        assert!(
            (ours.unwrap() - theirs).abs() <= 1e-6,
            "AP tag {t}: {ours:?} vs {theirs}"
        );
    }
    let roc = golden["roc_auc_macro"].as_f64().unwrap();
    let ap = golden["average_precision_macro"].as_f64().unwrap();
    assert!(
        (m.roc_auc_macro - roc).abs() <= 1e-6,
        "{} vs {roc}",
        m.roc_auc_macro
    );
    assert!(
        (m.pr_auc_macro - ap).abs() <= 1e-6,
        "{} vs {ap}",
        m.pr_auc_macro
    );
    println!(
        "macro ROC-AUC {:.6} (sklearn {roc:.6}), PR-AUC {:.6} (sklearn {ap:.6})",
        m.roc_auc_macro, m.pr_auc_macro
    );
}
