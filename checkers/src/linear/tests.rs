use super::*;
use crate::testgen::{register_history, RegisterOps, SimConfig};
use faultline_history::{Op, Process};
use proptest::prelude::*;
use serde_json::json;

/// Builds a history from lines `process type f value-json`.
fn hist(lines: &[&str]) -> History {
    let ops = lines
        .iter()
        .enumerate()
        .map(|(i, line)| {
            let mut parts = line.splitn(4, ' ');
            let p: u64 = parts.next().unwrap().parse().unwrap();
            let kind: OpType = serde_json::from_value(json!(parts.next().unwrap())).unwrap();
            let f = parts.next().unwrap();
            let value: Value = serde_json::from_str(parts.next().unwrap_or("null")).unwrap();
            let mut op = Op::new(kind, Process::Client(p), f, value);
            op.index = i as u64;
            op
        })
        .collect();
    History::new(ops).unwrap()
}

fn single(model: RegisterModel) -> LinearOptions {
    LinearOptions { single_key: true, ..LinearOptions::new(model) }
}

fn verdict(h: &History, opts: &LinearOptions) -> Validity {
    check(h, opts).unwrap().valid
}

/// Checks with and without the fast path and insists both agree.
fn both(h: &History, opts: &LinearOptions) -> Validity {
    let fast = verdict(h, opts);
    let slow = verdict(h, &LinearOptions { disable_fast_path: true, ..opts.clone() });
    assert_eq!(fast, slow, "fast path and search disagree");
    fast
}

#[test]
fn sequential_write_then_read_is_valid() {
    let h = hist(&["0 invoke write 1", "0 ok write 1", "1 invoke read null", "1 ok read 1"]);
    assert_eq!(both(&h, &single(RegisterModel::Register)), Validity::Valid);
}

#[test]
fn initial_read_of_absent_key_is_valid() {
    let h = hist(&["1 invoke read null", "1 ok read null", "0 invoke write 1", "0 ok write 1"]);
    assert_eq!(both(&h, &single(RegisterModel::Register)), Validity::Valid);
}

#[test]
fn stale_read_is_invalid_and_explained() {
    let h = hist(&[
        "0 invoke write 1",
        "0 ok write 1",
        "0 invoke write 2",
        "0 ok write 2",
        "1 invoke read null",
        "1 ok read 1",
    ]);
    let opts = single(RegisterModel::Register);
    assert_eq!(both(&h, &opts), Validity::Invalid);
    let r = check(&h, &opts).unwrap();
    let text = r.explanation.join("\n");
    assert!(text.contains("longest linearizable prefix holds 2 operation(s)"), "{text}");
    assert!(text.contains("Cannot place #4 p1 read 1 → ok"), "{text}");
    assert!(text.contains("After it the value is 2."), "{text}");
    assert_eq!(r.evidence_json()["failures"][0]["blocking"], json!(4));
    assert_eq!(r.anomalies.get("nonlinearizable-key"), Some(&1));
    assert!(r.witnesses.contains(&4), "the stale read witnesses it: {:?}", r.witnesses);
}

#[test]
fn concurrent_write_may_be_seen_before_or_after() {
    let h = hist(&[
        "0 invoke write 1",
        "0 ok write 1",
        "0 invoke write 2",
        "1 invoke read null",
        "1 ok read 1",
        "2 invoke read null",
        "2 ok read 2",
        "0 ok write 2",
    ]);
    assert_eq!(both(&h, &single(RegisterModel::Register)), Validity::Valid);
}

#[test]
fn new_then_old_read_is_invalid() {
    let h = hist(&[
        "0 invoke write 1",
        "0 ok write 1",
        "0 invoke write 2",
        "1 invoke read null",
        "1 ok read 2",
        "2 invoke read null",
        "2 ok read 1",
        "0 ok write 2",
    ]);
    assert_eq!(both(&h, &single(RegisterModel::Register)), Validity::Invalid);
}

