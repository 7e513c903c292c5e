//! Pass 2: kernels and memops, each joined to the CUDA API call that launched it,
//! attributed to a step, categorised, and streamed to Parquet in start order.
//!
//! The join is on (process, correlationId) — ids repeat across processes — and is
//! done by SQLite (`LEFT JOIN` with an automatic index, `ORDER BY start`), which
//! spills to temporary files, so this process holds only the per-thread step index,
//! one Arrow batch, the name caches and one [`GpuTime`] per (step, device).
//! Kernels of a CUDA graph replay carry the `cudaGraphLaunch`'s correlation id and
//! so are attributed through it. A kernel whose API call is missing (windowed
//! export, warm-up outside the capture range) is kept with a null step.

use std::collections::{BTreeMap, HashMap};
use std::rc::Rc;

use datafusion::arrow::array::{Int32Builder, Int64Builder, StringBuilder};
use indicatif::ProgressBar;
use rusqlite::Row;

use super::export::{NsysExport, KERNEL, MEMCPY, MEMSET, RUNTIME};
use super::strings::{strip_api_version, StringCache};
use super::{pid_of, tid_of, PROCESS_MASK};
use crate::attribute::module_index::Modules;
use crate::attribute::rules::CategoryCache;
use crate::attribute::Rules;
use crate::dataset::schema::{KernelsBuilder, MemopsBuilder};
use crate::dataset::TableWriter;
use crate::error::Result;
use crate::ingest::categorize::{append_module_columns, categorize, LaunchSite};
use crate::ingest::sanity;
use crate::ingest::stats::{KernelStats, MemopStats};
use crate::ingest::steps::Steps;
use crate::ingest::Survey;

/// Launch columns selected by [`launch_join`]: thread, API start, API name id.
struct Launch {
    global_tid: Option<i64>,
    api_start: Option<i64>,
    api_name: Option<i64>,
}

/// Select list and join clause that attach the launching API call to `alias`.
fn launch_join(
    export: &NsysExport,
    alias: &str,
    table: &str,
    survey: &mut Survey,
) -> (String, String) {
    let joinable = export.has_table(RUNTIME)
        && export.has_column(table, "correlationId")
        && export.has_column(RUNTIME, "correlationId")
        && export.has_column(RUNTIME, "globalTid");
    if !joinable {
        survey.warn(format!(
            "{}: {table} cannot be joined to CUDA API calls (no CUPTI_ACTIVITY_KIND_RUNTIME table or correlation ids): its rows stay unattributed",
            export.path.display()
        ));
        return ("NULL, NULL, NULL".into(), String::new());
    }
    let same_process = if export.has_column(table, "globalPid") {
        format!(" AND (r.globalTid & {PROCESS_MASK}) = {alias}.globalPid")
    } else {
        String::new()
    };
    (
        "r.globalTid, r.start, r.nameId".into(),
        format!("LEFT JOIN {RUNTIME} r ON r.correlationId = {alias}.correlationId{same_process}"),
    )
}

fn read_launch(row: &Row, first: usize) -> rusqlite::Result<Launch> {
    Ok(Launch {
        global_tid: row.get(first)?,
        api_start: row.get(first + 1)?,
        api_name: row.get(first + 2)?,
    })
}

/// Appends the attribution columns shared by `kernels` and `memops`;
/// `fallback_phase` fills `phase` of unlabelled rows (Kineto stage markers).
pub fn append_step(
    steps: &Steps,
    step: Option<i64>,
    fallback_phase: Option<&str>,
    columns: (
        &mut Int64Builder,
        &mut StringBuilder,
        &mut Int32Builder,
        &mut Int32Builder,
        &mut Int32Builder,
    ),
) {
    let (step_col, phase, bsz, seq, iter) = columns;
    let label = step.and_then(|s| steps.range(s)).map(|r| &r.label);
    step_col.append_option(step);
    phase.append_option(label.map(|l| l.phase.as_str()).or(fallback_phase));
    bsz.append_option(label.map(|l| l.bsz));
    seq.append_option(label.map(|l| l.seq));
    iter.append_option(label.and_then(|l| l.iter));
}

