//! Pass 1: NVTX rows into the `nvtx` table, and the labelled step ranges that
//! pass 2 attributes GPU work to.
//!
//! Rows stream in `(globalTid, start, end DESC)` order, so nesting depth is a
//! per-thread stack of open range ends (memory: the deepest nesting). Only ranges
//! whose text follows the label convention are kept in memory, as [`Steps`].
//! Message text is `coalesce(StringIds[textId], text)`: registered strings win,
//! inline text otherwise (both occur, also within one export).

use indicatif::ProgressBar;

use super::export::{NsysExport, NVTX, STRINGS};
use super::{pid_of, tid_of};
use crate::attribute::Label;
use crate::dataset::schema::NvtxBuilder;
use crate::dataset::TableWriter;
use crate::error::Result;
use crate::ingest::sanity;
use crate::ingest::steps::{StepRange, Steps};
use crate::ingest::Survey;

/// Name of an NVTX event type id (ids are stable across nsys 2022.1 → 2026.x).
fn kind_of(event_type: i64) -> &'static str {
    match event_type {
        59 | 70 => "push_pop",
        60 | 71 => "start_end",
        34 | 64 => "mark",
        33 => "category",
        75 => "domain",
        76 => "domain_destroy",
        39 => "thread_name",
        97..=99 => "cuda_name",
        _ => "other",
    }
}

/// Reads NVTX rows into `out` and returns the labelled steps (ids from `base`).
pub fn read(
    export: &NsysExport,
    out: &mut TableWriter<NvtxBuilder>,
    base: i64,
    survey: &mut Survey,
    progress: &ProgressBar,
) -> Result<Steps> {
    let mut ranges: Vec<StepRange> = Vec::new();
    if !export.has_table(NVTX) {
        survey.warn(format!(
            "{}: no NVTX_EVENTS table: the capture has no NVTX ranges, so no kernel can be attributed to a step (profile with `-t cuda,nvtx`)",
            export.path.display()
        ));
        return Ok(Steps::new(base, ranges));
    }
    export.require_columns(NVTX, &["start", "eventType"])?;
    let text = match (
        export.has_column(NVTX, "textId") && export.has_table(STRINGS),
        export.has_column(NVTX, "text"),
    ) {
        (true, true) => "coalesce(s.value, n.text)",
        (true, false) => "s.value",
        (false, true) => "n.text",
        (false, false) => "NULL",
    };
    let join = if text.contains("s.value") {
        "LEFT JOIN StringIds s ON s.id = n.textId"
    } else {
        ""
    };
    let sql = format!(
        "SELECT {tid}, n.start, {end}, n.eventType, {text}, {domain}
         FROM NVTX_EVENTS n {join}
         ORDER BY 1, n.start, 3 DESC",
        tid = export.column_or_null("n", NVTX, "globalTid"),
        end = export.column_or_null("n", NVTX, "end"),
        domain = export.column_or_null("n", NVTX, "domainId"),
    );
    let conn = export.connect()?;
    let error = export.sql_error(NVTX);
    let mut stmt = conn.prepare(&sql).map_err(&error)?;
    let mut rows = stmt.query([]).map_err(&error)?;

    let mut thread: Option<i64> = None;
    let mut open_ends: Vec<i64> = Vec::new();
    while let Some(row) = rows.next().map_err(&error)? {
        let global_tid: i64 = row.get::<_, Option<i64>>(0).map_err(&error)?.unwrap_or(0);
        let start: i64 = row.get(1).map_err(&error)?;
        let end: Option<i64> = row.get(2).map_err(&error)?;
        let kind = kind_of(row.get(3).map_err(&error)?);
        let text: Option<String> = row.get(4).map_err(&error)?;
        let domain: Option<i64> = row.get(5).map_err(&error)?;
        if let Err(reason) = sanity::interval(start, end.unwrap_or(start)) {
            survey.skip(&format!("NVTX range: {reason}"));
            continue;
        }

        if thread != Some(global_tid) {
            thread = Some(global_tid);
            open_ends.clear();
        }
        while open_ends.last().is_some_and(|&e| e <= start) {
            open_ends.pop();
        }
        let depth = open_ends.len() as i32;
        let is_range = matches!(kind, "push_pop" | "start_end");
        if let (true, Some(end)) = (is_range, end) {
            open_ends.push(end);
        }

        let label = match (is_range, text.as_deref().map(Label::check)) {
            (true, Some(Ok(label))) => label,
            (true, Some(Err(refusal))) => {
                survey.skip(refusal.reason());
                None
            }
            _ => None,
        };
        let step = match (label, end) {
            (Some(label), Some(end)) => {
                ranges.push(StepRange {
                    label,
                    thread: global_tid,
                    start,
                    end,
                });
                Some(base + ranges.len() as i64 - 1)
            }
            (Some(_), None) => {
                survey.skip("labelled NVTX range without an end (never popped), not a step");
                None
            }
            (None, _) => None,
        };

        let r = &mut out.rows;
        r.pid.append_value(pid_of(global_tid));
        r.tid.append_value(tid_of(global_tid));
        r.start_ns.append_value(start);
        r.end_ns.append_option(end);
        r.dur_ns.append_option(end.map(|e| e - start));
        r.kind.append_value(kind);
        r.text.append_option(text);
        r.domain_id.append_option(domain);
        r.depth.append_value(depth);
        r.step.append_option(step);
        out.row_done()?;
        progress.inc(1);
    }
    Ok(Steps::new(base, ranges))
}
