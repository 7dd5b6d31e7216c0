//! CommonJS `require` resolution inside a package, following Node's
//! algorithm (relative paths, `node_modules` lookup through ancestor
//! directories, `package.json` `main` and `exports`, `index.js`), but over
//! the package's own files only: nothing outside the package can be reached.
//!
//! `fabric-contract-api` and `fabric-shim` always resolve to Cairn's
//! built-ins, even when `node_modules` holds the npm copies (a Fabric
//! contract lists them as dependencies).

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::package::normalize;

/// What a `require` specifier names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Resolved {
    /// One of Cairn's built-in modules.
    Builtin(&'static str),
    /// A file of the package.
    File(String),
}

/// Modules Cairn provides itself.
const BUILTINS: [&str; 6] = [
    "buffer",
    "crypto",
    "fabric-contract-api",
    "fabric-shim",
    "fabric-shim-api",
    "util",
];

/// Node's core modules, refused with an explanation.
const NODE_CORE: [&str; 38] = [
    "assert",
    "async_hooks",
    "child_process",
    "cluster",
    "console",
    "constants",
    "dgram",
    "diagnostics_channel",
    "dns",
    "domain",
    "events",
    "fs",
    "http",
    "http2",
    "https",
    "inspector",
    "module",
    "net",
    "os",
    "path",
    "perf_hooks",
    "process",
    "punycode",
    "querystring",
    "readline",
    "repl",
    "stream",
    "string_decoder",
    "sys",
    "timers",
    "tls",
    "trace_events",
    "tty",
    "url",
    "v8",
    "vm",
    "worker_threads",
    "zlib",
];

type Files = BTreeMap<String, Arc<[u8]>>;

/// Resolves `spec` required from a module in directory `from_dir` ("" is the root).
pub(crate) fn resolve(files: &Files, from_dir: &str, spec: &str) -> Result<Resolved, String> {
    let bare = spec.strip_prefix("node:").unwrap_or(spec);
    if let Some(b) = BUILTINS.iter().find(|b| **b == bare) {
        return Ok(Resolved::Builtin(b));
    }
    if spec.starts_with("node:") || NODE_CORE.contains(&bare) || bare.starts_with("fs/") {
        return Err(format!(
            "Cannot find module '{spec}': it is a Node.js core module, and Cairn contracts run without a file system, network, processes or timers"
        ));
    }
    let found = if spec.starts_with("./") || spec.starts_with("../") || spec == "." || spec == ".."
    {
        let joined = if from_dir.is_empty() {
            spec.to_owned()
        } else {
            format!("{from_dir}/{spec}")
        };
        let path = normalize(&joined).ok_or_else(|| {
            format!("Cannot find module '{spec}': the path leaves the contract package")
        })?;
        load_file_or_dir(files, &path)
    } else if spec.starts_with('/') {
        return Err(format!(
            "Cannot find module '{spec}': absolute paths are not available in a contract package"
        ));
    } else {
        resolve_node_modules(files, from_dir, spec)?
    };
    let path = found.ok_or_else(|| format!("Cannot find module '{spec}' from '/{from_dir}'"))?;
    check_commonjs(files, &path, spec)?;
    Ok(Resolved::File(path))
}

/// The main module for package.json's `main` field (or `index.js`).
pub(crate) fn resolve_main(files: &Files, main: &str) -> Option<String> {
    let path = normalize(main)?;
    load_file_or_dir(files, &path).or_else(|| load_file_or_dir(files, ""))
}

fn resolve_node_modules(
    files: &Files,
    from_dir: &str,
    spec: &str,
) -> Result<Option<String>, String> {
    let mut parts = spec.splitn(3, '/');
    let first = parts.next().unwrap_or_default();
    let (name, rest) = if first.starts_with('@') {
        let scope_pkg = parts
            .next()
            .ok_or_else(|| format!("Cannot find module '{spec}': incomplete scoped name"))?;
        (format!("{first}/{scope_pkg}"), parts.next())
    } else {
        let rest: Vec<&str> = parts.collect();
        (
            first.to_owned(),
            if rest.is_empty() {
                None
            } else {
                Some(&spec[first.len() + 1..])
            },
        )
    };
    let mut dir = from_dir.to_owned();
    loop {
        let base = join(&join(&dir, "node_modules"), &name);
        if is_dir(files, &base) {
            return Ok(resolve_in_package(files, &base, rest));
        }
        if dir.is_empty() {
            return Ok(None);
        }
        dir = dir
            .rsplit_once('/')
            .map_or(String::new(), |(d, _)| d.to_owned());
    }
}

