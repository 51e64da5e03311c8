//! Tests in a tiny history DSL. A transaction is written as micro-ops separated by
//! spaces: `ax1` appends 1 to key x, `wx1` writes 1 to x, `rx[1,2]` reads list x as
//! [1, 2], `rx1` reads register x as 1, `rx_` reads nil, and `rx` is an unknown read.

use super::*;
use crate::testgen::{txn_history, Isolation, SimConfig, TxnConfig, TxnWorkload};
use faultline_history::{Op, OpType, Process, Value};
use serde_json::json;

fn mops(txn: &str) -> Value {
    Value::Array(
        txn.split_whitespace()
            .map(|m| {
                let (f, rest) = m.split_at(1);
                let (key, v) = rest.split_at(1);
                let f = match f {
                    "a" => "append",
                    "w" => "w",
                    _ => "r",
                };
                let value = match v {
                    "" | "_" => Value::Null,
                    v => serde_json::from_str(v).expect("DSL value is JSON"),
                };
                json!([f, key, value])
            })
            .collect(),
    )
}

/// Reads are unknown at invocation.
fn invocation(txn: &str) -> Value {
    let mut v = mops(txn);
    for m in v.as_array_mut().into_iter().flatten() {
        if m[0] == "r" {
            m[2] = Value::Null;
        }
    }
    v
}

#[derive(Default)]
struct H(Vec<Op>);

impl H {
    fn push(&mut self, kind: OpType, p: u64, value: Value) -> &mut Self {
        let mut op = Op::new(kind, Process::Client(p), "txn", value);
        op.index = self.0.len() as u64;
        self.0.push(op);
        self
    }
    fn invoke(&mut self, p: u64, txn: &str) -> &mut Self {
        self.push(OpType::Invoke, p, invocation(txn))
    }
    fn ok(&mut self, p: u64, txn: &str) -> &mut Self {
        self.push(OpType::Ok, p, mops(txn))
    }
    fn fail(&mut self, p: u64, txn: &str) -> &mut Self {
        self.push(OpType::Fail, p, invocation(txn))
    }
    /// Invoke and complete ok at once.
    fn txn(&mut self, p: u64, txn: &str) -> &mut Self {
        self.invoke(p, txn).ok(p, txn)
    }
    fn history(&self) -> History {
        History::new(self.0.clone()).expect("well-formed test history")
    }
}

fn run(h: &H, kind: TxnKind, model: ConsistencyModel) -> CheckResult {
    check(&h.history(), &ElleOptions { consistency_model: model, ..ElleOptions::new(kind) }).expect("checkable")
}

fn types(r: &CheckResult) -> Vec<String> {
    serde_json::from_value(r.evidence_json()["anomaly_types"].clone()).unwrap()
}

fn la(h: &H) -> CheckResult {
    run(h, TxnKind::ListAppend, ConsistencyModel::StrictSerializable)
}

fn rw(h: &H) -> CheckResult {
    run(h, TxnKind::RwRegister, ConsistencyModel::StrictSerializable)
}

#[test]
fn serial_list_append_is_valid() {
    let r = la(H::default().txn(0, "ax1").txn(1, "rx[1] ax2").txn(0, "rx[1,2] ry[]"));
    assert_eq!((r.valid, types(&r)), (Validity::Valid, vec![]));
}

#[test]
fn g0_write_cycle() {
    let r = la(H::default().invoke(0, "ax1 ay1").invoke(1, "ax2 ay2").ok(0, "ax1 ay1").ok(1, "ax2 ay2").txn(2, "rx[1,2] ry[2,1]"));
    assert_eq!(types(&r), vec!["G0"]);
    assert_eq!(r.evidence_json()["not"], json!(["read-uncommitted"]));
    assert_eq!(r.anomalies.get("G0"), Some(&1));
    assert_eq!(r.witnesses, [0, 1], "the two writers' transactions");
}

#[test]
fn g1c_circular_information_flow() {
    let r = la(H::default().invoke(0, "ax1 ry").invoke(1, "ay1 rx").ok(0, "ax1 ry[1]").ok(1, "ay1 rx[1]"));
    assert_eq!(types(&r), vec!["G1c"]);
    assert_eq!(r.evidence_json()["not"], json!(["read-committed"]));
}