/// How the kernel pass may read the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KernelOrder {
    /// In stored (rowid) order, which nsys exports sorted by start: no SQLite sort.
    /// The pass gives up (returns `None`) at the first kernel that starts earlier
    /// than the one before.
    AsStored,
    /// `ORDER BY start`: always valid, costs a sort.
    ByStart,
}

/// Reads every kernel into `out`, in start order. `None`: `order` was
/// [`KernelOrder::AsStored`] and the table is not sorted; run again with `ByStart`.
#[allow(clippy::too_many_arguments)]
pub fn read_kernels(
    export: &NsysExport,
    steps: &Steps,
    modules: &Modules,
    rules: &Rules,
    order: KernelOrder,
    out: &mut TableWriter<KernelsBuilder>,
    survey: &mut Survey,
    progress: &ProgressBar,
) -> Result<Option<KernelStats>> {
    let mut stats = KernelStats {
        module_ranges: modules.len() as u64,
        ..KernelStats::default()
    };
    if !export.has_table(KERNEL) {
        survey.warn(format!(
            "{}: no CUPTI_ACTIVITY_KIND_KERNEL table: the capture recorded no GPU kernels (was CUDA traced with `-t cuda`, and did the profiled range run any?)",
            export.path.display()
        ));
        return Ok(Some(stats));
    }
    export.require_columns(
        KERNEL,
        &[
            "start",
            "end",
            "deviceId",
            "streamId",
            "shortName",
            "demangledName",
        ],
    )?;
    let (launch_cols, join) = launch_join(export, "k", KERNEL, survey);
    let opt = |c: &str| export.column_or_null("k", KERNEL, c);
    let sql = format!(
        "SELECT k.rowid, k.start, k.\"end\", k.deviceId, k.streamId, {corr}, {gpid},
                k.shortName, k.demangledName, {node},
                {gx}, {gy}, {gz}, {bx}, {by}, {bz}, {regs}, {sshm}, {dshm},
                {launch_cols}
         FROM {KERNEL} k {join}
         {order_by}",
        order_by = if order == KernelOrder::ByStart {
            "ORDER BY k.start, k.rowid"
        } else {
            ""
        },
        corr = opt("correlationId"),
        gpid = opt("globalPid"),
        node = opt("graphNodeId"),
        gx = opt("gridX"),
        gy = opt("gridY"),
        gz = opt("gridZ"),
        bx = opt("blockX"),
        by = opt("blockY"),
        bz = opt("blockZ"),
        regs = opt("registersPerThread"),
        sshm = opt("staticSharedMemory"),
        dshm = opt("dynamicSharedMemory"),
    );
    let error = export.sql_error(KERNEL);
    let mut categories = CategoryCache::default();
    let mut previous_start = i64::MIN;
    let mut unsorted = false;
    let mut impossible: BTreeMap<&'static str, u64> = BTreeMap::new();
    for_each_activity(export, KERNEL, &sql, "kernel", survey, |row, names| {
        let strings = &mut names.strings;
        let start: i64 = row.get(1).map_err(&error)?;
        let end: i64 = row.get(2).map_err(&error)?;
        let dur = match sanity::interval(start, end) {
            Ok(dur) => dur,
            Err(reason) => {
                *impossible.entry(reason).or_default() += 1;
                return Ok(true);
            }
        };
        if start < previous_start {
            unsorted = true;
            return Ok(false);
        }
        previous_start = start;
        let device: i32 = row.get(3).map_err(&error)?;
        let stream: i64 = row.get(4).map_err(&error)?;
        let correlation: Option<i64> = row.get(5).map_err(&error)?;
        let global_pid: Option<i64> = row.get(6).map_err(&error)?;
        let short_id: i64 = row.get(7).map_err(&error)?;
        let demangled_id: i64 = row.get(8).map_err(&error)?;
        let graph_node: Option<i64> = row.get(9).map_err(&error)?;
        let int = |i: usize| -> Result<i32> {
            Ok(row.get::<_, Option<i32>>(i).map_err(&error)?.unwrap_or(0))
        };
        let launch = read_launch(row, 19).map_err(&error)?;

        let by_name = categories.get(rules, (short_id, demangled_id), || {
            let short = strings.get(short_id, export)?.to_string();
            let demangled = strings.get(demangled_id, export)?.to_string();
            Ok((short, demangled))
        })?;
        let site = match (graph_node, launch.global_tid.zip(launch.api_start)) {
            (Some(node), _) => LaunchSite::Graph { node: Some(node) },
            (None, Some((thread, t))) => LaunchSite::Live { thread, t },
            (None, None) => LaunchSite::Unknown,
        };
        let categorized = categorize(modules, site, by_name, &mut stats.fallbacks);
        let category = categorized.category;
        let step = launch
            .global_tid
            .zip(launch.api_start)
            .and_then(|(tid, t)| steps.lookup(tid, t));
        let api = names.api(launch.api_name, export)?;
        let strings = &mut names.strings;

        stats.record(category, step, device, (start, end), graph_node.is_some());
        let other_name = if category == "other" {
            strings.get(short_id, export)?.to_string()
        } else {
            String::new()
        };
        stats.record_source(categorized.source, category, dur, || other_name);

        let pid = global_pid.or(launch.global_tid).map_or(0, pid_of);
        let r = &mut out.rows;
        r.device.append_value(device);
        r.pid.append_value(pid);
        r.tid.append_option(launch.global_tid.map(tid_of));
        r.stream.append_value(stream);
        r.correlation_id.append_option(correlation);
        r.start_ns.append_value(start);
        r.end_ns.append_value(end);
        r.dur_ns.append_value(dur);
        r.name.append_value(strings.get(short_id, export)?);
        r.demangled.append_value(strings.get(demangled_id, export)?);
        r.category.append_value(category);
        append_module_columns(
            &categorized,
            (
                &mut r.category_source,
                &mut r.module,
                &mut r.module_class,
                &mut r.layer,
            ),
        );
        r.launch.append_value(if graph_node.is_some() {
            "graph"
        } else {
            "kernel"
        });
        r.api.append_option(api.as_deref());
        r.graph_node_id.append_option(graph_node);
        r.grid_x.append_value(int(10)?);
        r.grid_y.append_value(int(11)?);
        r.grid_z.append_value(int(12)?);
        r.block_x.append_value(int(13)?);
        r.block_y.append_value(int(14)?);
        r.block_z.append_value(int(15)?);
        r.registers.append_value(int(16)?);
        r.shared_static_bytes.append_value(int(17)?);
        r.shared_dynamic_bytes.append_value(int(18)?);
        append_step(
            steps,
            step,
            None,
            (
                &mut r.step,
                &mut r.phase,
                &mut r.bsz,
                &mut r.seq,
                &mut r.iter,
            ),
        );
        out.row_done()?;
        progress.inc(1);
        Ok(true)
    })?;
    if unsorted {
        // The caller reads again in start order; that pass counts.
        return Ok(None);
    }
    for (reason, n) in impossible {
        survey.skip_n(&format!("kernel: {reason}"), n);
    }
    Ok(Some(stats))
}

