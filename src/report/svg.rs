//! Hand-written SVG charts: horizontal stacked bars, line charts and a kernel
//! timeline. Static markup, no script: hovering shows each mark's `<title>`.
//!
//! Invariants: every piece of text goes through [`esc`]; every mark that stands for
//! a number carries that number in its `<title>`; colours come from [`color`] so a
//! category looks the same in every chart.

use std::fmt::Write;

use super::timeline::Timeline;

/// `s` escaped for XML text and attributes.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// A fixed colour per category (and per series name for non-category charts).
pub fn color(name: &str) -> &'static str {
    match name {
        "attention" => "#4e79a7",
        "moe" => "#f28e2b",
        "gemm" => "#59a14f",
        "communication" => "#e15759",
        "norm" => "#76b7b2",
        "rotary" => "#edc948",
        "activation" => "#b07aa1",
        "quantization" => "#ff9da7",
        "sampling" => "#9c755f",
        "kv_cache" => "#86bcb6",
        "memory" => "#d37295",
        "compiled" => "#a0cbe8",
        "elementwise" => "#8cd17d",
        "other" => "#9e9e9e",
        "compute" => "#59a14f",
        "exposed communication" => "#e15759",
        "idle" => "#d0d0d0",
        _ => {
            const CYCLE: &[&str] = &["#4e79a7", "#f28e2b", "#e15759", "#59a14f", "#b07aa1"];
            let h = name
                .bytes()
                .fold(0usize, |h, b| h.wrapping_mul(31) + b as usize);
            CYCLE[h % CYCLE.len()]
        }
    }
}

/// A number with 3 significant decimals for ms-sized values.
pub fn num(v: f64) -> String {
    if v.abs() >= 100.0 {
        format!("{v:.1}")
    } else if v.abs() >= 1.0 {
        format!("{v:.3}")
    } else {
        format!("{v:.4}")
    }
}

/// One bar of a stacked bar chart: a label and (segment, value) pairs.
pub struct Bar {
    pub label: String,
    pub segments: Vec<(String, f64)>,
    /// Text drawn after the bar (e.g. "other 3.2%").
    pub note: String,
}

/// Horizontal stacked bars sharing one scale; `unit` is appended in titles.
pub fn stacked_bars(title: &str, bars: &[Bar], unit: &str, max: f64) -> String {
    let (label_w, plot_w, row_h, top) = (130.0, 330.0, 22.0, 24.0);
    let height = top + row_h * bars.len() as f64 + 26.0;
    // Room after the bar for its total and note (about 7 px a character at 11 px text).
    let note_chars = bars
        .iter()
        .map(|b| b.note.chars().count())
        .max()
        .unwrap_or(0);
    let width = label_w + plot_w + (7.0 * (note_chars + 14) as f64).max(200.0);
    let scale = if max > 0.0 { plot_w / max } else { 0.0 };
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg class="chart" width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img"><text x="4" y="15" class="t">{}</text>"#,
        esc(title)
    );
    for (i, bar) in bars.iter().enumerate() {
        let y = top + row_h * i as f64;
        let _ = write!(
            s,
            r#"<text x="{}" y="{}" class="l" text-anchor="end">{}</text>"#,
            label_w - 6.0,
            y + 14.0,
            esc(&bar.label)
        );
        let mut x = label_w;
        let total: f64 = bar.segments.iter().map(|(_, v)| v).sum();
        for (name, value) in &bar.segments {
            let w = value * scale;
            let pct = if total > 0.0 {
                100.0 * value / total
            } else {
                0.0
            };
            let _ = write!(
                s,
                r#"<rect x="{x:.2}" y="{}" width="{w:.2}" height="{}" fill="{}"><title>{} · {}: {} {unit} ({pct:.1}%)</title></rect>"#,
                y + 3.0,
                row_h - 6.0,
                color(name),
                esc(&bar.label),
                esc(name),
                num(*value)
            );
            x += w;
        }
        let _ = write!(
            s,
            r#"<text x="{:.2}" y="{}" class="n">{} {unit} {}</text>"#,
            x + 4.0,
            y + 14.0,
            num(total),
            esc(&bar.note)
        );
    }
    let _ = write!(
        s,
        r#"<text x="{label_w}" y="{}" class="n">0</text><text x="{}" y="{}" class="n" text-anchor="end">{} {unit}</text></svg>"#,
        height - 8.0,
        label_w + plot_w,
        height - 8.0,
        num(max)
    );
    s
}

