//! Small nsys-like SQLite exports built in code, for layouts and edge cases the
//! real fixtures do not cover (old metadata table, NVTX `text` vs `textId`,
//! missing tables, planted secrets).
//!
//! The workload: one process (pid 100, thread 101) with a prefill step
//! [1000, 2000] holding a nested `layer0` range, a decode step [3000, 4000] whose
//! one `cudaGraphLaunch` replays two graph kernels (a MoE kernel and an NCCL
//! all-reduce overlapping it by 50 ns), and one kernel launched outside any step.

use std::path::Path;

use rusqlite::Connection;

pub const PID: i64 = 100;
pub const TID: i64 = 101;
pub const GLOBAL_PID: i64 = (1 << 48) | (PID << 24);
pub const GLOBAL_TID: i64 = GLOBAL_PID | TID;
pub const SECRET: &str = "hf_SECRET_TOKEN_d0n0tl3ak";

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Nvtx {
    /// No NVTX_EVENTS table.
    Missing,
    /// Messages inline in `text` (the only option in old exports).
    Text,
    /// Messages as registered strings (`textId` → StringIds).
    TextId,
    /// Start/end ranges (`nvtxRangeStart`/`End`, eventType 60) instead of push/pop.
    StartEnd,
}

#[derive(Debug, Clone, Copy)]
pub struct Synth {
    /// `META_DATA_EXPORT` (≥ 2023.4) or `EXPORT_META_DATA` (older).
    pub meta_table: &'static str,
    pub schema_version: &'static str,
    /// Kernel table has `greenContextId` (added in 2023.4).
    pub green_context: bool,
    pub nvtx: Nvtx,
    pub kernels: bool,
    pub runtime: bool,
    /// Plant a secret in META_DATA_CAPTURE (environment, arguments) and host facts.
    pub secret: bool,
    /// Store kernel rows out of start order (nsys exports them sorted).
    pub shuffled: bool,
}

impl Default for Synth {
    fn default() -> Self {
        Synth {
            meta_table: "META_DATA_EXPORT",
            schema_version: "3.20.3",
            green_context: true,
            nvtx: Nvtx::Text,
            kernels: true,
            runtime: true,
            secret: false,
            shuffled: false,
        }
    }
}