/// T2 reads x before T3's appends and y after them.
fn read_skew() -> H {
    let mut h = H::default();
    h.txn(0, "ax1 ay1").invoke(1, "rx ry").txn(2, "ax2 ay2").ok(1, "rx[1] ry[1,2]").txn(3, "rx[1,2]");
    h
}

#[test]
fn g_single_read_skew() {
    let r = la(&read_skew());
    assert_eq!(types(&r), vec!["G-single"]);
    assert_eq!(r.evidence_json()["not"], json!(["repeatable-read", "snapshot-isolation"]));
}

#[test]
fn g2_item_write_skew_is_allowed_by_snapshot_isolation() {
    let h = H::default().invoke(0, "rx ay1").invoke(1, "ry ax1").ok(0, "rx[] ay1").ok(1, "ry[] ax1").txn(2, "rx[1] ry[1]").0.clone();
    let h = H(h);
    assert_eq!(types(&la(&h)), vec!["G2-item"]);
    let si = run(&h, TxnKind::ListAppend, ConsistencyModel::SnapshotIsolation);
    assert_eq!(si.valid, Validity::Valid, "{}", si.summary);
    assert_eq!(la(&h).evidence_json()["not"], json!(["repeatable-read"]));
}

#[test]
fn g_nonadjacent() {
    let r = la(H::default()
        .invoke(1, "rx rw")
        .invoke(2, "ax1 ay1")
        .invoke(3, "ry rz")
        .invoke(4, "az1 aw1")
        .ok(2, "ax1 ay1")
        .ok(4, "az1 aw1")
        .ok(1, "rx[] rw[1]")
        .ok(3, "ry[1] rz[]")
        .txn(5, "rx[1] rz[1]"));
    assert_eq!(types(&r), vec!["G-nonadjacent"]);
    assert!(ConsistencyModel::SnapshotIsolation.forbids("G-nonadjacent"));
}

#[test]
fn aborted_and_intermediate_reads() {
    let r = la(H::default().invoke(0, "ax1").fail(0, "ax1").txn(1, "rx[1]"));
    assert_eq!(types(&r), vec!["G1a"]);
    let r = la(H::default().txn(0, "ax1 ax2").txn(1, "rx[1]"));
    assert!(types(&r).contains(&"G1b".to_owned()), "{:?}", types(&r));
    assert_eq!(r.evidence_json()["anomalies"][0]["others"], json!([0]));
}

#[test]
fn internal_duplicate_incompatible_garbage_dirty() {
    assert_eq!(types(&la(H::default().txn(0, "ax1 rx[]"))), vec!["internal"]);
    assert_eq!(types(&la(H::default().txn(0, "ax1").txn(0, "rx[1] ax2 rx[1]"))), vec!["internal"]);
    assert_eq!(types(&la(H::default().txn(0, "ax1").txn(1, "rx[1,1]"))), vec!["duplicate-elements"]);
    assert_eq!(types(&la(H::default().txn(0, "ax1 ax2").txn(1, "rx[1,2]").txn(1, "rx[2]"))), vec!["incompatible-order"]);
    assert_eq!(types(&la(H::default().txn(1, "rx[7]"))), vec!["garbage-read"]);
    let r = la(H::default().invoke(0, "ax1").fail(0, "ax1").txn(1, "ax2").txn(2, "rx[1,2]"));
    assert_eq!(types(&r), vec!["G1a", "dirty-update"]);
}

#[test]
fn lost_update() {
    let r = la(H::default().invoke(0, "rx ax1").invoke(1, "rx ax2").ok(0, "rx[] ax1").ok(1, "rx[] ax2").txn(2, "rx[1,2]"));
    assert_eq!(types(&r), vec!["G-single", "lost-update"]);
    assert!(r.explanation.iter().any(|l| l == "lost-update: T0 read the empty list of key \"x\" and then appended to it, as did T1"), "{:#?}", r.explanation);
}

