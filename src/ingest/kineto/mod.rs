//! The PyTorch-profiler (Kineto) importer: chrome traces from SGLang's
//! `/start_profile`, `bench_one_batch --profile`, vLLM, fill the same tables as an
//! nsys export.
//!
//! Attribution is the nsys rule in Kineto terms: kernel → `cuda_runtime` /
//! `cuda_driver` event with the same `correlation` → innermost enclosing
//! `user_annotation` on that thread whose name follows the label convention.
//! Graph-replayed kernels share their `cudaGraphLaunch`'s correlation. When no
//! label exists, SGLang's stage suffix in the file name (`-EXTEND`, `-DECODE`)
//! fills `phase` alone.
//!
//! Memory: the event stream is never held; per file we keep compact records
//! (launches by correlation, kernels and memops with interned names, annotations),
//! a small fraction of the file's size, then sort kernels by start and write.

mod parse;

use std::collections::HashMap;
use std::path::Path;

use indicatif::ProgressBar;

use super::nsys::gpu_ops::append_step;
use super::nsys::meta::ExportFacts;
use super::stats::{KernelStats, MemopStats};
use super::steps::{StepRange, Steps};
use super::{sanity, Survey};
use crate::attribute::module_index::{ModuleRange, Modules};
use crate::attribute::rules::CategoryCache;
use crate::attribute::{Label, Rules};
use crate::dataset::schema::{KernelsBuilder, MemopsBuilder, NvtxBuilder};
use crate::dataset::TableWriter;
use crate::error::Result;
use crate::ingest::categorize::{append_module_columns, categorize, LaunchSite};
use parse::Event;

/// Thread key as used by [`Steps`]: `pid << 24 | tid` (so `nsys::pid_of` works).
fn thread_key(pid: i64, tid: i64) -> i64 {
    (pid << 24) | (tid & 0xFF_FFFF)
}

/// Interns strings to dense ids.
#[derive(Default)]
struct Interner {
    ids: HashMap<String, u32>,
    values: Vec<String>,
}

impl Interner {
    fn id(&mut self, value: String) -> u32 {
        let value = crate::ingest::sanity::cap_name(value);
        if let Some(id) = self.ids.get(&value) {
            return *id;
        }
        let id = self.values.len() as u32;
        self.values.push(value.clone());
        self.ids.insert(value, id);
        id
    }

    fn get(&self, id: u32) -> &str {
        self.values.get(id as usize).map_or("", String::as_str)
    }
}

struct Launch {
    thread: i64,
    ts: i64,
    api: u32,
}

struct GpuRec {
    start: i64,
    end: i64,
    name: u32,
    correlation: Option<i64>,
    device: i32,
    stream: i64,
    grid: [i64; 3],
    block: [i64; 3],
    registers: i64,
    shared: i64,
    bytes: i64,
    is_memset: bool,
}

struct Annotation {
    thread: i64,
    start: i64,
    end: i64,
    name: String,
}

#[derive(Default)]
struct Collected {
    launches: HashMap<i64, Launch>,
    apis: Interner,
    names: Interner,
    kernels: Vec<GpuRec>,
    memops: Vec<GpuRec>,
    annotations: Vec<Annotation>,
    /// PyTorch's own `nn.Module: <Class>_<n>` events (`python_function`).
    torch_modules: Vec<ModuleRange>,
}

/// Base kernel name from a demangled one, like nsys `shortName`:
/// `void at::native::foo<8>(int)` → `foo`.
pub fn short_name(demangled: &str) -> &str {
    let name = demangled.strip_prefix("void ").unwrap_or(demangled);
    let mut end = name.len();
    let bytes = name.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'(' if name[i..].starts_with("(anonymous namespace)") => {
                i += "(anonymous namespace)".len() - 1
            }
            b'<' | b'(' => {
                end = i;
                break;
            }
            _ => {}
        }
        i += 1;
    }
    let head = &name[..end];
    head.rsplit("::").next().unwrap_or(head)
}

