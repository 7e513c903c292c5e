//! The page layout: one `<section>` per question (facts, breakdown, scaling,
//! timeline, communication, kernels, diff) with an `id` for linking; opening
//! `page.html#timeline` shows that section alone (pure CSS `:target`), which is also
//! how each section is screenshot on its own.
//!
//! The table-heavy sections (communication, kernels, comparison) are in
//! [`super::tables`]. Invariants: the page is self-contained — inline CSS and SVG only, no `<script>`,
//! no external URL; every string from the dataset is escaped ([`esc`]).

use std::collections::BTreeSet;
use std::fmt::Write;

use super::data::{RunData, ShapeBreakdown};
use super::svg::{self, esc, num, Bar};
use super::tables::{comm, comparison, kernels, table};
use crate::diff::Comparison;
use crate::vocab::category_rank;
use crate::vocab::CategoryAxis;

const STYLE: &str = "body{font:13px system-ui,sans-serif;margin:16px 24px;color:#222}\
h1{font-size:20px}h2{font-size:16px;border-bottom:1px solid #ccc;padding-bottom:3px;margin-top:28px}\
h3{font-size:14px;margin:14px 0 4px}nav a{margin-right:12px}\
table{border-collapse:collapse;margin:6px 0}td,th{border:1px solid #ddd;padding:2px 6px;text-align:left}\
td{white-space:nowrap}td.n{text-align:right;font-variant-numeric:tabular-nums}th{background:#f4f4f4}\
.row{display:flex;flex-wrap:wrap;gap:18px}.chart text{font-size:11px}.chart .t{font-size:12px;font-weight:600}\
.ax{stroke:#888}.legend span{margin-right:12px;white-space:nowrap}\
.legend i{display:inline-block;width:10px;height:10px;margin-right:4px}\
.bad{color:#b00;font-weight:600}.good{color:#070}.note{color:#666}\
body:has(section:target) section:not(:target){display:none}";

const SECTIONS: &[(&str, &str)] = &[
    ("facts", "Run facts"),
    ("breakdown", "GPU time per step by category"),
    ("scaling", "Scaling with bsz and seq"),
    ("timeline", "Timeline of a representative step"),
    ("comm", "Communication and idle per device"),
    ("kernels", "Top and unattributed kernels"),
    ("diff", "Comparison"),
];

/// Draws one section for one run.
type SectionBody = fn(&RunData) -> String;

/// The whole page.
pub fn page(runs: &[RunData], diff: Option<&Comparison>) -> String {
    let names: Vec<&str> = runs.iter().map(|r| r.run.as_str()).collect();
    let mut s = String::with_capacity(1 << 20);
    let _ = write!(
        s,
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>trace report: {}</title><style>{STYLE}</style></head><body><h1>trace report: {}</h1><nav>",
        esc(&names.join(", ")),
        esc(&names.join(", "))
    );
    for (id, title) in SECTIONS {
        if *id != "diff" || diff.is_some() {
            let _ = write!(s, "<a href=\"#{id}\">{title}</a>");
        }
    }
    s.push_str("</nav>");
    let sections: [(&str, SectionBody); 6] = [
        ("facts", facts),
        ("breakdown", breakdown),
        ("scaling", scaling),
        ("timeline", timelines),
        ("comm", comm),
        ("kernels", kernels),
    ];
    for (id, body) in sections {
        let title = SECTIONS.iter().find(|(i, _)| *i == id).map_or("", |t| t.1);
        let _ = write!(s, "<section id=\"{id}\"><h2>{title}</h2>");
        for run in runs {
            let _ = write!(s, "<h3>{}</h3>{}", esc(&run.run), body(run));
        }
        s.push_str("</section>");
    }
    if let Some(c) = diff {
        let _ = write!(
            s,
            "<section id=\"diff\"><h2>Comparison</h2>{}</section>",
            comparison(c)
        );
    }
    s.push_str("</body></html>\n");
    s
}

fn facts(run: &RunData) -> String {
    let rows: Vec<Vec<String>> = run
        .facts
        .iter()
        .map(|(k, v)| vec![k.clone(), v.clone()])
        .collect();
    let mut s = table(&["fact", "value"], &rows);
    let fact = |key: &str| run.facts.iter().find(|(k, _)| k == key).map(|(_, v)| v);
    if fact("sglang_version").is_none() {
        s.push_str(match fact("engine").map(String::as_str) {
            Some("hf") => "<p class=\"note\">SGLang version: none (an HF-engine run).</p>",
            _ => "<p class=\"note\">SGLang version: not recorded (`trace capture --engine sglang` records it; a plain ingest cannot know it).</p>",
        });
    }
    s
}

