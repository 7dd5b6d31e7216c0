//! Transient data for `cairn invoke` and `cairn query`: private inputs that
//! reach the contract but never the ledger, given so that they need not
//! appear in the command line (visible to every user in `ps` and kept in
//! shell history).
//!
//! - `--transient KEY=@FILE`: the value is FILE's bytes, exactly (a trailing
//!   newline included); `KEY=@-` reads standard input.
//! - `--transient-file FILE`: a JSON object of keys to string values (`-`:
//!   standard input).
//! - `--transient KEY=VALUE`: the value in the command line itself (for
//!   values that are not secret); `KEY=@@...` is the literal `@...`.
//!
//! Invariants: a value never appears in `Debug` output; each key is given
//! once; standard input is read at most once.

use std::collections::BTreeMap;
use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

/// One `--transient` argument.
#[derive(Clone, PartialEq, Eq)]
pub enum TransientArg {
    /// `KEY=@FILE`: the value is the file's bytes.
    File {
        /// The key.
        key: String,
        /// The file.
        path: PathBuf,
    },
    /// `KEY=VALUE`: the value as given.
    Inline {
        /// The key.
        key: String,
        /// The value.
        value: String,
    },
    /// `KEY=@-`: the value is standard input.
    Stdin {
        /// The key.
        key: String,
    },
}

impl fmt::Debug for TransientArg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TransientArg::File { key, path } => write!(f, "{key}=@{}", path.display()),
            TransientArg::Inline { key, .. } => write!(f, "{key}=<redacted>"),
            TransientArg::Stdin { key } => write!(f, "{key}=@-"),
        }
    }
}

impl TransientArg {
    /// Parses `KEY=VALUE`, `KEY=@FILE`, `KEY=@-` or `KEY=@@literal`.
    pub fn parse(s: &str) -> Result<TransientArg, String> {
        let Some((key, value)) = s.split_once('=') else {
            // The argument may be a secret: name only its shape.
            return Err(
                "expected KEY=VALUE, KEY=@FILE or KEY=@- (no '=' in the argument)".to_string(),
            );
        };
        if key.is_empty() {
            return Err("the transient key before '=' is empty".to_string());
        }
        let key = key.to_string();
        Ok(match value.strip_prefix('@') {
            Some("-") => TransientArg::Stdin { key },
            Some(rest) if rest.starts_with('@') => TransientArg::Inline {
                key,
                value: rest.to_string(),
            },
            Some("") => {
                return Err(format!(
                    "{key}=@ names no file (use {key}=@FILE or {key}=@-)"
                ));
            }
            Some(path) => TransientArg::File {
                key,
                path: PathBuf::from(path),
            },
            None => TransientArg::Inline {
                key,
                value: value.to_string(),
            },
        })
    }
}

/// The transient map of a call: `args` in order, then the keys of `file`.
pub fn collect(
    args: &[TransientArg],
    file: Option<&Path>,
) -> anyhow::Result<BTreeMap<String, Vec<u8>>> {
    collect_with(args, file, &mut std::io::stdin())
}

/// [`collect`] with `stdin` as standard input (tests).
fn collect_with(
    args: &[TransientArg],
    file: Option<&Path>,
    stdin: &mut dyn Read,
) -> anyhow::Result<BTreeMap<String, Vec<u8>>> {
    let mut stdin_used_by: Option<String> = None;
    let mut read_stdin = |who: String| -> anyhow::Result<Vec<u8>> {
        if let Some(first) = &stdin_used_by {
            bail!("standard input is read once, for {first}; {who} needs another source (a file)");
        }
        let mut bytes = Vec::new();
        stdin
            .read_to_end(&mut bytes)
            .with_context(|| format!("reading {who} from standard input"))?;
        stdin_used_by = Some(who);
        Ok(bytes)
    };
    let mut out = BTreeMap::new();
    let mut insert = |key: String, value: Vec<u8>| -> anyhow::Result<()> {
        if out.contains_key(&key) {
            bail!("transient key {key:?} is given twice");
        }
        out.insert(key, value);
        Ok(())
    };
    for arg in args {
        match arg {
            TransientArg::Inline { key, value } => insert(key.clone(), value.clone().into_bytes())?,
            TransientArg::File { key, path } => {
                let bytes = std::fs::read(path).with_context(|| {
                    format!(
                        "cannot read the value of transient key {key:?} from {}",
                        path.display()
                    )
                })?;
                insert(key.clone(), bytes)?;
            }
            TransientArg::Stdin { key } => {
                let bytes = read_stdin(format!("transient key {key:?}"))?;
                insert(key.clone(), bytes)?;
            }
        }
    }
    if let Some(path) = file {
        let (bytes, source) = if path == Path::new("-") {
            (
                read_stdin("--transient-file -".to_string())?,
                "standard input".to_string(),
            )
        } else {
            let bytes = std::fs::read(path)
                .with_context(|| format!("cannot read --transient-file {}", path.display()))?;
            (bytes, path.display().to_string())
        };
        for (key, value) in parse_file(&bytes).with_context(|| {
            format!(
                "--transient-file {source}: expected a JSON object of string values, \
                 e.g. {{\"price\": \"250\"}}"
            )
        })? {
            insert(key, value.into_bytes())?;
        }
    }
    Ok(out)
}

