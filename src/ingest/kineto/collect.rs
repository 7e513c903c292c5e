//! One streaming pass over a Kineto trace that keeps compact records: launches by
//! correlation id, kernels and memops with interned names, annotations,
//! PyTorch's `nn.Module` events (module evidence), and the CUDA-graph stream
//! captures (per capture: thread, end, the start of each launch call issued in
//! it; see [`super::graphs`]). The event stream itself is never held; what is
//! kept is a small fraction of the file.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::Arc;

use indicatif::ProgressBar;

use super::graphs::{self, ApiSpan, Capture};
use super::names::short_name;
use super::parse::{self, Event};
use crate::error::Result;
use crate::ingest::sanity;
use crate::ingest::survey::Survey;
use crate::vocab::thread_key;

/// Interns strings to dense ids; each also keeps its nsys-style short name.
#[derive(Default)]
pub struct Interner {
    ids: HashMap<String, u32>,
    values: Vec<(Arc<str>, Arc<str>)>,
}

impl Interner {
    fn id(&mut self, value: String) -> u32 {
        let value = sanity::cap_name(value);
        if let Some(id) = self.ids.get(&value) {
            return *id;
        }
        let id = self.values.len() as u32;
        let short: Arc<str> = Arc::from(short_name(&value));
        self.values.push((Arc::from(value.as_str()), short));
        self.ids.insert(value, id);
        id
    }

    /// The string of `id`.
    pub fn get(&self, id: u32) -> Arc<str> {
        self.values
            .get(id as usize)
            .map_or_else(|| Arc::from(""), |v| Arc::clone(&v.0))
    }

    /// Number of strings interned (ids are `0..len`).
    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// The short (base) name of the string `id`.
    pub fn short(&self, id: u32) -> Arc<str> {
        self.values
            .get(id as usize)
            .map_or_else(|| Arc::from(""), |v| Arc::clone(&v.1))
    }
}

/// A `cuda_runtime` / `cuda_driver` event with a correlation id.
pub struct ApiEvent {
    pub thread: i64,
    pub ts: i64,
    pub api: u32,
}

/// A kernel, memcpy or memset event.
pub struct GpuEvent {
    pub start: i64,
    pub end: i64,
    pub name: u32,
    pub correlation: Option<i64>,
    pub device: i32,
    pub stream: i64,
    pub grid: [i64; 3],
    pub block: [i64; 3],
    pub registers: i64,
    pub shared: i64,
    pub bytes: i64,
    pub is_memset: bool,
}

/// A `user_annotation` range.
pub struct Annotation {
    pub thread: i64,
    pub start: i64,
    pub end: i64,
    pub name: String,
}

/// Everything one trace contributes.
#[derive(Default)]
pub struct Collected {
    pub launches: HashMap<i64, ApiEvent>,
    pub apis: Interner,
    pub names: Interner,
    pub kernels: Vec<GpuEvent>,
    pub memops: Vec<GpuEvent>,
    pub annotations: Vec<Annotation>,
    /// PyTorch's own `nn.Module: <Class>_<n>` events (`python_function`).
    pub torch_modules: Vec<Annotation>,
    /// CUDA-graph stream captures, per thread in time order.
    pub captures: Vec<Capture>,
}