fn categories_of(shapes: &[ShapeBreakdown]) -> Vec<String> {
    let set: BTreeSet<(usize, String)> = shapes
        .iter()
        .flat_map(|s| s.categories.iter().map(|(c, _)| category_rank(c)))
        .collect();
    set.into_iter().map(|(_, c)| c).collect()
}

fn phases(shapes: &[ShapeBreakdown]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for s in shapes {
        if !out.contains(&s.shape.phase) {
            out.push(s.shape.phase.clone());
        }
    }
    out
}

fn breakdown(run: &RunData) -> String {
    if run.shapes.is_empty() {
        return "<p class=\"note\">No labelled steps.</p>".into();
    }
    let mut s = String::from(match run.by {
        CategoryAxis::Block => "<p class=\"note\">Categories by the block each kernel ran in (modules first); <code>trace report --by name</code> groups by the kind of work its name says.</p>",
        CategoryAxis::Name => "<p class=\"note\">Categories by the kind of work each kernel's name says (<code>name_category</code>), wherever it ran; <code>--by block</code> groups by the block it ran in.</p>",
    });
    s.push_str(&svg::legend(&categories_of(&run.shapes)));
    s.push_str("<div class=\"row\">");
    for phase in phases(&run.shapes) {
        let shapes: Vec<&ShapeBreakdown> = run
            .shapes
            .iter()
            .filter(|x| x.shape.phase == phase)
            .collect();
        let max = shapes.iter().map(|x| x.total_ms).fold(0.0, f64::max);
        let bars: Vec<Bar> = shapes
            .iter()
            .map(|x| {
                let other = x
                    .categories
                    .iter()
                    .find(|c| c.0 == "other")
                    .map_or(0.0, |c| c.1);
                let pct = if x.total_ms > 0.0 {
                    100.0 * other / x.total_ms
                } else {
                    0.0
                };
                Bar {
                    label: format!("bsz={}{}", x.shape.bsz, seq_text(x.shape.seq)),
                    segments: x.categories.clone(),
                    note: format!("· other {pct:.1}%"),
                }
            })
            .collect();
        s.push_str(&svg::stacked_bars(
            &format!("{phase}: GPU ms per step"),
            &bars,
            "ms",
            max,
        ));
    }
    s.push_str("</div>");
    s
}

