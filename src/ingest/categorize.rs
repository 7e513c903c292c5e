//! One kernel's category, the same for every importer: the launching module
//! (live at launch, or at capture for a CUDA-graph node) through
//! `conf/modules.yaml`, then the name rules, with the precedence of
//! [`crate::attribute::modules::decide`].
//!
//! Invariant: a graph kernel never takes the module open at its `cudaGraphLaunch`
//! (that is the replay site, not the code that issued the kernel); when its
//! capture-time module is unknown it falls back to names and the reason is
//! counted in [`Fallbacks`] — but only for inputs that have module ranges at all
//! (an input without them is categorised by name throughout, said once).

use std::collections::BTreeMap;

use crate::attribute::module_index::{GraphMiss, Modules};
use crate::attribute::modules::{decide, Source};

/// Counted fallbacks to names, by reason.
pub type Fallbacks = BTreeMap<&'static str, u64>;

/// How a kernel was launched, as far as module lookup cares.
#[derive(Debug, Clone, Copy)]
pub enum LaunchSite {
    /// A direct launch by `thread` at API start `t`.
    Live { thread: i64, t: i64 },
    /// A CUDA-graph node (or why the input cannot name it), replayed by
    /// `launcher` (the thread key of the graph launch, when known).
    Graph {
        node: Result<i64, GraphMiss>,
        launcher: Option<i64>,
    },
    /// No launching API call matched.
    Unknown,
}

/// A kernel's category, its source and its module (an id of [`Modules`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Categorized {
    pub category: &'static str,
    pub source: Source,
    /// The category the kernel-name rules alone give (`kernels.name_category`).
    pub by_name: &'static str,
    pub module: Option<u32>,
}

/// Categorises one kernel whose name rules said `by_name`.
pub fn categorize(
    modules: &Modules,
    site: LaunchSite,
    by_name: &'static str,
    fallbacks: &mut Fallbacks,
) -> Categorized {
    let id = match site {
        LaunchSite::Live { thread, t } => modules.at(thread, t),
        LaunchSite::Graph { node, launcher } if !modules.is_empty() => {
            let found = node.and_then(|node| match launcher {
                Some(launcher) => modules.for_graph_node(launcher, node),
                None => Err(GraphMiss::UnknownNode),
            });
            found
                .map_err(|miss| *fallbacks.entry(miss.reason()).or_default() += 1)
                .ok()
        }
        LaunchSite::Graph { .. } | LaunchSite::Unknown => None,
    };
    let verdict = id.and_then(|id| modules.info(id)).and_then(|m| m.verdict);
    let (category, source) = decide(verdict, by_name);
    Categorized {
        category,
        source,
        by_name,
        module: id,
    }
}