#[test]
fn info_write_may_take_effect_late_or_never() {
    let late = hist(&["0 invoke write 1", "0 info write 1", "1 invoke read null", "1 ok read null", "1 invoke read null", "1 ok read 1"]);
    assert_eq!(both(&late, &single(RegisterModel::Register)), Validity::Valid);
    let never = hist(&["0 invoke write 1", "0 info write 1", "1 invoke read null", "1 ok read null"]);
    assert_eq!(both(&never, &single(RegisterModel::Register)), Validity::Valid);
    let flicker = hist(&[
        "0 invoke write 1",
        "0 info write 1",
        "1 invoke read null",
        "1 ok read 1",
        "1 invoke read null",
        "1 ok read null",
    ]);
    assert_eq!(both(&flicker, &single(RegisterModel::Register)), Validity::Invalid);
}

#[test]
fn a_process_that_crashed_without_completion_is_indeterminate() {
    let h = hist(&["0 invoke write 1", "1 invoke read null", "1 ok read 1"]);
    assert_eq!(both(&h, &single(RegisterModel::Register)), Validity::Valid);
}

#[test]
fn failed_writes_never_happened() {
    let h = hist(&["0 invoke write 3", "0 fail write 3", "1 invoke read null", "1 ok read 3"]);
    assert_eq!(both(&h, &single(RegisterModel::Register)), Validity::Invalid);
}

#[test]
fn info_reads_are_dropped() {
    let h = hist(&["0 invoke write 1", "0 ok write 1", "1 invoke read null", "1 info read null"]);
    let r = check(&h, &single(RegisterModel::Register)).unwrap();
    assert_eq!((r.valid, r.evidence_json()["ops"].clone()), (Validity::Valid, json!(1)));
}

#[test]
fn cas_must_match_the_current_value() {
    let opts = single(RegisterModel::CasRegister);
    let ok = hist(&["0 invoke write 1", "0 ok write 1", "0 invoke cas [1,2]", "0 ok cas [1,2]", "1 invoke read null", "1 ok read 2"]);
    assert_eq!(verdict(&ok, &opts), Validity::Valid);
    let bad = hist(&["0 invoke write 1", "0 ok write 1", "0 invoke cas [5,2]", "0 ok cas [5,2]"]);
    assert_eq!(verdict(&bad, &opts), Validity::Invalid);
    let failed = hist(&["0 invoke write 1", "0 ok write 1", "0 invoke cas [5,2]", "0 fail cas [5,2]", "1 invoke read null", "1 ok read 1"]);
    assert_eq!(verdict(&failed, &opts), Validity::Valid);
}

/// Found by raft's deterministic simulation: a write of the value the register holds
/// is still a choice, since placed later it resets the value (w2; w3 ‖ w2; cas 2→0
/// is linearizable as w2 w3 w2 cas).
#[test]
fn a_write_of_the_current_value_may_come_after_a_concurrent_write() {
    let opts = single(RegisterModel::CasRegister);
    let h = hist(&["1 invoke write 2", "1 ok write 2", "4 invoke write 3", "0 invoke write 2", "4 ok write 3", "0 ok write 2", "1 invoke cas [2,0]", "1 ok cas [2,0]"]);
    assert_eq!(verdict(&h, &opts), Validity::Valid);
    let h = hist(&["1 invoke write 2", "1 ok write 2", "4 invoke write 3", "0 invoke write 2", "4 ok write 3", "0 ok write 2", "1 invoke read null", "1 ok read 2"]);
    assert_eq!(both(&h, &single(RegisterModel::Register)), Validity::Valid);
}

#[test]
fn keys_are_checked_independently() {
    let h = hist(&[
        "0 invoke write [\"a\",1]",
        "0 ok write [\"a\",1]",
        "1 invoke write [\"b\",1]",
        "1 ok write [\"b\",1]",
        "2 invoke read [\"a\",null]",
        "2 ok read [\"a\",1]",
        "2 invoke read [\"b\",null]",
        "2 ok read [\"b\",2]",
    ]);
    let r = check(&h, &LinearOptions::new(RegisterModel::Register)).unwrap();
    assert_eq!(r.valid, Validity::Invalid);
    assert_eq!(r.evidence_json()["keys"], json!(2));
    assert_eq!(r.evidence_json()["failures"].as_array().unwrap().len(), 1);
    assert_eq!(r.evidence_json()["failures"][0]["key"], json!("b"));
}

