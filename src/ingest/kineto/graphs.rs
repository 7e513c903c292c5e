//! CUDA-graph replays of a Kineto trace, matched to their stream captures by
//! sequence, so a replayed kernel gets the module open when its node was captured
//! (what nsys reads from `CUDA_GRAPH_NODE_EVENTS`, which Kineto does not record).
//!
//! What Kineto does record: each capture, as a `cudaStreamBeginCapture` ..
//! `cudaStreamEndCapture` span on the capturing thread with, inside it, the launch
//! API calls that became the graph's nodes (kernel launches, runtime and driver,
//! cooperative and `Ex` variants; `memcpy*Async`; `memset*Async`); and each replay,
//! as a `cudaGraphLaunch` whose correlation id every GPU op it ran shares. ROCm
//! traces record the same with HIP's twins (`hipStreamBeginCapture`,
//! `hipLaunchKernel`, `hipExtModuleLaunchKernel`, `hipGraphLaunch`, …), read alike.
//!
//! The match: a replay's ops (kernels and memops), ordered by start, are the nodes
//! of the latest capture of the same process that ended before the replay started
//! and issued exactly as many launches; the i-th op is the i-th launch. That holds
//! for a single-stream capture, whose graph is a chain (replay order is capture
//! order), so a replay whose ops ran on several streams matches nothing.
//!
//! Invariants:
//! - Every capture launch gets a synthetic node id, unique in the trace (so per
//!   process, as the module index keys nodes), and one [`GraphNodeEvent`] at the
//!   launch call's start on the capturing thread: the module index then treats it
//!   as an nsys node-creation event. The ids are internal (the `graph_node_id`
//!   column stays null for Kineto).
//! - A launch call nested in the span of the previous kept one on its thread (a
//!   runtime launch that calls a driver launch) is one node, counted once.
//! - Every replayed kernel gets a node or the reason it has none ([`GraphMiss`]),
//!   so the fallback to names is counted, never silent.

use std::collections::{BTreeSet, HashMap};

use crate::attribute::module_index::{GraphMiss, GraphNodeEvent};
use crate::vocab::process_of;

/// The CUDA API calls that matter for captures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CaptureApi {
    Begin,
    End,
    /// A call that adds a node when issued into a capturing stream.
    Launch,
}

/// True for the API that replays a graph (CUDA runtime or driver, or HIP's twin).
pub fn is_graph_launch(api: &str) -> bool {
    matches!(api, "cudaGraphLaunch" | "cuGraphLaunch" | "hipGraphLaunch")
}

/// What `api` (a `cuda_runtime` / `cuda_driver` event name) is to a capture.
pub fn capture_api(api: &str) -> Option<CaptureApi> {
    // CUPTI's versioned and per-thread-stream names: `cuMemcpyAsync_v2`, `…_ptsz`.
    let mut name = api;
    for suffix in ["_ptsz", "_ptds"] {
        name = name.strip_suffix(suffix).unwrap_or(name);
    }
    if let Some((head, version)) = name.rsplit_once("_v") {
        if !version.is_empty() && version.bytes().all(|b| b.is_ascii_digit()) {
            name = head;
        }
    }
    match name {
        "cudaStreamBeginCapture"
        | "cudaStreamBeginCaptureToGraph"
        | "cuStreamBeginCapture"
        | "cuStreamBeginCaptureToGraph"
        | "hipStreamBeginCapture"
        | "hipStreamBeginCaptureToGraph" => Some(CaptureApi::Begin),
        "cudaStreamEndCapture" | "cuStreamEndCapture" | "hipStreamEndCapture" => {
            Some(CaptureApi::End)
        }
        "cudaLaunchKernel"
        | "cudaLaunchKernelExC"
        | "cudaLaunchCooperativeKernel"
        | "cuLaunchKernel"
        | "cuLaunchKernelEx"
        | "cuLaunchCooperativeKernel"
        | "hipLaunchKernel"
        | "hipLaunchKernelExC"
        | "hipExtLaunchKernel"
        | "hipLaunchCooperativeKernel"
        | "hipModuleLaunchKernel"
        | "hipModuleLaunchCooperativeKernel"
        | "hipExtModuleLaunchKernel"
        | "hipHccModuleLaunchKernel"
        | "hipDrvLaunchKernelEx" => Some(CaptureApi::Launch),
        _ if [
            "cudaMemcpy",
            "cudaMemset",
            "cuMemcpy",
            "cuMemset",
            "hipMemcpy",
            "hipMemset",
        ]
        .iter()
        .any(|p| name.starts_with(p))
            && name.ends_with("Async") =>
        {
            Some(CaptureApi::Launch)
        }
        _ => None,
    }
}

