"""Runs an ONNX model with onnxruntime, for t10_model's live comparison with tract.

Usage: python onnxruntime_predict.py MODEL.onnx ROWS.json
ROWS.json is a JSON list of rows (lists of numbers), fed as one float32 batch to the
model's single input. Prints JSON: {"onnxruntime": version, "outputs": [[...], ...]},
each output value the exact float32 (as a double).
Fails (non-zero exit) when onnxruntime is missing: the comparison must not be skipped.
"""

import json
import sys

import numpy as np
import onnxruntime


def main():
    model_path, rows_path = sys.argv[1], sys.argv[2]
    with open(rows_path, encoding="utf-8") as f:
        rows = np.asarray(json.load(f), dtype=np.float32)
    session = onnxruntime.InferenceSession(model_path, providers=["CPUExecutionProvider"])
    (model_input,) = session.get_inputs()
    (output,) = session.run(None, {model_input.name: rows})
    output = np.asarray(output, dtype=np.float32).reshape(len(rows), -1)
    json.dump(
        {
            "onnxruntime": onnxruntime.__version__,
            "outputs": [[float(v) for v in row] for row in output],
        },
        sys.stdout,
    )


if __name__ == "__main__":
    main()
