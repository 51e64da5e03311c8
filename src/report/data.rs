//! What a run's report shows, computed from its stored files: latencies, throughput,
//! fault windows and per-phase availability. Kept apart from the HTML so tests can
//! check the numbers, not the bytes.

use crate::store::{leader_changes, Leadership};
use faultline_history::{Op, OpType, Process};
use serde::Serialize;
use std::collections::BTreeMap;

/// One client operation, for the latency chart.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Point {
    /// History index of its invocation (`#index` in explanations).
    pub index: u64,
    /// The client process that ran it.
    pub process: u64,
    /// When it was invoked (s since the test began).
    pub t: f64,
    /// How long it took (ms).
    pub latency_ms: f64,
    /// Its function.
    pub f: String,
    /// How it ended: ok, fail or info.
    pub outcome: &'static str,
    /// What it carried: the completion's value, or its error (shortened).
    pub value: String,
    /// The keys it touched, from its invocation (empty when it names none), for the
    /// per-key timeline.
    pub keys: Vec<String>,
    /// Its value without the key of a `[key, value]` pair: what the timeline writes
    /// on the operation's bar.
    pub brief: String,
}

/// A fault's window.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Window {
    /// The fault kind (partition, kill, …).
    pub kind: String,
    /// Start and end (s); an unstopped fault ends at the final heal.
    pub start: f64,
    /// End.
    pub end: f64,
    /// What was done, as recorded.
    pub detail: String,
}

/// Availability and latency of one phase.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Phase {
    /// before faults, during faults, after heal.
    pub name: &'static str,
    /// Its span (s).
    pub from: f64,
    /// End.
    pub to: f64,
    /// Completed client operations.
    pub ops: usize,
    /// ok / completed.
    pub availability: f64,
    /// info / completed.
    pub info_rate: f64,
    /// The longest time without any ok completion (s).
    pub longest_gap_s: f64,
    /// Latency quantiles of ok operations (ms).
    pub p50_ms: f64,
    /// 95th percentile.
    pub p95_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
}

/// Everything the report draws.
#[derive(Debug, Clone, Serialize)]
pub struct ReportData {
    /// Client operations.
    pub points: Vec<Point>,
    /// Completions per second, by outcome: (second, ok, fail, info).
    pub throughput: Vec<(u64, usize, usize, usize)>,
    /// Fault windows.
    pub faults: Vec<Window>,
    /// Per-phase figures.
    pub phases: Vec<Phase>,
    /// The test's length (s).
    pub duration: f64,
    /// Latency quantiles of ok operations over time: (bucket middle s, p50, p95, p99 ms).
    pub quantiles: Vec<(f64, f64, f64, f64)>,
    /// When the final heal began (s), if the run got that far.
    pub heal_at: Option<f64>,
    /// From the heal to the first ok completion after it (s): time to recover.
    pub recover_s: Option<f64>,
    /// Client completions by the node they were sent to.
    pub per_node: BTreeMap<String, NodeCounts>,
}

/// Client completions at one node.
#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq, Eq)]
pub struct NodeCounts {
    /// Took effect.
    pub ok: usize,
    /// Certainly did not.
    pub fail: usize,
    /// Unknown.
    pub info: usize,
}

/// Fewer ok operations than this and a verdict rests on little.
const FEW_OK: usize = 100;