/// A legend of coloured swatches.
pub fn legend(names: &[String]) -> String {
    let mut s = String::from(r#"<div class="legend">"#);
    for name in names {
        let _ = write!(
            s,
            r#"<span><i style="background:{}"></i>{}</span>"#,
            color(name),
            esc(name)
        );
    }
    s.push_str("</div>");
    s
}

/// Lines over a log2 x axis (bsz, seq): (series name, points (x, y)).
pub fn line_chart(
    title: &str,
    x_label: &str,
    unit: &str,
    series: &[(String, Vec<(f64, f64)>)],
) -> String {
    let (left, plot_w, plot_h, top) = (52.0, 300.0, 150.0, 24.0);
    let (width, height) = (left + plot_w + 20.0, top + plot_h + 40.0);
    let xs: Vec<f64> = series
        .iter()
        .flat_map(|(_, p)| p.iter().map(|q| q.0))
        .collect();
    let ys: Vec<f64> = series
        .iter()
        .flat_map(|(_, p)| p.iter().map(|q| q.1))
        .collect();
    let lx = |x: f64| x.max(1e-9).log2();
    let (x0, x1) = xs.iter().fold((f64::MAX, f64::MIN), |(a, b), &x| {
        (a.min(lx(x)), b.max(lx(x)))
    });
    let y1 = ys.iter().fold(0.0f64, |a, &y| a.max(y)) * 1.05;
    let px = |x: f64| {
        if x1 > x0 {
            left + (lx(x) - x0) / (x1 - x0) * plot_w
        } else {
            left + plot_w / 2.0
        }
    };
    let py = |y: f64| {
        if y1 > 0.0 {
            top + plot_h - y / y1 * plot_h
        } else {
            top + plot_h
        }
    };
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg class="chart" width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img"><text x="4" y="15" class="t">{}</text><line x1="{left}" y1="{}" x2="{}" y2="{}" class="ax"/><line x1="{left}" y1="{top}" x2="{left}" y2="{}" class="ax"/><text x="{}" y="{}" class="n" text-anchor="end">{}</text><text x="{}" y="{}" class="n" text-anchor="end">0</text><text x="{}" y="{}" class="n" text-anchor="middle">{}</text>"#,
        esc(title),
        top + plot_h,
        left + plot_w,
        top + plot_h,
        top + plot_h,
        left - 4.0,
        top + 8.0,
        num(y1),
        left - 4.0,
        top + plot_h,
        left + plot_w / 2.0,
        height - 4.0,
        esc(x_label)
    );
    let mut ticks: Vec<f64> = xs.clone();
    ticks.sort_by(f64::total_cmp);
    ticks.dedup();
    for x in ticks {
        let _ = write!(
            s,
            r#"<text x="{:.1}" y="{}" class="n" text-anchor="middle">{x}</text>"#,
            px(x),
            top + plot_h + 14.0
        );
    }
    for (name, points) in series {
        let path: Vec<String> = points
            .iter()
            .map(|&(x, y)| format!("{:.1},{:.1}", px(x), py(y)))
            .collect();
        let _ = write!(
            s,
            r#"<polyline points="{}" fill="none" stroke="{}" stroke-width="2"/>"#,
            path.join(" "),
            color(name)
        );
        for &(x, y) in points {
            let _ = write!(
                s,
                r#"<circle cx="{:.1}" cy="{:.1}" r="3.5" fill="{}"><title>{} at {x_label}={x}: {} {unit}</title></circle>"#,
                px(x),
                py(y),
                color(name),
                esc(name),
                num(y)
            );
        }
    }
    s.push_str("</svg>");
    s
}

/// The kernels of one representative step, a lane per device × stream.
pub fn timeline(t: &Timeline) -> String {
    let (left, plot_w, lane_h, top) = (110.0, 1100.0, 20.0, 22.0);
    let height = top + lane_h * t.lanes.len() as f64 + 22.0;
    let width = left + plot_w + 10.0;
    let scale = plot_w / t.span_ns.max(1) as f64;
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg class="chart" width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img"><text x="4" y="15" class="t">{} · iter {} · {} kernels · {} ms span</text>"#,
        esc(&t.shape.label()),
        t.iter.map_or("-".to_string(), |i| i.to_string()),
        t.kernels,
        num(t.span_ns as f64 / 1e6)
    );
    for (i, lane) in t.lanes.iter().enumerate() {
        let y = top + lane_h * i as f64;
        let _ = write!(
            s,
            r#"<text x="{}" y="{}" class="l" text-anchor="end">gpu {} · stream {}</text>"#,
            left - 6.0,
            y + 14.0,
            lane.device,
            lane.stream
        );
        for b in &lane.blocks {
            let x = left + b.start_ns as f64 * scale;
            let w = ((b.end_ns - b.start_ns) as f64 * scale).max(0.5);
            let what = if b.kernels > 1 {
                format!("{} kernels from {}", b.kernels, b.name)
            } else {
                b.name.clone()
            };
            let _ = write!(
                s,
                r#"<rect x="{x:.1}" y="{}" width="{w:.1}" height="{}" fill="{}"><title>{} ({}): {} µs</title></rect>"#,
                y + 2.0,
                lane_h - 4.0,
                color(&b.category),
                esc(&what),
                esc(&b.category),
                num(b.kernel_ns as f64 / 1e3)
            );
        }
    }
    let _ = write!(
        s,
        r#"<text x="{left}" y="{}" class="n">0</text><text x="{}" y="{}" class="n" text-anchor="end">{} ms</text></svg>"#,
        height - 6.0,
        left + plot_w,
        height - 6.0,
        num(t.span_ns as f64 / 1e6)
    );
    s
}