fn phase_from_file_name(path: &Path) -> Option<&'static str> {
    let name = path.file_name()?.to_string_lossy().to_uppercase();
    if name.contains("-EXTEND") || name.contains("-PREFILL") {
        Some("prefill")
    } else if name.contains("-DECODE") {
        Some("decode")
    } else {
        None
    }
}

/// Rank from the file name: `-TP-<r>` or `rank<r>`.
pub fn rank_from_file_name(path: &Path) -> Option<i64> {
    let name = path.file_name()?.to_string_lossy().to_string();
    let digits = |s: &str| -> Option<i64> {
        let d: String = s.chars().take_while(char::is_ascii_digit).collect();
        d.parse().ok()
    };
    if let Some(at) = name.find("-TP-") {
        return digits(&name[at + 4..]);
    }
    let lower = name.to_lowercase();
    lower.find("rank").and_then(|at| digits(&lower[at + 4..]))
}

fn collect(
    path: &Path,
    survey: &mut Survey,
    progress: &ProgressBar,
) -> Result<(Collected, parse::TraceMeta)> {
    let mut c = Collected::default();
    let mut skipped: HashMap<&'static str, u64> = HashMap::new();
    let meta =
        parse::read(path, |event: Event| {
            progress.inc(1);
            let Event {
                ph,
                cat,
                name,
                pid,
                tid,
                ts,
                dur,
                args,
            } = event;
            if ph.as_deref() != Some("X") {
                *skipped
                    .entry("Kineto non-duration event (metadata, flow arrow)")
                    .or_default() += 1;
                return;
            }
            let (Some(ts), Some(cat)) = (ts, cat) else {
                *skipped.entry("Kineto event without ts or cat").or_default() += 1;
                return;
            };
            let (start, end) = match sanity::kineto_times(ts, dur) {
                Ok(times) => times,
                Err(reason) => {
                    *skipped.entry(reason).or_default() += 1;
                    return;
                }
            };
            let pid = pid.and_then(|p| p.as_int()).unwrap_or(0);
            let tid = tid.and_then(|t| t.as_int()).unwrap_or(0);
            let args = args.unwrap_or_default();
            match cat.as_str() {
                "cuda_runtime" | "cuda_driver" => {
                    if let Some(correlation) = args.correlation {
                        let api = c.apis.id(name.unwrap_or_default());
                        let launch = Launch {
                            thread: thread_key(pid, tid),
                            ts: start,
                            api,
                        };
                        if c.launches.insert(correlation, launch).is_some() {
                            *skipped
                                .entry("CUDA API event repeating a correlation id (kept the last)")
                                .or_default() += 1;
                        }
                    }
                }
                "kernel" | "gpu_memcpy" | "gpu_memset" => {
                    let rec = GpuRec {
                        start,
                        end,
                        name: c.names.id(name.unwrap_or_default()),
                        correlation: args.correlation,
                        device: args.device.unwrap_or(pid) as i32,
                        stream: args.stream.unwrap_or(tid),
                        grid: args.grid.unwrap_or_default(),
                        block: args.block.unwrap_or_default(),
                        registers: args.registers.unwrap_or(0),
                        shared: args.shared_memory.unwrap_or(0),
                        bytes: args.bytes.unwrap_or(0),
                        is_memset: cat == "gpu_memset",
                    };
                    if cat == "kernel" {
                        c.kernels.push(rec);
                    } else {
                        c.memops.push(rec);
                    }
                }
                "user_annotation" => c.annotations.push(Annotation {
                    thread: thread_key(pid, tid),
                    start,
                    end,
                    name: name.unwrap_or_default(),
                }),
                "python_function"
                    if name
                        .as_deref()
                        .is_some_and(|n| n.starts_with("nn.Module: ")) =>
                {
                    c.torch_modules.push(ModuleRange {
                        thread: thread_key(pid, tid),
                        start,
                        end,
                        text: name.unwrap_or_default(),
                    })
                }
                "cpu_op" => {
                    *skipped
                        .entry("PyTorch cpu_op event (operators are not stored)")
                        .or_default() += 1
                }
                _ => *skipped
                    .entry(
                        "Kineto event of another category (overhead, gpu_user_annotation, python)",
                    )
                    .or_default() += 1,
            }
        })?;
    let mut reasons: Vec<_> = skipped.into_iter().collect();
    reasons.sort();
    for (reason, n) in reasons {
        *survey.skipped.entry(reason.to_string()).or_default() += n;
    }
    Ok((c, meta))
}

