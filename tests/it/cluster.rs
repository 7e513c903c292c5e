//! `trace query --cluster` on a real Apache DataFusion Ballista cluster: a scheduler
//! and two executors started from the `trace` binary as separate processes on free
//! localhost ports; every shipped query (and an ad-hoc `--sql`) must print exactly
//! what the local engine prints, row for row, as a table and as CSV. The processes
//! are killed when the test ends, whether it passes or panics ([`Cluster`]'s drop).
//! Built only with the `cluster` feature (`.ci/run` runs it).

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use sgl_trace::arch::Arch;

use crate::common::{config, fixture, ingest, root, run_ok, trace};

/// Processes of a local cluster; dropping it kills and reaps every one.
pub struct Cluster {
    children: Vec<Child>,
    pub url: String,
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for child in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A port nobody listens on right now.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn wait_for_port(port: u16, what: &str, cluster: &mut Cluster) {
    let started = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        for child in &mut cluster.children {
            if let Ok(Some(status)) = child.try_wait() {
                panic!("{what}: a cluster process exited early ({status})");
            }
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "{what} never listened on {port}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A scheduler and `executors` executors on localhost, ready for queries.
pub fn start(executors: usize, concurrent_tasks: usize) -> Cluster {
    let spawn = |args: &[String]| {
        trace()
            .arg("cluster")
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    };
    let scheduler_port = free_port();
    let mut cluster = Cluster {
        children: Vec::new(),
        url: format!("df://127.0.0.1:{scheduler_port}"),
    };
    cluster.children.push(spawn(&[
        "scheduler".into(),
        "--bind-host".into(),
        "127.0.0.1".into(),
        "--port".into(),
        scheduler_port.to_string(),
    ]));
    wait_for_port(scheduler_port, "the scheduler", &mut cluster);
    for _ in 0..executors {
        let (flight, grpc) = (free_port(), free_port());
        cluster.children.push(spawn(&[
            "executor".into(),
            "--scheduler".into(),
            format!("127.0.0.1:{scheduler_port}"),
            "--bind-host".into(),
            "127.0.0.1".into(),
            "--external-host".into(),
            "127.0.0.1".into(),
            "--port".into(),
            flight.to_string(),
            "--grpc-port".into(),
            grpc.to_string(),
            "--concurrent-tasks".into(),
            concurrent_tasks.to_string(),
        ]));
        wait_for_port(flight, "an executor", &mut cluster);
        wait_for_port(grpc, "an executor", &mut cluster);
    }
    // Executors register with the scheduler right after they listen.
    std::thread::sleep(Duration::from_millis(500));
    cluster
}

/// The fixture runs: nsys (mini, tp2), Kineto (both tp2 ranks as one run), and
/// mini_range with a model config (model_flops, mfu).
fn dataset(dir: &Path) -> PathBuf {
    let data = dir.join("parquet");
    ingest(&[fixture("nsys/mini.sqlite")], &data);
    ingest(&[fixture("nsys/tp2.sqlite")], &data);
    ingest(
        &[
            fixture("kineto/tp2_rank0.kineto.json.gz"),
            fixture("kineto/tp2_rank1.kineto.json.gz"),
        ],
        &data,
    );
    let mut cfg = config(vec![fixture("nsys/mini_range.sqlite")], &data);
    cfg.meta.model = Some("qwen3_moe".into());
    cfg.meta.mconf = Some("2l".into());
    cfg.arch = Some(Arch::load(&root().join("model_conf/qwen3_moe/config_2l.json")).unwrap());
    sgl_trace::ingest::run(&cfg).unwrap();
    data
}

fn shipped_queries() -> Vec<String> {
    let out = run_ok(trace().args(["query", "--list"]));
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().next().map(str::to_string))
        .collect()
}

fn query(data: &Path, args: &[&str], cluster: Option<&str>) -> String {
    let mut cmd = trace();
    cmd.arg("query").args(args).arg("--data").arg(data);
    if let Some(url) = cluster {
        cmd.args(["--cluster", url]);
    }
    String::from_utf8(run_ok(&mut cmd).stdout).unwrap()
}

#[test]
fn every_shipped_query_on_two_executors_prints_what_the_local_engine_prints() {
    let dir = tempfile::tempdir().unwrap();
    let data = dataset(dir.path());
    let cluster = start(2, 2);
    let mut compared = 0;
    for name in shipped_queries() {
        for format in ["table", "csv"] {
            let args = [name.as_str(), "--format", format];
            let local = query(&data, &args, None);
            let remote = query(&data, &args, Some(&cluster.url));
            assert!(
                local == remote,
                "{name} ({format}) differs on the cluster:\nlocal:\n{local}\ncluster:\n{remote}"
            );
            compared += local.lines().count();
        }
    }
    let sql = "SELECT run, category, count(*) AS kernels, sum(dur_ns) AS ns FROM kernels \
               GROUP BY run, category ORDER BY run, category";
    let local = query(&data, &["--sql", sql, "--format", "csv"], None);
    assert!(local.lines().count() > 10, "{local}");
    assert_eq!(
        local,
        query(
            &data,
            &["--sql", sql, "--format", "csv"],
            Some(&cluster.url)
        )
    );
    assert!(compared > 100, "only {compared} lines compared");
}

#[test]
fn a_cluster_that_is_not_there_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let data = dataset(dir.path());
    let url = format!("df://127.0.0.1:{}", free_port());
    let out = trace()
        .args(["query", "runs", "--cluster", &url, "--data"])
        .arg(&data)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains(&url[5..]), "{stderr}");
}
