//! Build script: the commit `trace --version` names, and the shipped files (conf/,
//! model_conf/, queries/, the demo traces) compiled into the binary so that it runs
//! from any directory (`src/shipped.rs` reads the table this writes).
//!
//! Invariants: the table lists files in sorted path order with `/` separators, and
//! `SHIPPED_DIGEST` changes whenever a path or a byte of any shipped file does (it
//! names the cache folder the files are unpacked into, so a stale copy is never used).

use std::collections::hash_map::DefaultHasher;
use std::hash::Hasher;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Shipped directories (every file under them) and single files.
const SHIPPED_DIRS: &[&str] = &["conf", "model_conf", "queries"];
const SHIPPED_FILES: &[&str] = &["fixtures/nsys/mini.sqlite", "fixtures/nsys/tp2.sqlite"];

fn main() {
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap_or_default());
    println!("cargo:rustc-env=TRACE_COMMIT={}", commit(&root));
    println!("cargo:rerun-if-env-changed=TRACE_COMMIT");

    let mut files = Vec::new();
    for dir in SHIPPED_DIRS {
        println!("cargo:rerun-if-changed={dir}");
        collect(&root, &root.join(dir), &mut files);
    }
    for file in SHIPPED_FILES {
        println!("cargo:rerun-if-changed={file}");
        if root.join(file).is_file() {
            files.push(file.to_string());
        }
    }
    files.sort();

    let mut digest = DefaultHasher::new();
    let mut table = String::from("pub static SHIPPED: &[(&str, &[u8])] = &[\n");
    for rel in &files {
        let bytes = std::fs::read(root.join(rel)).unwrap_or_default();
        digest.write(rel.as_bytes());
        digest.write_usize(bytes.len());
        digest.write(&bytes);
        let abs = root.join(rel);
        table.push_str(&format!(
            "    ({rel:?}, include_bytes!({:?})),\n",
            abs.display().to_string()
        ));
    }
    table.push_str("];\n");
    table.push_str(&format!(
        "pub const SHIPPED_DIGEST: &str = \"{:016x}\";\n",
        digest.finish()
    ));
    let out = PathBuf::from(std::env::var("OUT_DIR").unwrap_or_default()).join("shipped.rs");
    if let Err(e) = std::fs::write(&out, table) {
        panic!("writing {}: {e}", out.display());
    }
}

/// Every file under `dir`, as paths relative to `root` with `/` separators.
fn collect(root: &Path, dir: &Path, out: &mut Vec<String>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with('.') || name == "__pycache__" {
            continue;
        }
        if path.is_dir() {
            collect(root, &path, out);
        } else if let Ok(rel) = path.strip_prefix(root) {
            let parts: Vec<String> = rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            out.push(parts.join("/"));
        }
    }
}

/// `$TRACE_COMMIT` when set (a wheel built from an sdist has no .git), else the
/// checkout's commit, else "unknown".
fn commit(root: &Path) -> String {
    if let Ok(given) = std::env::var("TRACE_COMMIT") {
        if !given.trim().is_empty() {
            return given.trim().to_string();
        }
    }
    let git = |args: &[&str]| {
        Command::new("git")
            .args(args)
            .current_dir(root)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
    };
    if let Some(git_dir) = git(&["rev-parse", "--absolute-git-dir"]) {
        let git_dir = PathBuf::from(git_dir);
        for watched in ["HEAD", "packed-refs"] {
            if git_dir.join(watched).exists() {
                println!("cargo:rerun-if-changed={}", git_dir.join(watched).display());
            }
        }
        if let Some(head_ref) = git(&["symbolic-ref", "-q", "HEAD"]) {
            let ref_file = git_dir.join(head_ref);
            if ref_file.exists() {
                println!("cargo:rerun-if-changed={}", ref_file.display());
            }
        }
    }
    git(&["rev-parse", "--short=12", "HEAD"]).unwrap_or_else(|| "unknown".to_string())
}