#[test]
fn stale_read_is_a_realtime_anomaly() {
    let h = H(H::default().txn(0, "ax1").txn(1, "rx[]").txn(2, "rx[1]").0.clone());
    let strict = la(&h);
    assert_eq!(types(&strict), vec!["G-single-realtime"]);
    assert_eq!(strict.valid, Validity::Invalid);
    assert_eq!(strict.evidence_json()["not"], json!(["strong-snapshot-isolation"]));
    let serializable = run(&h, TxnKind::ListAppend, ConsistencyModel::Serializable);
    assert_eq!(serializable.valid, Validity::Valid);
    // On one process the process order already shows it.
    let same = la(H::default().txn(0, "ax1").txn(0, "rx[]").txn(2, "rx[1]"));
    assert_eq!(types(&same), vec!["G-single-process"]);
    assert_eq!(same.evidence_json()["not"], json!(["strong-session-snapshot-isolation"]));
}

/// A class found without real-time edges is reported again where another component's
/// cycle of that class needs them, as Elle and adya name `G-single` and
/// `G-single-realtime` side by side.
#[test]
fn a_class_is_reported_again_where_it_needs_real_time() {
    let mut h = read_skew();
    h.txn(4, "az1").txn(5, "rz[]").txn(6, "rz[1]");
    let r = la(&h);
    assert_eq!(types(&r), vec!["G-single", "G-single-realtime"]);
    assert_eq!(r.evidence_json()["counts"], json!({"G-single": 1, "G-single-realtime": 1}));
}

#[test]
fn explanation_text() {
    let r = la(&read_skew());
    let text = r.evidence_json()["cycles"][0]["text"].as_array().unwrap().iter().map(|l| l.as_str().unwrap()).collect::<Vec<_>>().join("\n");
    assert_eq!(
        text,
        "G-single: T2 < T3 < T2\n\
         \x20 T2 < T3 (rw): T2 read key \"x\" = [1], and T3 appended 2 right after that, which T2 did not see\n\
         \x20 T3 < T2 (wr): T2 read key \"y\" = [1,2], whose last element 2 T3 appended\n\
         \x20 Hence T2 < T2: a cycle.\n\
         \x20 T2 (process 1, ok): [[\"r\",\"x\",[1]],[\"r\",\"y\",[1,2]]]\n\
         \x20 T3 (process 2, ok): [[\"append\",\"x\",2],[\"append\",\"y\",2]]"
    );
    let steps = &r.evidence_json()["cycles"][0]["steps"];
    assert_eq!(steps[0]["relation"], "rw");
    assert_eq!(steps[0]["key"], "x");
    assert_eq!((steps[1]["from"].clone(), steps[1]["to"].clone()), (json!(3), json!(2)));
}

#[test]
fn rw_register_anomalies() {
    assert_eq!(types(&rw(H::default().txn(0, "wx1").txn(1, "rx1 ry_"))), Vec::<String>::new());
    assert_eq!(types(&rw(H::default().invoke(0, "wx1").fail(0, "wx1").txn(1, "rx1"))), vec!["G1a"]);
    assert_eq!(types(&rw(H::default().txn(0, "wx1 wx2").txn(1, "rx1"))), vec!["G1b"]);
    assert_eq!(types(&rw(H::default().txn(0, "wx1 rx2"))), vec!["garbage-read", "internal"].into_iter().filter(|a| *a == "internal").collect::<Vec<_>>());
    assert_eq!(types(&rw(H::default().txn(1, "rx9"))), vec!["garbage-read"]);
    let single = rw(H::default().invoke(0, "rx ry").txn(1, "wx1 wy1").ok(0, "rx_ ry1"));
    assert_eq!(types(&single), vec!["G-single"]);
    let skew = rw(H::default().invoke(0, "rx wy1").invoke(1, "ry wx1").ok(0, "rx_ wy1").ok(1, "ry_ wx1"));
    assert_eq!(types(&skew), vec!["G2-item"]);
}

#[test]
fn rw_register_g0_and_g1c() {
    let circular = rw(H::default().invoke(0, "wx1 ry").invoke(1, "wy1 rx").ok(0, "wx1 ry1").ok(1, "wy1 rx1"));
    assert_eq!(types(&circular), vec!["G1c"]);
    // Each overwrote the other's write after reading it: ww both ways (with wfr).
    let h = H(H::default().invoke(0, "wx1 ry wy1").invoke(1, "rx wx2 wy3").ok(0, "wx1 ry3 wy1").ok(1, "rx1 wx2 wy3").0.clone());
    let opts = ElleOptions { rw: RwOptions { wfr_keys: true, ..Default::default() }, ..ElleOptions::new(TxnKind::RwRegister) };
    let r = check(&h.history(), &opts).unwrap();
    assert_eq!(types(&r), vec!["G0"]);
    assert_eq!(r.evidence_json()["not"], json!(["read-uncommitted"]));
}

