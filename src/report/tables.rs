//! The table-heavy sections of the page: communication and idle per device with
//! per-rank skew, the top and unattributed kernels, and the comparison — plus the
//! HTML table helper every section uses.
//!
//! Invariants: every cell is escaped; numeric cells (those that parse as numbers) are
//! right-aligned; the comparison shows exactly the rows `trace diff` prints as a table.

use std::collections::BTreeSet;
use std::fmt::Write;

use super::data::{KernelRow, RunData};
use super::svg::{self, esc, num, Bar};
use crate::diff::{output::verdict, Change, Comparison, RowKind};

/// An HTML table of `header` and `rows`.
pub fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut s = String::from("<table><tr>");
    for h in header {
        let _ = write!(s, "<th>{}</th>", esc(h));
    }
    s.push_str("</tr>");
    for row in rows {
        s.push_str("<tr>");
        for cell in row {
            let numeric = cell.parse::<f64>().is_ok();
            let _ = write!(
                s,
                "<td{}>{}</td>",
                if numeric { " class=\"n\"" } else { "" },
                esc(cell)
            );
        }
        s.push_str("</tr>");
    }
    s.push_str("</table>");
    s
}

/// Busy, exposed communication and idle per device and phase; per-rank skew.
pub fn comm(run: &RunData) -> String {
    if run.devices.is_empty() {
        return "<p class=\"note\">No steps with kernels.</p>".into();
    }
    let max = run
        .devices
        .iter()
        .map(|d| d.busy_ms + d.idle_ms)
        .fold(0.0, f64::max);
    let bars: Vec<Bar> = run
        .devices
        .iter()
        .map(|d| Bar {
            label: format!("gpu {} {}", d.device, d.phase),
            segments: vec![
                ("compute".into(), d.busy_ms - d.comm_exposed_ms),
                ("exposed communication".into(), d.comm_exposed_ms),
                ("idle".into(), d.idle_ms),
            ],
            note: format!("· hidden comm {} ms", num(d.comm_hidden_ms)),
        })
        .collect();
    let mut s = svg::legend(&[
        "compute".into(),
        "exposed communication".into(),
        "idle".into(),
    ]);
    s.push_str(&svg::stacked_bars(
        "mean per step: busy (compute, exposed communication) and idle",
        &bars,
        "ms",
        max,
    ));
    let rows: Vec<Vec<String>> = run
        .devices
        .iter()
        .map(|d| {
            vec![
                d.device.to_string(),
                d.phase.clone(),
                d.steps.to_string(),
                num(d.busy_ms),
                num(d.idle_ms),
                num(d.comm_hidden_ms),
                num(d.comm_exposed_ms),
            ]
        })
        .collect();
    s.push_str(&table(
        &[
            "device",
            "phase",
            "steps",
            "busy ms",
            "idle ms",
            "comm hidden ms",
            "comm exposed ms",
        ],
        &rows,
    ));
    if run.skew.is_empty() {
        s.push_str("<p class=\"note\">One device: no per-rank skew.</p>");
    } else {
        s.push_str("<h3>Per-rank skew (mean busy ms per step)</h3>");
        let devices: BTreeSet<i64> = run
            .skew
            .iter()
            .flat_map(|k| k.devices.iter().map(|d| d.0))
            .collect();
        let mut header = vec!["shape".to_string()];
        header.extend(devices.iter().map(|d| format!("gpu {d}")));
        header.push("skew %".into());
        let rows: Vec<Vec<String>> = run
            .skew
            .iter()
            .map(|k| {
                let mut row = vec![k.shape.label()];
                for d in &devices {
                    row.push(
                        k.devices
                            .iter()
                            .find(|x| x.0 == *d)
                            .map_or("-".into(), |x| num(x.1)),
                    );
                }
                row.push(format!("{:.1}", k.skew_pct));
                row
            })
            .collect();
        let header: Vec<&str> = header.iter().map(String::as_str).collect();
        s.push_str(&table(&header, &rows));
    }
    s
}

/// The top kernels and the unattributed ones.
pub fn kernels(run: &RunData) -> String {
    let rows = |list: &[KernelRow]| -> Vec<Vec<String>> {
        list.iter()
            .enumerate()
            .map(|(i, k)| {
                vec![
                    (i + 1).to_string(),
                    k.name.clone(),
                    k.category.clone(),
                    k.calls.to_string(),
                    num(k.total_ms),
                    format!("{:.2}", k.pct),
                ]
            })
            .collect()
    };
    let header = ["#", "kernel", "category", "calls", "total ms", "% of run"];
    let mut s = String::from("<h3>Top kernels (all phases)</h3>");
    if !run.evidence.is_empty() {
        let shares: Vec<String> = run
            .evidence
            .iter()
            .map(|(source, pct)| format!("{} {pct:.1}%", esc(source)))
            .collect();
        s.push_str(&format!(
            "<p>Category evidence (<code>category_source</code>, share of GPU time): {}. \
             <code>module</code>: a rule of <code>conf/modules.yaml</code> placed the kernel by \
             the model module that launched it; <code>name</code>: the kernel-name rules alone; \
             <code>none</code>: <code>other</code>.</p>",
            shares.join(" · ")
        ));
    }
    s.push_str(&table(&header, &rows(&run.top_kernels)));
    s.push_str("<h3>Unattributed (category other)</h3>");
    if run.unattributed.is_empty() {
        s.push_str("<p class=\"good\">Every kernel matched a category rule.</p>");
    } else {
        s.push_str(&table(&header, &rows(&run.unattributed)));
    }
    s
}

/// The verdict and the rows of a comparison.
pub fn comparison(c: &Comparison) -> String {
    let regressed = c.regressions().next().is_some();
    let mut s = format!(
        "<p class=\"{}\">{}</p>",
        if regressed { "bad" } else { "good" },
        esc(&verdict(c)).replace('\n', "<br>")
    );
    let rows: Vec<Vec<String>> = c
        .rows
        .iter()
        .filter(|r| r.kind != RowKind::Kernel || r.change != Change::Same)
        .map(|r| {
            vec![
                r.shape.label(),
                format!("{:?}", r.kind).to_lowercase(),
                r.key.clone(),
                num(r.base_ms),
                num(r.new_ms),
                format!("{:+.4}", r.delta_ms),
                r.pct.map_or("-".into(), |p| format!("{p:+.1}")),
                format!("[{:+.4}, {:+.4}]", r.ci_low_ms, r.ci_high_ms),
                format!("{:?}", r.change).to_lowercase(),
            ]
        })
        .collect();
    s.push_str(&table(
        &[
            "shape",
            "kind",
            "key",
            &format!("{} ms", c.base),
            &format!("{} ms", c.new),
            "Δ ms",
            "Δ %",
            "95% CI of Δ",
            "change",
        ],
        &rows,
    ));
    s
}