#[test]
fn kv_appends_build_lists_and_strings() {
    let opts = LinearOptions::new(RegisterModel::Kv);
    let h = hist(&[
        "0 invoke append [\"k\",1]",
        "0 ok append [\"k\",1]",
        "0 invoke append [\"k\",2]",
        "0 ok append [\"k\",2]",
        "1 invoke get [\"k\",null]",
        "1 ok get [\"k\",[1,2]]",
    ]);
    assert_eq!(verdict(&h, &opts), Validity::Valid);
    let lost = hist(&[
        "0 invoke append [\"k\",1]",
        "0 ok append [\"k\",1]",
        "0 invoke append [\"k\",2]",
        "0 ok append [\"k\",2]",
        "1 invoke get [\"k\",null]",
        "1 ok get [\"k\",[2]]",
    ]);
    assert_eq!(verdict(&lost, &opts), Validity::Invalid);
    let strings = LinearOptions { initial: json!(""), ..LinearOptions::new(RegisterModel::Kv) };
    let h = hist(&["0 invoke put [\"k\",\"x\"]", "0 ok put [\"k\",\"x\"]", "0 invoke append [\"k\",\"y\"]", "0 ok append [\"k\",\"y\"]", "1 invoke get [\"k\",null]", "1 ok get [\"k\",\"xy\"]"]);
    assert_eq!(verdict(&h, &strings), Validity::Valid);
}

#[test]
fn operations_outside_the_model_are_errors() {
    let h = hist(&["0 invoke cas [1,2]", "0 ok cas [1,2]"]);
    let err = check(&h, &single(RegisterModel::Register)).unwrap_err();
    assert!(err.to_string().contains("f=\"cas\" is not an operation of the register model"), "{err}");
    let h = hist(&["0 invoke write 1", "0 ok write 1"]);
    let err = check(&h, &LinearOptions::new(RegisterModel::Register)).unwrap_err();
    assert!(err.to_string().contains("expected [key, value], got 1"), "{err}");
}

#[test]
fn an_exhausted_budget_is_unknown_not_a_hang() {
    let cfg = SimConfig::new(30, 20_000, 1, 3);
    let h = History::new(register_history(&cfg, RegisterOps::ReadWriteCas)).unwrap();
    let opts = LinearOptions { time_budget: Duration::ZERO, ..LinearOptions::new(RegisterModel::CasRegister) };
    let r = check(&h, &opts).unwrap();
    assert_eq!(r.valid, Validity::Unknown);
    assert!(r.explanation[0].contains("time budget ran out"), "{:?}", r.explanation);
    let opts = LinearOptions { memory_budget_bytes: 0, ..LinearOptions::new(RegisterModel::CasRegister) };
    let r = check(&h, &opts).unwrap();
    assert_eq!(r.valid, Validity::Unknown);
    assert!(r.explanation[0].contains("memory budget ran out"), "{:?}", r.explanation);
}

