//! Loading and running an ONNX model with tract: the model's SHA-256, its
//! input/output signature as the ONNX graph declares it, and batch prediction.
//!
//! Invariants:
//! - a model's identity is SHA-256 of its exact ONNX bytes ([`Model::sha256_hex`]);
//!   that is what attestation tokens, the registry and receipts name;
//! - the runnable plan is tract's optimized plan, built once in [`Model::from_bytes`];
//!   a call to [`Model::predict`] only runs it;
//! - [`Model::predict`] serves models with one 2-D f32 input `[batch, features]`
//!   (batch dynamic or 1) and one f32 output; any other model loads, shows its
//!   signature, and is refused with [`ModelError::Unsupported`] naming why;
//! - every row is checked before anything runs (count, width, finite values), and
//!   errors name the row and column but never a value: they may be shown to whoever
//!   sent the request, and the values are a patient's data.

use std::fmt;
use std::sync::Arc;

use sha2::{Digest, Sha256};
use tract_onnx::pb;
use tract_onnx::pb::tensor_shape_proto::dimension::Value as Dim;
use tract_onnx::prelude::{
    Framework, InferenceModelExt, IntoRunnable, IntoTValue, Tensor, TypedSimplePlan, tvec,
};

/// One input or output of a model: name, element type and shape (-1 = dynamic, e.g. the batch).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TensorSpec {
    /// The name in the ONNX graph, e.g. `features`.
    pub name: String,
    /// The element type in ONNX's lowercase names: `float`, `double`, `int64`, ... (`onnx-<n>` for others).
    pub dtype: String,
    /// Each dimension's size; -1 for a dynamic (symbolic or unknown) one.
    pub shape: Vec<i64>,
}

/// A model's inputs and outputs.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ModelSignature {
    /// The graph's inputs, initializers excluded, in declared order.
    pub inputs: Vec<TensorSpec>,
    /// The graph's outputs, in declared order.
    pub outputs: Vec<TensorSpec>,
}

/// Why a model could not be loaded or run.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ModelError {
    /// The request had no rows.
    #[error("the request has no rows; send at least one row of features")]
    EmptyBatch,
    /// A row's width is not the model's.
    #[error(
        "row {row} (counting from 0) has {got} values, but the model takes exactly {expected} \
         per row; send rows of {expected} features"
    )]
    InputWidth {
        /// The first row of the wrong width.
        row: usize,
        /// The model's row width.
        expected: usize,
        /// That row's width.
        got: usize,
    },
    /// The bytes are not a model tract can load.
    #[error("cannot load the ONNX model: {0}; check that the file is an ONNX model")]
    Load(String),
    /// A value is NaN or infinite.
    #[error(
        "row {row}, column {column} (counting from 0) is not a finite number (NaN or \
         infinity); send finite values"
    )]
    NotFinite {
        /// The first row holding one.
        row: usize,
        /// Its column.
        column: usize,
    },
    /// tract failed while running the model.
    #[error("the model failed while running: {0}")]
    Run(String),
    /// The batch is larger than [`Model::MAX_ROWS`].
    #[error(
        "the request has {got} rows, more than the limit of {max}; send at most {max} rows per request"
    )]
    TooManyRows {
        /// The limit.
        max: usize,
        /// The rows sent.
        got: usize,
    },
    /// The model loads, but `predict` does not serve its kind of signature.
    #[error(
        "this model cannot be served: {0}; predict serves models with one 2-D f32 input \
         [batch, features] and one f32 output"
    )]
    Unsupported(String),
}

/// A loaded, optimized ONNX model (tract) with its SHA-256. Clone-able cheaply (Arc inside) and Send + Sync.
#[derive(Clone)]
pub struct Model {
    inner: Arc<Inner>,
}

struct Inner {
    /// The ONNX graph's name (for `Debug` only).
    name: String,
    sha256_hex: String,
    signature: ModelSignature,
    /// The plan, or why this model is not served.
    serving: Result<Serving, String>,
}

struct Serving {
    plan: Arc<TypedSimplePlan>,
    features: usize,
    batch: Batch,
}

/// How the input's first dimension takes rows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Batch {
    /// Symbolic: all rows in one run.
    Dynamic,
    /// Fixed at 1: one run per row.
    One,
}

