//! Attribution: which forward step and which kernel category a GPU activity belongs to.
//!
//! Everything here is pure (no I/O, no SQL): the importers feed rows in and get
//! labels and categories out, so the logic can be tested on hand-built cases and
//! property-tested against brute force.
//!
//! - [`label`]: parse the harness's NVTX label convention.
//! - [`engine_steps`]: SGLang's and vLLM's own step markers as labels.
//! - [`step`]: the label and refusal types both parsers build.
//! - [`ranges`]: innermost enclosing range on a thread at a time point.
//! - [`rules`]: ordered first-match regex categories (`conf/kernels.yaml`).
//! - [`intervals`]: streaming interval unions for busy / overlap / idle time.
//! - [`modules`]: module range text, layer index, module-class rules
//!   (`conf/modules.yaml`) and the module-vs-name precedence.
//! - [`module_index`]: per-thread innermost module at a launch, and CUDA-graph
//!   node → capture-time module.

pub mod engine_steps;
pub mod intervals;
pub mod label;
pub mod module_index;
#[cfg(test)]
mod module_index_tests;
pub mod modules;
#[cfg(test)]
mod modules_tests;
pub mod ranges;
pub mod rules;
pub mod step;

pub use label::Label;
pub use ranges::ThreadRanges;
pub use rules::Rules;
