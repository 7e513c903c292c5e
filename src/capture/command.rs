//! The exact commands a capture runs: the harness, the nsys wrapper around it, and
//! the export. Built as argument vectors (never shell strings), printed verbatim by
//! `--dry-run`.

use std::path::{Path, PathBuf};

/// What to profile.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Profile {
    Prefill,
    Decode,
    Both,
}

impl Profile {
    pub fn as_str(self) -> &'static str {
        match self {
            Profile::Prefill => "prefill",
            Profile::Decode => "decode",
            Profile::Both => "both",
        }
    }

    /// Parses the YAML `profile_phase` value.
    pub fn parse(value: &str) -> Option<Profile> {
        match value {
            "prefill" => Some(Profile::Prefill),
            "decode" => Some(Profile::Decode),
            "both" => Some(Profile::Both),
            _ => None,
        }
    }

    /// Phases whose steps a capture must contain.
    pub fn phases(self) -> &'static [&'static str] {
        match self {
            Profile::Prefill => &["prefill"],
            Profile::Decode => &["decode"],
            Profile::Both => &["prefill", "decode"],
        }
    }
}

/// Inputs of the harness command.
#[derive(Debug, Clone)]
pub struct HarnessCommand {
    pub python: PathBuf,
    pub script: PathBuf,
    pub engine: String,
    pub model_dir: PathBuf,
    pub grid_spec: String,
    pub warmup: u32,
    pub iters: u32,
    pub profile: Option<Profile>,
    pub latency_out: PathBuf,
    pub server_args_file: PathBuf,
    /// Seconds a rank may run before the harness stops the run (`rank_timeout_s`).
    pub rank_timeout_s: u32,
    /// Where module ranges come from (`--module-ranges` of the harness).
    pub module_ranges: ModuleRangeSource,
    /// Ranks and decode mode of the hf engine (`None` for SGLang, whose server
    /// arguments carry its layout).
    pub hf: Option<HfLayout>,
}

/// Who emits module ranges in a profiled capture.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModuleRangeSource {
    /// The harness's hooks: one NVTX range `module:<name>:<Class>` per module forward
    /// inside the profiled window (`python/trace_modules.py`).
    Hooks,
    /// The engine's own markers (SGLang `--enable-layerwise-nvtx-marker`), where the
    /// release has them; the hooks otherwise.
    Engine,
    /// None (`--no-module-ranges`).
    Off,
}

impl ModuleRangeSource {
    /// The harness's `--module-ranges` value.
    pub fn as_str(self) -> &'static str {
        match self {
            ModuleRangeSource::Hooks => "on",
            ModuleRangeSource::Engine => "engine",
            ModuleRangeSource::Off => "off",
        }
    }
}

/// How the hf engine runs: tensor-parallel ranks on this node, expert parallel over
/// them, and decode from a CUDA graph (default) or eager.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HfLayout {
    pub tp_size: u32,
    pub ep_size: u32,
    pub eager: bool,
}

impl HarnessCommand {
    pub fn argv(&self) -> Vec<String> {
        let path = |p: &Path| p.display().to_string();
        let mut argv = vec![
            path(&self.python),
            path(&self.script),
            "--engine".into(),
            self.engine.clone(),
            "--model-dir".into(),
            path(&self.model_dir),
            "--grid".into(),
            self.grid_spec.clone(),
            "--warmup".into(),
            self.warmup.to_string(),
            "--iters".into(),
            self.iters.to_string(),
            "--profile".into(),
            self.profile.map_or("none", Profile::as_str).into(),
            "--out".into(),
            path(&self.latency_out),
            "--server-args-file".into(),
            path(&self.server_args_file),
            "--rank-timeout".into(),
            self.rank_timeout_s.to_string(),
            "--module-ranges".into(),
            self.module_ranges.as_str().into(),
        ];
        if let Some(hf) = self.hf {
            argv.extend([
                "--tp-size".into(),
                hf.tp_size.to_string(),
                "--ep-size".into(),
                hf.ep_size.to_string(),
                "--decode".into(),
                if hf.eager { "eager" } else { "graph" }.into(),
            ]);
        }
        argv
    }
}