/// The module ranges of a trace: the harness's `module:` annotations when there
/// are any (they carry qualified names), else PyTorch's `nn.Module` events.
fn kineto_modules(c: &mut Collected, rules: &Rules) -> Modules {
    let harness: Vec<ModuleRange> = c
        .annotations
        .iter()
        .filter(|a| a.name.starts_with("module:"))
        .map(|a| ModuleRange {
            thread: a.thread,
            start: a.start,
            end: a.end,
            text: a.name.clone(),
        })
        .collect();
    let ranges = if harness.is_empty() {
        std::mem::take(&mut c.torch_modules)
    } else {
        harness
    };
    Modules::new(ranges, &rules.modules, None)
}

/// What one Kineto file contributed.
pub struct Imported {
    pub kernels: KernelStats,
    pub steps: Steps,
    pub memops: MemopStats,
    pub memop_rows: u64,
    pub nvtx_rows: u64,
    pub facts: ExportFacts,
    pub rank: Option<i64>,
    pub trace_id: Option<String>,
}

/// Writers for the three per-file tables.
pub struct Outputs<'a> {
    pub kernels: &'a mut TableWriter<KernelsBuilder>,
    pub memops: &'a mut TableWriter<MemopsBuilder>,
    pub nvtx: &'a mut TableWriter<NvtxBuilder>,
}