/// Name lookups of one pass: `StringIds` and version-stripped API names.
struct Names<'c> {
    strings: StringCache<'c>,
    apis: HashMap<i64, Rc<str>>,
}

impl Names<'_> {
    /// The launching API's name without its CUPTI version suffix.
    fn api(&mut self, id: Option<i64>, export: &NsysExport) -> Result<Option<Rc<str>>> {
        let Some(id) = id else { return Ok(None) };
        if let Some(name) = self.apis.get(&id) {
            return Ok(Some(Rc::clone(name)));
        }
        let name: Rc<str> = Rc::from(strip_api_version(self.strings.get(id, export)?));
        self.apis.insert(id, Rc::clone(&name));
        Ok(Some(name))
    }
}

/// Runs `sql` (first column: the activity's rowid) and calls `on_row` once per
/// GPU activity of `table` until it returns `false`. The LEFT JOIN repeats an
/// activity whose correlation id matches several API calls; only the first match
/// is kept, the rest counted.
fn for_each_activity(
    export: &NsysExport,
    table: &str,
    sql: &str,
    what: &str,
    survey: &mut Survey,
    mut on_row: impl FnMut(&Row, &mut Names) -> Result<bool>,
) -> Result<()> {
    let conn = export.connect()?;
    let error = export.sql_error(table);
    let mut names = Names {
        strings: StringCache::new(&conn, export)?,
        apis: HashMap::new(),
    };
    let mut stmt = conn.prepare(sql).map_err(&error)?;
    let mut rows = stmt.query([]).map_err(&error)?;
    let mut last_rowid = None;
    let duplicate =
        format!("{what} matched a second CUDA API call with its correlation id (kept the first)");
    while let Some(row) = rows.next().map_err(&error)? {
        let rowid: i64 = row.get(0).map_err(&error)?;
        if last_rowid == Some(rowid) {
            survey.skip(&duplicate);
            continue;
        }
        last_rowid = Some(rowid);
        if !on_row(row, &mut names)? {
            break;
        }
    }
    Ok(())
}