/// Plain warnings about what a verdict rests on: few ok operations, nodes that served
/// none, low availability before any fault, no fault executed although some were
/// asked for, faults that never moved the leader. `nodes` are the cluster's nodes;
/// `faults_asked` whether the run had a nemesis; `leaders` what the run saw of
/// leadership (`None` for a design without a leader).
pub fn warnings(d: &ReportData, nodes: &[String], faults_asked: bool, leaders: Option<&[Leadership]>) -> Vec<String> {
    let mut w = Vec::new();
    let ok = d.points.iter().filter(|p| p.outcome == "ok").count();
    if ok < FEW_OK {
        w.push(format!("the verdict rests on only {ok} ok operation{}", if ok == 1 { "" } else { "s" }));
    }
    let idle: Vec<&str> = nodes.iter().filter(|n| d.per_node.get(*n).is_none_or(|c| c.ok == 0)).map(String::as_str).collect();
    if !idle.is_empty() && !nodes.is_empty() {
        w.push(format!("{} of {} nodes served no ok operation ({})", idle.len(), nodes.len(), idle.join(", ")));
    }
    if let Some(before) = d.phases.iter().find(|p| p.name == "before faults").filter(|p| p.ops > 0 && p.availability < 0.5) {
        w.push(format!("only {:.0}% of operations succeeded before any fault", before.availability * 100.0));
    }
    if faults_asked && d.faults.is_empty() {
        w.push("no fault was executed".to_owned());
    }
    match leaders {
        Some([]) => w.push("no node was seen leading".to_owned()),
        Some(l @ [first, ..]) if faults_asked && !d.faults.is_empty() && leader_changes(l) == 0 => {
            w.push(format!("{} led throughout: the faults caused no failover", first.node));
        }
        _ => {}
    }
    w
}

const S: f64 = 1e9;

/// Computes the report's data from a history.
pub fn compute(ops: &[Op]) -> ReportData {
    let mut invoked: BTreeMap<u64, &Op> = BTreeMap::new();
    let mut points = Vec::new();
    let mut open: BTreeMap<String, (f64, String)> = BTreeMap::new();
    let mut faults = Vec::new();
    let mut heal_at = None;
    let mut per_node: BTreeMap<String, NodeCounts> = BTreeMap::new();
    let duration = ops.iter().map(|o| o.time).max().unwrap_or(0) as f64 / S;
    for op in ops {
        let t = op.time as f64 / S;
        match (op.process, op.kind) {
            (Process::Client(p), OpType::Invoke) => {
                invoked.insert(p, op);
            }
            (Process::Client(p), kind) => {
                if let Some(node) = &op.node {
                    let c = per_node.entry(node.clone()).or_default();
                    match kind {
                        OpType::Ok => c.ok += 1,
                        OpType::Fail => c.fail += 1,
                        _ => c.info += 1,
                    }
                }
                if let Some(inv) = invoked.remove(&p) {
                    let outcome = match kind {
                        OpType::Ok => "ok",
                        OpType::Fail => "fail",
                        _ => "info",
                    };
                    let shown = op.error.as_ref().unwrap_or(&op.value);
                    points.push(Point {
                        index: inv.index,
                        process: p,
                        t: inv.time as f64 / S,
                        latency_ms: (op.time - inv.time) as f64 / 1e6,
                        f: inv.f.clone(),
                        outcome,
                        value: shorten(&shown.to_string(), 80),
                        keys: keys_of(&inv.value),
                        brief: shorten(&brief(shown).to_string(), 40),
                    });
                }
            }
            (Process::Nemesis, OpType::Invoke) if op.f == "heal" => heal_at = Some(t),
            (Process::Nemesis, OpType::Invoke) => {
                if let Some(kind) = op.f.strip_prefix("start-") {
                    open.insert(kind.to_owned(), (t, String::new()));
                } else if let Some(kind) = op.f.strip_prefix("stop-") {
                    if let Some((start, detail)) = open.remove(kind) {
                        faults.push(Window { kind: kind.to_owned(), start, end: t, detail });
                    }
                } else if op.f == "bounce" {
                    faults.push(Window { kind: "bounce".into(), start: t, end: t + 0.2, detail: op.value.to_string() });
                }
            }
            (Process::Nemesis, _) => {
                if let Some(kind) = op.f.strip_prefix("start-") {
                    if let Some(w) = open.get_mut(kind) {
                        w.1 = op.error.as_ref().map_or_else(|| op.value.to_string(), |e| format!("failed: {e}"));
                    }
                }
            }
        }
    }
    let end = heal_at.unwrap_or(duration);
    faults.extend(open.into_iter().map(|(kind, (start, detail))| Window { kind, start, end, detail }));
    faults.sort_by(|a, b| a.start.total_cmp(&b.start));
    let mut throughput: BTreeMap<u64, (usize, usize, usize)> = BTreeMap::new();
    for p in &points {
        let e = throughput.entry((p.t + p.latency_ms / 1e3) as u64).or_default();
        match p.outcome {
            "ok" => e.0 += 1,
            "fail" => e.1 += 1,
            _ => e.2 += 1,
        }
    }
    let first_fault = faults.first().map_or(end, |w| w.start);
    let phases = vec![
        phase("before faults", 0.0, first_fault, duration, &points),
        phase("during faults", first_fault, end, duration, &points),
        phase("after heal", end, duration.max(end), duration, &points),
    ];
    let recover_s = heal_at.and_then(|h| points.iter().filter(|p| p.outcome == "ok").map(|p| p.t + p.latency_ms / 1e3).filter(|&t| t >= h).min_by(f64::total_cmp).map(|t| t - h));
    let quantiles = quantiles_over_time(&points, duration);
    ReportData { points, throughput: throughput.into_iter().map(|(s, (a, b, c))| (s, a, b, c)).collect(), faults, phases, duration, quantiles, heal_at, recover_s, per_node }
}

