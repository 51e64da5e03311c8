//! The set-full checker: what happened to every element added to a grow-only set.
//!
//! Ops: `add [key, element]` and `read [key, [elements…]]` (bare values with
//! `single_key`). An element is *known* from the completion of its ok add, or else from
//! the completion of the first read that saw it. Every ok read that began after that
//! must contain it. Per element the outcome is:
//! - **stable**: every such read saw it;
//! - **stale**: some read missed it, but later reads saw it (with the latency until it
//!   was stably visible);
//! - **lost**: the last such read missed it;
//! - **never-read**: no read saw it, and none began after it was known.
//!
//! An element a read saw, with no later read, is stable: nothing contradicts it.
//!
//! Elements seen in reads that no add attempted, or whose add failed, are *unexpected*;
//! an element appearing twice in one read is *duplicated*. Lost, unexpected and
//! duplicated elements make the history invalid; stale ones do too when `linearizable`
//! is set (a linearizable set never misses an acknowledged element).

use crate::value::split_keyed;
use crate::{CheckError, CheckResult, Validity};
use faultline_history::{History, OpType, Value};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// Options of the set-full checker.
#[derive(Debug, Clone, Default)]
pub struct SetFullOptions {
    /// Values are bare (one set) instead of `[key, value]`.
    pub single_key: bool,
    /// Treat stale reads as anomalies.
    pub linearizable: bool,
}

/// An element, hashed cheaply when it is an integer.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Elem {
    Int(i64),
    Other(String),
}

impl Elem {
    fn of(v: &Value) -> Elem {
        v.as_i64().map_or_else(|| Elem::Other(v.to_string()), Elem::Int)
    }
}

#[derive(Debug, Clone)]
struct Read {
    invoke: usize,
    complete: usize,
    elements: Vec<Elem>,
}

#[derive(Debug, Clone)]
struct Element {
    value: Value,
    /// Position from which the element must be visible.
    known: Option<usize>,
    add_failed: bool,
    attempted: bool,
    /// Some ok read contained it.
    seen: bool,
    /// Reads that began after `known`, and how many of them saw it.
    reads_seen: usize,
    last_seen_invoke: Option<usize>,
    last_read_id: usize,
    duplicated: bool,
}

/// An element that is not stable, with its history and timing.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ElementReport {
    /// The set's key (`null` with `single_key`).
    pub key: Value,
    /// The element.
    pub element: Value,
    /// Nanoseconds from when it was known until it was stably visible (stale), or until
    /// the read that missed it for good (lost).
    pub latency_ns: Option<i64>,
    /// History index of the read that showed it lost (the first that missed it for
    /// good) or stale (the last that missed it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub witness: Option<u64>,
}

/// Counts of element outcomes and the anomalous elements.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct SetFullEvidence {
    /// Elements whose add was invoked.
    pub attempted: usize,
    /// Elements every later read saw.
    pub stable: usize,
    /// Elements some later read missed before they became visible.
    pub stale_count: usize,
    /// Elements the last read missed.
    pub lost_count: usize,
    /// Elements no read could have seen.
    pub never_read: usize,
    /// Reads checked.
    pub reads: usize,
    /// Lost elements (all).
    pub lost: Vec<ElementReport>,
    /// Stale elements (the first 100).
    pub stale: Vec<ElementReport>,
    /// Elements read that were never (successfully) added.
    pub unexpected: Vec<ElementReport>,
    /// Elements that appeared twice in one read.
    pub duplicated: Vec<ElementReport>,
    /// Median, 95th percentile and maximum stale latency in nanoseconds.
    pub stale_latency_ns: Option<[i64; 3]>,
}