/// `nsys profile … <harness argv>`: CUDA + NVTX, graph kernels as nodes, child
/// processes (TP ranks) followed, recording only the harness's
/// cudaProfilerStart/Stop window (one window: the harness orders work phase-major).
pub fn nsys_profile_argv(nsys: &Path, report: &Path, harness: &[String]) -> Vec<String> {
    let mut argv = vec![
        nsys.display().to_string(),
        "profile".into(),
        "-t".into(),
        "cuda,nvtx".into(),
        "--cuda-graph-trace=node".into(),
        "--trace-fork-before-exec=true".into(),
        "--capture-range=cudaProfilerApi".into(),
        "--capture-range-end=stop".into(),
        "-s".into(),
        "none".into(),
        "--cpuctxsw=none".into(),
        "--force-overwrite=true".into(),
        "-o".into(),
        report.display().to_string(),
    ];
    argv.extend(harness.iter().cloned());
    argv
}

/// Shell-quotes an argument vector for display.
pub fn shell_words(argv: &[String]) -> String {
    argv.iter()
        .map(|a| {
            if !a.is_empty()
                && a.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_./=:,@+".contains(c))
            {
                a.clone()
            } else {
                format!("'{}'", a.replace('\'', "'\\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nsys_tool::nsys_export_argv;

    fn harness(profile: Option<Profile>) -> HarnessCommand {
        HarnessCommand {
            python: "python3".into(),
            script: "run/trace_harness.py".into(),
            engine: "hf".into(),
            model_dir: "run/model".into(),
            grid_spec: "1;128|4;512".into(),
            warmup: 2,
            iters: 3,
            profile,
            latency_out: "run/latency.jsonl".into(),
            server_args_file: "run/server_args.json".into(),
            rank_timeout_s: 600,
            module_ranges: ModuleRangeSource::Hooks,
            hf: Some(HfLayout {
                tp_size: 2,
                ep_size: 1,
                eager: false,
            }),
        }
    }

    #[test]
    fn harness_argv_for_each_profile_mode() {
        for (profile, want) in [
            (None, "none"),
            (Some(Profile::Prefill), "prefill"),
            (Some(Profile::Decode), "decode"),
            (Some(Profile::Both), "both"),
        ] {
            let argv = harness(profile).argv();
            let at = argv.iter().position(|a| a == "--profile").unwrap();
            assert_eq!(argv[at + 1], want);
        }
        assert_eq!(
            shell_words(&harness(None).argv()),
            "python3 run/trace_harness.py --engine hf --model-dir run/model --grid '1;128|4;512' --warmup 2 --iters 3 --profile none --out run/latency.jsonl --server-args-file run/server_args.json --rank-timeout 600 --module-ranges on --tp-size 2 --ep-size 1 --decode graph"
        );
    }

    #[test]
    fn nsys_wraps_the_harness_with_a_capture_range() {
        let argv = nsys_profile_argv(
            Path::new("/opt/nsys"),
            Path::new("r/report"),
            &harness(Some(Profile::Both)).argv(),
        );
        let text = shell_words(&argv);
        assert!(text.starts_with("/opt/nsys profile -t cuda,nvtx --cuda-graph-trace=node --trace-fork-before-exec=true --capture-range=cudaProfilerApi"), "{text}");
        assert!(
            text.contains("-o r/report python3 run/trace_harness.py"),
            "{text}"
        );
        let export = shell_words(&nsys_export_argv(
            Path::new("nsys"),
            Path::new("r.nsys-rep"),
            Path::new("r.sqlite"),
            crate::nsys_tool::ExportKind::Sqlite,
        ));
        assert!(
            export.starts_with("nsys export --type sqlite --tables '^StringIds$,")
                && export.ends_with("--force-overwrite true -o r.sqlite r.nsys-rep"),
            "{export}"
        );
    }
}
