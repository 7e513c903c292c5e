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

/// What a report is exported to before ingest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportKind {
    /// One SQLite file (every nsys).
    Sqlite,
    /// A folder of Parquet files, one per table (nsys 2024.6+): faster to export and
    /// to ingest.
    ParquetDir,
}

impl ExportKind {
    /// `nsys export --type` value, and the extension `trace` gives the export.
    pub fn name(self) -> &'static str {
        match self {
            ExportKind::Sqlite => "sqlite",
            ExportKind::ParquetDir => "parquetdir",
        }
    }
}

/// The first nsys release that exports `--type parquetdir`.
pub const PARQUETDIR_SINCE: (u32, u32) = (2024, 6);

/// `NVIDIA Nsight Systems version 2025.3.1.90-…` → (2025, 3).
pub fn release_of(version_text: &str) -> Option<(u32, u32)> {
    version_text.split_whitespace().find_map(|word| {
        let mut parts = word.split('.');
        let year = parts.next()?.parse::<u32>().ok().filter(|y| *y >= 2018)?;
        let minor = parts.next()?.parse::<u32>().ok()?;
        Some((year, minor))
    })
}

/// What `nsys --version` printed (`None` when it does not run).
pub fn version_text(nsys: &Path) -> Option<String> {
    let out = Command::new(nsys)
        .arg("--version")
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// parquetdir when `nsys` can write it (2024.6+), else SQLite; `$TRACE_NSYS_EXPORT`
/// (`sqlite` or `parquetdir`) overrides.
pub fn preferred_export(nsys: &Path) -> ExportKind {
    match std::env::var("TRACE_NSYS_EXPORT").ok().as_deref() {
        Some("sqlite") => return ExportKind::Sqlite,
        Some("parquetdir") => return ExportKind::ParquetDir,
        _ => {}
    }
    match version_text(nsys).as_deref().and_then(release_of) {
        Some(release) if release >= PARQUETDIR_SINCE => ExportKind::ParquetDir,
        _ => ExportKind::Sqlite,
    }
}

/// The tables of an export that ingest reads (the importers' `has_table` checks);
/// `nsys export --tables` writes only these, which is most of an export's time saved
/// on a large report (docs/PERFORMANCE.md).
pub const EXPORT_TABLES: &[&str] = &[
    "StringIds",
    "META_DATA_EXPORT",
    "EXPORT_META_DATA",
    "META_DATA_CAPTURE",
    "TARGET_INFO_GPU",
    "TARGET_INFO_SYSTEM_ENV",
    "CUPTI_ACTIVITY_KIND_KERNEL",
    "CUPTI_ACTIVITY_KIND_RUNTIME",
    "CUPTI_ACTIVITY_KIND_MEMCPY",
    "CUPTI_ACTIVITY_KIND_MEMSET",
    "NVTX_EVENTS",
    "CUDA_GRAPH_EVENTS",
    "CUDA_GRAPH_NODE_EVENTS",
];

/// `--tables` for [`EXPORT_TABLES`]: POSIX regexes, anchored, comma-separated.
fn tables_filter() -> String {
    EXPORT_TABLES
        .iter()
        .map(|t| format!("^{t}$"))
        .collect::<Vec<_>>()
        .join(",")
}

/// `nsys export --type <kind> --tables <what ingest reads> -o <out> <report.nsys-rep>`.
pub fn nsys_export_argv(nsys: &Path, report: &Path, out: &Path, kind: ExportKind) -> Vec<String> {
    let mut argv = nsys_export_all_argv(nsys, report, out, kind);
    argv.splice(4..4, ["--tables".to_string(), tables_filter()]);
    argv
}

/// `nsys export` of every table (for an nsys that does not know `--tables`).
fn nsys_export_all_argv(nsys: &Path, report: &Path, out: &Path, kind: ExportKind) -> Vec<String> {
    vec![
        nsys.display().to_string(),
        "export".into(),
        "--type".into(),
        kind.name().into(),
        "--force-overwrite".into(),
        "true".into(),
        "-o".into(),
        out.display().to_string(),
        report.display().to_string(),
    ]
}

/// Exports `report` beside it, as parquetdir when the nsys found can, else SQLite
/// (`<report stem>.parquetdir` or `.sqlite`), and returns that path and its kind.
pub fn export_report(report: &Path, explicit: Option<&Path>) -> Result<(PathBuf, ExportKind)> {
    let nsys = find(explicit)?;
    let kind = preferred_export(&nsys);
    let target = report.with_extension(kind.name());
    export_to(&nsys, report, &target, kind)?;
    Ok((target, kind))
}

/// `nsys export` of `report` into `target`, through a temporary name renamed on
/// success (nothing half-written is left at `target`).
pub fn export_to(nsys: &Path, report: &Path, target: &Path, kind: ExportKind) -> Result<()> {
    let partial = target.with_extension(format!("partial.{}", kind.name()));
    let attempt = |argv: Vec<String>| {
        remove_any(&partial);
        let output = Command::new(&argv[0])
            .args(&argv[1..])
            .output()
            .map_err(|e| Error::Tool(format!("running {}: {e}", nsys.display())))?;
        let written = match kind {
            ExportKind::Sqlite => partial.is_file(),
            ExportKind::ParquetDir => partial.join("StringIds.parquet").is_file(),
        };
        Ok::<_, Error>((output, written))
    };
    let (mut output, mut written) = attempt(nsys_export_argv(nsys, report, &partial, kind))?;
    if !output.status.success() || !written {
        // An nsys without `--tables`: every table, as before.
        let all = attempt(nsys_export_all_argv(nsys, report, &partial, kind))?;
        if all.0.status.success() && all.1 {
            (output, written) = all;
        }
    }
    if !output.status.success() || !written {
        remove_any(&partial);
        return Err(Error::Tool(format!(
            "{} export failed for {} ({}):\n{}",
            nsys.display(),
            report.display(),
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        )));
    }
    remove_any(target);
    std::fs::rename(&partial, target).map_err(|e| Error::io(target, e))
}

/// Removes a file or a folder, if there.
fn remove_any(path: &Path) {
    if path.is_dir() {
        let _ = std::fs::remove_dir_all(path);
    } else {
        let _ = std::fs::remove_file(path);
    }
}

/// The `.nsys-rep` of a finished `nsys profile -o <base>`. When nsys left only a
/// `.qdstrm` (the copy bundled with Nsight Compute does), converts it with the
/// QdstrmImporter found beside that nsys.
pub fn finish_report(nsys: &Path, base: &Path) -> Result<PathBuf> {
    let rep = base.with_extension("nsys-rep");
    if rep.is_file() {
        return Ok(rep);
    }
    let qdstrm = base.with_extension("qdstrm");
    if !qdstrm.is_file() {
        return Err(Error::Tool(format!(
            "nsys wrote no report at {} (nor a .qdstrm): did the profiled range start (cudaProfilerStart)? see the run log",
            rep.display()
        )));
    }
    let importer = nsys
        .ancestors()
        .skip(1)
        .take(3)
        .filter_map(|dir| std::fs::read_dir(dir).ok())
        .flatten()
        .filter_map(|e| e.ok().map(|e| e.path().join("QdstrmImporter")))
        .find(|p| p.is_file())
        .ok_or_else(|| {
            Error::Tool(format!(
                "nsys left {} but no QdstrmImporter was found near {}; convert it with Nsight Systems' QdstrmImporter (host package)",
                qdstrm.display(),
                nsys.display()
            ))
        })?;
    let output = Command::new(&importer)
        .arg("-i")
        .arg(&qdstrm)
        .output()
        .map_err(|e| Error::Tool(format!("running {}: {e}", importer.display())))?;
    if !output.status.success() || !rep.is_file() {
        return Err(Error::Tool(format!(
            "{} failed on {} ({}): {} (it needs libdw.so.1: install libdw1 or put it on LD_LIBRARY_PATH)",
            importer.display(),
            qdstrm.display(),
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        )));
    }
    Ok(rep)
}

#[cfg(test)]
mod tests {
    use super::EXPORT_TABLES;

    /// Every table an importer asks for by name is exported; a table added to an
    /// importer without being added here would be silently missing from exports.
    #[test]
    fn the_export_keeps_every_table_ingest_reads() {
        assert!(EXPORT_TABLES.contains(&"StringIds"));
        let mut seen = 0;
        let sources = [
            include_str!("ingest/nsys/meta.rs"),
            include_str!("ingest/nsys/modules.rs"),
            include_str!("ingest/nsys/export.rs"),
            include_str!("ingest/nsys/memops.rs"),
            include_str!("ingest/nsys/nvtx.rs"),
        ];
        for source in sources {
            for quoted in source.split('"').skip(1).step_by(2) {
                let is_table = quoted.len() > 4
                    && quoted.chars().all(|c| c.is_ascii_uppercase() || c == '_')
                    && [
                        "META_DATA",
                        "TARGET_INFO",
                        "CUPTI_",
                        "CUDA_GRAPH",
                        "NVTX_",
                        "EXPORT_META",
                    ]
                    .iter()
                    .any(|p| quoted.starts_with(p));
                if is_table && !quoted.ends_with('_') {
                    assert!(EXPORT_TABLES.contains(&quoted), "{quoted}");
                    seen += 1;
                }
            }
        }
        assert!(seen >= 10, "the scan found {seen} table names");
    }
}
