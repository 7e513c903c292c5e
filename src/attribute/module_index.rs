//! The module ranges of one input, indexed so that a kernel's launch (thread,
//! time) — or, for a CUDA-graph node, the capture of that node — finds the
//! innermost model module that was open, and the category evidence of the
//! module chain above it.
//!
//! Invariants:
//! - A module id is an index into the ranges as given; lookups are exact for any
//!   set of closed ranges (the [`ThreadRanges`] index).
//! - A module's verdict is that of its OUTERMOST enclosing module that a rule
//!   matches (so an RMSNorm inside an attention block is attention); its layer is
//!   its own qualified name's, else its parent's.
//! - Graph node ids are per process (two ranks' graphs reuse the same ids), so
//!   nodes are keyed by (process, node), the process being the thread key's bits
//!   above 24 (nsys `globalTid >> 24`, Kineto `pid`).
//! - A graph node resolves through `originalGraphNodeId` links (a node cloned at
//!   instantiation points to the node created during stream capture) to the
//!   node's creation event; the module is the one open on the creating thread at
//!   that time. Every node that does not resolve says why ([`GraphMiss`]), so
//!   the fallback to names is counted, never silent.

use std::collections::HashMap;

use super::modules::{ModuleCategory, ModuleRules, ModuleText};
use super::ThreadRanges;
use crate::fast_hash::FastMap;
use crate::vocab::process_of;

/// One module range as an importer read it.
#[derive(Debug, Clone)]
pub struct ModuleRange {
    /// Thread key (nsys `globalTid`, Kineto `pid << 24 | tid`).
    pub thread: i64,
    pub start: i64,
    pub end: i64,
    /// The range text, `module:<qualified>:<Class>` or `nn.Module: <Class>_<n>`.
    pub text: String,
}

/// One CUDA-graph node creation event (nsys `CUDA_GRAPH_NODE_EVENTS`; Kineto: a
/// launch call during a stream capture, with a synthetic node id).
#[derive(Debug, Clone, Copy)]
pub struct GraphNodeEvent {
    pub node: i64,
    /// The node this one was cloned from, if any.
    pub original: Option<i64>,
    /// Thread key of the creating thread.
    pub thread: Option<i64>,
    pub start: i64,
}

/// What the index knows about one module range.
#[derive(Debug, Clone)]
pub struct ModuleInfo {
    pub qualified: String,
    pub class: String,
    pub layer: Option<i32>,
    /// Verdict of the outermost enclosing module a rule matches.
    pub verdict: Option<ModuleCategory>,
}

/// Why a CUDA-graph kernel has no capture-time module.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GraphMiss {
    /// The input has no node-creation events at all.
    NoNodeEvents,
    /// The node (or its original) has no creation event.
    UnknownNode,
    /// No module range was open when the node was created.
    NoModuleAtCapture,
    /// A Kineto replay matched no earlier capture of as many launches.
    NoCaptureMatch,
    /// A Kineto replay ran on several streams (its order need not be the capture's).
    MultiStreamReplay,
}

impl GraphMiss {
    /// The reason as the ingest summary counts it.
    pub fn reason(self) -> &'static str {
        match self {
            GraphMiss::NoNodeEvents => "CUDA-graph kernels categorised by name: the input has no graph-node creation events (nsys CUDA_GRAPH_NODE_EVENTS)",
            GraphMiss::UnknownNode => "CUDA-graph kernels categorised by name: their node has no creation event",
            GraphMiss::NoModuleAtCapture => "CUDA-graph kernels categorised by name: no module range was open when its node was captured",
            GraphMiss::NoCaptureMatch => "CUDA-graph kernels categorised by name: Kineto graph replay with no earlier capture of the same op count in the trace",
            GraphMiss::MultiStreamReplay => "CUDA-graph kernels categorised by name: Kineto graph replay over several streams (replay order need not be capture order)",
        }
    }
}

/// What each range is, `None` for texts that are not module ranges: each text parsed
/// once, one rule lookup per distinct (qualified name, class).
fn module_infos(ranges: &[ModuleRange], rules: &ModuleRules) -> Vec<Option<ModuleInfo>> {
    let parsed: Vec<Option<ModuleText>> =
        ranges.iter().map(|r| ModuleText::parse(&r.text)).collect();
    let children = children_by_parent(parsed.iter().flatten());
    let mut verdicts: HashMap<(&str, &str), Option<ModuleCategory>> = HashMap::new();
    parsed
        .iter()
        .map(|text| {
            let text = text.as_ref()?;
            let verdict = *verdicts
                .entry((text.qualified, text.class))
                .or_insert_with(|| {
                    let below = children.get(text.qualified).map_or(&[][..], Vec::as_slice);
                    rules.classify_with_children(text, below)
                });
            Some(ModuleInfo {
                qualified: text.qualified.to_string(),
                class: text.class.to_string(),
                layer: text.layer(),
                verdict,
            })
        })
        .collect()
}

/// Qualified name → the last segments of its direct children among the module
/// ranges (`model.layers.3.mlp` → `experts`, `gate`), for `holds:` rules. Only
/// qualified names that are paths count (PyTorch's `nn.Module` events have none).
fn children_by_parent<'a>(
    texts: impl Iterator<Item = &'a ModuleText<'a>>,
) -> HashMap<&'a str, Vec<String>> {
    let mut seen: std::collections::HashSet<&str> = std::collections::HashSet::new();
    let mut children: HashMap<&'a str, Vec<String>> = HashMap::new();
    for text in texts {
        if text.qualified.is_empty() || !seen.insert(text.qualified) {
            continue;
        }
        if let Some((parent, last)) = text.qualified.rsplit_once('.') {
            children.entry(parent).or_default().push(last.to_string());
        }
    }
    children
}