fn scaling(run: &RunData) -> String {
    let mut s = String::new();
    let categories = categories_of(&run.shapes);
    for phase in phases(&run.shapes) {
        let shapes: Vec<&ShapeBreakdown> = run
            .shapes
            .iter()
            .filter(|x| x.shape.phase == phase)
            .collect();
        let seqs: BTreeSet<Option<i64>> = shapes.iter().map(|x| x.shape.seq).collect();
        let bszs: BTreeSet<i64> = shapes.iter().map(|x| x.shape.bsz).collect();
        s.push_str("<div class=\"row\">");
        let series = |fixed: &dyn Fn(&ShapeBreakdown) -> bool,
                      x: &dyn Fn(&ShapeBreakdown) -> Option<i64>| {
            categories
                .iter()
                .map(|c| {
                    let points: Vec<(f64, f64)> = shapes
                        .iter()
                        .filter(|sh| fixed(sh))
                        .filter_map(|sh| {
                            let ms = sh
                                .categories
                                .iter()
                                .find(|k| &k.0 == c)
                                .map_or(0.0, |k| k.1);
                            Some((x(sh)? as f64, ms))
                        })
                        .collect();
                    (c.clone(), points)
                })
                .filter(|(_, p)| p.iter().any(|q| q.1 > 0.0))
                .collect::<Vec<_>>()
        };
        if bszs.len() > 1 {
            for seq in &seqs {
                let lines = series(&|sh| sh.shape.seq == *seq, &|sh| Some(sh.shape.bsz));
                s.push_str(&svg::line_chart(
                    &format!(
                        "{phase}{}: ms per step vs bsz",
                        seq_text(*seq).replace(' ', ", ")
                    ),
                    "bsz",
                    "ms",
                    &lines,
                ));
            }
        }
        if seqs.iter().flatten().count() > 1 {
            for bsz in &bszs {
                let lines = series(&|sh| sh.shape.bsz == *bsz, &|sh| sh.shape.seq);
                s.push_str(&svg::line_chart(
                    &format!("{phase}, bsz={bsz}: ms per step vs seq"),
                    "seq",
                    "ms",
                    &lines,
                ));
            }
        }
        s.push_str("</div>");
    }
    if bsz_seq_single(run) {
        s.push_str("<p class=\"note\">One bsz and one seq per phase: nothing to scale over.</p>");
    }
    s.push_str(&svg::legend(&categories));
    if run.utilization.is_empty() {
        s.push_str("<p class=\"note\">MFU / MBU: no model_flops rows for this run (ingest with --model M --mconf C).</p>");
    } else {
        let rows: Vec<Vec<String>> = run
            .utilization
            .iter()
            .map(|u| {
                vec![
                    u.shape.phase.clone(),
                    u.shape.bsz.to_string(),
                    u.shape.seq.map(|s| s.to_string()).unwrap_or_default(),
                    num(u.ms),
                    u.time_source.clone(),
                    flagged(u.mfu_pct),
                    flagged(u.mbu_pct),
                ]
            })
            .collect();
        s.push_str("<h3>MFU / MBU</h3><div class=\"row\">");
        for phase in phases(&run.shapes) {
            let us: Vec<_> = run
                .utilization
                .iter()
                .filter(|u| u.shape.phase == phase)
                .collect();
            let seqs: BTreeSet<Option<i64>> = us.iter().map(|u| u.shape.seq).collect();
            for (metric, pick) in [("MFU %", 0), ("MBU %", 1)] {
                let lines: Vec<(String, Vec<(f64, f64)>)> = seqs
                    .iter()
                    .map(|seq| {
                        let points = us
                            .iter()
                            .filter(|u| u.shape.seq == *seq)
                            .map(|u| {
                                (
                                    u.shape.bsz as f64,
                                    if pick == 0 { u.mfu_pct } else { u.mbu_pct }.unwrap_or(0.0),
                                )
                            })
                            .collect();
                        (seq_text(*seq).trim().to_string(), points)
                    })
                    .collect();
                if !lines.is_empty() {
                    s.push_str(&svg::line_chart(
                        &format!("{phase}: {metric} vs bsz"),
                        "bsz",
                        "%",
                        &lines,
                    ));
                }
            }
        }
        s.push_str("</div>");
        s.push_str(&table(
            &["phase", "bsz", "seq", "ms", "time source", "MFU %", "MBU %"],
            &rows,
        ));
    }
    s
}

/// A utilisation % for the table; over 100% is marked as impossible.
fn flagged(v: Option<f64>) -> String {
    match v {
        None => "-".into(),
        Some(v) if v > 100.0 => format!("{v:.2} (impossible: > 100%)"),
        Some(v) => format!("{v:.2}"),
    }
}

/// ` seq=512`, or nothing where the step's label states no seq.
fn seq_text(seq: Option<i64>) -> String {
    seq.map(|s| format!(" seq={s}")).unwrap_or_default()
}

fn bsz_seq_single(run: &RunData) -> bool {
    phases(&run.shapes).iter().all(|p| {
        let of: Vec<_> = run.shapes.iter().filter(|x| &x.shape.phase == p).collect();
        let b: BTreeSet<i64> = of.iter().map(|x| x.shape.bsz).collect();
        let q: BTreeSet<Option<i64>> = of.iter().map(|x| x.shape.seq).collect();
        b.len() < 2 && q.len() < 2
    })
}

fn timelines(run: &RunData) -> String {
    if run.timelines.is_empty() {
        return "<p class=\"note\">No labelled steps.</p>".into();
    }
    let mut cats: BTreeSet<(usize, String)> = BTreeSet::new();
    for t in &run.timelines {
        for lane in &t.lanes {
            cats.extend(lane.blocks.iter().map(|b| category_rank(&b.category)));
        }
    }
    let mut s = String::from("<p class=\"note\">The step whose GPU span is the median of its shape (with the same iteration on every other process). Hover a block for the kernel and its duration; thin neighbours of one category are merged so a timeline stays under ");
    let _ = write!(s, "{} blocks.</p>", super::timeline::MAX_BLOCKS);
    s.push_str(&svg::legend(
        &cats.into_iter().map(|c| c.1).collect::<Vec<_>>(),
    ));
    for t in &run.timelines {
        s.push_str("<div>");
        s.push_str(&svg::timeline(t));
        s.push_str("</div>");
    }
    s
}
