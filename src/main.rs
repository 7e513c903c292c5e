//! `trace` binary: parse → run → exit code. The only place that prints an error.

use std::process::ExitCode;

use clap::Parser;
use sgl_trace::cli::{Cli, Outcome};

fn main() -> ExitCode {
    let cli = Cli::parse();
    match sgl_trace::cli::run(cli) {
        Ok(Outcome::Success) => ExitCode::SUCCESS,
        // A regression is an answer, not an error: the verdict is already printed.
        Ok(Outcome::Regression | Outcome::Unready) => ExitCode::from(1),
        // A closed pipe (`trace query … | head`) is not a failure, whatever error the
        // failed write became on its way up.
        Err(_) if sgl_trace::console::closed() => ExitCode::SUCCESS,
        Err(err) => {
            for cause in err.chain() {
                if let Some(io) = cause.downcast_ref::<std::io::Error>() {
                    if io.kind() == std::io::ErrorKind::BrokenPipe {
                        return ExitCode::SUCCESS;
                    }
                }
            }
            sgl_trace::say!("error: {err:#}");
            let code = err
                .chain()
                .find_map(|c| c.downcast_ref::<sgl_trace::Error>())
                .map_or(2, sgl_trace::Error::exit_code);
            ExitCode::from(code)
        }
    }
}
