#!/usr/bin/env python3
"""Train Cairn's small diagnostic model and export it to ONNX.

A 30-16-1 multilayer perceptron on the Breast Cancer Wisconsin (Diagnostic) data
set that scikit-learn ships (no download). The standard scaler is folded into the
first layer, so the ONNX graph takes the raw 30 measurements, and the output is
negated into the probability of *malignant* (scikit-learn's target 0).

Writes, into the output directory (default: this script's directory):
- model.onnx: opset 13, only MatMul, Add, Relu and Sigmoid;
  input `features` float32 [N, 30], output `probability` float32 [N, 1];
- vectors.json: the held-out test set (inputs, labels), onnxruntime's
  probabilities for it and the model's SHA-256;
- README.md: what the model is, its measured test accuracy, how to regenerate it.

Deterministic: fixed seeds and split, one BLAS thread, no timestamps; running it
again with the pinned packages (python/requirements.txt) gives the same bytes.

Usage: python train.py [--out DIR]
"""

import os

# One BLAS thread, set before numpy loads: the training's sums then always run in
# the same order, so the weights (and the model's bytes) do not vary between runs.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse
import hashlib
import json
import sys
from pathlib import Path

import numpy as np
import onnx
import onnxruntime
import sklearn
from onnx import TensorProto, helper, numpy_helper
from sklearn.datasets import load_breast_cancer
from sklearn.model_selection import GridSearchCV, StratifiedKFold, train_test_split
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

SEED = 0
TEST_FRACTION = 0.25
HIDDEN = 16
OPSET = 13
# IR version 8 is what opset 13 needs and every runtime we use reads.
IR_VERSION = 8
THRESHOLD = 0.5
# The L2 penalties tried, smallest first (GridSearchCV keeps the first of equals).
ALPHAS = [1e-4, 1e-3, 1e-2, 1e-1, 1.0]


def train(x_train, y_malignant):
    """Fits the scaler and the MLP, choosing the L2 penalty by cross-validation.

    The penalty is the one whose mean accuracy over 5 stratified folds of the
    *training* set is highest (ties go to the smaller penalty); the test set plays
    no part in the choice. Returns (scaler, mlp, alpha, cv_accuracy).
    """
    pipeline = Pipeline(
        [
            ("scaler", StandardScaler()),
            (
                "mlp",
                MLPClassifier(
                    hidden_layer_sizes=(HIDDEN,),
                    activation="relu",
                    solver="adam",
                    learning_rate_init=1e-3,
                    max_iter=2000,
                    random_state=SEED,
                ),
            ),
        ]
    )
    search = GridSearchCV(
        pipeline,
        {"mlp__alpha": ALPHAS},
        cv=StratifiedKFold(n_splits=5, shuffle=True, random_state=SEED),
        scoring="accuracy",
        n_jobs=1,
    )
    search.fit(x_train, y_malignant)
    best = search.best_estimator_
    alpha = search.best_params_["mlp__alpha"]
    return best["scaler"], best["mlp"], alpha, float(search.best_score_)


def folded_weights(scaler, mlp):
    """The network's weights with the scaler folded into the first layer.

    relu(((x - mean) / scale) @ W1 + b1) == relu(x @ (W1 / scale[:, None]) + (b1 - (mean / scale) @ W1)).
    The MLP is trained on y = malignant, so its single logistic output already is
    P(malignant).
    """
    w1, w2 = mlp.coefs_
    b1, b2 = mlp.intercepts_
    w1_folded = w1 / scaler.scale_[:, None]
    b1_folded = b1 - (scaler.mean_ / scaler.scale_) @ w1
    return [a.astype(np.float32) for a in (w1_folded, b1_folded, w2, b2)]