fn resolve_in_package(files: &Files, base: &str, subpath: Option<&str>) -> Option<String> {
    if let Some(manifest) = manifest(files, base)
        && let Some(exports) = manifest.get("exports")
    {
        let wanted = subpath.map_or(".".to_owned(), |s| format!("./{s}"));
        if let Some(target) = exports_target(exports, &wanted) {
            let path = normalize(&join(base, &target))?;
            return files.contains_key(&path).then_some(path);
        }
    }
    match subpath {
        Some(s) => load_file_or_dir(files, &normalize(&join(base, s))?),
        None => load_file_or_dir(files, base),
    }
}

/// Node's `exports` resolution for `require`: conditions `require`, `node`,
/// `default`; subpaths exact or with one `*`.
fn exports_target(exports: &serde_json::Value, wanted: &str) -> Option<String> {
    use serde_json::Value;
    let is_subpath_map =
        |m: &serde_json::Map<String, Value>| m.keys().next().is_some_and(|k| k.starts_with('.'));
    match exports {
        Value::Object(m) if is_subpath_map(m) => {
            if let Some(v) = m.get(wanted) {
                return conditional(v, None);
            }
            m.iter().find_map(|(k, v)| {
                let (pre, post) = k.split_once('*')?;
                let star = wanted.strip_prefix(pre)?.strip_suffix(post)?;
                conditional(v, Some(star))
            })
        }
        other if wanted == "." => conditional(other, None),
        _ => None,
    }
}

fn conditional(v: &serde_json::Value, star: Option<&str>) -> Option<String> {
    use serde_json::Value;
    match v {
        Value::String(s) => Some(match star {
            Some(st) => s.replace('*', st),
            None => s.clone(),
        }),
        Value::Object(m) => ["require", "node", "default"]
            .iter()
            .find_map(|c| m.get(*c).and_then(|t| conditional(t, star))),
        Value::Array(items) => items.iter().find_map(|t| conditional(t, star)),
        _ => None,
    }
}

fn load_file_or_dir(files: &Files, path: &str) -> Option<String> {
    if !path.is_empty() {
        for candidate in [
            path.to_owned(),
            format!("{path}.js"),
            format!("{path}.json"),
            format!("{path}.cjs"),
        ] {
            if files.contains_key(&candidate) {
                return Some(candidate);
            }
        }
    }
    if let Some(manifest) = manifest(files, path)
        && let Some(main) = manifest.get("main").and_then(|m| m.as_str())
        && let Some(main_path) = normalize(&join(path, main))
        && main_path != path
        && let Some(found) = load_file_or_dir(files, &main_path)
    {
        return Some(found);
    }
    ["index.js", "index.json", "index.cjs"]
        .iter()
        .map(|i| join(path, i))
        .find(|p| files.contains_key(p))
}

/// Refuses ES modules with a clear message; QuickJS would only report a syntax error.
fn check_commonjs(files: &Files, path: &str, spec: &str) -> Result<(), String> {
    let esm = || {
        format!(
            "Cannot load module '{spec}' ({path}): it is an ES module, and contracts are CommonJS; use a CommonJS build of the dependency"
        )
    };
    if path.ends_with(".mjs") {
        return Err(esm());
    }
    if path.ends_with(".js") {
        let mut dir = parent(path);
        loop {
            if let Some(m) = manifest(files, &dir) {
                if m.get("type").and_then(|t| t.as_str()) == Some("module") {
                    return Err(esm());
                }
                break;
            }
            if dir.is_empty() {
                break;
            }
            dir = parent(&dir);
        }
    }
    Ok(())
}