/// A graph node: (process, node id). Node ids are per process.
type NodeKey = (i64, i64);

/// Longest `originalGraphNodeId` chain followed (guards against cycles).
const MAX_CLONE_DEPTH: usize = 64;

/// The module ranges of one input, per thread, plus the graph-node map.
#[derive(Debug, Default)]
pub struct Modules {
    infos: Vec<ModuleInfo>,
    by_thread: FastMap<i64, ThreadRanges>,
    /// `None`: the input has no node-creation events.
    graph_nodes: Option<FastMap<NodeKey, Result<u32, GraphMiss>>>,
}

impl Modules {
    /// Indexes `ranges` (texts that are not module ranges are ignored) and maps
    /// every node of `graph_events` to its capture-time module.
    pub fn new(
        ranges: Vec<ModuleRange>,
        rules: &ModuleRules,
        graph_events: Option<Vec<GraphNodeEvent>>,
    ) -> Modules {
        let infos = module_infos(&ranges, rules);
        let (kept, mut infos): (Vec<ModuleRange>, Vec<ModuleInfo>) = ranges
            .into_iter()
            .zip(infos)
            .filter_map(|(range, info)| Some((range, info?)))
            .unzip();
        inherit_from_parents(&kept, &mut infos);
        let mut per_thread: HashMap<i64, Vec<(i64, i64, u32)>> = HashMap::new();
        for (id, r) in kept.iter().enumerate() {
            per_thread
                .entry(r.thread)
                .or_default()
                .push((r.start, r.end, id as u32));
        }
        let mut modules = Modules {
            infos,
            by_thread: per_thread
                .into_iter()
                .map(|(thread, list)| (thread, ThreadRanges::new(list)))
                .collect(),
            graph_nodes: None,
        };
        modules.graph_nodes = graph_events.map(|events| modules.map_graph_nodes(&events));
        modules
    }

    /// Number of module ranges indexed.
    pub fn len(&self) -> usize {
        self.infos.len()
    }

    /// True when the input has no module ranges.
    pub fn is_empty(&self) -> bool {
        self.infos.is_empty()
    }

    /// The innermost module open on `thread` at time `t`.
    pub fn at(&self, thread: i64, t: i64) -> Option<u32> {
        self.by_thread.get(&thread)?.innermost_at(t)
    }

    /// What the index knows about module `id`.
    pub fn info(&self, id: u32) -> Option<&ModuleInfo> {
        self.infos.get(id as usize)
    }

    /// The module open when CUDA-graph node `node` of the process of thread key
    /// `launcher` (the thread that replayed it) was captured.
    pub fn for_graph_node(&self, launcher: i64, node: i64) -> Result<u32, GraphMiss> {
        match &self.graph_nodes {
            None => Err(GraphMiss::NoNodeEvents),
            Some(map) => map
                .get(&(process_of(launcher), node))
                .copied()
                .unwrap_or(Err(GraphMiss::UnknownNode)),
        }
    }

    fn map_graph_nodes(
        &self,
        events: &[GraphNodeEvent],
    ) -> FastMap<NodeKey, Result<u32, GraphMiss>> {
        let mut original: HashMap<NodeKey, i64> = HashMap::new();
        let mut created: HashMap<NodeKey, (i64, i64)> = HashMap::new();
        for e in events {
            // A creation event without a thread cannot be placed in a process.
            let Some(thread) = e.thread else { continue };
            let key = (process_of(thread), e.node);
            match e.original {
                Some(from) if from != e.node => {
                    original.insert(key, from);
                }
                _ => {
                    let entry = created.entry(key).or_insert((thread, e.start));
                    if e.start < entry.1 {
                        *entry = (thread, e.start);
                    }
                }
            }
        }
        let resolve = |(process, mut node): NodeKey| -> Result<u32, GraphMiss> {
            for _ in 0..MAX_CLONE_DEPTH {
                match original.get(&(process, node)) {
                    Some(&from) => node = from,
                    None => break,
                }
            }
            let (thread, start) = created
                .get(&(process, node))
                .copied()
                .ok_or(GraphMiss::UnknownNode)?;
            self.at(thread, start).ok_or(GraphMiss::NoModuleAtCapture)
        };
        original
            .keys()
            .chain(created.keys())
            .map(|&key| (key, resolve(key)))
            .collect()
    }
}

/// Fills each module's verdict from its outermost matching ancestor and its
/// layer from its parent when its own name has none (per thread, stack sweep).
fn inherit_from_parents(ranges: &[ModuleRange], infos: &mut [ModuleInfo]) {
    let mut order: Vec<usize> = (0..ranges.len()).collect();
    order.sort_by_key(|&i| {
        let r = &ranges[i];
        (r.thread, r.start, std::cmp::Reverse(r.end), i)
    });
    let mut stack: Vec<usize> = Vec::new();
    let mut thread = None;
    for i in order {
        let r = &ranges[i];
        if thread != Some(r.thread) {
            thread = Some(r.thread);
            stack.clear();
        }
        while stack.last().is_some_and(|&p| ranges[p].end < r.start) {
            stack.pop();
        }
        if let Some(&parent) = stack.last() {
            let (verdict, layer) = (infos[parent].verdict, infos[parent].layer);
            let info = &mut infos[i];
            info.verdict = verdict.or(info.verdict);
            info.layer = info.layer.or(layer);
        }
        stack.push(i);
    }
}