/// The keys an invocation's value names: each micro-op's key in a transaction
/// (`[[f, k, v], …]`), the key of an independent `[k, v]` pair, or none.
fn keys_of(value: &serde_json::Value) -> Vec<String> {
    use serde_json::Value;
    let name = |k: &Value| match k {
        Value::String(s) => Some(shorten(s, 40)),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    };
    let Some(items) = value.as_array() else { return Vec::new() };
    let micro_ops: Option<Vec<String>> = items
        .iter()
        .map(|m| match m.as_array().map(Vec::as_slice) {
            Some([Value::String(_), k, _]) => name(k),
            _ => None,
        })
        .collect();
    let mut keys = match micro_ops {
        Some(keys) if !keys.is_empty() => keys,
        _ => match items.as_slice() {
            [k, _] => name(k).into_iter().collect(),
            _ => Vec::new(),
        },
    };
    keys.sort();
    keys.dedup();
    keys
}

/// The value part of an independent `[key, value]` pair (keys are strings or
/// numbers); anything else as it is.
fn brief(value: &serde_json::Value) -> &serde_json::Value {
    match value.as_array().map(Vec::as_slice) {
        Some([k, v]) if k.is_string() || k.is_number() => v,
        _ => value,
    }
}

/// At most `max` characters of `text`, with an ellipsis when cut.
pub fn shorten(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}

/// The nearest-rank quantile `q` of sorted values (0 when there are none).
pub fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        0.0
    } else {
        sorted[((sorted.len() - 1) as f64 * q).round() as usize]
    }
}

/// p50/p95/p99 of ok latencies in 40 buckets of invocation time (empty buckets left out).
fn quantiles_over_time(points: &[Point], duration: f64) -> Vec<(f64, f64, f64, f64)> {
    const BUCKETS: usize = 40;
    let width = (duration / BUCKETS as f64).max(1e-9);
    let mut buckets: Vec<Vec<f64>> = vec![Vec::new(); BUCKETS];
    for p in points.iter().filter(|p| p.outcome == "ok") {
        buckets[((p.t / width) as usize).min(BUCKETS - 1)].push(p.latency_ms);
    }
    buckets
        .into_iter()
        .enumerate()
        .filter(|(_, b)| !b.is_empty())
        .map(|(i, mut b)| {
            b.sort_by(f64::total_cmp);
            ((i as f64 + 0.5) * width, quantile(&b, 0.5), quantile(&b, 0.95), quantile(&b, 0.99))
        })
        .collect()
}

