//! Loading and running an ONNX model with tract (filled in next).