/// Replaces one ok read's value by a value that was certainly overwritten before the
/// read began (or, if there is none, by a value never written).
fn corrupt_one_read(ops: &mut [Op], pick: usize) {
    let h = History::new(ops.to_vec()).unwrap();
    let reads: Vec<usize> = h
        .client_ops()
        .filter(|&(i, c)| ops[i].f == "read" && c.is_some_and(|c| ops[c].kind == OpType::Ok))
        .map(|(i, _)| i)
        .collect();
    let r = reads[pick % reads.len()];
    let key = ops[r].value[0].clone();
    // ok writes on this key, as (invoke, completion, value)
    let writes: Vec<(usize, usize, Value)> = h
        .client_ops()
        .filter_map(|(i, c)| {
            let c = c?;
            (ops[i].f == "write" && ops[c].kind == OpType::Ok && ops[i].value[0] == key).then(|| (i, c, ops[i].value[1].clone()))
        })
        .collect();
    let stale = writes.iter().find_map(|(_, c1, v)| {
        writes.iter().any(|(i2, c2, _)| i2 > c1 && *c2 < r).then(|| v.clone())
    });
    let completion = h.completion_of(r).unwrap();
    ops[completion].value = json!([key, stale.unwrap_or(json!(-1))]);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, .. ProptestConfig::default() })]

    #[test]
    fn simulated_histories_are_linearizable(seed in any::<u64>(), procs in 1usize..8, n in 1usize..120, crash in 0.0f64..0.3, cas in any::<bool>()) {
        let cfg = SimConfig { crash_rate: crash, ..SimConfig::new(procs, n, 2, seed) };
        let (kinds, model) = if cas { (RegisterOps::ReadWriteCas, RegisterModel::CasRegister) } else { (RegisterOps::ReadWrite, RegisterModel::Register) };
        let h = History::new(register_history(&cfg, kinds)).unwrap();
        prop_assert_eq!(both(&h, &LinearOptions::new(model)), Validity::Valid);
    }

    #[test]
    fn one_stale_read_makes_it_not_linearizable(seed in any::<u64>(), procs in 1usize..6, n in 20usize..120, pick in any::<usize>()) {
        let cfg = SimConfig::new(procs, n, 1, seed);
        let mut ops = register_history(&cfg, RegisterOps::ReadWrite);
        prop_assume!(ops.iter().any(|o| o.f == "read" && o.kind == OpType::Ok));
        corrupt_one_read(&mut ops, pick);
        let h = History::new(ops).unwrap();
        prop_assert_eq!(both(&h, &LinearOptions::new(RegisterModel::Register)), Validity::Invalid);
    }

    /// Random read values: mostly not linearizable; the zone test and the search must agree.
    #[test]
    fn fast_path_agrees_with_search(seed in any::<u64>(), procs in 1usize..5, n in 2usize..30, pick in any::<usize>(), value in 0u64..8) {
        let cfg = SimConfig { crash_rate: 0.15, ..SimConfig::new(procs, n, 1, seed) };
        let mut ops = register_history(&cfg, RegisterOps::ReadWrite);
        let completions: Vec<usize> = (0..ops.len()).filter(|&i| ops[i].f == "read" && ops[i].kind == OpType::Ok).collect();
        if !completions.is_empty() {
            let c = completions[pick % completions.len()];
            ops[c].value = json!([0, if value == 0 { Value::Null } else { json!(value) }]);
        }
        let h = History::new(ops).unwrap();
        both(&h, &LinearOptions::new(RegisterModel::Register));
    }
}

/// Key 0: a stale read, found at once. Key 1: two rounds of 20 concurrent writes (of
/// the values 0–19, so values repeat) and 20 reads, then a read of a value never
/// written: its search explodes.
fn one_fast_failure_and_one_explosion() -> History {
    let mut lines = vec!["0 invoke write [0,1]".to_owned(), "0 ok write [0,1]".into(), "0 invoke write [0,2]".into(), "0 ok write [0,2]".into(), "0 invoke read [0,null]".into(), "0 ok read [0,1]".into()];
    for round in 0..2 {
        for p in 1..=40 {
            lines.push(if p <= 20 { format!("{p} invoke write [1,{}]", p - 1) } else { format!("{p} invoke read [1,null]") });
        }
        for p in (1..=40).rev() {
            lines.push(if p <= 20 { format!("{p} ok write [1,{}]", p - 1) } else { format!("{p} ok read [1,{}]", (p * 7 + round * 3) % 20) });
        }
    }
    lines.push("1 invoke read [1,null]".into());
    lines.push("1 ok read [1,99]".into());
    hist(&lines.iter().map(String::as_str).collect::<Vec<_>>())
}

#[test]
fn once_a_key_fails_the_other_keys_stop_unless_all_are_wanted() {
    let h = one_fast_failure_and_one_explosion();
    let opts = LinearOptions { memory_budget_bytes: 32 << 20, ..LinearOptions::new(RegisterModel::Register) };
    let r = check(&h, &opts).unwrap();
    assert_eq!(r.valid, Validity::Invalid);
    let e = r.evidence_json();
    assert_eq!(e["failures"][0]["key"], json!(0), "{e}");
    assert_eq!(e["stopped"], json!([1]), "the exploding key stopped: {e}");
    assert!(r.summary.contains("1 key not searched to the end"), "{}", r.summary);
    // With every key wanted, the exploding one runs into the budget and says so.
    let r = check(&h, &LinearOptions { all_keys: true, ..opts }).unwrap();
    assert_eq!(r.valid, Validity::Invalid, "one key is still proven not linearizable");
    let e = r.evidence_json();
    assert_eq!(e["stopped"], json!([]));
    assert_eq!(e["unknown"][0][0], json!(1), "{e}");
    assert!(e["unknown"][0][1].as_str().is_some_and(|why| why.contains("memory budget ran out")), "{e}");
}