pub fn build(path: &Path, s: Synth) {
    let c = Connection::open(path).unwrap();
    c.execute_batch(
        "CREATE TABLE StringIds (id INTEGER NOT NULL PRIMARY KEY, value TEXT NOT NULL);",
    )
    .unwrap();
    let strings = [
        (1, "nvjet_sm90_tst_64x8_64x16_4x1_v_bz_TNT"),
        (2, "fused_moe_kernel"),
        (3, "ncclDevKernel_AllReduce_Sum_bf16_RING_LL"),
        (4, "elementwise_kernel"),
        (5, "void at::native::elementwise_kernel<128, 4>(int)"),
        (6, "cudaLaunchKernel_v7000"),
        (7, "cudaGraphLaunch_v10000"),
        (10, "prefill|bsz=2|seq=64|iter=0"),
        (11, "decode|bsz=2|seq=64|iter=0"),
        (12, "layer0"),
    ];
    for (id, v) in strings {
        c.execute("INSERT INTO StringIds VALUES (?1, ?2)", (id, v))
            .unwrap();
    }
    c.execute_batch(&format!(
        "CREATE TABLE {0} (name TEXT NOT NULL, value TEXT);
         INSERT INTO {0} VALUES ('EXPORT_PRODUCT_VERSION', 'synthetic'), ('EXPORT_SCHEMA_VERSION', '{1}'),
                               ('EXPORT_HOST', 'host-{2}');",
        s.meta_table,
        s.schema_version,
        if s.secret { SECRET } else { "x" }
    ))
    .unwrap();
    if s.secret {
        c.execute_batch(&format!(
            "CREATE TABLE META_DATA_CAPTURE (name TEXT NOT NULL, value TEXT);
             INSERT INTO META_DATA_CAPTURE VALUES
               ('PROCESS_0:ENVIRONMENT_VARIABLE', 'HF_TOKEN={SECRET}'),
               ('PROCESS_0:ARGUMENT_3', '--api-key={SECRET}'),
               ('PROCESS_0:CUDA_GRAPH_TRACE_OPTIONS:MODE', 'Node');
             CREATE TABLE TARGET_INFO_SYSTEM_ENV (globalVid INTEGER, devStateName TEXT NOT NULL, name TEXT NOT NULL, nameEnum INTEGER NOT NULL, value TEXT NOT NULL);
             INSERT INTO TARGET_INFO_SYSTEM_ENV VALUES (1, 'a', 'Hostname', 1, 'node-{SECRET}'), (1, 'a', 'CudaDriverVersion', 2, '13000');
             CREATE TABLE TARGET_INFO_GPU (vmId INTEGER NOT NULL, id INTEGER NOT NULL, name TEXT, busLocation TEXT);
             INSERT INTO TARGET_INFO_GPU VALUES (1, 0, 'NVIDIA H100 80GB HBM3', '0000:{SECRET}');"
        ))
        .unwrap();
    }
    if s.runtime {
        c.execute_batch(&format!(
            "CREATE TABLE CUPTI_ACTIVITY_KIND_RUNTIME (start INTEGER NOT NULL, end INTEGER NOT NULL, eventClass INTEGER NOT NULL,
                 globalTid INTEGER, correlationId INTEGER, nameId INTEGER NOT NULL, returnValue INTEGER NOT NULL, callchainId INTEGER);
             INSERT INTO CUPTI_ACTIVITY_KIND_RUNTIME VALUES
               (1200, 1250, 0, {GLOBAL_TID}, 1, 6, 0, NULL),
               (3100, 3150, 0, {GLOBAL_TID}, 2, 7, 0, NULL),
               (5000, 5050, 0, {GLOBAL_TID}, 3, 6, 0, NULL);"
        ))
        .unwrap();
    }
    if s.kernels {
        let green = if s.green_context {
            "greenContextId INTEGER,"
        } else {
            ""
        };
        let green_value = if s.green_context { "NULL," } else { "" };
        let mut rows = [
            format!("(1300, 1400, 0, 1, {green_value} 7, 1, {GLOBAL_PID}, 1, 1, NULL, 1, 0, 32, 8, 1, 1, 128, 1, 1, 0, 0, 0, 0, 1, 0, NULL, 0)"),
            format!("(3200, 3300, 0, 1, {green_value} 7, 2, {GLOBAL_PID}, 2, 2, NULL, 1, 0, 32, 8, 1, 1, 128, 1, 1, 0, 0, 0, 0, 2, 0, 71, 0)"),
            format!("(3250, 3400, 0, 1, {green_value} 8, 2, {GLOBAL_PID}, 3, 3, NULL, 1, 0, 32, 8, 1, 1, 128, 1, 1, 0, 0, 0, 0, 3, 0, 72, 0)"),
            format!("(5100, 5200, 0, 1, {green_value} 7, 3, {GLOBAL_PID}, 5, 4, NULL, 1, 0, 32, 8, 1, 1, 128, 1, 1, 0, 0, 0, 0, 4, 0, NULL, 0)"),
        ];
        if s.shuffled {
            rows.reverse();
        }
        let rows = format!(
            "INSERT INTO CUPTI_ACTIVITY_KIND_KERNEL VALUES {}",
            rows.join(", ")
        );
        c.execute_batch(&format!(
            "CREATE TABLE CUPTI_ACTIVITY_KIND_KERNEL (start INTEGER NOT NULL, end INTEGER NOT NULL, deviceId INTEGER NOT NULL,
                 contextId INTEGER NOT NULL, {green} streamId INTEGER NOT NULL, correlationId INTEGER, globalPid INTEGER,
                 demangledName INTEGER NOT NULL, shortName INTEGER NOT NULL, mangledName INTEGER, launchType INTEGER,
                 cacheConfig INTEGER, registersPerThread INTEGER NOT NULL, gridX INTEGER NOT NULL, gridY INTEGER NOT NULL,
                 gridZ INTEGER NOT NULL, blockX INTEGER NOT NULL, blockY INTEGER NOT NULL, blockZ INTEGER NOT NULL,
                 staticSharedMemory INTEGER NOT NULL, dynamicSharedMemory INTEGER NOT NULL, localMemoryPerThread INTEGER NOT NULL,
                 localMemoryTotal INTEGER NOT NULL, gridId INTEGER NOT NULL, sharedMemoryExecuted INTEGER, graphNodeId INTEGER,
                 sharedMemoryLimitConfig INTEGER);
             {rows};"
        ))
        .unwrap();
    }
    if s.nvtx != Nvtx::Missing {
        c.execute_batch(
            "CREATE TABLE NVTX_EVENTS (start INTEGER NOT NULL, end INTEGER, eventType INTEGER NOT NULL, rangeId INTEGER,
                 category INTEGER, color INTEGER, text TEXT, globalTid INTEGER, endGlobalTid INTEGER, textId INTEGER,
                 domainId INTEGER, uint64Value INTEGER);",
        )
        .unwrap();
        let rows = [
            (1000, Some(2000), 59, 10, "prefill|bsz=2|seq=64|iter=0"),
            (1100, Some(1500), 59, 12, "layer0"),
            (3000, Some(4000), 59, 11, "decode|bsz=2|seq=64|iter=0"),
            (4500, None, 34, 12, "layer0"),
        ];
        for (start, end, kind, id, text) in rows {
            let (text, text_id) = match s.nvtx {
                Nvtx::TextId => (None, Some(id)),
                _ => (Some(text), None),
            };
            let kind = if s.nvtx == Nvtx::StartEnd && kind == 59 {
                60
            } else {
                kind
            };
            c.execute(
                "INSERT INTO NVTX_EVENTS (start, end, eventType, text, globalTid, textId, domainId) VALUES (?1, ?2, ?3, ?4, ?5, ?6, 0)",
                (start, end, kind, text, GLOBAL_TID, text_id),
            )
            .unwrap();
        }
    }
}
