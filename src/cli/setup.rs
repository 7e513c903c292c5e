//! Set-up commands: `trace init` (editable copies of the shipped files), `trace
//! doctor`, `trace completions` and `trace man`.

use std::io::Write;
use std::path::PathBuf;

use clap::CommandFactory;

use super::{Cli, Outcome};
use crate::doctor::{self, Purpose};
use crate::shipped;

/// Arguments of `trace init`.
#[derive(Debug, clap::Args)]
pub struct InitArgs {
    /// Folder to write conf/, model_conf/, queries/ and the demo traces into; run
    /// `trace` from there and it reads these copies instead of the shipped ones.
    #[arg(default_value = ".")]
    pub dir: PathBuf,
    /// Overwrite files that are already there (they are kept otherwise).
    #[arg(long)]
    pub force: bool,
}

/// Arguments of `trace doctor`.
#[derive(Debug, clap::Args)]
pub struct DoctorArgs {
    /// Exit 1 unless the machine is ready for this.
    #[arg(long = "for", value_enum, default_value_t = Purpose::Capture)]
    pub purpose: Purpose,
    /// Dataset root.
    #[arg(long, env = "TRACE_DATA", default_value = "results/parquet")]
    pub data: PathBuf,
    /// nsys binary (else $TRACE_NSYS, PATH, install dirs).
    #[arg(long)]
    pub nsys: Option<PathBuf>,
    /// Python interpreter capture would use.
    #[arg(long, default_value = "python3")]
    pub python: PathBuf,
}

/// Arguments of `trace completions`.
#[derive(Debug, clap::Args)]
pub struct CompletionsArgs {
    /// Shell to write completions for (to stdout).
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

/// Runs `trace init`.
pub fn init(args: InitArgs) -> anyhow::Result<()> {
    let (written, kept) = shipped::write_all(&args.dir, args.force)?;
    crate::say!(
        "wrote {} file(s) into {}{}",
        written.len(),
        args.dir.display(),
        if kept.is_empty() {
            String::new()
        } else {
            format!(
                "; kept {} already there (--force overwrites them)",
                kept.len()
            )
        }
    );
    crate::say!(
        "edit conf/*.yaml, model_conf/ and queries/*.sql there; run trace from {} to use them",
        args.dir.display()
    );
    Ok(())
}

/// Runs `trace doctor`: exit 1 when something needed for `--for` is missing.
pub fn doctor(args: DoctorArgs) -> anyhow::Result<Outcome> {
    let checks = doctor::checks(&doctor::Options {
        data: args.data,
        nsys: args.nsys,
        python: args.python,
    });
    let (text, ready) = doctor::render(&checks, args.purpose);
    let mut out = crate::console::stdout();
    out.write_all(text.as_bytes())?;
    out.flush()?;
    Ok(if ready {
        Outcome::Success
    } else {
        Outcome::Unready
    })
}

/// Runs `trace completions SHELL`.
pub fn completions(args: CompletionsArgs) -> anyhow::Result<()> {
    let mut out = crate::console::stdout();
    clap_complete::generate(args.shell, &mut Cli::command(), "trace", &mut out);
    out.flush()?;
    Ok(())
}

/// Runs `trace man`: the man page (roff) on stdout.
pub fn man() -> anyhow::Result<()> {
    let mut out = crate::console::stdout();
    clap_mangen::Man::new(Cli::command()).render(&mut out)?;
    out.flush()?;
    Ok(())
}