/// The figures of completions in `[from, to)`; a phase that ends at the run's end
/// (`duration`) also holds the completions at that instant, so none is left out.
fn phase(name: &'static str, from: f64, to: f64, duration: f64, points: &[Point]) -> Phase {
    let in_phase = |t: f64| t >= from && (t < to.max(from + 1e-9) || (to >= duration && t <= to));
    let done: Vec<&Point> = points.iter().filter(|p| in_phase(p.t + p.latency_ms / 1e3)).collect();
    let ok: Vec<&&Point> = done.iter().filter(|p| p.outcome == "ok").collect();
    let mut lat: Vec<f64> = ok.iter().map(|p| p.latency_ms).collect();
    lat.sort_by(f64::total_cmp);
    let q = |x: f64| quantile(&lat, x);
    let mut ok_times: Vec<f64> = ok.iter().map(|p| p.t + p.latency_ms / 1e3).collect();
    ok_times.sort_by(f64::total_cmp);
    let mut gap: f64 = 0.0;
    let mut last = from;
    for t in ok_times.iter().chain(std::iter::once(&to)) {
        gap = gap.max(t - last);
        last = *t;
    }
    let n = done.len();
    let ratio = |k: usize| if n == 0 { 0.0 } else { k as f64 / n as f64 };
    Phase {
        name,
        from,
        to,
        ops: n,
        availability: ratio(ok.len()),
        info_rate: ratio(done.iter().filter(|p| p.outcome == "info").count()),
        longest_gap_s: if to > from { gap } else { 0.0 },
        p50_ms: q(0.5),
        p95_ms: q(0.95),
        p99_ms: q(0.99),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn op(time_ms: i64, kind: OpType, process: Process, f: &str) -> Op {
        let mut o = Op::new(kind, process, f, json!(null));
        o.time = time_ms * 1_000_000;
        o
    }

    #[test]
    fn keys_come_from_pairs_and_micro_ops() {
        assert_eq!(keys_of(&json!([3, 7])), vec!["3"]);
        assert_eq!(keys_of(&json!(["x", null])), vec!["x"]);
        assert_eq!(keys_of(&json!([["append", "y", 1], ["r", "x", null], ["r", "y", null]])), vec!["x", "y"]);
        assert_eq!(keys_of(&json!([["w", 4, 1]])), vec!["4"]);
        assert_eq!([brief(&json!([3, 7])), brief(&json!("x")), brief(&json!([[1], 2]))], [&json!(7), &json!("x"), &json!([[1], 2])]);
        assert!(keys_of(&json!(5)).is_empty() && keys_of(&json!([1, 2, 3])).is_empty() && keys_of(&json!({"from": 1})).is_empty());
    }

    #[test]
    fn latencies_windows_and_phases() {
        use OpType::*;
        use Process::*;
        let ops = vec![
            op(0, Invoke, Client(0), "write"),
            op(10, Ok, Client(0), "write"),
            op(1000, Invoke, Nemesis, "start-partition"),
            op(1050, Info, Nemesis, "start-partition"),
            op(1100, Invoke, Client(0), "read"),
            op(3100, Info, Client(0), "read"),
            op(3000, Invoke, Nemesis, "stop-partition"),
            op(4000, Invoke, Nemesis, "start-kill"),
            op(5000, Invoke, Nemesis, "heal"),
            op(5100, Invoke, Client(10), "read"),
            op(5120, Ok, Client(10), "read"),
        ];
        let d = compute(&ops);
        assert_eq!(d.points.iter().map(|p| (p.outcome, p.latency_ms.round() as i64)).collect::<Vec<_>>(), [("ok", 10), ("info", 2000), ("ok", 20)]);
        assert_eq!(d.faults.iter().map(|w| (w.kind.as_str(), w.start, w.end)).collect::<Vec<_>>(), [("partition", 1.0, 3.0), ("kill", 4.0, 5.0)], "an unstopped fault ends at the heal");
        let during = &d.phases[1];
        assert_eq!((during.ops, during.availability, during.info_rate), (1, 0.0, 1.0));
        assert_eq!(during.longest_gap_s, 4.0, "no ok from 1 s to the heal at 5 s");
        let after = &d.phases[2];
        assert_eq!((after.ops, after.availability, after.p50_ms.round()), (1, 1.0, 20.0));
        assert_eq!(d.throughput, [(0, 1, 0, 0), (3, 0, 0, 1), (5, 1, 0, 0)]);
        assert_eq!(d.recover_s.map(|r| (r * 1000.0).round()), Some(120.0), "the first ok after the heal at 5 s completes at 5.12 s");
    }

    /// A seeded history of 400 operations with a partition and a
    /// heal; its report data is kept as a snapshot (the numbers, not the drawing).
    #[test]
    fn warnings_say_what_a_verdict_rests_on() {
        let nodes: Vec<String> = (1..=3).map(|i| format!("n{i}")).collect();
        // Every ok operation on n1; the others refuse.
        let mut ops = Vec::new();
        for i in 0..300u64 {
            let node = &nodes[(i % 3) as usize];
            let outcome = if node == "n1" { OpType::Ok } else { OpType::Fail };
            for (kind, t) in [(OpType::Invoke, i as i64 * 10), (outcome, i as i64 * 10 + 2)] {
                let mut o = op(t, kind, Process::Client(i), "read");
                o.node = Some(node.clone());
                ops.push(o);
            }
        }
        let d = compute(&ops);
        assert_eq!(d.per_node["n1"], NodeCounts { ok: 100, fail: 0, info: 0 });
        assert_eq!(
            warnings(&d, &nodes, true, None),
            ["2 of 3 nodes served no ok operation (n2, n3)", "only 33% of operations succeeded before any fault", "no fault was executed"]
        );
        let few = compute(&ops[..20]);
        assert_eq!(warnings(&few, &nodes[..1], false, None), ["the verdict rests on only 4 ok operations", "only 40% of operations succeeded before any fault"]);
        // Answers from every node, no nemesis asked: nothing to warn of.
        for o in ops.iter_mut().filter(|o| o.kind == OpType::Fail) {
            o.kind = OpType::Ok;
        }
        assert!(warnings(&compute(&ops), &nodes, false, None).is_empty());
        // A partition ran, and one node led throughout: no failover was exercised.
        ops.push(op(100, OpType::Invoke, Process::Nemesis, "start-partition"));
        ops.push(op(500, OpType::Invoke, Process::Nemesis, "stop-partition"));
        ops.sort_by_key(|o| o.time);
        let d = compute(&ops);
        let led = |node: &str, term| Leadership { node: node.into(), term, since_s: 0.0 };
        assert_eq!(warnings(&d, &nodes, true, Some(&[led("n1", 2), led("n1", 3)])), ["n1 led throughout: the faults caused no failover"]);
        assert!(warnings(&d, &nodes, true, Some(&[led("n1", 2), led("n2", 3)])).is_empty());
        assert_eq!(warnings(&d, &nodes, true, Some(&[])), ["no node was seen leading"]);
    }

    #[test]
    fn report_data_of_a_seeded_history() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        let mut ops = Vec::new();
        let mut clock = 0i64;
        for i in 0..400u64 {
            clock += rng.gen_range(5..60);
            let process = Process::Client(i); // one process per op: an info one never returns
            let f = if rng.gen_bool(0.5) { "read" } else { "write" };
            let partitioned = (6_000..12_000).contains(&clock);
            let (outcome, latency) = match rng.gen_range(0..10) {
                0 | 1 if partitioned => (OpType::Info, 1_000),
                0 if !partitioned => (OpType::Fail, 2),
                _ if partitioned => (OpType::Fail, rng.gen_range(1..5)),
                _ => (OpType::Ok, rng.gen_range(1..30)),
            };
            ops.push(op(clock, OpType::Invoke, process, f));
            ops.push(op(clock + latency, outcome, process, f));
            if i == 120 {
                ops.push(op(clock, OpType::Invoke, Process::Nemesis, "start-partition"));
            }
            if i == 300 {
                ops.push(op(clock, OpType::Invoke, Process::Nemesis, "heal"));
            }
        }
        ops.sort_by_key(|o| o.time);
        for (i, o) in ops.iter_mut().enumerate() {
            o.index = i as u64;
        }
        let d = compute(&ops);
        assert_eq!(d.points.len(), 400);
        insta::assert_json_snapshot!(serde_json::json!({
            "faults": d.faults, "phases": d.phases, "throughput": d.throughput, "quantiles": d.quantiles,
            "heal_at": d.heal_at, "recover_s": d.recover_s, "duration": d.duration, "first_points": &d.points[..3],
        }));
    }
}
