//! The committed breast-cancer model (issue 12 item 5): its accuracy, tract's
//! agreement with onnxruntime (recorded and run live from the pinned Python
//! environment), its hash, that the training script reproduces it, and the
//! refusals of bad input.
//!
//! The test vectors are `models/breast-cancer/vectors.json`, written by
//! `models/breast-cancer/train.py` (see that directory's README for their source).
#![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

use std::path::{Path, PathBuf};
use std::process::Command;

use cairn_infer::model::{Model, ModelError, breast_cancer_onnx};
use cairn_testkit::python::{python, requirements_file, workspace_root};

/// tract and onnxruntime must agree this closely on every output value.
const TOLERANCE: f32 = 1e-5;

#[derive(serde::Deserialize)]
struct Vectors {
    model_sha256: String,
    threshold: f32,
    rows: usize,
    correct: usize,
    inputs: Vec<Vec<f32>>,
    malignant: Vec<u8>,
    onnxruntime_probability: Vec<f32>,
}

fn model_dir() -> PathBuf {
    workspace_root().join("models").join("breast-cancer")
}

fn vectors_at(dir: &Path) -> Vectors {
    let text = std::fs::read_to_string(dir.join("vectors.json")).unwrap();
    let v: Vectors = serde_json::from_str(&text).unwrap();
    assert_eq!(v.inputs.len(), v.rows);
    assert_eq!(v.malignant.len(), v.rows);
    assert_eq!(v.onnxruntime_probability.len(), v.rows);
    v
}

fn model() -> Model {
    Model::from_bytes(breast_cancer_onnx()).unwrap()
}

/// The single output value of each row.
fn probabilities(model: &Model, rows: &[Vec<f32>]) -> Vec<f32> {
    model
        .predict(rows)
        .unwrap()
        .into_iter()
        .map(|row| {
            assert_eq!(row.len(), 1, "one probability per row");
            row[0]
        })
        .collect()
}

/// The largest difference, and the row where it is; panics over the tolerance.
fn assert_agree(what: &str, tract: &[f32], reference: &[f32]) -> f32 {
    assert_eq!(tract.len(), reference.len(), "{what}: row counts differ");
    let mut max = 0.0f32;
    for (row, (t, r)) in tract.iter().zip(reference).enumerate() {
        let diff = (t - r).abs();
        assert!(
            diff <= TOLERANCE,
            "{what}: row {row}: tract {t} vs onnxruntime {r} (difference {diff} > {TOLERANCE})"
        );
        max = max.max(diff);
    }
    max
}

#[test]
fn t10_accuracy_on_the_test_vectors_is_what_the_readme_says() {
    let v = vectors_at(&model_dir());
    let p = probabilities(&model(), &v.inputs);
    let correct = p
        .iter()
        .zip(&v.malignant)
        .filter(|(p, label)| u8::from(**p >= v.threshold) == **label)
        .count();
    let accuracy = correct as f64 / v.rows as f64;
    eprintln!("tract test accuracy: {correct}/{} = {accuracy:.4}", v.rows);
    assert_eq!(
        correct, v.correct,
        "tract's count differs from the recorded one"
    );
    assert!(accuracy >= 0.95, "accuracy {accuracy:.4} is below 0.95");
    // Both classes are present, so a constant answer could not score this.
    let malignant = v.malignant.iter().filter(|&&m| m == 1).count();
    assert!(malignant > 0 && malignant < v.rows);
    assert!(correct > malignant.max(v.rows - malignant));

    let readme = std::fs::read_to_string(model_dir().join("README.md")).unwrap();
    let claim = format!("Test accuracy: **{accuracy:.4}** ({correct} of {} ", v.rows);
    assert!(readme.contains(&claim), "README must state `{claim}`");
}

#[test]
fn t10_tract_matches_the_recorded_onnxruntime_probabilities() {
    let v = vectors_at(&model_dir());
    let model = model();
    let batch = probabilities(&model, &v.inputs);
    let max = assert_agree("recorded", &batch, &v.onnxruntime_probability);
    eprintln!(
        "largest |tract - onnxruntime| over {} rows: {max:e}",
        v.rows
    );
    // One row at a time gives the same answers as the whole batch.
    for (row, input) in v.inputs.iter().enumerate() {
        let single = probabilities(&model, std::slice::from_ref(input));
        assert_eq!(single[0], batch[row], "row {row} alone vs in the batch");
    }
}

