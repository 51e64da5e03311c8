//! Small SVG drawings, by hand: a latency scatter (log scale, with quantile lines) and
//! throughput lines, both with fault windows shaded and labelled; a dependency cycle;
//! the operations behind a finding. (plotters needs a font backend to lay out its
//! labels; these need a dozen elements each.)

use super::data::{Point, Window};
use faultline_checkers::elle::CycleReport;
use serde_json::Value;
use super::escape;
use std::fmt::Write;

const W: f64 = 960.0;
const H: f64 = 280.0;
const LEFT: f64 = 60.0;
const BOTTOM: f64 = 30.0;
const TOP: f64 = 20.0;

fn x(t: f64, duration: f64) -> f64 {
    LEFT + (W - LEFT - 10.0) * (t / duration.max(1e-9))
}

fn colour(outcome: &str) -> &'static str {
    match outcome {
        "ok" => "#2b8a3e",
        "fail" => "#e67700",
        _ => "#c92a2a",
    }
}

/// The frame: fault windows, the time axis, and the y label.
fn frame(out: &mut String, faults: &[Window], duration: f64, y_label: &str) {
    let _ = write!(out, r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {W} {H}" width="100%" class="chart">"#);
    for w in faults {
        let (a, b) = (x(w.start, duration), x(w.end, duration).max(x(w.start, duration) + 2.0));
        let _ = write!(
            out,
            r##"<rect class="fault" x="{a:.1}" y="{TOP}" width="{:.1}" height="{:.1}" fill="#ffd8a8" fill-opacity="0.5"><title>{}: {}</title></rect><text x="{:.1}" y="{:.1}" font-size="10" fill="#a25a00">{}</text>"##,
            b - a,
            H - TOP - BOTTOM,
            escape(&w.kind),
            escape(&w.detail),
            a + 2.0,
            TOP + 10.0,
            escape(&w.kind)
        );
    }
    let _ = write!(out, r##"<line x1="{LEFT}" y1="{y}" x2="{W}" y2="{y}" stroke="#888"/>"##, y = H - BOTTOM);
    let step = (duration / 10.0).max(1.0).ceil();
    let mut t = 0.0;
    while t <= duration {
        let _ = write!(out, r##"<text x="{:.1}" y="{:.1}" font-size="10" text-anchor="middle" fill="#555">{t:.0}s</text>"##, x(t, duration), H - BOTTOM + 14.0);
        t += step;
    }
    let _ = write!(out, r##"<text x="12" y="{:.1}" font-size="11" fill="#555" transform="rotate(-90 12 {:.1})">{}</text>"##, H / 2.0, H / 2.0, escape(y_label));
}

/// Latency of every client operation over time, coloured by outcome and shaped by
/// function, with p50/p95/p99 lines of ok operations.
pub fn latency(points: &[Point], quantiles: &[(f64, f64, f64, f64)], faults: &[Window], duration: f64) -> String {
    let mut out = String::new();
    frame(&mut out, faults, duration, "latency (ms, log)");
    let max = points.iter().map(|p| p.latency_ms).fold(1.0f64, f64::max);
    let (lo, hi) = (0.1f64.log10(), max.log10().max(0.0) + 0.1);
    let y = |ms: f64| TOP + (H - TOP - BOTTOM) * (1.0 - ((ms.max(0.1).log10() - lo) / (hi - lo)));
    for ms in [1.0, 10.0, 100.0, 1000.0, 10000.0].into_iter().filter(|m| *m <= max * 1.5) {
        let _ = write!(out, r##"<text x="{:.1}" y="{:.1}" font-size="10" text-anchor="end" fill="#555">{ms}</text>"##, LEFT - 4.0, y(ms) + 3.0);
    }
    // Thousands of circles are fine; beyond that, every n-th (the table has them all).
    let stride = (points.len() / 20_000).max(1);
    let mut functions: Vec<&str> = points.iter().map(|p| p.f.as_str()).collect();
    functions.sort_unstable();
    functions.dedup();
    for p in points.iter().step_by(stride) {
        let (cx, cy, fill) = (x(p.t, duration), y(p.latency_ms), colour(p.outcome));
        match functions.iter().position(|f| *f == p.f).unwrap_or(0) % 3 {
            0 => _ = write!(out, r#"<circle cx="{cx:.1}" cy="{cy:.1}" r="1.8" fill="{fill}" fill-opacity="0.6"/>"#),
            1 => _ = write!(out, r#"<rect x="{:.1}" y="{:.1}" width="3.2" height="3.2" fill="{fill}" fill-opacity="0.6"/>"#, cx - 1.6, cy - 1.6),
            _ => _ = write!(out, r#"<path d="M{cx:.1} {:.1}l2 3.4h-4z" fill="{fill}" fill-opacity="0.6"/>"#, cy - 2.0),
        }
    }
    for (pick, name, dash) in [(1usize, "p50", ""), (2, "p95", "4 2"), (3, "p99", "1 2")] {
        let pts: Vec<String> = quantiles.iter().map(|q| format!("{:.1},{:.1}", x(q.0, duration), y([0.0, q.1, q.2, q.3][pick]))).collect();
        let _ = write!(out, r##"<polyline class="quantile" fill="none" stroke="#1c7ed6" stroke-width="1.2" stroke-dasharray="{dash}" points="{}"><title>{name} of ok latencies</title></polyline>"##, pts.join(" "));
    }
    let mut legend = String::from("● ▪ ▴: ");
    legend.push_str(&functions.iter().take(3).map(|f| escape(f)).collect::<Vec<_>>().join(", "));
    let _ = write!(out, r##"<text x="{:.1}" y="12" font-size="10" fill="#555" text-anchor="end">{legend} · green ok, orange fail, red info · blue p50 / p95 (dashed) / p99 (dotted)</text></svg>"##, W - 10.0);
    out
}

/// A link to an operation in the timeline, as SVG or HTML (`<a>` works in both).
pub fn op_link(index: u64, label: &str) -> String {
    format!(r##"<a class="oplink" href="#op-{index}" data-op="{index}">{}</a>"##, escape(label))
}

/// A dependency cycle: its transactions on a circle, arrows labelled with the
/// relation and key. `cycle` is an Elle `CycleReport`.
pub fn cycle(cycle: &CycleReport) -> String {
    let txns = &cycle.txns;
    let n = txns.len().max(1) as f64;
    let (w, h) = (520.0, if txns.len() <= 2 { 200.0 } else { 340.0 });
    let (cx, cy, r) = (w / 2.0, h / 2.0, if txns.len() <= 2 { 60.0 } else { 120.0 });
    let at = |i: usize| {
        let a = -std::f64::consts::FRAC_PI_2 + std::f64::consts::TAU * i as f64 / n;
        (cx + r * 1.6 * a.cos(), cy + r * a.sin())
    };
    let position: std::collections::HashMap<u64, usize> = txns.iter().enumerate().map(|(i, t)| (t.index, i)).collect();
    let mut out = format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" class="cycle" viewBox="0 0 {w} {h}" width="{w}"><defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0 0L10 5L0 10z" fill="#495057"/></marker></defs>"##
    );
    for step in &cycle.steps {
        let (Some(a), Some(b)) = (position.get(&step.from), position.get(&step.to)) else { continue };
        let ((x1, y1), (x2, y2)) = (at(*a), at(*b));
        let len = ((x2 - x1).powi(2) + (y2 - y1).powi(2)).sqrt().max(1.0);
        let (ux, uy) = ((x2 - x1) / len, (y2 - y1) / len);
        // Bend each arrow to its left, so a→b and b→a (and their labels) don't overlap.
        let bend = if txns.len() == 2 { 48.0 } else { 24.0 };
        let (mx, my) = ((x1 + x2) / 2.0 - uy * bend, (y1 + y2) / 2.0 + ux * bend);
        let relation = step.relation.as_str();
        let key = match &step.key { None | Some(Value::Null) => String::new(), Some(k) => format!(" {}", k.as_str().map_or_else(|| k.to_string(), str::to_owned)) };
        let _ = write!(
            out,
            r##"<path d="M{:.1} {:.1}Q{mx:.1} {my:.1} {:.1} {:.1}" fill="none" stroke="#495057" stroke-width="1.4" marker-end="url(#arrow)"><title>{}</title></path><text x="{mx:.1}" y="{my:.1}" font-size="11" text-anchor="middle" fill="#c92a2a">{}{}</text>"##,
            x1 + ux * 30.0,
            y1 + uy * 16.0,
            x2 - ux * 30.0,
            y2 - uy * 16.0,
            escape(&step.text),
            escape(relation),
            escape(&key)
        );
    }
    for (i, t) in txns.iter().enumerate() {
        let (x0, y0) = at(i);
        let index = t.index;
        let _ = write!(
            out,
            r##"<ellipse cx="{x0:.1}" cy="{y0:.1}" rx="30" ry="15" fill="#e7f5ff" stroke="#1c7ed6"><title>{}</title></ellipse><text x="{x0:.1}" y="{:.1}" font-size="12" text-anchor="middle">{}</text>"##,
            escape(&format!("p{} {} {}", t.process, t.status, t.value)),
            y0 + 4.0,
            op_link(index, &format!("T{index}"))
        );
    }
    out.push_str("</svg>");
    out
}

/// The operations behind a finding on a shared time axis, one row each, the
/// `marked` ones outlined in red.
pub fn ops_diagram(ops: &[&Point], marked: &[u64]) -> String {
    if ops.is_empty() {
        return String::new();
    }
    let from = ops.iter().map(|p| p.t).fold(f64::INFINITY, f64::min);
    let to = ops.iter().map(|p| p.t + p.latency_ms / 1e3).fold(f64::NEG_INFINITY, f64::max);
    let span = (to - from).max(1e-6);
    let (w, label_w, row) = (960.0, 420.0, 20.0);
    let h = row * ops.len() as f64 + 24.0;
    let bx = |t: f64| label_w + (w - label_w - 10.0) * (t - from) / span;
    let mut out = format!(r##"<svg xmlns="http://www.w3.org/2000/svg" class="ops" viewBox="0 0 {w} {h}" width="100%">"##);
    for (i, p) in ops.iter().enumerate() {
        let y = 4.0 + row * i as f64;
        let stroke = if marked.contains(&p.index) { r##" stroke="#c92a2a" stroke-width="2""## } else { "" };
        let (a, b) = (bx(p.t), bx(p.t + p.latency_ms / 1e3));
        let _ = write!(
            out,
            r##"<text x="4" y="{:.1}" font-size="11">{} {}</text><rect x="{a:.1}" y="{y:.1}" width="{:.1}" height="{:.1}" fill="{}" fill-opacity="0.7"{stroke}><title>{:.3}–{:.3} s</title></rect>"##,
            y + 12.0,
            op_link(p.index, &format!("#{} p{}", p.index, p.process)),
            escape(&format!("{} → {} {}", p.f, p.outcome, p.value)),
            (b - a).max(2.0),
            row - 6.0,
            colour(p.outcome),
            p.t,
            p.t + p.latency_ms / 1e3
        );
    }
    let _ = write!(out, r##"<text x="{label_w}" y="{:.1}" font-size="10" fill="#555">{from:.3} s</text><text x="{:.1}" y="{:.1}" font-size="10" fill="#555" text-anchor="end">{to:.3} s</text></svg>"##, h - 4.0, w - 10.0, h - 4.0);
    out
}

/// Completions per second, one line per outcome.
pub fn throughput(series: &[(u64, usize, usize, usize)], faults: &[Window], duration: f64) -> String {
    let mut out = String::new();
    frame(&mut out, faults, duration, "completions / s");
    let max = series.iter().map(|s| s.1.max(s.2).max(s.3)).max().unwrap_or(1).max(1) as f64;
    let y = |v: usize| TOP + (H - TOP - BOTTOM) * (1.0 - v as f64 / max);
    let _ = write!(out, r##"<text x="{:.1}" y="{:.1}" font-size="10" text-anchor="end" fill="#555">{max}</text>"##, LEFT - 4.0, TOP + 8.0);
    for (outcome, pick) in [("ok", 1usize), ("fail", 2), ("info", 3)] {
        let pts: Vec<String> = series
            .iter()
            .map(|s| {
                let v = [0, s.1, s.2, s.3][pick];
                format!("{:.1},{:.1}", x(s.0 as f64 + 0.5, duration), y(v))
            })
            .collect();
        let _ = write!(out, r#"<polyline fill="none" stroke="{}" stroke-width="1.5" points="{}"><title>{outcome}</title></polyline>"#, colour(outcome), pts.join(" "));
    }
    out.push_str("</svg>");
    out
}