def export(w1, b1, w2, b2):
    """Builds the ONNX model from the folded weights; returns its serialized bytes."""
    features = w1.shape[0]
    nodes = [
        helper.make_node("MatMul", ["features", "w1"], ["h_mm"], name="layer1_matmul"),
        helper.make_node("Add", ["h_mm", "b1"], ["h_pre"], name="layer1_add"),
        helper.make_node("Relu", ["h_pre"], ["hidden"], name="layer1_relu"),
        helper.make_node("MatMul", ["hidden", "w2"], ["o_mm"], name="layer2_matmul"),
        helper.make_node("Add", ["o_mm", "b2"], ["logit"], name="layer2_add"),
        helper.make_node("Sigmoid", ["logit"], ["probability"], name="output_sigmoid"),
    ]
    graph = helper.make_graph(
        nodes,
        "breast_cancer_mlp",
        [helper.make_tensor_value_info("features", TensorProto.FLOAT, ["N", features])],
        [helper.make_tensor_value_info("probability", TensorProto.FLOAT, ["N", 1])],
        initializer=[
            numpy_helper.from_array(w1, "w1"),
            numpy_helper.from_array(b1, "b1"),
            numpy_helper.from_array(w2, "w2"),
            numpy_helper.from_array(b2, "b2"),
        ],
    )
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", OPSET)],
        producer_name="cairn models/breast-cancer/train.py",
        ir_version=IR_VERSION,
    )
    model.doc_string = (
        "Breast Cancer Wisconsin (Diagnostic) 30-16-1 MLP; input: the 30 raw measurements "
        "in scikit-learn's feature order; output: probability that the tumour is malignant."
    )
    onnx.checker.check_model(model, full_check=True)
    return model.SerializeToString(deterministic=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent)
    out = parser.parse_args().out
    out.mkdir(parents=True, exist_ok=True)

    data = load_breast_cancer()
    x = data.data
    # scikit-learn's target is 0 = malignant, 1 = benign; we predict malignant.
    malignant = (data.target == 0).astype(np.int64)
    x_train, x_test, y_train, y_test = train_test_split(
        x, malignant, test_size=TEST_FRACTION, stratify=malignant, random_state=SEED
    )

    scaler, mlp, alpha, cv_accuracy = train(x_train, y_train)
    model_bytes = export(*folded_weights(scaler, mlp))
    sha256 = hashlib.sha256(model_bytes).hexdigest()

    inputs = x_test.astype(np.float32)
    session = onnxruntime.InferenceSession(model_bytes, providers=["CPUExecutionProvider"])
    probability = session.run(["probability"], {"features": inputs})[0][:, 0]

    predicted = (probability >= THRESHOLD).astype(np.int64)
    correct = int((predicted == y_test).sum())
    rows = len(y_test)
    # The folded float32 graph must agree with scikit-learn's own float64 pipeline.
    sklearn_predicted = mlp.predict(scaler.transform(x_test))
    if not np.array_equal(sklearn_predicted, predicted):
        sys.exit("the exported model's predictions differ from scikit-learn's; the fold is wrong")

    (out / "model.onnx").write_bytes(model_bytes)
    vectors = {
        "about": (
            "Test set of models/breast-cancer/model.onnx, made by train.py: the held-out "
            "25% stratified split (seed 0) of scikit-learn's Breast Cancer Wisconsin "
            "(Diagnostic) data set. inputs are float32 rows of the 30 raw measurements; "
            "malignant is the true label (1 = malignant); onnxruntime_probability is "
            "onnxruntime's output P(malignant) for each row; a row is predicted malignant "
            "when that is >= threshold."
        ),
        "model_sha256": sha256,
        "versions": {
            "python": sys.version.split()[0],
            "numpy": np.__version__,
            "scikit-learn": sklearn.__version__,
            "onnx": onnx.__version__,
            "onnxruntime": onnxruntime.__version__,
        },
        "feature_names": [str(n) for n in data.feature_names],
        "alpha": alpha,
        "threshold": THRESHOLD,
        "rows": rows,
        "correct": correct,
        # float(v) of a float32 is exact in a double, so a reader that parses the
        # decimal as f64 and casts it to f32 gets back exactly this value.
        "inputs": [[float(v) for v in row] for row in inputs],
        "malignant": [int(v) for v in y_test],
        "onnxruntime_probability": [float(v) for v in probability],
    }
    (out / "vectors.json").write_text(to_json(vectors))
    (out / "README.md").write_text(readme(sha256, len(model_bytes), correct, rows, len(y_train), alpha, cv_accuracy))
    print(f"model.onnx: {len(model_bytes)} bytes, sha256 {sha256}")
    print(f"test accuracy: {correct}/{rows} = {correct / rows:.4f}")