#[test]
fn t10_tract_matches_onnxruntime_run_live_from_the_pinned_environment() {
    let v = vectors_at(&model_dir());
    // The test rows, then each scaled per feature by a pseudo-random factor in
    // [0.6, 1.4): inputs onnxruntime has not been recorded on, many of them near
    // the decision boundary.
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 40) as f32 / (1u64 << 24) as f32
    };
    let mut rows = v.inputs.clone();
    for input in &v.inputs {
        rows.push(input.iter().map(|x| x * (0.6 + 0.8 * next())).collect());
    }

    let tmp = tempfile::tempdir().unwrap();
    let rows_path = tmp.path().join("rows.json");
    std::fs::write(&rows_path, serde_json::to_vec(&rows).unwrap()).unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python/onnxruntime_predict.py");
    let out = Command::new(python())
        .arg(&script)
        .arg(model_dir().join("model.onnx"))
        .arg(&rows_path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "onnxruntime did not run ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );

    #[derive(serde::Deserialize)]
    struct Live {
        onnxruntime: String,
        outputs: Vec<Vec<f32>>,
    }
    let live: Live = serde_json::from_slice(&out.stdout).unwrap();
    let pinned = std::fs::read_to_string(requirements_file()).unwrap();
    assert!(
        pinned
            .lines()
            .any(|l| l.trim() == format!("onnxruntime=={}", live.onnxruntime)),
        "the live onnxruntime {} is not the pinned one",
        live.onnxruntime
    );
    let reference: Vec<f32> = live
        .outputs
        .iter()
        .map(|row| {
            assert_eq!(row.len(), 1);
            row[0]
        })
        .collect();
    let tract = probabilities(&model(), &rows);
    let max = assert_agree("live", &tract, &reference);
    eprintln!(
        "onnxruntime {} live, {} rows: largest difference {max:e}",
        live.onnxruntime,
        rows.len()
    );
    // The live run reproduces the recorded probabilities of the test rows.
    assert_agree(
        "live vs recorded",
        &reference[..v.rows],
        &v.onnxruntime_probability,
    );
    // The perturbed rows reach both classes, so agreement is not only at the extremes.
    let perturbed = &tract[v.rows..];
    assert!(perturbed.iter().any(|&p| p >= 0.5) && perturbed.iter().any(|&p| p < 0.5));
}

#[test]
fn t10_the_model_hash_is_the_files_sha256() {
    let file = model_dir().join("model.onnx");
    assert_eq!(std::fs::read(&file).unwrap(), breast_cancer_onnx());
    let out = Command::new("sha256sum").arg(&file).output().unwrap();
    assert!(out.status.success());
    let stdout = String::from_utf8(out.stdout).unwrap();
    let sha256sum = stdout.split_whitespace().next().unwrap();
    let model = model();
    assert_eq!(model.sha256_hex(), sha256sum);
    assert_eq!(model.sha256_hex(), vectors_at(&model_dir()).model_sha256);
    // The positive control: other bytes have another hash.
    let mut changed = breast_cancer_onnx().to_vec();
    // A byte inside the model's doc string: the model still loads.
    let at = changed.windows(5).position(|w| w == b"Breas").unwrap();
    changed[at] = b'b';
    let other = Model::from_bytes(&changed).unwrap();
    assert_ne!(other.sha256_hex(), model.sha256_hex());
}

#[test]
fn t10_training_is_reproducible() {
    let tmp = tempfile::tempdir().unwrap();
    let out = Command::new(python())
        .arg(model_dir().join("train.py"))
        .arg("--out")
        .arg(tmp.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "train.py failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let retrained = std::fs::read(tmp.path().join("model.onnx")).unwrap();
    assert!(
        retrained == breast_cancer_onnx(),
        "train.py made a different model.onnx; if the pins in python/requirements.txt \
         changed on purpose, regenerate models/breast-cancer (see its README)"
    );
    assert_eq!(
        std::fs::read_to_string(tmp.path().join("README.md")).unwrap(),
        std::fs::read_to_string(model_dir().join("README.md")).unwrap(),
        "README.md differs"
    );
    let (new, old) = (vectors_at(tmp.path()), vectors_at(&model_dir()));
    assert_eq!(new.model_sha256, old.model_sha256);
    assert_eq!(new.inputs, old.inputs);
    assert_eq!(new.malignant, old.malignant);
    assert_eq!(new.onnxruntime_probability, old.onnxruntime_probability);
    assert_eq!(new.correct, old.correct);
}

#[test]
fn t10_bad_inputs_each_get_their_own_error() {
    let model = model();
    let good = vectors_at(&model_dir()).inputs[0].clone();
    // Positive controls: a good row, and exactly the row limit.
    assert!(model.predict(std::slice::from_ref(&good)).is_ok());
    assert_eq!(
        model
            .predict(&vec![good.clone(); Model::MAX_ROWS])
            .unwrap()
            .len(),
        Model::MAX_ROWS
    );

    let short = good[..29].to_vec();
    let mut long = good.clone();
    long.push(1.0);
    for (rows, want) in [
        (
            vec![good.clone(), short],
            ModelError::InputWidth {
                row: 1,
                expected: 30,
                got: 29,
            },
        ),
        (
            vec![long],
            ModelError::InputWidth {
                row: 0,
                expected: 30,
                got: 31,
            },
        ),
        (vec![], ModelError::EmptyBatch),
        (
            vec![good.clone(); Model::MAX_ROWS + 1],
            ModelError::TooManyRows {
                max: Model::MAX_ROWS,
                got: Model::MAX_ROWS + 1,
            },
        ),
    ] {
        assert_eq!(model.predict(&rows), Err(want));
    }
    for (column, bad) in [(0, f32::NAN), (7, f32::INFINITY), (29, f32::NEG_INFINITY)] {
        let mut row = good.clone();
        row[column] = bad;
        assert_eq!(
            model.predict(&[good.clone(), good.clone(), row]),
            Err(ModelError::NotFinite { row: 2, column })
        );
    }
    for garbage in [&b"MZ\x90\x00 not a model"[..], &[0xff; 64][..]] {
        assert!(matches!(
            Model::from_bytes(garbage),
            Err(ModelError::Load(_))
        ));
    }
}
