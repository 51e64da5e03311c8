//! Small SVG drawings, by hand: a latency scatter (log scale, with quantile lines) and
//! throughput lines, both with fault windows shaded and labelled; a dependency cycle;
//! the operations behind a finding. (plotters needs a font backend to lay out its
//! labels; these need a dozen elements each.)

use super::data::{shorten, Point, Window};
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

/// The frame: fault windows (labelled where there is room), the time axis with a
/// tick every tenth of the run or so, and the y label.
fn frame(out: &mut String, faults: &[Window], duration: f64, y_label: &str) {
    let _ = write!(out, r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {W} {H}" width="100%" class="chart">"#);
    let mut label_free_from = 0.0;
    for w in faults {
        let (a, b) = (x(w.start, duration), x(w.end, duration).max(x(w.start, duration) + 2.0));
        let _ = write!(
            out,
            r##"<rect class="fault" x="{a:.1}" y="{TOP}" width="{:.1}" height="{:.1}" fill="#ffd8a8" fill-opacity="0.5"><title>{}: {}</title></rect>"##,
            b - a,
            H - TOP - BOTTOM,
            escape(&w.kind),
            escape(&w.detail),
        );
        // Labels of overlapping or narrow windows would print over each other: the
        // window's tooltip and the faults table name it instead.
        let label_w = 6.0 * w.kind.chars().count() as f64 + 4.0;
        if a >= label_free_from {
            let _ = write!(out, r##"<text x="{:.1}" y="{:.1}" font-size="10" fill="#a25a00">{}</text>"##, a + 2.0, TOP + 10.0, escape(&w.kind));
            label_free_from = a + label_w;
        }
    }
    let _ = write!(out, r##"<line x1="{LEFT}" y1="{y}" x2="{W}" y2="{y}" stroke="#888"/><line x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{y}" stroke="#888"/>"##, y = H - BOTTOM);
    let step = nice_step(duration.max(1.0), 10);
    let mut t = 0.0;
    while t <= duration + 1e-9 {
        let label = if step < 1.0 { format!("{t:.1}s") } else { format!("{t:.0}s") };
        let _ = write!(out, r##"<text x="{:.1}" y="{:.1}" font-size="10" text-anchor="middle" fill="#555">{label}</text>"##, x(t, duration), H - BOTTOM + 14.0);
        t += step;
    }
    let _ = write!(out, r##"<text x="12" y="{:.1}" font-size="11" fill="#555" text-anchor="middle" transform="rotate(-90 12 {:.1})">{}</text>"##, H / 2.0, H / 2.0, escape(y_label));
}

/// A round step (1, 2 or 5 times a power of ten) that cuts `0..max` into about `n` parts.
fn nice_step(max: f64, n: usize) -> f64 {
    let raw = max / n.max(1) as f64;
    let magnitude = 10f64.powf(raw.log10().floor());
    [1.0, 2.0, 5.0, 10.0].into_iter().map(|m| m * magnitude).find(|s| *s >= raw).unwrap_or(10.0 * magnitude)
}

/// A y tick with its grid line across the plot.
fn y_tick(out: &mut String, y: f64, label: &str) {
    let _ = write!(
        out,
        r##"<line class="grid" x1="{LEFT}" y1="{y:.1}" x2="{W}" y2="{y:.1}" stroke="#e9ecef"/><text class="ytick" x="{:.1}" y="{:.1}" font-size="10" text-anchor="end" fill="#555">{label}</text>"##,
        LEFT - 4.0,
        y + 3.0
    );
}

/// Ticks of a log axis from `lo` to `hi`: 1, 2 and 5 times each power of ten.
fn log_ticks(lo: f64, hi: f64) -> Vec<f64> {
    let mut ticks = Vec::new();
    let mut decade = 10f64.powf(lo.log10().floor());
    while decade <= hi {
        for m in [1.0, 2.0, 5.0] {
            let t = m * decade;
            if t >= lo * 0.999 && t <= hi * 1.001 {
                ticks.push(t);
            }
        }
        decade *= 10.0;
    }
    ticks
}

/// A number of milliseconds as a tick label: `0.2`, `5`, `1k`.
fn ms_label(ms: f64) -> String {
    if ms >= 1000.0 {
        format!("{}k", ms / 1000.0)
    } else if ms >= 1.0 {
        format!("{ms:.0}")
    } else {
        format!("{ms}")
    }
}

/// An HTML legend under a chart: a swatch and a name per entry.
fn legend(id: &str, entries: &[(String, String)]) -> String {
    let mut out = format!(r#"<div class="legend" id="{id}">"#);
    for (swatch, name) in entries {
        let _ = write!(out, r#"<span class="entry">{swatch} {}</span>"#, escape(name));
    }
    out.push_str("</div>");
    out
}

/// A coloured square for a legend.
fn swatch(colour: &str) -> String {
    format!(r#"<span class="swatch" style="background:{colour}"></span>"#)
}

/// A short line, solid or dashed, for a legend.
fn line_swatch(colour: &str, dash: &str) -> String {
    format!(r#"<svg width="22" height="8" class="swatch-line"><line x1="0" y1="4" x2="22" y2="4" stroke="{colour}" stroke-width="2" stroke-dasharray="{dash}"/></svg>"#)
}

/// The marker drawn for the `k`-th function (circle, square, triangle).
fn marker(out: &mut String, k: usize, cx: f64, cy: f64, fill: &str) {
    match k % 3 {
        0 => _ = write!(out, r#"<circle cx="{cx:.1}" cy="{cy:.1}" r="1.8" fill="{fill}" fill-opacity="0.6"/>"#),
        1 => _ = write!(out, r#"<rect x="{:.1}" y="{:.1}" width="3.2" height="3.2" fill="{fill}" fill-opacity="0.6"/>"#, cx - 1.6, cy - 1.6),
        _ => _ = write!(out, r#"<path d="M{cx:.1} {:.1}l2 3.4h-4z" fill="{fill}" fill-opacity="0.6"/>"#, cy - 2.0),
    }
}

/// The legend entry of a fault window's shading.
fn fault_entry() -> (String, String) {
    (swatch("#ffd8a8"), "fault window".to_owned())
}

/// Latency of every client operation over time, coloured by outcome and shaped by
/// function, with p50/p95/p99 lines of ok operations, on a log axis whose ticks reach
/// below a millisecond when the operations do; its legend follows it.
pub fn latency(points: &[Point], quantiles: &[(f64, f64, f64, f64)], faults: &[Window], duration: f64) -> String {
    let mut out = String::new();
    frame(&mut out, faults, duration, "latency (ms, log scale)");
    let max = points.iter().map(|p| p.latency_ms).fold(1.0f64, f64::max);
    let min = points.iter().map(|p| p.latency_ms).filter(|l| *l > 0.0).fold(max, f64::min);
    let lo = 10f64.powf(min.max(0.01).log10().floor());
    let hi = 10f64.powf(max.log10().ceil()).max(lo * 10.0);
    let (llo, lhi) = (lo.log10(), hi.log10());
    let y = |ms: f64| TOP + (H - TOP - BOTTOM) * (1.0 - ((ms.max(lo).log10() - llo) / (lhi - llo)));
    let ticks = log_ticks(lo, hi);
    // Many decades: label only the powers of ten so the labels stay apart.
    let sparse = ticks.len() > 12;
    for t in ticks {
        if !sparse || (t.log10().fract()).abs() < 1e-9 {
            y_tick(&mut out, y(t), &ms_label(t));
        }
    }
    // Thousands of circles are fine; beyond that, every n-th (the table has them all).
    let stride = (points.len() / 20_000).max(1);
    let mut functions: Vec<&str> = points.iter().map(|p| p.f.as_str()).collect();
    functions.sort_unstable();
    functions.dedup();
    for p in points.iter().step_by(stride) {
        let k = functions.iter().position(|f| *f == p.f).unwrap_or(0);
        marker(&mut out, k, x(p.t, duration), y(p.latency_ms), colour(p.outcome));
    }
    let lines = [(1usize, "p50", ""), (2, "p95", "4 2"), (3, "p99", "1 2")];
    for (pick, name, dash) in lines {
        let pts: Vec<String> = quantiles.iter().map(|q| format!("{:.1},{:.1}", x(q.0, duration), y([0.0, q.1, q.2, q.3][pick]))).collect();
        let _ = write!(out, r##"<polyline class="quantile" fill="none" stroke="#1c7ed6" stroke-width="1.2" stroke-dasharray="{dash}" points="{}"><title>{name} of ok latencies</title></polyline>"##, pts.join(" "));
    }
    out.push_str("</svg>");
    let mut entries: Vec<(String, String)> = ["ok", "fail", "info"].iter().map(|o| (swatch(colour(o)), (*o).to_owned())).collect();
    for (k, f) in functions.iter().enumerate().take(6) {
        let mut m = String::from(r#"<svg width="8" height="8" class="swatch-marker">"#);
        marker(&mut m, k, 4.0, 4.0, "#495057");
        m.push_str("</svg>");
        entries.push((m, (*f).to_owned()));
    }
    entries.extend(lines.iter().map(|(_, name, dash)| (line_swatch("#1c7ed6", dash), format!("{name} of ok"))));
    entries.push(fault_entry());
    out.push_str(&legend("latency-legend", &entries));
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
        let key = match &step.key { None | Some(Value::Null) => String::new(), Some(k) => format!(" {}", shorten(&k.as_str().map_or_else(|| k.to_string(), str::to_owned), 24)) };
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

/// How many characters of an operation's label fit beside its bar.
const LABEL_CHARS: usize = 56;

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
        let label = format!("{} → {} {}", p.f, p.outcome, p.value);
        let _ = write!(
            out,
            r##"<text x="4" y="{:.1}" font-size="11">{} {}<title>{}</title></text><rect x="{a:.1}" y="{y:.1}" width="{:.1}" height="{:.1}" fill="{}" fill-opacity="0.7"{stroke}><title>{:.3}–{:.3} s</title></rect>"##,
            y + 12.0,
            op_link(p.index, &format!("#{} p{}", p.index, p.process)),
            // The label column is 420 px: a longer value would run under the bars.
            escape(&shorten(&label, LABEL_CHARS)),
            escape(&label),
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

/// Completions per second, one line per outcome, on a linear axis with round ticks
/// and grid lines; its legend follows it.
pub fn throughput(series: &[(u64, usize, usize, usize)], faults: &[Window], duration: f64) -> String {
    let mut out = String::new();
    frame(&mut out, faults, duration, "completions / s");
    let max = series.iter().map(|s| s.1.max(s.2).max(s.3)).max().unwrap_or(1).max(1) as f64;
    let step = nice_step(max, 5).max(1.0);
    let top = (max / step).ceil() * step;
    let y = |v: f64| TOP + (H - TOP - BOTTOM) * (1.0 - v / top);
    let mut tick = 0.0;
    while tick <= top + 1e-9 {
        y_tick(&mut out, y(tick), &format!("{tick:.0}"));
        tick += step;
    }
    for (outcome, pick) in [("ok", 1usize), ("fail", 2), ("info", 3)] {
        let pts: Vec<String> = series
            .iter()
            .map(|s| {
                let v = [0, s.1, s.2, s.3][pick];
                format!("{:.1},{:.1}", x(s.0 as f64 + 0.5, duration), y(v as f64))
            })
            .collect();
        let _ = write!(out, r#"<polyline fill="none" stroke="{}" stroke-width="1.5" points="{}"><title>{outcome}</title></polyline>"#, colour(outcome), pts.join(" "));
    }
    out.push_str("</svg>");
    let mut entries: Vec<(String, String)> = ["ok", "fail", "info"].iter().map(|o| (line_swatch(colour(o), ""), format!("{o} per second"))).collect();
    entries.push(fault_entry());
    out.push_str(&legend("throughput-legend", &entries));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_and_ticks_are_round() {
        assert_eq!(nice_step(30.0, 10), 5.0);
        assert_eq!(nice_step(7.0, 10), 1.0);
        assert_eq!(nice_step(1234.0, 5), 500.0);
        assert_eq!(nice_step(0.8, 10), 0.1);
        assert_eq!(log_ticks(0.1, 10.0), vec![0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0]);
        assert_eq!([0.2, 5.0, 2000.0].map(ms_label), ["0.2", "5", "2k"]);
    }

    #[test]
    fn sub_millisecond_latencies_get_ticks_below_one_millisecond() {
        let points: Vec<Point> = (0..50)
            .map(|i| Point { index: i, process: 0, t: i as f64 / 10.0, latency_ms: 0.3 + i as f64 / 100.0, f: "read".into(), outcome: "ok", value: String::new(), keys: vec![], brief: String::new() })
            .collect();
        let svg = latency(&points, &[], &[], 5.0);
        for label in [">0.1<", ">0.2<", ">0.5<", ">1<"] {
            assert!(svg.contains(label), "a tick {label}: {svg}");
        }
        assert!(svg.contains(r#"id="latency-legend""#) && svg.contains("p95 of ok") && svg.contains("read"), "the legend names outcomes, functions and lines");
        let tp = throughput(&[(0, 40, 3, 0), (1, 37, 0, 1)], &[], 2.0);
        assert!(tp.matches(r#"class="ytick""#).count() >= 3 && tp.contains(r#"id="throughput-legend""#) && tp.contains("fail per second"), "{tp}");
    }
}
