//! Queries on a cluster: Apache DataFusion Ballista's scheduler and executor started
//! from this binary (`trace cluster scheduler|executor`), and the remote session
//! `trace query --cluster df://HOST:PORT` plans on, so the same SQL runs on the same
//! tables whether local or distributed.
//!
//! Invariants: the cluster path registers the dataset exactly as the local engine
//! does ([`crate::query::session`]), so its answers print identically; every executor
//! must see the dataset at the same absolute path as the client (a shared
//! filesystem), since listing tables travel as paths. Built only with the `cluster`
//! cargo feature; without it every entry point is a usage error saying how to get it.

#[cfg(not(feature = "cluster"))]
use crate::error::{Error, Result};

/// Where an executor listens and which scheduler it joins.
#[derive(Debug, Clone)]
pub struct ExecutorOptions {
    /// The scheduler, `HOST:PORT`.
    pub scheduler: String,
    pub bind_host: String,
    /// Arrow Flight port (results are fetched here).
    pub port: u16,
    /// gRPC port (the scheduler talks to the executor here).
    pub grpc_port: u16,
    /// Host name other processes reach this executor at (default: what the
    /// scheduler sees).
    pub external_host: Option<String>,
    /// Tasks run at once (default: all cores).
    pub concurrent_tasks: Option<usize>,
    /// Shuffle files (default: a temporary directory).
    pub work_dir: Option<String>,
}

#[cfg(not(feature = "cluster"))]
fn not_built() -> Error {
    Error::Usage(
        "this trace was built without Ballista; rebuild with `cargo build --release --features cluster` \
         (or `cargo install --path . --features cluster`)"
            .into(),
    )
}

/// Runs a Ballista scheduler on `bind_host:port` until the process is stopped.
#[cfg(not(feature = "cluster"))]
pub fn run_scheduler(_bind_host: &str, _port: u16) -> Result<()> {
    Err(not_built())
}

/// Runs a Ballista executor until the process is stopped.
#[cfg(not(feature = "cluster"))]
pub fn run_executor(_options: &ExecutorOptions) -> Result<()> {
    Err(not_built())
}

/// A session whose queries run on the cluster at `url` (`df://HOST:PORT`).
#[cfg(not(feature = "cluster"))]
pub async fn remote_context(_url: &str) -> Result<datafusion::prelude::SessionContext> {
    Err(not_built())
}

#[cfg(feature = "cluster")]
pub use enabled::{remote_context, run_executor, run_scheduler};

#[cfg(feature = "cluster")]
mod enabled {
    use std::net::SocketAddr;
    use std::sync::Arc;

    use ballista::prelude::{SessionConfigExt, SessionContextExt};
    use ballista_executor::executor_process::{start_executor_process, ExecutorProcessConfig};
    use ballista_scheduler::cluster::BallistaCluster;
    use ballista_scheduler::config::SchedulerConfig;
    use ballista_scheduler::scheduler_process::start_server;
    use datafusion::execution::SessionStateBuilder;
    use datafusion::prelude::{SessionConfig, SessionContext};

    use super::ExecutorOptions;
    use crate::error::{Error, Result};

    fn cluster_error(what: &str, e: impl std::fmt::Display) -> Error {
        Error::Tool(format!("{what}: {e}"))
    }

    fn runtime() -> Result<tokio::runtime::Runtime> {
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            // Ballista's planner recurses deeply on large plans (its own binaries
            // use 32 MiB stacks too).
            .thread_stack_size(32 * 1024 * 1024)
            .build()
            .map_err(|e| cluster_error("starting the runtime", e))
    }

    pub fn run_scheduler(bind_host: &str, port: u16) -> Result<()> {
        let addr: SocketAddr = format!("{bind_host}:{port}")
            .parse()
            .map_err(|e| Error::Usage(format!("--bind-host {bind_host} --port {port}: {e}")))?;
        let config = SchedulerConfig {
            bind_host: bind_host.to_string(),
            bind_port: port,
            ..SchedulerConfig::default()
        };
        runtime()?.block_on(async move {
            let cluster = BallistaCluster::new_from_config(&config)
                .await
                .map_err(|e| cluster_error("starting the scheduler", e))?;
            crate::say!(
                "trace cluster scheduler: listening on {addr} (Ballista {})",
                ballista_version()
            );
            start_server(cluster, addr, Arc::new(config))
                .await
                .map_err(|e| cluster_error(&format!("scheduler on {addr}"), e))
        })
    }

    pub fn run_executor(options: &ExecutorOptions) -> Result<()> {
        let (host, port) = options.scheduler.rsplit_once(':').ok_or_else(|| {
            Error::Usage(format!(
                "--scheduler {:?}: expected HOST:PORT",
                options.scheduler
            ))
        })?;
        let scheduler_port: u16 = port.parse().map_err(|_| {
            Error::Usage(format!(
                "--scheduler {:?}: the port is not a number",
                options.scheduler
            ))
        })?;
        let mut config = ExecutorProcessConfig {
            bind_host: options.bind_host.clone(),
            port: options.port,
            grpc_port: options.grpc_port,
            external_host: options.external_host.clone(),
            scheduler_host: host.to_string(),
            scheduler_port,
            work_dir: options.work_dir.clone(),
            // Wait for a scheduler that is still starting.
            scheduler_connect_timeout_seconds: 60,
            ..ExecutorProcessConfig::default()
        };
        if let Some(n) = options.concurrent_tasks {
            config.vcores = n.max(1);
        }
        crate::say!(
            "trace cluster executor: flight {}:{}, grpc {}, scheduler {}",
            options.bind_host,
            options.port,
            options.grpc_port,
            options.scheduler
        );
        runtime()?.block_on(async move {
            start_executor_process(Arc::new(config))
                .await
                .map_err(|e| cluster_error("executor", e))
        })
    }

    pub async fn remote_context(url: &str) -> Result<SessionContext> {
        let config = SessionConfig::new_with_ballista().with_information_schema(true);
        let state = SessionStateBuilder::new()
            .with_config(config)
            .with_default_features()
            .build();
        SessionContext::remote_with_state(url, state)
            .await
            .map_err(|e| {
                Error::Usage(format!(
                    "--cluster {url}: {e}; expected df://HOST:PORT of a running `trace cluster scheduler`"
                ))
            })
    }

    fn ballista_version() -> &'static str {
        ballista_core::BALLISTA_VERSION
    }
}