def to_json(document):
    """JSON with one top-level key, and one list item, per line (readable diffs)."""
    lines = []
    for key, value in document.items():
        if isinstance(value, list):
            items = ",\n  ".join(json.dumps(item) for item in value)
            lines.append(f" {json.dumps(key)}: [\n  {items}\n ]")
        else:
            lines.append(f" {json.dumps(key)}: {json.dumps(value)}")
    return "{\n" + ",\n".join(lines) + "\n}\n"


def readme(sha256, size, correct, rows, train_rows, alpha, cv_accuracy):
    """The model's README, with the numbers measured by this run."""
    return f"""# Breast-cancer diagnostic model

A small diagnostic model for Cairn's confidential inference (issue 12): a 30-16-1
multilayer perceptron (ReLU hidden layer, sigmoid output) that reads the 30
measurements of a breast mass's cell nuclei, computed from a digitized image of a fine
needle aspirate, and answers the **probability that the mass is malignant**.
scikit-learn's data set labels malignant as target 0 and benign as 1; this model's
output is P(malignant), so a value >= {THRESHOLD} means "malignant".

Made by `train.py` in this directory; everything here is its output. Do not edit by hand.

| file | what |
|---|---|
| `model.onnx` | the model, {size} bytes, SHA-256 `{sha256}` |
| `vectors.json` | the test set: inputs, true labels, onnxruntime's probabilities, the model's SHA-256 |
| `train.py` | the script that trains and exports it |

## The model

- Input `features`: float32 `[N, 30]` (N is a symbolic batch dimension), the raw
  measurements in scikit-learn's feature order (`feature_names` in `vectors.json`:
  mean radius, mean texture, ..., worst fractal dimension). No scaling is needed:
  the standard scaler fitted on the training set is folded into the first layer.
- Output `probability`: float32 `[N, 1]`, P(malignant).
- ONNX opset 13, IR version {IR_VERSION}, standard operators only: MatMul, Add, Relu, Sigmoid.
- Trained with scikit-learn's `MLPClassifier` (adam, seed {SEED}) on a stratified split of
  the 569 rows: {train_rows} for training, {rows} held out for testing (seed {SEED}). The L2 penalty,
  alpha = {alpha:g}, was chosen from {ALPHAS} by 5-fold
  cross-validation on the training rows only (mean accuracy {cv_accuracy:.4f}); the test rows played no part.

## Measured accuracy

Test accuracy: **{correct / rows:.4f}** ({correct} of {rows} held-out rows right at threshold {THRESHOLD}),
computed from onnxruntime's outputs. Cairn's tests (`cargo nextest run -p cairn-infer
--test t10_model`) check that tract reaches the same accuracy on `vectors.json` and
agrees with onnxruntime within 1e-5 on every row, both with the recorded
probabilities and with onnxruntime run live from the pinned Python environment.

This is a demonstration model for the platform, not a medical device.

## Regenerating

With the pinned packages of `python/requirements.txt` (CPython 3.11):

```sh
python3 -m venv /tmp/cairn-py && /tmp/cairn-py/bin/pip install -r python/requirements.txt
/tmp/cairn-py/bin/python models/breast-cancer/train.py
```

(The tests build the same environment under the target directory,
`target/python-<hash of requirements.txt>/venv`.) The script is deterministic:
fixed seeds, a fixed split and one BLAS thread, so running it again writes the same
bytes; the test `t10_training_is_reproducible` retrains into a temporary directory and
compares.

## Data set source and licence

Breast Cancer Wisconsin (Diagnostic), by W. N. Street, W. H. Wolberg and
O. L. Mangasarian (University of Wisconsin), from the UCI Machine Learning Repository
(https://archive.ics.uci.edu/dataset/17, DOI 10.24432/C5DW2B), licensed CC BY 4.0.
It is read here from the copy that scikit-learn ships (`sklearn.datasets.load_breast_cancer`),
so nothing is downloaded. `vectors.json` holds its {rows} test rows.
"""


if __name__ == "__main__":
    main()