/// `ENUM_CUDA_MEMCPY_OPER` ids (unchanged 2022.4 → 2026.x): short code and nsys label.
fn copy_kind(id: i64) -> (&'static str, &'static str) {
    match id {
        1 => ("HtoD", "Host-to-Device"),
        2 => ("DtoH", "Device-to-Host"),
        3 => ("HtoA", "Host-to-Array"),
        4 => ("AtoH", "Array-to-Host"),
        5 => ("AtoA", "Array-to-Array"),
        6 => ("AtoD", "Array-to-Device"),
        7 => ("DtoA", "Device-to-Array"),
        8 => ("DtoD", "Device-to-Device"),
        9 => ("HtoH", "Host-to-Host"),
        10 => ("PtoP", "Peer-to-Peer"),
        11 => ("UVM_HtoD", "Unified Host-to-Device"),
        12 => ("UVM_DtoH", "Unified Device-to-Host"),
        13 => ("UVM_DtoD", "Unified Device-to-Device"),
        _ => ("Unknown", "Unknown"),
    }
}

/// One memcpy or memset row, before attribution.
struct MemopRecord {
    is_memcpy: bool,
    start: i64,
    end: i64,
    device: i32,
    stream: i64,
    correlation: Option<i64>,
    global_pid: Option<i64>,
    bytes: i64,
    copy_kind: Option<i64>,
    graph_node: Option<i64>,
}

/// Reads memcpy then memset rows into `out`; returns memop counts per step.
///
/// Memops are few next to kernels, so instead of a second SQLite join (which would
/// build its own index over every API call) they are read first, and one plain scan
/// of the API calls picks the launches of just those correlation ids.
pub fn read_memops(
    export: &NsysExport,
    steps: &Steps,
    out: &mut TableWriter<MemopsBuilder>,
    survey: &mut Survey,
    progress: &ProgressBar,
) -> Result<MemopStats> {
    let mut records = Vec::new();
    for table in [MEMCPY, MEMSET] {
        if !export.has_table(table) {
            continue;
        }
        export.require_columns(table, &["start", "end", "deviceId", "streamId", "bytes"])?;
        let opt = |c: &str| export.column_or_null("m", table, c);
        let copy_kind = if table == MEMCPY {
            opt("copyKind")
        } else {
            "NULL".into()
        };
        let sql = format!(
            "SELECT m.start, m.\"end\", m.deviceId, m.streamId, {corr}, {gpid}, m.bytes, {copy_kind}, {node}
             FROM {table} m ORDER BY m.start, m.rowid",
            corr = opt("correlationId"),
            gpid = opt("globalPid"),
            node = opt("graphNodeId"),
        );
        let conn = export.connect()?;
        let error = export.sql_error(table);
        let mut stmt = conn.prepare(&sql).map_err(&error)?;
        let mut rows = stmt.query([]).map_err(&error)?;
        while let Some(row) = rows.next().map_err(&error)? {
            records.push(MemopRecord {
                is_memcpy: table == MEMCPY,
                start: row.get(0).map_err(&error)?,
                end: row.get(1).map_err(&error)?,
                device: row.get(2).map_err(&error)?,
                stream: row.get(3).map_err(&error)?,
                correlation: row.get(4).map_err(&error)?,
                global_pid: row.get(5).map_err(&error)?,
                bytes: row.get(6).map_err(&error)?,
                copy_kind: row.get(7).map_err(&error)?,
                graph_node: row.get(8).map_err(&error)?,
            });
        }
    }
    let launches = launches_of(export, &records, survey)?;

    let conn = export.connect()?;
    let mut names = Names {
        strings: StringCache::new(&conn, export)?,
        apis: HashMap::new(),
    };
    let mut per_step = MemopStats::new();
    for m in &records {
        if let Err(reason) = sanity::interval(m.start, m.end) {
            survey.skip(&format!("memop: {reason}"));
            continue;
        }
        let launch = m
            .correlation
            .and_then(|corr| launches.get(&(m.global_pid.unwrap_or(0), corr)));
        let step = launch.and_then(|l| steps.lookup(l.global_tid?, l.api_start?));
        if let Some(step) = step {
            *per_step.entry(step).or_default() += 1;
        }
        let api = names.api(launch.and_then(|l| l.api_name), export)?;
        let global_tid = launch.and_then(|l| l.global_tid);
        let r = &mut out.rows;
        r.device.append_value(m.device);
        r.pid
            .append_value(m.global_pid.or(global_tid).map_or(0, pid_of));
        r.tid.append_option(global_tid.map(tid_of));
        r.stream.append_value(m.stream);
        r.correlation_id.append_option(m.correlation);
        r.start_ns.append_value(m.start);
        r.end_ns.append_value(m.end);
        r.dur_ns.append_value(m.end - m.start); // checked by sanity::interval above
        r.bytes.append_value(m.bytes);
        if m.is_memcpy {
            let (code, label) = copy_kind(m.copy_kind.unwrap_or(0));
            r.kind.append_value("memcpy");
            r.copy_kind.append_value(code);
            r.name.append_value(format!("[CUDA memcpy {label}]"));
        } else {
            r.kind.append_value("memset");
            r.copy_kind.append_null();
            r.name.append_value("[CUDA memset]");
        }
        r.launch.append_value(if m.graph_node.is_some() {
            "graph"
        } else {
            "api"
        });
        r.api.append_option(api.as_deref());
        append_step(
            steps,
            step,
            None,
            (
                &mut r.step,
                &mut r.phase,
                &mut r.bsz,
                &mut r.seq,
                &mut r.iter,
            ),
        );
        out.row_done()?;
        progress.inc(1);
    }
    Ok(per_step)
}