/// Checks a grow-only set history.
pub fn check(history: &History, opts: &SetFullOptions) -> Result<CheckResult, CheckError> {
    let ops = history.ops();
    // key text → (key, its reads, its elements)
    type PerKey = (Value, Vec<Read>, HashMap<Elem, Element>);
    let mut keys: HashMap<String, PerKey> = HashMap::new();
    for (inv, comp) in history.client_ops() {
        let outcome = history.outcome_of(inv);
        let f = ops[inv].f.as_str();
        let source = match (f, comp) {
            ("read", Some(c)) if outcome == OpType::Ok => c,
            ("read", _) => continue,
            ("add", _) => inv,
            _ => return Err(CheckError::bad_op(history, inv, format!("f={f:?} is not an operation of the set-full model (add, read)"))),
        };
        let (key, arg) = if opts.single_key {
            (&Value::Null, &ops[source].value)
        } else {
            split_keyed(&ops[source].value)
                .ok_or_else(|| CheckError::bad_op(history, source, format!("{f}: expected [key, value], got {} (for a history of one register or one set with bare values, pass --single-key)", ops[source].value)))?
        };
        let (_, reads, elements) = keys.entry(key.to_string()).or_insert_with(|| (key.clone(), Vec::new(), HashMap::new()));
        if f == "add" {
            let e = elements.entry(Elem::of(arg)).or_insert_with(|| Element::new(arg));
            e.attempted = true;
            match outcome {
                OpType::Ok => e.known = Some(comp.unwrap_or(inv)),
                OpType::Fail => e.add_failed = true,
                _ => {}
            }
        } else {
            let items = arg
                .as_array()
                .ok_or_else(|| CheckError::bad_op(history, source, format!("read: expected a list of elements, got {arg}")))?;
            let complete = comp.unwrap_or(inv);
            for item in items {
                let e = elements.entry(Elem::of(item)).or_insert_with(|| Element::new(item));
                e.seen = true;
                if e.known.is_none_or(|k| complete < k) && !e.add_failed {
                    e.known = Some(complete);
                }
            }
            reads.push(Read { invoke: inv, complete, elements: items.iter().map(Elem::of).collect() });
        }
    }

    let mut ev = SetFullEvidence::default();
    let mut stale_latencies = Vec::new();
    for (key, reads, mut elements) in keys.into_values() {
        ev.reads += reads.len();
        tally_reads(&reads, &mut elements);
        let mut sorted_invokes: Vec<usize> = reads.iter().map(|r| r.invoke).collect();
        sorted_invokes.sort_unstable();
        for e in elements.values() {
            classify(history, &key, e, &reads, &sorted_invokes, &mut ev, &mut stale_latencies);
        }
    }
    for list in [&mut ev.lost, &mut ev.stale, &mut ev.unexpected, &mut ev.duplicated] {
        list.sort_by_key(|r| (r.key.to_string(), r.element.to_string()));
    }
    ev.stale.truncate(100);
    stale_latencies.sort_unstable();
    if let Some(&max) = stale_latencies.last() {
        let at = |q: f64| stale_latencies[((stale_latencies.len() - 1) as f64 * q) as usize];
        ev.stale_latency_ns = Some([at(0.5), at(0.95), max]);
    }
    Ok(result(ev, opts))
}

impl Element {
    fn new(v: &Value) -> Element {
        Element {
            value: v.clone(),
            known: None,
            add_failed: false,
            attempted: false,
            seen: false,
            reads_seen: 0,
            last_seen_invoke: None,
            last_read_id: usize::MAX,
            duplicated: false,
        }
    }
}

/// One pass over every read's contents: counts, per element, the reads after it was
/// known that saw it, and spots duplicates.
fn tally_reads(reads: &[Read], elements: &mut HashMap<Elem, Element>) {
    for (id, read) in reads.iter().enumerate() {
        for item in &read.elements {
            let Some(e) = elements.get_mut(item) else { continue };
            if e.last_read_id == id {
                e.duplicated = true;
                continue;
            }
            e.last_read_id = id;
            if e.known.is_some_and(|k| read.invoke > k) {
                e.reads_seen += 1;
                e.last_seen_invoke = e.last_seen_invoke.max(Some(read.invoke));
            }
        }
    }
}