#[test]
fn a_zero_memory_budget_allows_no_search_but_the_fast_path_still_decides() {
    let unique = hist(&["0 invoke write 1", "0 ok write 1", "1 invoke read null", "1 ok read 1"]);
    let none = LinearOptions { memory_budget_bytes: 0, ..single(RegisterModel::Register) };
    assert_eq!(verdict(&unique, &none), Validity::Valid, "unique writes: the fast path needs no memory");
    let cas = hist(&["0 invoke cas [null,1]", "0 ok cas [null,1]", "1 invoke read null", "1 ok read 1"]);
    let r = check(&cas, &LinearOptions { memory_budget_bytes: 0, ..single(RegisterModel::CasRegister) }).unwrap();
    assert_eq!(r.valid, Validity::Unknown, "{:?}", r.explanation);
}

#[test]
fn mutex_allows_one_holder_at_a_time() {
    let opts = LinearOptions::new(RegisterModel::Mutex);
    let ok = hist(&["0 invoke acquire null", "0 ok acquire null", "1 invoke acquire null", "0 invoke release null", "0 ok release null", "1 ok acquire null"]);
    assert_eq!(verdict(&ok, &opts), Validity::Valid, "p1's acquire may take effect after p0's release");
    let two_holders = hist(&["0 invoke acquire null", "0 ok acquire null", "1 invoke acquire null", "1 ok acquire null"]);
    let r = check(&two_holders, &opts).unwrap();
    assert_eq!(r.valid, Validity::Invalid);
    assert!(r.explanation.join("\n").contains("After it the value is true"), "{:?}", r.explanation);
    let free_release = hist(&["0 invoke release null", "0 ok release null"]);
    assert_eq!(verdict(&free_release, &opts), Validity::Invalid, "releasing a free lock");
    let bad = hist(&["0 invoke write 1", "0 ok write 1"]);
    assert!(check(&bad, &opts).unwrap_err().to_string().contains("not an operation of the mutex model"));
}

#[test]
fn multi_register_transactions_are_linearizable_as_one_object() {
    let opts = LinearOptions::new(RegisterModel::MultiRegister);
    let ok = hist(&[
        r#"0 invoke txn [["write","x",1],["write","y",2]]"#,
        r#"0 ok txn [["write","x",1],["write","y",2]]"#,
        r#"1 invoke txn [["read","x",null],["read","y",null]]"#,
        r#"1 ok txn [["read","x",1],["read","y",2]]"#,
    ]);
    assert_eq!(verdict(&ok, &opts), Validity::Valid);
    let torn = hist(&[
        r#"0 invoke txn [["write","x",1],["write","y",2]]"#,
        r#"0 ok txn [["write","x",1],["write","y",2]]"#,
        r#"1 invoke txn [["r","x",null],["r","y",null]]"#,
        r#"1 ok txn [["r","x",1],["r","y",null]]"#,
    ]);
    assert_eq!(verdict(&torn, &opts), Validity::Invalid, "a read of half a write");
    let concurrent = hist(&[
        r#"0 invoke txn [["w","x",1]]"#,
        r#"1 invoke txn [["r","x",null]]"#,
        r#"1 ok txn [["r","x",null]]"#,
        r#"0 ok txn [["w","x",1]]"#,
    ]);
    assert_eq!(verdict(&concurrent, &opts), Validity::Valid, "the read may come first");
    let unknown_write = hist(&[r#"0 invoke txn [["w","x",1]]"#, r#"0 info txn [["w","x",1]]"#, r#"1 invoke txn [["r","x",null]]"#, r#"1 ok txn [["r","x",1]]"#]);
    assert_eq!(verdict(&unknown_write, &opts), Validity::Valid, "an indeterminate write may have happened");
}
