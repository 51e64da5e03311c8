//! A run's `report.html`: one self-contained file (inline SVG and CSS, nothing
//! fetched) with the verdict, the checkers' findings, the configuration and the
//! capability probe, latency and throughput over time with fault windows shaded,
//! per-phase availability, a timeline of operations per process, each anomaly with a
//! drawing linked to its operations, and links to node logs. Every value from the run
//! is HTML-escaped. `faultline report <run>` rebuilds it from the stored files.

pub mod data;
mod findings;
pub mod serve;
mod svg;
mod timeline;

use crate::store::{ResultsRecord, TestRecord};
use faultline_checkers::Validity;
use std::fmt::Write;
use std::path::Path;

/// Escapes text for HTML element content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Renders the report of a run from its records, computed data and node names.
pub fn render(test: &TestRecord, results: &ResultsRecord, d: &data::ReportData, nodes: &[String]) -> String {
    let opts = &test.options;
    let verdict = match results.valid {
        Validity::Valid => ("valid", "#2b8a3e"),
        Validity::Invalid => ("INVALID", "#c92a2a"),
        Validity::Unknown => ("unknown", "#e67700"),
    };
    let bugs = opts.bugs.join(", ");
    let mut h = String::new();
    let _ = write!(
        h,
        r#"<!doctype html><html><head><meta charset="utf-8"><title>faultline: {title}</title><style>
body{{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#222}} h2{{margin-top:28px}}
.verdict{{color:#fff;padding:12px 16px;border-radius:6px;font-size:20px}} table{{border-collapse:collapse}}
td,th{{border:1px solid #ddd;padding:4px 8px;text-align:left;overflow-wrap:anywhere}} pre{{background:#f6f6f6;padding:8px;overflow:auto;max-height:480px;white-space:pre-wrap;overflow-wrap:anywhere}}
p,li,h3{{overflow-wrap:anywhere}} .legend{{font-size:12px;color:#444;margin:2px 0 8px 60px}} .legend .entry{{margin-right:14px;white-space:nowrap}}
.swatch{{display:inline-block;width:10px;height:10px;border-radius:2px;vertical-align:middle}} .legend svg{{vertical-align:middle}}
.finding{{border-left:4px solid #c92a2a;padding-left:12px;margin:16px 0}} .warnings{{background:#fff3bf;padding:8px 8px 8px 28px;border-radius:6px}} #js-errors{{display:none;background:#ffe3e3;padding:8px}}
</style><script type="text/javascript">window.addEventListener('error',function(e){{var b=document.getElementById('js-errors');if(b){{b.textContent+=e.message+'\n';b.style.display='block';}}}});</script></head><body>
<pre id="js-errors"></pre>
<div class="verdict" id="verdict" style="background:{colour}">{verdict}: {summary}</div>
<p>{design} {bugs_text} · workload {workload} · nemesis {nemesis} · seed {seed} · {nodes} nodes · {ops} client operations</p>"#,
        title = escape(&format!("{} {}", test.design.name(), opts.workload)),
        colour = verdict.1,
        verdict = verdict.0,
        summary = escape(&results.result.summary),
        design = escape(test.design.name()),
        bugs_text = if bugs.is_empty() { "(no bugs)".to_owned() } else { format!("with bugs {}", escape(&bugs)) },
        workload = escape(&opts.workload),
        nemesis = escape(&opts.nemesis),
        seed = opts.seed,
        nodes = nodes.len(),
        ops = d.points.len(),
    );
    let warnings = data::warnings(d, nodes, !matches!(opts.nemesis.as_str(), "" | "none"), results.leaders.as_deref());
    if !warnings.is_empty() {
        h.push_str(r#"<ul id="warnings" class="warnings">"#);
        for w in &warnings {
            let _ = write!(h, "<li>{}: {}</li>", verdict.0, escape(w));
        }
        h.push_str("</ul>");
    }
    h.push_str(r#"<table id="per-node"><tr><th>node</th><th>ok</th><th>fail</th><th>info</th></tr>"#);
    for n in nodes {
        let c = d.per_node.get(n).copied().unwrap_or_default();
        let _ = write!(h, "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>", escape(n), c.ok, c.fail, c.info);
    }
    h.push_str("</table>");
    if let Some(leaders) = &results.leaders {
        let _ = write!(h, r#"<p id="leaders">Leaders: {}.</p>"#, escape(&crate::store::describe_leaders(leaders)));
    }
    if let Some(m) = &results.messages {
        let _ = write!(h, r#"<p id="messages">Messages: {}.</p>"#, escape(&crate::store::describe_messages(m)));
    }
    h.push_str(&findings::section(&results.result, &d.points));
    let _ = write!(h, r#"<h2>Latency</h2>{}<h2>Throughput</h2>{}"#, svg::latency(&d.points, &d.quantiles, &d.faults, d.duration), svg::throughput(&d.throughput, &d.faults, d.duration));
    h.push_str(r#"<h2>Availability by phase</h2><table id="phases"><tr><th>phase</th><th>span (s)</th><th>ops</th><th>availability</th><th>info rate</th><th>longest gap without ok (s)</th><th>p50 / p95 / p99 (ms)</th></tr>"#);
    for p in &d.phases {
        if p.ops == 0 {
            // Zeros would read as an outage: say that nothing was measured.
            let _ = write!(h, r#"<tr class="empty"><td>{}</td><td>{:.1}–{:.1}</td><td colspan="5">no operations completed in this phase</td></tr>"#, p.name, p.from, p.to);
            continue;
        }
        let _ = write!(h, "<tr><td>{}</td><td>{:.1}–{:.1}</td><td>{}</td><td>{:.1}%</td><td>{:.1}%</td><td>{:.2}</td><td>{:.1} / {:.1} / {:.1}</td></tr>", p.name, p.from, p.to, p.ops, p.availability * 100.0, p.info_rate * 100.0, p.longest_gap_s, p.p50_ms, p.p95_ms, p.p99_ms);
    }
    let after_heal_ops = d.phases.iter().find(|p| p.name == "after heal").map_or(0, |p| p.ops);
    let recovery = match (d.heal_at, d.recover_s) {
        (Some(_), Some(r)) => format!("{r:.2} s from the heal to the first ok operation"),
        (Some(_), None) if after_heal_ops == 0 => "not measured: no operation completed after the heal".to_owned(),
        (Some(_), None) => "no ok operation after the heal".to_owned(),
        (None, _) => "the run did not reach the heal".to_owned(),
    };
    let _ = write!(h, r#"</table><p id="recovery">Failover is the longest gap without an ok during faults. Time to recover: {recovery}.</p>"#);
    h.push_str(&timeline::section(d));
    h.push_str("<h2>Faults</h2><table id=\"faults\"><tr><th>fault</th><th>from (s)</th><th>to (s)</th><th>what was done</th></tr>");
    for w in &d.faults {
        let _ = write!(h, "<tr><td>{}</td><td>{:.2}</td><td>{:.2}</td><td>{}</td></tr>", escape(&w.kind), w.start, w.end, escape(&w.detail));
    }
    h.push_str("</table><h2>Node logs</h2><ul>");
    for n in nodes {
        let n = escape(n);
        let _ = write!(h, r#"<li><a href="nodes/{n}/node.log">{n}</a></li>"#);
    }
    let _ = writeln!(
        h,
        "</ul><h2>Configuration</h2><pre>{}</pre><h2>Capability probe</h2><pre>{}</pre></body></html>",
        escape(&serde_json::to_string_pretty(opts).unwrap_or_default()),
        escape(&serde_json::to_string_pretty(&test.probe).unwrap_or_default())
    );
    h
}

/// Writes `<run>/report.html` from the run's stored files.
pub fn write_report(run: &Path) -> Result<std::path::PathBuf, String> {
    let (test, results) = (crate::store::read_test(run)?, crate::store::read_results(run)?);
    let ops = faultline_history::read_jsonl_file(&run.join("history.jsonl")).map_err(|e| e.to_string())?;
    write_report_of(run, &test, &results, &data::compute(&ops))
}

/// Writes `<run>/report.html` from a run's records and report data, already in memory.
pub fn write_report_of(run: &Path, test: &TestRecord, results: &ResultsRecord, d: &data::ReportData) -> Result<std::path::PathBuf, String> {
    let nodes: Vec<String> = (1..=test.options.nodes).map(|i| format!("n{i}")).collect();
    let path = run.join("report.html");
    std::fs::write(&path, render(test, results, d, &nodes)).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn hostile_values_are_escaped_everywhere() {
        let hostile = "<script>alert('x')</script>";
        let mut test = crate::store::sample::test_record();
        test.design.spec.name = hostile.to_owned();
        test.options.nemesis = hostile.to_owned();
        test.options.bugs = vec![hostile.to_owned()];
        test.probe.kernel = hostile.to_owned();
        use faultline_history::{Op, OpType, Process};
        let mut ops = vec![
            Op::new(OpType::Invoke, Process::Nemesis, format!("start-{hostile}"), json!(hostile)).at(1),
            Op::new(OpType::Invoke, Process::Client(0), hostile, json!({hostile: hostile})).at(2),
            Op::new(OpType::Ok, Process::Client(0), hostile, json!({hostile: hostile})).at(3),
        ];
        for (i, o) in ops.iter_mut().enumerate() {
            o.index = i as u64;
        }
        let cycle = json!({"anomaly": hostile, "txns": [{"index": 1, "process": 0, "status": hostile, "value": hostile}],
            "steps": [{"from": 1, "to": 1, "relation": hostile, "key": hostile, "text": hostile}], "text": [hostile]});
        let failure = json!({"key": hostile, "prefix_len": 1, "prefix_tail": [1], "state": hostile, "blocking": 1, "candidates": [], "explanation": [hostile]});
        let elle = json!({"kind": "elle", "consistency_model": hostile, "txns": 1, "graph_nodes": 1, "graph_edges": 1, "anomaly_types": [hostile],
            "forbidden": [hostile], "not": [hostile], "also_not": [], "counts": {hostile: 1}, "cycles": [cycle],
            "anomalies": [{"anomaly": hostile, "txn": 1, "key": hostile, "others": [], "text": hostile}], "unclassified_components": 0});
        let linear = json!({"kind": "linearizable", "model": hostile, "keys": 1, "ops": 1, "fast_path_keys": 0, "failures": [failure], "unknown": []});
        for evidence in [elle, linear] {
            let evidence: faultline_checkers::Evidence = serde_json::from_value(evidence).expect("evidence of that shape");
            let result = faultline_checkers::CheckResult::new(hostile, Validity::Invalid, hostile.to_owned(), vec![hostile.to_owned()], evidence)
                .with_findings([(hostile.to_owned(), 1)], [1]);
            let results = crate::store::sample::results_record(result);
            let d = data::compute(&ops);
            let html = render(&test, &results, &d, &[hostile.to_owned()]);
            assert!(html.contains(r#"class="finding""#), "the finding is drawn");
            assert!(html.contains("no operations completed in this phase") && html.contains("the run did not reach the heal"), "empty phases say so instead of zeros");
            assert!(html.contains(r#"id="warnings""#) && html.contains("the verdict rests on only 1 ok operation"), "the banner says what the verdict rests on");
            assert!(!html.contains("<script>"), "no value reaches the page unescaped (the page's own scripts carry a type)");
            assert!(html.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;"));
        }
    }
}
