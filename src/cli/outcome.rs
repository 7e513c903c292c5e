//! How a command that ran to the end came out: what `main` turns into the exit code.

/// How a command that ran to the end came out, for `main`'s exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Exit 0.
    Success,
    /// `trace diff` found a regression beyond the gate: exit 1, nothing to print
    /// (the verdict is already on stdout or stderr).
    Regression,
    /// `trace doctor` found something missing for the purpose asked: exit 1 (the
    /// answer is already printed).
    Unready,
}