impl Model {
    /// The most rows one [`Model::predict`] call takes; bounds a request's memory and time.
    pub const MAX_ROWS: usize = 1024;

    /// Loads an ONNX model and, when `predict` can serve it, builds tract's
    /// optimized plan for it.
    pub fn from_bytes(bytes: &[u8]) -> Result<Model, ModelError> {
        let sha256_hex = hex::encode(Sha256::digest(bytes));
        let onnx = tract_onnx::onnx();
        let proto = onnx
            .proto_model_for_read(&mut &bytes[..])
            .map_err(|e| ModelError::Load(format!("not an ONNX protobuf message ({e})")))?;
        let graph = proto.graph.as_ref().ok_or_else(|| {
            ModelError::Load("the ONNX message has no graph (empty or not a model)".to_owned())
        })?;
        let signature = signature_of(graph);
        let serving = match servable(&signature) {
            Ok((features, batch)) => {
                let plan = onnx
                    .model_for_proto_model(&proto)
                    .and_then(|m| m.into_optimized())
                    .and_then(|m| m.into_runnable())
                    .map_err(|e| ModelError::Load(format!("tract cannot build a plan: {e:#}")))?;
                Ok(Serving {
                    plan,
                    features,
                    batch,
                })
            }
            Err(why) => Err(why),
        };
        Ok(Model {
            inner: Arc::new(Inner {
                name: graph.name.clone(),
                sha256_hex,
                signature,
                serving,
            }),
        })
    }

    /// Lowercase hex of SHA-256 of the ONNX bytes.
    pub fn sha256_hex(&self) -> &str {
        &self.inner.sha256_hex
    }

    /// The inputs and outputs the ONNX graph declares.
    pub fn signature(&self) -> &ModelSignature {
        &self.inner.signature
    }

    /// The width of one input row (0 for a model `predict` does not serve).
    pub fn features(&self) -> usize {
        self.inner.serving.as_ref().map_or(0, |s| s.features)
    }

    /// Runs the model on `rows`; returns one output row per input row, in order.
    pub fn predict(&self, rows: &[Vec<f32>]) -> Result<Vec<Vec<f32>>, ModelError> {
        let serving = self
            .inner
            .serving
            .as_ref()
            .map_err(|why| ModelError::Unsupported(why.clone()))?;
        check_rows(rows, serving.features)?;
        match serving.batch {
            Batch::Dynamic => serving.run(rows, rows.len()),
            Batch::One => {
                let mut out = Vec::with_capacity(rows.len());
                for row in rows {
                    out.extend(serving.run(std::slice::from_ref(row), 1)?);
                }
                Ok(out)
            }
        }
    }
}

impl fmt::Debug for Model {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Model")
            .field("name", &self.inner.name)
            .field("sha256", &self.inner.sha256_hex)
            .finish_non_exhaustive()
    }
}

impl Serving {
    /// One run of the plan on `rows` (already checked); splits the output's first
    /// dimension into `rows.len()` rows.
    fn run(&self, rows: &[Vec<f32>], batch: usize) -> Result<Vec<Vec<f32>>, ModelError> {
        let flat: Vec<f32> = rows.iter().flatten().copied().collect();
        let input = Tensor::from_shape(&[batch, self.features], &flat)
            .map_err(|e| ModelError::Run(format!("cannot shape the input: {e}")))?;
        let outputs = self
            .plan
            .run(tvec![input.into_tvalue()])
            .map_err(|e| ModelError::Run(format!("{e:#}")))?;
        let output = outputs
            .first()
            .ok_or_else(|| ModelError::Run("the model produced no output".to_owned()))?;
        let output = output
            .cast_to::<f32>()
            .map_err(|e| ModelError::Run(format!("the output is not f32: {e}")))?;
        let view = output
            .to_plain_array_view::<f32>()
            .map_err(|e| ModelError::Run(format!("cannot read the output: {e}")))?;
        let values: Vec<f32> = view.iter().copied().collect();
        let shape = view.shape();
        // A batch-1 model's whole output is its one row; otherwise the first
        // dimension must be the batch.
        let per_row = match (self.batch, shape.first()) {
            (Batch::One, _) => values.len(),
            (Batch::Dynamic, Some(&n)) if n == batch => values.len() / batch,
            (Batch::Dynamic, _) => {
                return Err(ModelError::Run(format!(
                    "the output has shape {shape:?}, not {batch} rows"
                )));
            }
        };
        if per_row == 0 {
            return Ok(vec![Vec::new(); batch]);
        }
        Ok(values.chunks(per_row).map(<[f32]>::to_vec).collect())
    }
}

