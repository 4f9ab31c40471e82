//! Lists the OpenAPI fragments in `openapi/` so that every `*.json` there is compiled in
//! (`src/routes/openapi.rs` includes the generated list): a fragment another area adds is picked up
//! without touching the loader.

use std::{env, fs, path::PathBuf};

fn main() {
    let dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR")).join("openapi");
    // A directory: cargo re-runs this script when any file in it is added, removed or changed.
    println!("cargo::rerun-if-changed={}", dir.display());
    let mut names: Vec<String> = fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .map(|entry| entry.expect("a directory entry").file_name().into_string().expect("a UTF-8 file name"))
        .filter(|name| name.ends_with(".json"))
        .collect();
    names.sort();
    let mut out =
        String::from("/// Every `openapi/*.json`, by file name, sorted.\npub const FRAGMENTS: &[(&str, &str)] = &[\n");
    for name in &names {
        out.push_str(&format!("    ({name:?}, include_str!({:?})),\n", dir.join(name).display().to_string()));
    }
    out.push_str("];\n");
    let target = PathBuf::from(env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join("openapi_fragments.rs");
    fs::write(&target, out).unwrap_or_else(|e| panic!("cannot write {}: {e}", target.display()));
}