fn manifest(files: &Files, dir: &str) -> Option<serde_json::Value> {
    serde_json::from_slice(files.get(&join(dir, "package.json"))?).ok()
}

fn is_dir(files: &Files, dir: &str) -> bool {
    let prefix = format!("{dir}/");
    files
        .range(prefix.clone()..)
        .next()
        .is_some_and(|(k, _)| k.starts_with(&prefix))
}

/// The directory part of a package path ("" for the root).
pub(crate) fn parent(path: &str) -> String {
    path.rsplit_once('/')
        .map_or(String::new(), |(d, _)| d.to_owned())
}

fn join(dir: &str, name: &str) -> String {
    if dir.is_empty() {
        name.to_owned()
    } else {
        format!("{dir}/{name}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files(list: &[(&str, &str)]) -> Files {
        list.iter()
            .map(|(k, v)| (k.to_string(), Arc::from(v.as_bytes())))
            .collect()
    }

    #[test]
    fn node_resolution_inside_the_package() {
        let f = files(&[
            ("package.json", r#"{"main":"index.js"}"#),
            ("index.js", ""),
            ("lib/a.js", ""),
            ("lib/data.json", "{}"),
            ("lib/sub/index.js", ""),
            ("node_modules/dep/package.json", r#"{"main":"./dist/main"}"#),
            ("node_modules/dep/dist/main.js", ""),
            ("node_modules/dep/extra.js", ""),
            ("node_modules/@s/p/index.js", ""),
            (
                "node_modules/ex/package.json",
                r#"{"exports":{".":{"import":"./m.mjs","require":"./c.js"},"./f/*":"./files/*.js"}}"#,
            ),
            ("node_modules/ex/c.js", ""),
            ("node_modules/ex/files/x.js", ""),
            (
                "node_modules/fabric-contract-api/index.js",
                "throw new Error('npm copy')",
            ),
        ]);
        let r = |from: &str, spec: &str| resolve(&f, from, spec);
        assert_eq!(r("", "./lib/a"), Ok(Resolved::File("lib/a.js".into())));
        assert_eq!(
            r("lib", "./data.json"),
            Ok(Resolved::File("lib/data.json".into()))
        );
        assert_eq!(
            r("lib", "./sub"),
            Ok(Resolved::File("lib/sub/index.js".into()))
        );
        assert_eq!(
            r("lib/sub", "dep"),
            Ok(Resolved::File("node_modules/dep/dist/main.js".into()))
        );
        assert_eq!(
            r("lib", "dep/extra"),
            Ok(Resolved::File("node_modules/dep/extra.js".into()))
        );
        assert_eq!(
            r("", "@s/p"),
            Ok(Resolved::File("node_modules/@s/p/index.js".into()))
        );
        assert_eq!(
            r("", "ex"),
            Ok(Resolved::File("node_modules/ex/c.js".into()))
        );
        assert_eq!(
            r("", "ex/f/x"),
            Ok(Resolved::File("node_modules/ex/files/x.js".into()))
        );
        assert_eq!(
            r("", "fabric-contract-api"),
            Ok(Resolved::Builtin("fabric-contract-api"))
        );
        assert_eq!(r("", "node:buffer"), Ok(Resolved::Builtin("buffer")));
        assert!(r("", "fs").unwrap_err().contains("Node.js core module"));
        assert!(
            r("", "../outside")
                .unwrap_err()
                .contains("leaves the contract package")
        );
        assert!(
            r("", "missing")
                .unwrap_err()
                .contains("Cannot find module 'missing'")
        );
        assert_eq!(resolve_main(&f, "index.js"), Some("index.js".into()));
    }

    #[test]
    fn es_modules_are_refused_clearly() {
        let f = files(&[
            (
                "node_modules/esm/package.json",
                r#"{"type":"module","main":"i.js"}"#,
            ),
            ("node_modules/esm/i.js", "export default 1"),
        ]);
        assert!(resolve(&f, "", "esm").unwrap_err().contains("ES module"));
    }
}