/// Checks a batch before it runs: the first problem found, in row order.
fn check_rows(rows: &[Vec<f32>], features: usize) -> Result<(), ModelError> {
    if rows.is_empty() {
        return Err(ModelError::EmptyBatch);
    }
    if rows.len() > Model::MAX_ROWS {
        return Err(ModelError::TooManyRows {
            max: Model::MAX_ROWS,
            got: rows.len(),
        });
    }
    for (row, values) in rows.iter().enumerate() {
        if values.len() != features {
            return Err(ModelError::InputWidth {
                row,
                expected: features,
                got: values.len(),
            });
        }
        if let Some(column) = values.iter().position(|v| !v.is_finite()) {
            return Err(ModelError::NotFinite { row, column });
        }
    }
    Ok(())
}

/// The graph's declared inputs (without initializers, which old exporters also
/// list as inputs) and outputs.
fn signature_of(graph: &pb::GraphProto) -> ModelSignature {
    let initializers: std::collections::HashSet<&str> =
        graph.initializer.iter().map(|t| t.name.as_str()).collect();
    ModelSignature {
        inputs: graph
            .input
            .iter()
            .filter(|v| !initializers.contains(v.name.as_str()))
            .map(spec_of)
            .collect(),
        outputs: graph.output.iter().map(spec_of).collect(),
    }
}

fn spec_of(value: &pb::ValueInfoProto) -> TensorSpec {
    // Tensors are the only kind of type tract's ONNX schema knows.
    let tensor = value
        .r#type
        .as_ref()
        .and_then(|t| t.value.as_ref())
        .map(|pb::type_proto::Value::TensorType(tensor)| tensor);
    let dtype = tensor.map_or_else(|| "unknown".to_owned(), |t| dtype_name(t.elem_type));
    let shape = tensor
        .and_then(|t| t.shape.as_ref())
        .map(|s| {
            s.dim
                .iter()
                .map(|d| match d.value {
                    Some(Dim::DimValue(n)) if n >= 0 => n,
                    _ => -1,
                })
                .collect()
        })
        .unwrap_or_default();
    TensorSpec {
        name: value.name.clone(),
        dtype,
        shape,
    }
}

/// ONNX `TensorProto.DataType` numbers to ONNX's own lowercase names (the names the
/// model registry contract accepts).
fn dtype_name(elem_type: i32) -> String {
    let name = match elem_type {
        1 => "float",
        2 => "uint8",
        3 => "int8",
        4 => "uint16",
        5 => "int16",
        6 => "int32",
        7 => "int64",
        8 => "string",
        9 => "bool",
        10 => "float16",
        11 => "double",
        12 => "uint32",
        13 => "uint64",
        14 => "complex64",
        15 => "complex128",
        16 => "bfloat16",
        other => return format!("onnx-{other}"),
    };
    name.to_owned()
}

/// Whether `predict` serves this signature: the row width and batch kind, or why not.
fn servable(signature: &ModelSignature) -> Result<(usize, Batch), String> {
    let [input] = signature.inputs.as_slice() else {
        return Err(format!(
            "it has {} inputs ({}), not one",
            signature.inputs.len(),
            names(&signature.inputs)
        ));
    };
    let [output] = signature.outputs.as_slice() else {
        return Err(format!(
            "it has {} outputs ({}), not one",
            signature.outputs.len(),
            names(&signature.outputs)
        ));
    };
    if input.dtype != "float" {
        return Err(format!(
            "its input `{}` is {}, not float (f32)",
            input.name, input.dtype
        ));
    }
    if output.dtype != "float" {
        return Err(format!(
            "its output `{}` is {}, not float (f32)",
            output.name, output.dtype
        ));
    }
    let [batch, features] = input.shape.as_slice() else {
        return Err(format!(
            "its input `{}` has shape {:?}, not [batch, features]",
            input.name, input.shape
        ));
    };
    let features = usize::try_from(*features)
        .ok()
        .filter(|&f| f > 0)
        .ok_or_else(|| format!("its input `{}` has no fixed row width", input.name))?;
    let batch = match batch {
        -1 => Batch::Dynamic,
        1 => Batch::One,
        n => {
            return Err(format!(
                "its input `{}` has its batch dimension fixed at {n} (dynamic or 1 is served)",
                input.name
            ));
        }
    };
    Ok((features, batch))
}

