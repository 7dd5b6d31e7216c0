#!/usr/bin/env python3
"""A benchmark-only CNN the size of a small imaging model: 128x128 grayscale in,
two class probabilities out. Its weights are random (seeded): it is NOT a trained
or diagnostic model. It exists so that `cargo bench -p cairn-infer --bench infer`
can compare sealed and plain inference on a model whose own run time is like a
real imaging model's, not a 2 KB MLP's.

Graph (ONNX opset 13, standard ops only):
  features [N, 16384] -> Reshape [N, 1, 128, 128]
  -> Conv 3x3 1->32, Relu, MaxPool 2   (64x64)
  -> Conv 3x3 32->64, Relu, MaxPool 2  (32x32)
  -> Conv 3x3 64->128, Relu, MaxPool 2 (16x16)
  -> Flatten [N, 32768] -> MatMul [32768, 2] + bias -> Softmax -> probability [N, 2]

Run: python models/bench-cnn/make.py   (numpy and onnx from python/requirements.txt)
Deterministic: the same numpy and onnx versions write the same bytes.
"""

import hashlib
import os

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
rng = np.random.default_rng(20261206)


def he(shape, fan_in):
    return (rng.standard_normal(shape) * np.sqrt(2.0 / fan_in)).astype(np.float32)


inits = [
    numpy_helper.from_array(np.array([-1, 1, 128, 128], dtype=np.int64), "shape_img"),
    numpy_helper.from_array(np.array([-1, 128 * 16 * 16], dtype=np.int64), "shape_flat"),
]
nodes = [helper.make_node("Reshape", ["features", "shape_img"], ["x0"])]
channels = [1, 32, 64, 128]
for i in range(3):
    cin, cout = channels[i], channels[i + 1]
    inits.append(numpy_helper.from_array(he((cout, cin, 3, 3), cin * 9), f"w{i}"))
    inits.append(numpy_helper.from_array(np.zeros(cout, dtype=np.float32), f"b{i}"))
    nodes += [
        helper.make_node("Conv", [f"x{i}", f"w{i}", f"b{i}"], [f"c{i}"], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", [f"c{i}"], [f"r{i}"]),
        helper.make_node("MaxPool", [f"r{i}"], [f"x{i + 1}"], kernel_shape=[2, 2], strides=[2, 2]),
    ]
inits.append(numpy_helper.from_array(he((128 * 16 * 16, 2), 128 * 16 * 16) * 0.1, "wd"))
inits.append(numpy_helper.from_array(np.zeros(2, dtype=np.float32), "bd"))
nodes += [
    helper.make_node("Reshape", ["x3", "shape_flat"], ["flat"]),
    helper.make_node("MatMul", ["flat", "wd"], ["logits0"]),
    helper.make_node("Add", ["logits0", "bd"], ["logits"]),
    helper.make_node("Softmax", ["logits"], ["probability"], axis=1),
]
graph = helper.make_graph(
    nodes,
    "bench_cnn",
    [helper.make_tensor_value_info("features", TensorProto.FLOAT, ["N", 128 * 128])],
    [helper.make_tensor_value_info("probability", TensorProto.FLOAT, ["N", 2])],
    inits,
)
model = helper.make_model(
    graph,
    opset_imports=[helper.make_opsetid("", 13)],
    producer_name="cairn models/bench-cnn/make.py",
)
model.ir_version = 8
onnx.checker.check_model(model)
data = model.SerializeToString()
with open(os.path.join(HERE, "model.onnx"), "wb") as f:
    f.write(data)
print(f"wrote model.onnx: {len(data)} bytes, sha256 {hashlib.sha256(data).hexdigest()}")