fn classify(
    history: &History,
    key: &Value,
    e: &Element,
    reads: &[Read],
    sorted_invokes: &[usize],
    ev: &mut SetFullEvidence,
    stale_latencies: &mut Vec<i64>,
) {
    let report = |latency_ns, witness: Option<usize>| ElementReport { key: key.clone(), element: e.value.clone(), latency_ns, witness: witness.map(|w| history.ops()[w].index) };
    if e.attempted {
        ev.attempted += 1;
    }
    if e.duplicated {
        ev.duplicated.push(report(None, None));
    }
    if e.seen && (!e.attempted || e.add_failed) {
        ev.unexpected.push(report(None, None));
        return;
    }
    let Some(known) = e.known else { return }; // never confirmed and never seen
    let after = sorted_invokes.len() - sorted_invokes.partition_point(|&i| i <= known);
    let time = |pos: usize| history.ops()[pos].time;
    if after == 0 && !e.seen {
        ev.never_read += 1;
    } else if e.reads_seen == after {
        ev.stable += 1;
    } else {
        let last_read = sorted_invokes[sorted_invokes.len() - 1];
        // Reads after `known`, in invocation order, that missed it.
        let missed = |r: &&Read| r.invoke > known && !r.elements.contains(&Elem::of(&e.value));
        if e.last_seen_invoke.is_none_or(|s| s < last_read) {
            let first_missing_for_good = reads
                .iter()
                .filter(missed)
                .filter(|r| e.last_seen_invoke.is_none_or(|s| r.invoke > s))
                .map(|r| r.invoke)
                .min()
                .unwrap_or(last_read);
            ev.lost_count += 1;
            ev.lost.push(report(Some(time(first_missing_for_good) - time(known)), Some(first_missing_for_good)));
        } else {
            let last_missed = reads.iter().filter(missed).map(|r| r.invoke).max().unwrap_or(known);
            let visible_from = reads
                .iter()
                .filter(|r| r.invoke > last_missed)
                .map(|r| r.complete)
                .min()
                .unwrap_or(last_missed);
            let latency = time(visible_from) - time(known);
            stale_latencies.push(latency);
            ev.stale_count += 1;
            ev.stale.push(report(Some(latency), Some(last_missed).filter(|&m| m != known)));
        }
    }
}

fn result(ev: SetFullEvidence, opts: &SetFullOptions) -> CheckResult {
    let anomalies = ev.lost_count + ev.unexpected.len() + ev.duplicated.len() + if opts.linearizable { ev.stale_count } else { 0 };
    let valid = Validity::judge(anomalies, ev.reads);
    let summary = format!(
        "{} attempted: {} stable, {} stale, {} lost, {} never read; {} unexpected, {} duplicated ({} reads)",
        ev.attempted,
        ev.stable,
        ev.stale_count,
        ev.lost_count,
        ev.never_read,
        ev.unexpected.len(),
        ev.duplicated.len(),
        ev.reads
    );
    let mut explanation = Vec::new();
    if ev.reads == 0 {
        explanation.push("no ok read: nothing can be said about the set".to_owned());
    }
    let show = |what: &str, list: &[ElementReport], explanation: &mut Vec<String>| {
        for r in list.iter().take(20) {
            let latency = r.latency_ns.map(|l| format!(" (after {})", human_ns(l))).unwrap_or_default();
            let key = if r.key.is_null() { String::new() } else { format!("key {} ", r.key) };
            explanation.push(format!("{what}: {key}element {}{latency}", r.element));
        }
        if list.len() > 20 {
            explanation.push(format!("… and {} more {what} elements", list.len() - 20));
        }
    };
    show("lost", &ev.lost, &mut explanation);
    show("unexpected", &ev.unexpected, &mut explanation);
    show("duplicated", &ev.duplicated, &mut explanation);
    if opts.linearizable {
        show("stale", &ev.stale, &mut explanation);
    }
    let counts = [
        ("lost".to_owned(), ev.lost_count),
        ("unexpected".to_owned(), ev.unexpected.len()),
        ("duplicated".to_owned(), ev.duplicated.len()),
        ("stale".to_owned(), if opts.linearizable { ev.stale_count } else { 0 }),
    ];
    let stale: &[ElementReport] = if opts.linearizable { &ev.stale } else { &[] };
    let witnesses: Vec<u64> = ev.lost.iter().chain(stale).filter_map(|r| r.witness).collect();
    CheckResult::new("set-full", valid, summary, explanation, ev).with_findings(counts, witnesses)
}