/// Imports one Kineto trace; `base` is the first step id.
pub fn import(
    path: &Path,
    base: i64,
    rules: &Rules,
    out: Outputs,
    survey: &mut Survey,
    progress: &ProgressBar,
) -> Result<Imported> {
    let (mut c, meta) = collect(path, survey, progress)?;
    if c.kernels.is_empty() {
        survey.warn(format!(
            "{}: the trace has no GPU kernels (was the profiler run with CUDA activities?)",
            path.display()
        ));
    }

    // Steps, and the nvtx table from every annotation (depth per thread).
    c.annotations.sort_by(|a, b| {
        (a.thread, a.start, std::cmp::Reverse(a.end)).cmp(&(
            b.thread,
            b.start,
            std::cmp::Reverse(b.end),
        ))
    });
    let mut ranges = Vec::new();
    let mut open_ends: Vec<i64> = Vec::new();
    let mut current = None;
    for a in &c.annotations {
        if current != Some(a.thread) {
            current = Some(a.thread);
            open_ends.clear();
        }
        while open_ends.last().is_some_and(|&e| e <= a.start) {
            open_ends.pop();
        }
        let depth = open_ends.len() as i32;
        open_ends.push(a.end);
        let label = match Label::check(&a.name) {
            Ok(label) => label,
            Err(refusal) => {
                survey.skip(refusal.reason());
                None
            }
        };
        let step = label.map(|label| {
            ranges.push(StepRange {
                label,
                thread: a.thread,
                start: a.start,
                end: a.end,
            });
            base + ranges.len() as i64 - 1
        });
        let r = &mut out.nvtx.rows;
        r.pid.append_value(a.thread >> 24);
        r.tid.append_value(a.thread & 0xFF_FFFF);
        r.start_ns.append_value(a.start);
        r.end_ns.append_value(a.end);
        r.dur_ns.append_value(a.end - a.start);
        r.kind.append_value("annotation");
        r.text.append_value(&a.name);
        r.domain_id.append_null();
        r.depth.append_value(depth);
        r.step.append_option(step);
        out.nvtx.row_done()?;
    }
    let steps = Steps::new(base, ranges);
    let modules = kineto_modules(&mut c, rules);
    let fallback_phase = if steps.ranges.is_empty() {
        phase_from_file_name(path)
    } else {
        None
    };

    let attribute = |rec: &GpuRec| -> (Option<&Launch>, Option<i64>) {
        let launch = rec.correlation.and_then(|corr| c.launches.get(&corr));
        let step = launch.and_then(|l| steps.lookup(l.thread, l.ts));
        (launch, step)
    };

    let mut stats = KernelStats {
        module_ranges: modules.len() as u64,
        ..KernelStats::default()
    };
    let mut categories = CategoryCache::default();
    let mut order: Vec<usize> = (0..c.kernels.len()).collect();
    order.sort_by_key(|&i| (c.kernels[i].start, i));
    for i in order {
        let k = &c.kernels[i];
        let (launch, step) = attribute(k);
        let demangled = c.names.get(k.name);
        let short = short_name(demangled);
        let by_name = categories.get(rules, (i64::from(k.name), 0), || {
            Ok((short.to_string(), demangled.to_string()))
        })?;
        let api = launch.map(|l| c.apis.get(l.api));
        let graph = api == Some("cudaGraphLaunch") || api == Some("cuGraphLaunch");
        // Kineto records no graph-node creation: replayed kernels fall back to
        // names (counted).
        let site = match launch {
            Some(_) if graph => LaunchSite::Graph { node: None },
            Some(l) => LaunchSite::Live {
                thread: l.thread,
                t: l.ts,
            },
            None => LaunchSite::Unknown,
        };
        let categorized = categorize(&modules, site, by_name, &mut stats.fallbacks);
        let category = categorized.category;
        stats.record(category, step, k.device, (k.start, k.end), graph);
        stats.record_source(categorized.source, category, k.end - k.start, || {
            short.to_string()
        });
        let r = &mut out.kernels.rows;
        r.device.append_value(k.device);
        r.pid.append_value(launch.map_or(0, |l| l.thread >> 24));
        r.tid.append_option(launch.map(|l| l.thread & 0xFF_FFFF));
        r.stream.append_value(k.stream);
        r.correlation_id.append_option(k.correlation);
        r.start_ns.append_value(k.start);
        r.end_ns.append_value(k.end);
        r.dur_ns.append_value(k.end - k.start);
        r.name.append_value(short);
        r.demangled.append_value(demangled);
        r.category.append_value(category);
        append_module_columns(
            &categorized,
            (
                &mut r.category_source,
                &mut r.module,
                &mut r.module_class,
                &mut r.layer,
            ),
        );
        r.launch
            .append_value(if graph { "graph" } else { "kernel" });
        r.api.append_option(api);
        r.graph_node_id.append_null();
        for (builder, v) in [
            (&mut r.grid_x, k.grid[0]),
            (&mut r.grid_y, k.grid[1]),
            (&mut r.grid_z, k.grid[2]),
        ] {
            builder.append_value(v as i32);
        }
        for (builder, v) in [
            (&mut r.block_x, k.block[0]),
            (&mut r.block_y, k.block[1]),
            (&mut r.block_z, k.block[2]),
        ] {
            builder.append_value(v as i32);
        }
        r.registers.append_value(k.registers as i32);
        r.shared_static_bytes.append_value(0);
        r.shared_dynamic_bytes.append_value(k.shared as i32);
        append_step(
            &steps,
            step,
            fallback_phase,
            (
                &mut r.step,
                &mut r.phase,
                &mut r.bsz,
                &mut r.seq,
                &mut r.iter,
            ),
        );
        out.kernels.row_done()?;
    }

    let mut memop_steps = MemopStats::new();
    c.memops.sort_by_key(|m| m.start);
    for m in &c.memops {
        let (launch, step) = attribute(m);
        if let Some(step) = step {
            *memop_steps.entry(step).or_default() += 1;
        }
        let name = c.names.get(m.name);
        let code = name
            .strip_prefix("Memcpy ")
            .and_then(|s| s.split_whitespace().next())
            .unwrap_or("Unknown");
        let r = &mut out.memops.rows;
        r.device.append_value(m.device);
        r.pid.append_value(launch.map_or(0, |l| l.thread >> 24));
        r.tid.append_option(launch.map(|l| l.thread & 0xFF_FFFF));
        r.stream.append_value(m.stream);
        r.correlation_id.append_option(m.correlation);
        r.start_ns.append_value(m.start);
        r.end_ns.append_value(m.end);
        r.dur_ns.append_value(m.end - m.start);
        r.kind
            .append_value(if m.is_memset { "memset" } else { "memcpy" });
        r.copy_kind.append_option((!m.is_memset).then_some(code));
        r.bytes.append_value(m.bytes);
        r.name.append_value(name);
        r.launch.append_value("api");
        r.api.append_option(launch.map(|l| c.apis.get(l.api)));
        append_step(
            &steps,
            step,
            fallback_phase,
            (
                &mut r.step,
                &mut r.phase,
                &mut r.bsz,
                &mut r.seq,
                &mut r.iter,
            ),
        );
        out.memops.row_done()?;
    }

    let used: Vec<String> = meta
        .devices
        .iter()
        .filter(|d| d.id.is_some_and(|id| stats.devices.contains(&(id as i32))))
        .filter_map(|d| d.name.clone())
        .collect();
    let facts = ExportFacts {
        nsys_version: None,
        schema_version: meta.schema_version.clone(),
        gpu_names: used.into_iter().collect(),
        host_gpus: Some(meta.devices.len() as i32),
        cuda_driver_version: meta.cuda_driver_version.clone(),
        cuda_graph_trace: None,
    };
    Ok(Imported {
        kernels: stats,
        memops: memop_steps,
        memop_rows: c.memops.len() as u64,
        nvtx_rows: c.annotations.len() as u64,
        steps,
        facts,
        rank: meta
            .distributed
            .and_then(|d| d.rank)
            .or_else(|| rank_from_file_name(path)),
        trace_id: meta.trace_id,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_names_match_nsys_style() {
        assert_eq!(short_name("void at::native::vectorized_elementwise_kernel<8, at::native::FillFunctor<c10::BFloat16>, std::array<char*, 1ul> >(int, at::native::FillFunctor<c10::BFloat16>, std::array<char*, 1ul>)"), "vectorized_elementwise_kernel");
        assert_eq!(
            short_name(
                "ncclDevKernel_AllReduce_Sum_bf16_RING_LL(ncclDevKernelArgsStorage<4096ul>)"
            ),
            "ncclDevKernel_AllReduce_Sum_bf16_RING_LL"
        );
        assert_eq!(short_name("void at::native::(anonymous namespace)::indexSelectSmallIndex<c10::BFloat16, long>(int)"), "indexSelectSmallIndex");
        assert_eq!(
            short_name("nvjet_sm90_tst_64x8_64x16_4x1_v_bz_TNT"),
            "nvjet_sm90_tst_64x8_64x16_4x1_v_bz_TNT"
        );
    }

    #[test]
    fn rank_and_phase_from_file_names() {
        assert_eq!(
            rank_from_file_name(Path::new("x-TP-3-EXTEND.trace.json.gz")),
            Some(3)
        );
        assert_eq!(
            rank_from_file_name(Path::new("tp2_rank1.kineto.json.gz")),
            Some(1)
        );
        assert_eq!(rank_from_file_name(Path::new("trace.json")), None);
        assert_eq!(
            phase_from_file_name(Path::new("x-TP-3-EXTEND.trace.json.gz")),
            Some("prefill")
        );
        assert_eq!(
            phase_from_file_name(Path::new("x-TP-0-DECODE.trace.json.gz")),
            Some("decode")
        );
    }
}