fn names(specs: &[TensorSpec]) -> String {
    let names: Vec<&str> = specs.iter().map(|s| s.name.as_str()).collect();
    names.join(", ")
}

/// The committed breast-cancer model's bytes (include_bytes! of models/breast-cancer/model.onnx).
pub fn breast_cancer_onnx() -> &'static [u8] {
    include_bytes!("../../../models/breast-cancer/model.onnx")
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

    use prost::Message;
    use tract_onnx::pb::tensor_shape_proto::Dimension;

    use super::*;

    const F32: i32 = 1;
    const I64: i32 = 7;

    /// A value declaration; `None` dimensions are symbolic (`N`).
    fn value(name: &str, elem_type: i32, dims: &[Option<i64>]) -> pb::ValueInfoProto {
        let dim = dims
            .iter()
            .map(|d| Dimension {
                value: Some(d.map_or_else(|| Dim::DimParam("N".to_owned()), Dim::DimValue)),
                ..Default::default()
            })
            .collect();
        pb::ValueInfoProto {
            name: name.to_owned(),
            r#type: Some(pb::TypeProto {
                value: Some(pb::type_proto::Value::TensorType(pb::type_proto::Tensor {
                    elem_type,
                    shape: Some(pb::TensorShapeProto { dim }),
                })),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    fn node(op: &str, inputs: &[&str], outputs: &[&str]) -> pb::NodeProto {
        pb::NodeProto {
            op_type: op.to_owned(),
            input: inputs.iter().map(|s| (*s).to_owned()).collect(),
            output: outputs.iter().map(|s| (*s).to_owned()).collect(),
            ..Default::default()
        }
    }

    /// The bytes of an opset-13 model of one graph.
    fn onnx_bytes(
        nodes: Vec<pb::NodeProto>,
        inputs: Vec<pb::ValueInfoProto>,
        outputs: Vec<pb::ValueInfoProto>,
    ) -> Vec<u8> {
        pb::ModelProto {
            ir_version: 8,
            opset_import: vec![pb::OperatorSetIdProto {
                domain: String::new(),
                version: 13,
            }],
            graph: Some(pb::GraphProto {
                name: "test_graph".to_owned(),
                node: nodes,
                input: inputs,
                output: outputs,
                ..Default::default()
            }),
            ..Default::default()
        }
        .encode_to_vec()
    }

    /// `y = relu(x)` with `x` of the given shape.
    fn relu(dims: &[Option<i64>]) -> Vec<u8> {
        onnx_bytes(
            vec![node("Relu", &["x"], &["y"])],
            vec![value("x", F32, dims)],
            vec![value("y", F32, dims)],
        )
    }

    #[test]
    fn the_breast_cancer_model_declares_its_signature() {
        let model = Model::from_bytes(breast_cancer_onnx()).unwrap();
        let spec = |name: &str, shape: Vec<i64>| TensorSpec {
            name: name.to_owned(),
            dtype: "float".to_owned(),
            shape,
        };
        assert_eq!(
            model.signature(),
            &ModelSignature {
                inputs: vec![spec("features", vec![-1, 30])],
                outputs: vec![spec("probability", vec![-1, 1])],
            }
        );
        assert_eq!(model.features(), 30);
        let hash = model.sha256_hex();
        assert_eq!(hash.len(), 64);
        assert!(
            hash.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        );
        let json = serde_json::to_string(model.signature()).unwrap();
        assert_eq!(
            serde_json::from_str::<ModelSignature>(&json).unwrap(),
            *model.signature()
        );
    }

    #[test]
    fn debug_shows_the_name_and_hash_only() {
        let model = Model::from_bytes(breast_cancer_onnx()).unwrap();
        assert_eq!(
            format!("{model:?}"),
            format!(
                "Model {{ name: \"breast_cancer_mlp\", sha256: \"{}\", .. }}",
                model.sha256_hex()
            )
        );
    }

    #[test]
    fn a_model_is_shared_across_threads_without_copying() {
        fn send_sync<T: Send + Sync + Clone>() {}
        send_sync::<Model>();
        let model = Model::from_bytes(&relu(&[None, Some(2)])).unwrap();
        let copy = model.clone();
        assert!(Arc::ptr_eq(&model.inner, &copy.inner));
        let outputs: Vec<Vec<Vec<f32>>> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..4)
                .map(|i| {
                    let m = model.clone();
                    s.spawn(move || m.predict(&[vec![i as f32, -1.0]]).unwrap())
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        for (i, out) in outputs.iter().enumerate() {
            assert_eq!(out, &vec![vec![i as f32, 0.0]]);
        }
    }

    #[test]
    fn a_dynamic_batch_runs_all_rows_at_once_and_keeps_their_order() {
        let model = Model::from_bytes(&relu(&[None, Some(3)])).unwrap();
        assert_eq!(model.features(), 3);
        let out = model
            .predict(&[
                vec![-1.0, 2.0, -3.0],
                vec![4.0, -5.0, 6.0],
                vec![0.5, 0.0, -0.5],
            ])
            .unwrap();
        assert_eq!(
            out,
            vec![
                vec![0.0, 2.0, 0.0],
                vec![4.0, 0.0, 6.0],
                vec![0.5, 0.0, 0.0]
            ]
        );
    }

    #[test]
    fn a_batch_of_one_model_runs_each_row_in_turn() {
        let model = Model::from_bytes(&relu(&[Some(1), Some(2)])).unwrap();
        let out = model
            .predict(&[vec![-1.0, 2.0], vec![3.0, -4.0], vec![5.0, 6.0]])
            .unwrap();
        assert_eq!(out, vec![vec![0.0, 2.0], vec![3.0, 0.0], vec![5.0, 6.0]]);
    }

    #[test]
    fn other_models_load_but_predict_refuses_them_naming_why() {
        let identity =
            |inputs, outputs| onnx_bytes(vec![node("Identity", &["x"], &["y"])], inputs, outputs);
        let cases: Vec<(&str, Vec<u8>, &str)> = vec![
            (
                "two inputs",
                onnx_bytes(
                    vec![node("Add", &["a", "b"], &["y"])],
                    vec![
                        value("a", F32, &[None, Some(3)]),
                        value("b", F32, &[None, Some(3)]),
                    ],
                    vec![value("y", F32, &[None, Some(3)])],
                ),
                "it has 2 inputs (a, b), not one",
            ),
            (
                "two outputs",
                onnx_bytes(
                    vec![node("Relu", &["x"], &["y"]), node("Relu", &["x"], &["z"])],
                    vec![value("x", F32, &[None, Some(3)])],
                    vec![
                        value("y", F32, &[None, Some(3)]),
                        value("z", F32, &[None, Some(3)]),
                    ],
                ),
                "it has 2 outputs (y, z), not one",
            ),
            (
                "i64 input",
                identity(
                    vec![value("x", I64, &[None, Some(3)])],
                    vec![value("y", I64, &[None, Some(3)])],
                ),
                "its input `x` is int64, not float (f32)",
            ),
            (
                "i64 output",
                onnx_bytes(
                    vec![node("Cast", &["x"], &["y"])],
                    vec![value("x", F32, &[None, Some(3)])],
                    vec![value("y", I64, &[None, Some(3)])],
                ),
                "its output `y` is int64, not float (f32)",
            ),
            (
                "image input",
                relu(&[None, Some(3), Some(8), Some(8)]),
                "its input `x` has shape [-1, 3, 8, 8], not [batch, features]",
            ),
            (
                "dynamic width",
                relu(&[None, None]),
                "its input `x` has no fixed row width",
            ),
            (
                "fixed batch of 4",
                relu(&[Some(4), Some(3)]),
                "batch dimension fixed at 4",
            ),
        ];
        for (case, bytes, why) in cases {
            let model = Model::from_bytes(&bytes).unwrap_or_else(|e| panic!("{case}: {e}"));
            assert_eq!(model.features(), 0, "{case}");
            assert!(!model.signature().inputs.is_empty(), "{case}");
            match model.predict(&[vec![1.0, 2.0, 3.0]]) {
                Err(ModelError::Unsupported(reason)) => {
                    assert!(reason.contains(why), "{case}: {reason}");
                }
                other => panic!("{case}: expected Unsupported, got {other:?}"),
            }
        }
        // The positive control: the same shape of model with one [batch, 3] f32 input is served.
        let served = Model::from_bytes(&relu(&[None, Some(3)])).unwrap();
        assert!(served.predict(&[vec![1.0, 2.0, 3.0]]).is_ok());
    }

    #[test]
    fn bytes_that_are_not_a_runnable_model_fail_to_load() {
        for (case, bytes) in [
            ("text", b"definitely not an onnx model".to_vec()),
            ("truncated", breast_cancer_onnx()[..100].to_vec()),
        ] {
            match Model::from_bytes(&bytes) {
                Err(ModelError::Load(why)) => assert!(why.contains("protobuf"), "{case}: {why}"),
                other => panic!("{case}: expected Load, got {other:?}"),
            }
        }
        // An empty message is valid protobuf, but no model.
        match Model::from_bytes(&[]) {
            Err(ModelError::Load(why)) => assert!(why.contains("no graph"), "{why}"),
            other => panic!("expected Load, got {other:?}"),
        }
        // A well-formed servable signature around an operator tract does not know.
        let unknown = onnx_bytes(
            vec![node("NoSuchOperator", &["x"], &["y"])],
            vec![value("x", F32, &[None, Some(3)])],
            vec![value("y", F32, &[None, Some(3)])],
        );
        match Model::from_bytes(&unknown) {
            Err(ModelError::Load(why)) => assert!(why.contains("tract cannot build"), "{why}"),
            other => panic!("expected Load, got {other:?}"),
        }
    }

    #[test]
    fn rows_are_checked_in_order_and_the_first_problem_is_named() {
        let ok = vec![1.0, 2.0];
        assert_eq!(check_rows(&[], 2), Err(ModelError::EmptyBatch));
        assert_eq!(check_rows(&vec![ok.clone(); Model::MAX_ROWS], 2), Ok(()));
        assert_eq!(
            check_rows(&vec![ok.clone(); Model::MAX_ROWS + 1], 2),
            Err(ModelError::TooManyRows {
                max: Model::MAX_ROWS,
                got: Model::MAX_ROWS + 1
            })
        );
        assert_eq!(
            check_rows(&[ok.clone(), vec![1.0], vec![f32::NAN, 0.0]], 2),
            Err(ModelError::InputWidth {
                row: 1,
                expected: 2,
                got: 1
            })
        );
        for bad in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
            assert_eq!(
                check_rows(&[ok.clone(), ok.clone(), vec![0.0, bad]], 2),
                Err(ModelError::NotFinite { row: 2, column: 1 })
            );
        }
        // Extremes that are finite pass.
        assert_eq!(check_rows(&[vec![f32::MAX, f32::MIN_POSITIVE]], 2), Ok(()));
    }

    #[test]
    fn error_messages_say_what_was_wrong_and_what_to_do() {
        let width = ModelError::InputWidth {
            row: 3,
            expected: 30,
            got: 29,
        }
        .to_string();
        assert!(
            width.contains("row 3") && width.contains("29") && width.contains("30"),
            "{width}"
        );
        let finite = ModelError::NotFinite { row: 1, column: 7 }.to_string();
        assert!(
            finite.contains("row 1, column 7") && finite.contains("finite"),
            "{finite}"
        );
        let many = ModelError::TooManyRows {
            max: 1024,
            got: 1025,
        }
        .to_string();
        assert!(
            many.contains("1025") && many.contains("at most 1024"),
            "{many}"
        );
        assert!(
            ModelError::EmptyBatch
                .to_string()
                .contains("at least one row")
        );
    }
}
