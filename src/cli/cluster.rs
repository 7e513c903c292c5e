//! `trace cluster scheduler|executor`: Ballista's processes from this binary, so a
//! cluster needs nothing else installed (see [`crate::cluster`]).

use crate::cluster::{self, ExecutorOptions};

/// Subcommands of `trace cluster`.
#[derive(Debug, clap::Subcommand)]
pub enum ClusterCommand {
    /// Run a scheduler (clients connect with `trace query --cluster df://HOST:PORT`).
    Scheduler {
        /// Port clients and executors connect to.
        #[arg(long, default_value_t = 50050)]
        port: u16,
        /// Address to listen on.
        #[arg(long, default_value = "0.0.0.0")]
        bind_host: String,
    },
    /// Run an executor that joins a scheduler; it must see the dataset at the same
    /// path as the clients.
    Executor {
        /// The scheduler, HOST:PORT.
        #[arg(long)]
        scheduler: String,
        /// Arrow Flight port (results are fetched from here).
        #[arg(long, default_value_t = 50051)]
        port: u16,
        /// gRPC port for the scheduler (default: --port + 1).
        #[arg(long)]
        grpc_port: Option<u16>,
        /// Address to listen on.
        #[arg(long, default_value = "0.0.0.0")]
        bind_host: String,
        /// Host name the scheduler and clients reach this executor at (default: the
        /// address the scheduler sees).
        #[arg(long)]
        external_host: Option<String>,
        /// Tasks run at once (default: all cores).
        #[arg(long)]
        concurrent_tasks: Option<usize>,
        /// Directory for shuffle files (default: a temporary directory).
        #[arg(long)]
        work_dir: Option<String>,
    },
}

/// Runs a `trace cluster` subcommand until the process is stopped.
pub fn run(command: ClusterCommand) -> anyhow::Result<()> {
    match command {
        ClusterCommand::Scheduler { port, bind_host } => {
            cluster::run_scheduler(&bind_host, port)?;
        }
        ClusterCommand::Executor {
            scheduler,
            port,
            grpc_port,
            bind_host,
            external_host,
            concurrent_tasks,
            work_dir,
        } => {
            let grpc_port = match grpc_port {
                Some(p) => p,
                None => port.checked_add(1).ok_or_else(|| {
                    crate::Error::Usage(format!("--port {port}: pass --grpc-port too"))
                })?,
            };
            cluster::run_executor(&ExecutorOptions {
                scheduler,
                bind_host,
                port,
                grpc_port,
                external_host,
                concurrent_tasks,
                work_dir,
            })?;
        }
    }
    Ok(())
}