#[test]
fn rw_register_version_order_options() {
    let h = H(H::default().txn(0, "wx1").invoke(1, "rx wx2").invoke(2, "rx wx3").ok(1, "rx1 wx2").ok(2, "rx1 wx3").0.clone());
    assert_eq!(types(&rw(&h)), Vec::<String>::new(), "without wfr nothing orders 1 before 2 and 3");
    let opts = ElleOptions { rw: RwOptions { wfr_keys: true, ..Default::default() }, ..ElleOptions::new(TxnKind::RwRegister) };
    let r = check(&h.history(), &opts).unwrap();
    assert_eq!(types(&r), vec!["G2-item"]);

    let stale = H(H::default().txn(0, "wx1").txn(0, "wx2").txn(1, "rx1").0.clone());
    assert_eq!(types(&rw(&stale)), Vec::<String>::new());
    let opts = ElleOptions { rw: RwOptions { linearizable_keys: true, ..Default::default() }, ..ElleOptions::new(TxnKind::RwRegister) };
    assert_eq!(types(&check(&stale.history(), &opts).unwrap()), vec!["G-single-realtime"]);
    let opts = ElleOptions { rw: RwOptions { sequential_keys: true, ..Default::default() }, ..ElleOptions::new(TxnKind::RwRegister) };
    let seq = H(H::default().txn(0, "wx1").txn(0, "wx2").txn(0, "rx1").0.clone());
    assert_eq!(types(&check(&seq.history(), &opts).unwrap()), vec!["G-single-process"]);
}

#[test]
fn bad_transactions_are_errors() {
    let h = H::default().txn(0, "ax1").txn(1, "ax1").history();
    let err = check(&h, &ElleOptions::new(TxnKind::ListAppend)).unwrap_err();
    assert!(err.to_string().contains("appended to key \"x\" twice"), "{err}");
    let h = H::default().txn(0, "wx1").history();
    let err = check(&h, &ElleOptions::new(TxnKind::ListAppend)).unwrap_err();
    assert!(err.to_string().contains("\"w\" is not part of list-append"), "{err}");
}

fn simulated(workload: TxnWorkload, isolation: Isolation, txns: usize, seed: u64) -> History {
    let sim = SimConfig { crash_rate: 0.02, ..SimConfig::new(10, txns, 0, seed) };
    History::new(txn_history(&TxnConfig::new(sim, workload, isolation))).unwrap()
}

#[test]
fn simulated_serializable_histories_are_strict_serializable() {
    for (workload, kind) in [(TxnWorkload::ListAppend, TxnKind::ListAppend), (TxnWorkload::RwRegister, TxnKind::RwRegister)] {
        let h = simulated(workload, Isolation::Serializable, 100_000, 1);
        let opts = ElleOptions { rw: RwOptions { wfr_keys: true, ..Default::default() }, ..ElleOptions::new(kind) };
        let r = check(&h, &opts).unwrap();
        assert_eq!(r.valid, Validity::Valid, "{:?}: {}\n{:#?}", workload, r.summary, r.explanation.iter().take(20).collect::<Vec<_>>());
        assert_eq!(types(&r), Vec::<String>::new());
    }
}

#[test]
fn simulated_snapshot_isolation_shows_g2_item_and_no_g0_g1() {
    let h = simulated(TxnWorkload::ListAppend, Isolation::SnapshotIsolation, 20_000, 2);
    let r = check(&h, &ElleOptions::new(TxnKind::ListAppend)).unwrap();
    let found = types(&r);
    assert!(found.iter().any(|a| a.starts_with("G2-item")), "{found:?}");
    for a in &found {
        assert!(!a.starts_with("G0") && !a.starts_with("G1"), "{found:?}");
    }
    let si = check(&h, &ElleOptions { consistency_model: ConsistencyModel::SnapshotIsolation, ..ElleOptions::new(TxnKind::ListAppend) }).unwrap();
    assert_eq!(si.valid, Validity::Valid, "{}", si.summary);
}
