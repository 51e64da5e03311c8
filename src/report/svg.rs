//! Two small SVG charts, drawn by hand: a latency scatter (log scale) and throughput
//! lines, both with fault windows shaded and labelled. (plotters needs a font backend
//! to lay out its labels; these charts need a dozen elements each.)

use super::data::{Point, Window};
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

/// Latency of every client operation over time, coloured by outcome.
pub fn latency(points: &[Point], faults: &[Window], duration: f64) -> String {
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
    for p in points.iter().step_by(stride) {
        let _ = write!(out, r#"<circle cx="{:.1}" cy="{:.1}" r="1.6" fill="{}" fill-opacity="0.6"/>"#, x(p.t, duration), y(p.latency_ms), colour(p.outcome));
    }
    out.push_str("</svg>");
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