/// One capture-relevant API call as collected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ApiSpan {
    /// Thread key (`pid << 24 | tid`).
    pub thread: i64,
    pub start: i64,
    pub end: i64,
    pub kind: CaptureApi,
}

/// One stream capture.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Capture {
    pub thread: i64,
    /// Start of the `BeginCapture` call.
    pub begin: i64,
    /// End of the `EndCapture` call.
    pub end: i64,
    /// Start of each launch call issued during the capture, in order.
    pub launches: Vec<i64>,
}

/// A capture being read: its launches so far and the span of the last kept one.
#[derive(Default)]
struct Open {
    begin: i64,
    launches: Vec<i64>,
    last: Option<(i64, i64)>,
}

/// The captures that `spans` (in any order) record, each Begin paired with the
/// next End on its thread; a Begin without an End is dropped.
pub fn captures(mut spans: Vec<ApiSpan>) -> Vec<Capture> {
    spans.sort_by_key(|s| (s.thread, s.start, std::cmp::Reverse(s.end)));
    let mut done = Vec::new();
    let mut open: Option<Open> = None;
    let mut thread = None;
    for s in spans {
        if thread != Some(s.thread) {
            thread = Some(s.thread);
            open = None;
        }
        match (s.kind, open.as_mut()) {
            (CaptureApi::Begin, _) => {
                open = Some(Open {
                    begin: s.start,
                    ..Open::default()
                })
            }
            (CaptureApi::End, Some(_)) => {
                if let Some(capture) = open.take() {
                    done.push(Capture {
                        thread: s.thread,
                        begin: capture.begin,
                        end: s.end,
                        launches: capture.launches,
                    });
                }
            }
            (CaptureApi::Launch, Some(capture)) => {
                let nested = capture
                    .last
                    .is_some_and(|(start, end)| start <= s.start && s.end <= end);
                if !nested {
                    capture.launches.push(s.start);
                    capture.last = Some((s.start, s.end));
                }
            }
            (CaptureApi::End | CaptureApi::Launch, None) => {}
        }
    }
    done
}

/// One GPU op of a replay.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Op {
    pub start: i64,
    pub stream: i64,
    /// Index of the kernel among the trace's kernels; `None` for a memop.
    pub kernel: Option<usize>,
}

/// One `cudaGraphLaunch` and the GPU ops with its correlation id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Replay {
    /// Thread key of the graph launch.
    pub thread: i64,
    pub start: i64,
    pub ops: Vec<Op>,
}

/// The synthetic graph nodes of a trace and each replayed kernel's node.
#[derive(Debug, Default)]
pub struct Matched {
    /// Kernel index → its node, or why its replay matched no capture.
    pub kernels: HashMap<usize, Result<i64, GraphMiss>>,
    /// One creation event per capture launch.
    pub nodes: Vec<GraphNodeEvent>,
    /// Indices (into the captures matched against) of the captures some replay used.
    pub used: BTreeSet<usize>,
}

/// Gives every capture launch a node and every replayed kernel the node of its op.
pub fn match_replays(captures: &[Capture], replays: Vec<Replay>) -> Matched {
    let mut matched = Matched::default();
    // (process, end, first node id, capture), sorted: one process's captures by end.
    let mut by_end: Vec<(i64, i64, i64, usize, &Capture)> = Vec::with_capacity(captures.len());
    let mut next_id = 1;
    for (index, capture) in captures.iter().enumerate() {
        by_end.push((
            process_of(capture.thread),
            capture.end,
            next_id,
            index,
            capture,
        ));
        for &start in &capture.launches {
            matched.nodes.push(GraphNodeEvent {
                node: next_id,
                original: None,
                thread: Some(capture.thread),
                start,
            });
            next_id += 1;
        }
    }
    by_end.sort_by_key(|&(process, end, id, ..)| (process, end, id));
    for mut replay in replays {
        replay.ops.sort_by_key(|op| op.start);
        let process = process_of(replay.thread);
        let single_stream = replay.ops.windows(2).all(|w| w[0].stream == w[1].stream);
        let found = if single_stream {
            let before =
                by_end.partition_point(|&(p, end, ..)| (p, end) <= (process, replay.start));
            by_end[..before]
                .iter()
                .rev()
                .take_while(|&&(p, ..)| p == process)
                .find(|(.., c)| c.launches.len() == replay.ops.len())
                .map(|&(_, _, first, index, _)| {
                    matched.used.insert(index);
                    first
                })
                .ok_or(GraphMiss::NoCaptureMatch)
        } else {
            Err(GraphMiss::MultiStreamReplay)
        };
        for (i, op) in replay.ops.iter().enumerate() {
            if let Some(kernel) = op.kernel {
                matched
                    .kernels
                    .insert(kernel, found.map(|first| first + i as i64));
            }
        }
    }
    matched
}

#[cfg(test)]
#[path = "graphs_tests.rs"]
mod tests;
