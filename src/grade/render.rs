//! The scorecard as a page (`scorecard.html`: designs side by side, the matrix with
//! each cell's verdict linked to its run's report, bug detection) and as JUnit XML
//! (`junit.xml`: one test case per cell, failed when the cell deviates).

use super::scorecard::{CellResult, Scorecard};
use crate::report::escape;
use std::fmt::Write;
use std::path::{Component, Path, PathBuf};

/// `to` as a path relative to the directory `from` (both made absolute first), so
/// the page's links survive copying the store elsewhere as a whole.
pub fn relative(from: &Path, to: &Path) -> PathBuf {
    let abs = |p: &Path| std::path::absolute(p).unwrap_or_else(|_| p.to_owned());
    let (from, to) = (abs(from), abs(to));
    let (a, b): (Vec<Component>, Vec<Component>) = (from.components().collect(), to.components().collect());
    let common = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
    let mut out = PathBuf::new();
    for _ in common..a.len() {
        out.push("..");
    }
    for c in &b[common..] {
        out.push(c);
    }
    out
}

fn opt(v: Option<f64>, scale: f64, unit: &str) -> String {
    v.map_or("–".into(), |v| format!("{:.1}{unit}", v * scale))
}

fn badge(c: &CellResult, out_dir: &Path) -> String {
    let colour = match (c.as_expected(), c.verdict.as_str()) {
        (false, _) => "#c92a2a",
        (true, _) if !c.passed => "#f59f00",
        (true, "invalid") => "#e67700",
        (true, "valid") => "#2b8a3e",
        (true, _) => "#868e96",
    };
    let label = format!("{} · seed {}", c.verdict, c.seed);
    let title = escape(&match (&c.excused, c.passed) {
        (_, true) => format!("as expected: {}", c.why),
        (Some(excused), false) => format!("{}; {excused}", c.why),
        (None, false) => format!("DEVIATION: {}", c.why),
    });
    match &c.run {
        Some(run) => format!(r#"<a class="badge" style="background:{colour}" title="{title}" href="{}">{}</a>"#, escape(&relative(out_dir, &Path::new(run).join("report.html")).display().to_string()), escape(&label)),
        None => format!(r#"<span class="badge" style="background:{colour}" title="{title}">{}</span>"#, escape(&label)),
    }
}

/// The scorecard page; `out_dir` is where it is written (links to reports are
/// relative to it).
pub fn html(card: &Scorecard, out_dir: &Path) -> String {
    let mut h = String::new();
    let _ = write!(
        h,
        r#"<!doctype html><html><head><meta charset="utf-8"><title>faultline scorecard: {name}</title><style>
body{{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#222}} table{{border-collapse:collapse;margin-bottom:16px}}
td,th{{border:1px solid #ddd;padding:4px 8px;text-align:left;vertical-align:top}} .badge{{display:inline-block;color:#fff;border-radius:4px;padding:1px 6px;margin:1px;text-decoration:none;font-size:12px}}
.summary{{color:#fff;padding:12px 16px;border-radius:6px;font-size:20px}} small{{color:#555}}
</style></head><body><div class="summary" id="summary" style="background:{colour}">{passed} of {run} cells as expected · {dev} deviation(s)</div>
<p>Matrix {name} · started {started} · {wall:.0} s of wall time.</p>"#,
        name = escape(&card.matrix),
        colour = if card.deviations == 0 { "#2b8a3e" } else { "#c92a2a" },
        passed = card.passed,
        run = card.cells_run,
        dev = card.deviations,
        started = escape(&card.started),
        wall = card.wall_s,
    );
    h.push_str(r#"<h2>Designs side by side</h2><p><small>Each design's cells without bugs or knobs; medians over cells. Failover: the longest time without an ok operation while faults were active. Recovery: from the heal to the first ok.</small></p><table id="designs"><tr><th></th>"#);
    for d in &card.designs {
        let _ = write!(h, "<th>{}</th>", escape(&d.design));
    }
    type Figure = (&'static str, fn(&super::scorecard::DesignSummary) -> String);
    let figures: [Figure; 8] = [
        ("cells", |d| d.cells.to_string()),
        ("verdicts", |d| d.verdicts.iter().map(|(v, n)| format!("{n} {v}")).collect::<Vec<_>>().join(", ")),
        ("anomalies found", |d| if d.anomalies.is_empty() { "none".into() } else { d.anomalies.iter().map(|(a, n)| format!("{a} ×{n}")).collect::<Vec<_>>().join(", ") }),
        ("availability during faults", |d| opt(d.availability_during, 100.0, "%")),
        ("failover (s)", |d| opt(d.failover_s, 1.0, "")),
        ("time to recover (s)", |d| opt(d.recover_s, 1.0, "")),
        ("latency p50 (ms)", |d| opt(d.p50_ms, 1.0, "")),
        ("latency p99 (ms)", |d| opt(d.p99_ms, 1.0, "")),
    ];
    for (name, f) in figures {
        let _ = write!(h, "<tr><th>{name}</th>");
        for d in &card.designs {
            let _ = write!(h, "<td>{}</td>", escape(&f(d)));
        }
        h.push_str("</tr>");
    }
    h.push_str(r#"</table><h2>Matrix</h2><table id="matrix"><tr><th>design</th><th>workload</th><th>nemesis</th><th>expected</th><th>runs (one per seed; each links to its report)</th></tr>"#);
    let mut groups: Vec<(&str, &str, &str)> = Vec::new();
    for c in &card.cells {
        let key = (c.row.as_str(), c.workload.as_str(), c.nemesis.as_str());
        if !groups.contains(&key) {
            groups.push(key);
        }
    }
    for (row, workload, nemesis) in groups {
        let cells: Vec<&CellResult> = card.cells.iter().filter(|c| (c.row.as_str(), c.workload.as_str(), c.nemesis.as_str()) == (row, workload, nemesis)).collect();
        let _ = write!(h, "<tr><th>{}</th><td>{}</td><td>{}</td><td>{:?}</td><td>", escape(row), escape(workload), escape(nemesis), cells[0].expect);
        for c in cells {
            h.push_str(&badge(c, out_dir));
            if !c.anomalies.is_empty() {
                let _ = write!(h, " <small>{}</small>", escape(&c.anomalies.iter().map(|(a, n)| format!("{a} ×{n}")).collect::<Vec<_>>().join(", ")));
            }
            let _ = write!(h, " <small>· avail {} · p99 {} ms</small><br>", opt(c.availability_during, 100.0, "%"), opt(c.p99_ms, 1.0, ""));
        }
        h.push_str("</td></tr>");
    }
    h.push_str(r#"</table><h2>Bugs</h2><table id="bugs"><tr><th>design</th><th>bug</th><th>detected</th><th>rate</th><th>median time to detect (s)</th></tr>"#);
    for b in &card.bugs {
        let _ = write!(h, "<tr><td>{}</td><td>{}</td><td>{} of {}</td><td>{:.0}%</td><td>{}</td></tr>", escape(&b.design), escape(&b.bug), b.detected, b.cells, b.rate * 100.0, opt(b.median_time_to_detect_s, 1.0, ""));
    }
    h.push_str(r#"</table><h2>Cells</h2><table id="cells"><tr><th>row</th><th>workload</th><th>nemesis</th><th>seed</th><th>expected</th><th>verdict</th><th>why</th><th>ok / fail / info</th><th>failover (s)</th><th>recover (s)</th><th>p50 / p99 (ms)</th><th>time to detect (s)</th><th>wall (s)</th></tr>"#);
    for c in &card.cells {
        let _ = write!(
            h,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{:?}</td><td>{}</td><td>{}</td><td>{} / {} / {}</td><td>{}</td><td>{}</td><td>{} / {}</td><td>{}</td><td>{:.0}</td></tr>",
            escape(&c.row),
            escape(&c.workload),
            escape(&c.nemesis),
            c.seed,
            c.expect,
            badge(c, out_dir),
            escape(&c.why),
            c.ops.ok,
            c.ops.fail,
            c.ops.info,
            opt(c.failover_s, 1.0, ""),
            opt(c.recover_s, 1.0, ""),
            opt(c.p50_ms, 1.0, ""),
            opt(c.p99_ms, 1.0, ""),
            opt(c.time_to_detect_s, 1.0, ""),
            c.wall_s
        );
    }
    h.push_str("</table></body></html>\n");
    h
}

/// The scorecard as JUnit XML: a test suite per row, a test case per cell.
pub fn junit(card: &Scorecard) -> String {
    let mut x = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(x, r#"<testsuites name="faultline grade: {}" tests="{}" failures="{}" time="{:.1}">"#, escape(&card.matrix), card.cells_run, card.deviations, card.wall_s);
    let mut rows: Vec<&str> = Vec::new();
    for c in &card.cells {
        if !rows.contains(&c.row.as_str()) {
            rows.push(&c.row);
        }
    }
    for row in rows {
        let cells: Vec<&CellResult> = card.cells.iter().filter(|c| c.row == row).collect();
        let _ = writeln!(x, r#"  <testsuite name="{}" tests="{}" failures="{}" time="{:.1}">"#, escape(row), cells.len(), cells.iter().filter(|c| !c.as_expected()).count(), cells.iter().map(|c| c.wall_s).sum::<f64>());
        for c in cells {
            let _ = write!(x, r#"    <testcase classname="{}" name="{} / {} / seed {}" time="{:.1}""#, escape(row), escape(&c.workload), escape(&c.nemesis), c.seed, c.wall_s);
            if c.as_expected() {
                let why = c.excused.as_ref().map_or(c.why.clone(), |e| format!("{}; {e}", c.why));
                let _ = writeln!(x, "><system-out>{}</system-out></testcase>", escape(&format!("{why}; run {}", c.run.as_deref().unwrap_or("-"))));
            } else {
                let _ = writeln!(x, r#"><failure message="{}">{}</failure></testcase>"#, escape(&c.why), escape(&format!("verdict {}; anomalies {:?}; run {}", c.verdict, c.anomalies, c.run.as_deref().unwrap_or("-"))));
            }
        }
        x.push_str("  </testsuite>\n");
    }
    x.push_str("</testsuites>\n");
    x
}

/// What `faultline grade` prints when it ends: each bug's detection rate and median
/// time to detect (a shard's over its own runs, as it says), then the
/// scorecard's path and how many cells went as expected.
pub fn summary_text(card: &Scorecard, page: &Path) -> String {
    let mut out = String::new();
    if let Some(shard) = card.graded.as_ref().and_then(|g| g.shard).filter(|_| !card.bugs.is_empty()) {
        let _ = writeln!(out, "  (shard {shard}: over this shard's runs; grade merge judges each row over all of them)");
    }
    for b in &card.bugs {
        let ttd = b.median_time_to_detect_s.map_or(String::new(), |t| format!("; median time to detect {t:.1} s"));
        let _ = writeln!(out, "  bug {} {}: detected in {} of {} ({:.0}%){ttd}", b.design, b.bug, b.detected, b.cells, b.rate * 100.0);
    }
    let _ = writeln!(out, "scorecard: {} ({} of {} cells as expected, {} deviation(s), {:.0} s)", page.display(), card.passed, card.cells_run, card.deviations, card.wall_s);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_links() {
        assert_eq!(relative(Path::new("/s/scorecard/t1"), Path::new("/s/run/t2/report.html")), PathBuf::from("../../run/t2/report.html"));
    }

    #[test]
    fn what_grade_prints_at_the_end() {
        let card = super::super::scorecard::tests::example();
        insta::assert_snapshot!(summary_text(&card, Path::new("store/scorecard/example/scorecard.html")));
    }

    #[test]
    fn what_a_shard_prints_at_the_end() {
        let mut card = super::super::scorecard::tests::example();
        if let Some(g) = card.graded.as_mut() {
            g.shard = Some(crate::grade::shard::Shard { k: 2, n: 4 });
        }
        insta::assert_snapshot!(summary_text(&card, Path::new("store/scorecard/shard-2/scorecard.html")));
    }

    #[test]
    fn page_and_junit_name_every_cell_and_escape_values() {
        let mut card = super::super::scorecard::tests::example();
        card.cells[0].why = "<script>alert(1)</script>".into();
        let page = html(&card, Path::new("store/scorecard/x"));
        assert!(!page.contains("<script>"));
        assert!(page.contains(r#"href="../../run0/report.html""#), "cells link to their reports");
        assert_eq!(page.matches("class=\"badge\"").count(), 12, "each cell twice: in the matrix and in the cell list");
        let xml = junit(&card);
        assert_eq!(xml.matches("<testcase ").count(), 6);
        assert_eq!(xml.matches("<failure ").count(), 2);
        assert!(xml.contains(r#"<testsuites name="faultline grade: example" tests="6" failures="2""#), "{xml}");
    }
}