/// The launching API call of each memop, keyed by (globalPid, correlationId): one
/// scan of the API calls, keeping those the memops ask for (the first on a repeat).
fn launches_of(
    export: &NsysExport,
    records: &[MemopRecord],
    survey: &mut Survey,
) -> Result<HashMap<(i64, i64), Launch>> {
    let mut launches: HashMap<(i64, i64), Launch> = HashMap::new();
    let wanted: std::collections::HashSet<(i64, i64)> = records
        .iter()
        .filter_map(|m| m.correlation.map(|c| (m.global_pid.unwrap_or(0), c)))
        .collect();
    if wanted.is_empty() {
        return Ok(launches);
    }
    let joinable = export.has_table(RUNTIME)
        && export.has_column(RUNTIME, "correlationId")
        && export.has_column(RUNTIME, "globalTid");
    if !joinable {
        survey.warn(format!(
            "{}: memops cannot be joined to CUDA API calls (no CUPTI_ACTIVITY_KIND_RUNTIME table or correlation ids): they stay unattributed",
            export.path.display()
        ));
        return Ok(launches);
    }
    // Exports without a process id on memops match on the correlation id alone.
    let with_pid = records.iter().any(|m| m.global_pid.is_some());
    let conn = export.connect()?;
    let error = export.sql_error(RUNTIME);
    let mut stmt = conn
        .prepare("SELECT globalTid, correlationId, start, nameId FROM CUPTI_ACTIVITY_KIND_RUNTIME WHERE correlationId IS NOT NULL")
        .map_err(&error)?;
    let mut rows = stmt.query([]).map_err(&error)?;
    while let Some(row) = rows.next().map_err(&error)? {
        let global_tid: Option<i64> = row.get(0).map_err(&error)?;
        let correlation: i64 = row.get(1).map_err(&error)?;
        let pid = if with_pid {
            global_tid.map_or(0, |t| t & PROCESS_MASK)
        } else {
            0
        };
        let key = (pid, correlation);
        if !wanted.contains(&key) {
            continue;
        }
        if launches.contains_key(&key) {
            survey.skip(
                "memop matched a second CUDA API call with its correlation id (kept the first)",
            );
            continue;
        }
        let launch = Launch {
            global_tid,
            api_start: row.get(2).map_err(&error)?,
            api_name: row.get(3).map_err(&error)?,
        };
        launches.insert(key, launch);
    }
    Ok(launches)
}
