//! Finding and running the `nsys` command-line tool.
//!
//! Search order (DESIGN.md §5): `--nsys`, `$TRACE_NSYS`, `PATH`, then the usual
//! install directories, including the copy bundled with Nsight Compute. A missing
//! nsys is an error that says what to install or pass.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::error::{Error, Result};

/// Install locations tried after `PATH` (globs are expanded by [`candidates`]).
const INSTALL_DIRS: &[&str] = &[
    "/usr/local/cuda/bin",
    "/opt/nvidia/nsight-systems",
    "/opt/nvidia/nsight-compute",
    "/usr/lib/nsight-systems",
    "/usr/local/cuda/nsight-systems",
];

/// Finds nsys: `explicit`, then `$TRACE_NSYS`, then `PATH`, then install dirs.
pub fn find(explicit: Option<&Path>) -> Result<PathBuf> {
    if let Some(path) = explicit {
        return if path.is_file() {
            Ok(path.to_path_buf())
        } else {
            Err(Error::Tool(format!(
                "--nsys {}: no such file",
                path.display()
            )))
        };
    }
    if let Some(path) = std::env::var_os("TRACE_NSYS").map(PathBuf::from) {
        return if path.is_file() {
            Ok(path)
        } else {
            Err(Error::Tool(format!(
                "TRACE_NSYS={}: no such file",
                path.display()
            )))
        };
    }
    if let Some(path) = std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|dir| dir.join("nsys"))
        .find(|p| p.is_file())
    {
        return Ok(path);
    }
    candidates()
        .into_iter()
        .find(|p| p.is_file())
        .ok_or_else(|| {
            Error::Tool(
                "nsys (Nsight Systems CLI) not found on PATH, in $TRACE_NSYS or in the usual install directories; install Nsight Systems, or pass --nsys /path/to/nsys".into(),
            )
        })
}

/// `nsys` paths under the install dirs, newest version directory first.
fn candidates() -> Vec<PathBuf> {
    let mut found = Vec::new();
    for dir in INSTALL_DIRS {
        let dir = Path::new(dir);
        found.push(dir.join("nsys"));
        found.push(dir.join("bin/nsys"));
        let Ok(entries) = std::fs::read_dir(dir) else {
            continue;
        };
        let mut versions: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
        versions.sort();
        versions.reverse();
        for version in versions {
            found.push(version.join("bin/nsys"));
            found.push(version.join("target-linux-x64/nsys"));
            found.push(version.join("host/target-linux-x64/nsys"));
        }
    }
    found
}

/// Exports `report` to `<report without .nsys-rep>.sqlite` beside it and returns
/// that path. The export goes to a temporary name first and is renamed on success.
pub fn export_sqlite(report: &Path, explicit: Option<&Path>) -> Result<PathBuf> {
    let nsys = find(explicit)?;
    let target = report.with_extension("sqlite");
    let partial = report.with_extension("partial.sqlite");
    let output = Command::new(&nsys)
        .args([
            "export",
            "--type",
            "sqlite",
            "--force-overwrite",
            "true",
            "--output",
        ])
        .arg(&partial)
        .arg(report)
        .output()
        .map_err(|e| Error::Tool(format!("running {}: {e}", nsys.display())))?;
    if !output.status.success() || !partial.is_file() {
        let _ = std::fs::remove_file(&partial);
        return Err(Error::Tool(format!(
            "{} export failed for {} ({}):\n{}",
            nsys.display(),
            report.display(),
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        )));
    }
    std::fs::rename(&partial, &target).map_err(|e| Error::io(&target, e))?;
    Ok(target)
}