/// A JSON object of string values. Errors name the key, never a value.
fn parse_file(bytes: &[u8]) -> anyhow::Result<Vec<(String, String)>> {
    // serde_json's own errors quote no input, only positions.
    let doc: serde_json::Value = serde_json::from_slice(bytes).context("not JSON")?;
    let serde_json::Value::Object(map) = doc else {
        bail!("the document is not a JSON object");
    };
    map.into_iter()
        .map(|(k, v)| match v {
            serde_json::Value::String(s) => Ok((k, s)),
            other => {
                let kind = match other {
                    serde_json::Value::Null => "null",
                    serde_json::Value::Bool(_) => "a boolean",
                    serde_json::Value::Number(_) => "a number",
                    serde_json::Value::Array(_) => "an array",
                    _ => "an object",
                };
                bail!("the value of {k:?} is {kind}; transient values must be strings")
            }
        })
        .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]
mod tests {
    use super::*;

    fn parse(s: &str) -> TransientArg {
        TransientArg::parse(s).unwrap()
    }

    #[test]
    fn arguments_parse_by_their_value_prefix() {
        assert_eq!(
            parse("k=v=w"),
            TransientArg::Inline {
                key: "k".into(),
                value: "v=w".into()
            }
        );
        assert_eq!(
            parse("k=@/tmp/f"),
            TransientArg::File {
                key: "k".into(),
                path: "/tmp/f".into()
            }
        );
        assert_eq!(parse("k=@-"), TransientArg::Stdin { key: "k".into() });
        assert_eq!(
            parse("k=@@literal"),
            TransientArg::Inline {
                key: "k".into(),
                value: "@literal".into()
            }
        );
        for bad in ["no-equals-secret", "=v", "k=@"] {
            let e = TransientArg::parse(bad).unwrap_err();
            assert!(!e.contains("secret"), "{e}");
        }
    }

    #[test]
    fn debug_never_shows_an_inline_value() {
        let shown = format!("{:?}", vec![parse("price=s3cr3t-value"), parse("k=@/f")]);
        assert!(!shown.contains("s3cr3t-value"), "{shown}");
        assert!(shown.contains("price=<redacted>"), "{shown}");
        assert!(shown.contains("k=@/f"), "{shown}");
    }

    #[test]
    fn values_come_from_files_stdin_and_a_json_file() {
        let dir = tempfile::tempdir().unwrap();
        let value_file = dir.path().join("v");
        std::fs::write(&value_file, b"from-file\n").unwrap();
        let json = dir.path().join("t.json");
        std::fs::write(&json, br#"{"a": "json-a", "b": "json-b"}"#).unwrap();
        let args = [
            parse(&format!("f=@{}", value_file.display())),
            parse("s=@-"),
            parse("i=inline"),
        ];
        let mut stdin: &[u8] = b"from-stdin";
        let map = collect_with(&args, Some(&json), &mut stdin).unwrap();
        let want: BTreeMap<String, Vec<u8>> = [
            ("a", &b"json-a"[..]),
            ("b", b"json-b"),
            ("f", b"from-file\n"),
            ("i", b"inline"),
            ("s", b"from-stdin"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_vec()))
        .collect();
        assert_eq!(map, want);

        let mut stdin: &[u8] = br#"{"x": "piped"}"#;
        let map = collect_with(&[], Some(Path::new("-")), &mut stdin).unwrap();
        assert_eq!(map["x"], b"piped");
    }

    #[test]
    fn mistakes_are_refused_without_echoing_values() {
        let dir = tempfile::tempdir().unwrap();
        let json = dir.path().join("t.json");
        let run = |args: &[TransientArg], file: Option<&Path>| {
            let mut stdin: &[u8] = b"";
            format!("{:#}", collect_with(args, file, &mut stdin).unwrap_err())
        };
        let e = run(&[parse("k=one"), parse("k=two")], None);
        assert!(e.contains("\"k\" is given twice"), "{e}");
        let e = run(&[parse("a=@-"), parse("b=@-")], None);
        assert!(e.contains("standard input is read once"), "{e}");
        let e = run(&[parse("a=@-")], Some(Path::new("-")));
        assert!(e.contains("standard input is read once"), "{e}");
        let e = run(&[parse("k=@/nonexistent/secret-file")], None);
        assert!(
            e.contains("cannot read the value of transient key \"k\""),
            "{e}"
        );

        std::fs::write(&json, br#"{"n": 42, "s": "hidden-value"}"#).unwrap();
        let e = run(&[], Some(&json));
        assert!(e.contains("\"n\" is a number"), "{e}");
        std::fs::write(&json, b"[\"hidden-value\"]").unwrap();
        let e = run(&[], Some(&json));
        assert!(e.contains("not a JSON object"), "{e}");
        std::fs::write(&json, b"{\"k\": \"hidden-value").unwrap();
        let e = run(&[], Some(&json));
        assert!(e.contains("not JSON"), "{e}");
        assert!(!e.contains("hidden-value"), "{e}");
        std::fs::write(&json, br#"{"k": "from-json"}"#).unwrap();
        let e = run(&[parse("k=inline")], Some(&json));
        assert!(e.contains("\"k\" is given twice"), "{e}");
    }
}