/// Reads `path` once into [`Collected`]; counts what it does not keep.
pub fn collect(
    path: &Path,
    survey: &mut Survey,
    progress: &ProgressBar,
) -> Result<(Collected, parse::TraceMeta)> {
    let mut c = Collected::default();
    let mut skipped: HashMap<&'static str, u64> = HashMap::new();
    // Fields of kept events by name: of a wrong type (skipped), or numbers as text.
    let mut wrong_type: BTreeMap<&'static str, u64> = BTreeMap::new();
    let mut from_text: BTreeMap<&'static str, u64> = BTreeMap::new();
    // Capture begin/end and launch calls: 32 bytes each, reduced to captures below.
    let mut capture_spans: Vec<ApiSpan> = Vec::new();
    let meta =
        parse::read(path, |event: Event| {
            progress.inc(1);
            let kept = matches!(
                event.cat.as_ref().map(String::as_str),
                Some(
                    "cuda_runtime"
                        | "cuda_driver"
                        | "kernel"
                        | "gpu_memcpy"
                        | "gpu_memset"
                        | "user_annotation"
                        | "python_function"
                )
            );
            if kept || event.cat.oddity().is_some() {
                // Only the fields this kind of event is read for.
                let gpu = matches!(
                    event.cat.as_ref().map(String::as_str),
                    Some("kernel" | "gpu_memcpy" | "gpu_memset")
                );
                let api = matches!(
                    event.cat.as_ref().map(String::as_str),
                    Some("cuda_runtime" | "cuda_driver")
                );
                let used = |field: &str| {
                    gpu || !field.starts_with("args")
                        || (api && matches!(field, "args" | "args.correlation"))
                };
                for (field, wrong) in event.oddities().filter(|(field, _)| used(field)) {
                    let counts = if wrong {
                        &mut wrong_type
                    } else {
                        &mut from_text
                    };
                    *counts.entry(field).or_default() += 1;
                }
            }
            let Event {
                ph,
                cat,
                name,
                pid,
                tid,
                ts,
                dur,
                args: _,
                arg: args,
            } = event;
            let (ph, cat, name) = (ph.get(), cat.get(), name.get());
            let (ts, dur) = (ts.get(), dur.get());
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
            // A GPU op or a range without a duration has no interval to store.
            let spans = matches!(
                cat.as_str(),
                "kernel" | "gpu_memcpy" | "gpu_memset" | "user_annotation" | "python_function"
            );
            if spans && dur.is_none() {
                *skipped
                    .entry("Kineto kernel, copy or range without a dur (not stored)")
                    .or_default() += 1;
                return;
            }
            let (start, end) = match sanity::kineto_times(ts, dur) {
                Ok(times) => times,
                Err(reason) => {
                    *skipped.entry(reason).or_default() += 1;
                    return;
                }
            };
            let pid = pid.as_int().unwrap_or(0);
            let tid = tid.as_int().unwrap_or(0);
            let correlation = args.correlation.get();
            match cat.as_str() {
                "cuda_runtime" | "cuda_driver" => {
                    if let Some(kind) = name.as_deref().and_then(graphs::capture_api) {
                        capture_spans.push(ApiSpan {
                            thread: thread_key(pid, tid),
                            start,
                            end,
                            kind,
                        });
                    }
                    if let Some(correlation) = correlation {
                        let api = c.apis.id(name.unwrap_or_default());
                        let launch = ApiEvent {
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
                    let rec = GpuEvent {
                        start,
                        end,
                        name: c.names.id(name.unwrap_or_default()),
                        correlation,
                        device: args.device.get().unwrap_or(pid) as i32,
                        stream: args.stream.get().unwrap_or(tid),
                        grid: args.grid.get().unwrap_or_default(),
                        block: args.block.get().unwrap_or_default(),
                        registers: args.registers.get().unwrap_or(0),
                        shared: args.shared_memory.get().unwrap_or(0),
                        bytes: args.bytes.get().unwrap_or(0),
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
                    c.torch_modules.push(Annotation {
                        thread: thread_key(pid, tid),
                        start,
                        end,
                        name: name.unwrap_or_default(),
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
    c.captures = graphs::captures(capture_spans);
    let mut reasons: Vec<_> = skipped.into_iter().collect();
    reasons.sort();
    for (reason, n) in reasons.into_iter().chain(meta.oddities.clone()) {
        survey.skip_n(reason, n);
    }
    for (field, n) in wrong_type {
        survey.skip_n(
            &format!("Kineto field `{field}` of an unexpected type (field skipped, event kept)"),
            n,
        );
    }
    for (field, n) in from_text {
        survey.skip_n(
            &format!("Kineto number `{field}` written as a string (read as the number)"),
            n,
        );
    }
    Ok((c, meta))
}