/// A duration in nanoseconds, in the unit that reads best.
fn human_ns(ns: i64) -> String {
    let abs = ns.unsigned_abs();
    if abs < 1_000 {
        format!("{ns} ns")
    } else if abs < 1_000_000 {
        format!("{:.1} µs", ns as f64 / 1e3)
    } else if abs < 1_000_000_000 {
        format!("{:.1} ms", ns as f64 / 1e6)
    } else {
        format!("{:.2} s", ns as f64 / 1e9)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testgen::{set_history, SimConfig};
    use serde_json::json;

    use crate::test_support::history_of as hist;

    fn single() -> SetFullOptions {
        SetFullOptions { single_key: true, linearizable: false }
    }

    #[test]
    fn stable_elements_are_valid() {
        let h = hist(&[
            (0, "invoke", "add", json!(1)),
            (0, "ok", "add", json!(1)),
            (1, "invoke", "read", json!(null)),
            (1, "ok", "read", json!([1])),
        ]);
        let r = check(&h, &single()).unwrap();
        assert_eq!(r.valid, Validity::Valid, "{}", r.summary);
        assert_eq!((r.evidence_json()["stable"].clone(), r.evidence_json()["attempted"].clone()), (json!(1), json!(1)));
    }

    #[test]
    fn lost_element_is_invalid() {
        let h = hist(&[
            (0, "invoke", "add", json!(1)),
            (0, "ok", "add", json!(1)),
            (1, "invoke", "read", json!(null)),
            (1, "ok", "read", json!([1])),
            (1, "invoke", "read", json!(null)),
            (1, "ok", "read", json!([])),
        ]);
        let r = check(&h, &single()).unwrap();
        assert_eq!(r.valid, Validity::Invalid);
        assert_eq!(r.evidence_json()["lost_count"], json!(1));
        assert_eq!(r.evidence_json()["lost"][0]["latency_ns"], json!(3_000_000_000i64));
        assert_eq!(r.explanation[0], "lost: element 1 (after 3.00 s)");
        assert_eq!(r.witnesses, [r.evidence_json()["lost"][0]["witness"].as_u64().unwrap()], "the read that missed it witnesses the loss");
    }

    #[test]
    fn stale_element_is_counted_and_invalid_only_when_linearizable() {
        let h = hist(&[
            (0, "invoke", "add", json!(1)),
            (0, "ok", "add", json!(1)),
            (1, "invoke", "read", json!(null)),
            (1, "ok", "read", json!([])),
            (1, "invoke", "read", json!(null)),
            (1, "ok", "read", json!([1])),
        ]);
        let r = check(&h, &single()).unwrap();
        assert_eq!((r.valid, r.evidence_json()["stale_count"].clone()), (Validity::Valid, json!(1)));
        assert_eq!(r.evidence_json()["stale_latency_ns"], json!([4_000_000_000i64, 4_000_000_000i64, 4_000_000_000i64]));
        let strict = SetFullOptions { linearizable: true, ..single() };
        assert_eq!(check(&h, &strict).unwrap().valid, Validity::Invalid);
    }

    #[test]
    fn info_add_seen_later_must_stay() {
        let h = hist(&[
            (0, "invoke", "add", json!(7)),
            (0, "info", "add", json!(7)),
            (1, "invoke", "read", json!(null)),
            (1, "ok", "read", json!([])),
            (1, "invoke", "read", json!(null)),
            (1, "ok", "read", json!([7])),
            (1, "invoke", "read", json!(null)),
            (1, "ok", "read", json!([7])),
        ]);
        let r = check(&h, &single()).unwrap();
        assert_eq!(r.valid, Validity::Valid, "an unconfirmed add may appear late: {}", r.summary);
        assert_eq!(r.evidence_json()["stable"], json!(1));
        let vanish = hist(&[
            (0, "invoke", "add", json!(7)),
            (0, "info", "add", json!(7)),
            (1, "invoke", "read", json!(null)),
            (1, "ok", "read", json!([7])),
            (1, "invoke", "read", json!(null)),
            (1, "ok", "read", json!([])),
        ]);
        assert_eq!(check(&vanish, &single()).unwrap().evidence_json()["lost_count"], json!(1));
    }

    #[test]
    fn unexpected_and_duplicated_elements_are_invalid() {
        let h = hist(&[
            (0, "invoke", "add", json!(1)),
            (0, "fail", "add", json!(1)),
            (1, "invoke", "read", json!(null)),
            (1, "ok", "read", json!([1, 2, 2])),
        ]);
        let r = check(&h, &single()).unwrap();
        assert_eq!(r.valid, Validity::Invalid);
        assert_eq!(r.evidence_json()["unexpected"].as_array().unwrap().len(), 2, "1 failed, 2 never added");
        assert_eq!(r.evidence_json()["duplicated"][0]["element"], json!(2));
    }

    #[test]
    fn an_element_seen_by_the_last_read_is_stable() {
        let h = hist(&[
            (0, "invoke", "add", json!(1)),
            (1, "invoke", "read", json!(null)),
            (0, "info", "add", json!(1)),
            (1, "ok", "read", json!([1])),
        ]);
        let r = check(&h, &single()).unwrap();
        assert_eq!((r.evidence_json()["stable"].clone(), r.evidence_json()["never_read"].clone()), (json!(1), json!(0)));
    }

    #[test]
    fn never_read_and_no_reads() {
        let h = hist(&[(0, "invoke", "add", json!(1)), (0, "ok", "add", json!(1))]);
        let r = check(&h, &single()).unwrap();
        assert_eq!((r.valid, r.evidence_json()["never_read"].clone()), (Validity::Unknown, json!(1)));
    }

    #[test]
    fn keyed_sets_and_bad_values() {
        let h = hist(&[
            (0, "invoke", "add", json!(["a", 1])),
            (0, "ok", "add", json!(["a", 1])),
            (1, "invoke", "read", json!(["b", null])),
            (1, "ok", "read", json!(["b", []])),
        ]);
        let r = check(&h, &SetFullOptions::default()).unwrap();
        assert_eq!((r.valid, r.evidence_json()["never_read"].clone()), (Validity::Valid, json!(1)), "{}", r.summary);
        let bad = hist(&[(1, "invoke", "read", json!(null)), (1, "ok", "read", json!(5))]);
        assert!(check(&bad, &single()).unwrap_err().to_string().contains("expected a list of elements"));
    }

    #[test]
    fn simulated_sets_are_valid() {
        let cfg = SimConfig { crash_rate: 0.05, ..SimConfig::new(10, 5_000, 1, 11) };
        let h = History::new(set_history(&cfg, 100, 0.1)).unwrap();
        let r = check(&h, &SetFullOptions { linearizable: true, ..Default::default() }).unwrap();
        assert_eq!(r.valid, Validity::Valid, "{}", r.summary);
        assert_eq!(r.evidence_json()["lost_count"], json!(0));
    }
}
