//! Exact operation sequences for each combinator, on a fake clock.

use super::*;
use serde_json::json;

const MS: u64 = 1_000_000;

fn ok(_: &Simulated) -> EventKind {
    EventKind::Ok
}

/// (time in ms, thread, f, value) of each simulated invocation.
fn run(gen: Gen, clients: usize, latency_ms: u64, max: usize) -> Vec<(u64, Thread, String, serde_json::Value)> {
    simulate(gen, clients, latency_ms * MS, max, ok).into_iter().map(|s| (s.time / MS, s.thread, s.f, s.value)).collect()
}

fn counter(f: &'static str) -> Gen {
    from_fn(0, move |_, n| (f.to_owned(), json!(n)))
}

use Thread::{Client as C, Nemesis as N};

#[test]
fn from_fn_fills_free_threads_then_waits_for_completions() {
    let got = run(clients(counter("w")), 2, 10, 5);
    assert_eq!(got, vec![(0, C(1), "w".into(), json!(0)), (0, C(0), "w".into(), json!(1)), (10, C(1), "w".into(), json!(2)), (10, C(0), "w".into(), json!(3)), (20, C(1), "w".into(), json!(4))]);
}

#[test]
fn from_fn_progress_counts_only_operations_that_may_have_taken_effect() {
    // Values 0..4 fail, the rest succeed (every third is info): `effective` stands still
    // through the failures and then counts ok and info alike.
    let outcome = |s: &Simulated| match s.value["invoked"].as_u64() {
        Some(n) if n < 4 => EventKind::Fail,
        Some(n) if n % 3 == 0 => EventKind::Info,
        _ => EventKind::Ok,
    };
    let gen = clients(from_fn_progress(0, |_, p| ("x".to_owned(), json!({"invoked": p.invoked, "effective": p.effective}))));
    let got: Vec<(u64, u64)> = simulate(gen, 1, MS, 8, outcome).into_iter().map(|s| (s.value["invoked"].as_u64().unwrap_or(99), s.value["effective"].as_u64().unwrap_or(99))).collect();
    assert_eq!(got, [(0, 0), (1, 0), (2, 0), (3, 0), (4, 0), (5, 1), (6, 2), (7, 3)]);
}

#[test]
fn limit_once_ops_and_then() {
    let gen = clients(then(vec![limit(2, counter("a")), once("b", json!(null)), ops(vec![("c".into(), json!(1)), ("c".into(), json!(2))])]));
    let fs: Vec<String> = run(gen, 1, 1, 100).into_iter().map(|(_, _, f, v)| format!("{f}{v}")).collect();
    assert_eq!(fs, ["a0", "a1", "bnull", "c1", "c2"]);
}

#[test]
fn repeat_and_cycle_restart_their_generator() {
    let fs: Vec<String> = run(clients(cycle(3, ops(vec![("x".into(), json!(1)), ("y".into(), json!(2))]))), 1, 1, 100).into_iter().map(|(_, _, f, _)| f).collect();
    assert_eq!(fs, ["x", "y", "x", "y", "x", "y"]);
    assert_eq!(run(clients(repeat(once("z", json!(0)))), 1, 1, 4).len(), 4);
}

#[test]
fn delay_spaces_operations_and_stagger_is_seeded() {
    let times: Vec<u64> = run(clients(delay(5 * MS, counter("w"))), 4, 1, 4).into_iter().map(|(t, ..)| t).collect();
    assert_eq!(times, [0, 5, 10, 15]);
    let a: Vec<u64> = run(clients(stagger(5 * MS, 7, counter("w"))), 4, 1, 20).into_iter().map(|(t, ..)| t).collect();
    let b: Vec<u64> = run(clients(stagger(5 * MS, 7, counter("w"))), 4, 1, 20).into_iter().map(|(t, ..)| t).collect();
    assert_eq!(a, b, "same seed, same schedule");
    assert!(a.windows(2).all(|w| w[1] - w[0] <= 10), "gaps below 2×dt (whole ms): {a:?}");
    assert!(a[19] > 50 && a[19] < 150, "about 5 ms apart on average: {a:?}");
}

#[test]
fn time_limit_stops_at_its_deadline() {
    let times: Vec<u64> = run(clients(time_limit(25 * MS, delay(10 * MS, counter("w")))), 1, 1, 100).into_iter().map(|(t, ..)| t).collect();
    assert_eq!(times, [0, 10, 20]);
}

#[test]
fn sleep_and_phases_wait() {
    let gen = clients(phases(vec![limit(2, counter("a")), sleep(50 * MS), once("b", json!(null))]));
    let got: Vec<(u64, String)> = run(gen, 2, 30, 100).into_iter().map(|(t, _, f, _)| (t, f)).collect();
    assert_eq!(got, [(0, "a".into()), (0, "a".into()), (80, "b".into())], "b waits for both a's to finish (30 ms) and then 50 ms of sleep");
}

#[test]
fn timed_operations_keep_absolute_times_when_one_runs_late() {
    let list = |ts: &[u64]| ts.iter().enumerate().map(|(i, t)| (t * MS, format!("f{i}"), json!(null))).collect();
    let got: Vec<u64> = run(nemesis(timed(list(&[10, 20, 100]))), 0, 1, 100).into_iter().map(|(t, ..)| t).collect();
    assert_eq!(got, [10, 20, 100]);
    // f0 takes 40 ms: f1 starts when it is done, f2 still at its own time.
    let got: Vec<u64> = run(nemesis(timed(list(&[10, 20, 100]))), 0, 40, 100).into_iter().map(|(t, ..)| t).collect();
    assert_eq!(got, [10, 50, 100]);
}

#[test]
fn each_thread_gives_every_thread_its_own_copy() {
    let got: Vec<(Thread, serde_json::Value)> = run(clients(each_thread(limit(2, counter("w")))), 2, 1, 100).into_iter().map(|(_, t, _, v)| (t, v)).collect();
    assert_eq!(got, [(C(0), json!(0)), (C(1), json!(0)), (C(0), json!(1)), (C(1), json!(1))]);
}

#[test]
fn reserve_and_routing_put_operations_on_their_threads() {
    let gen = any(vec![clients(reserve(vec![(1, counter("r"))], counter("w"))), nemesis(limit(1, once("start-partition", json!("halves"))))]);
    let got: Vec<(Thread, String)> = run(gen, 3, 10, 7).into_iter().map(|(_, t, f, _)| (t, f)).collect();
    assert_eq!(&got[..4], &[(C(0), "r".into()), (C(2), "w".into()), (C(1), "w".into()), (N, "start-partition".into())]);
    assert!(got[4..].iter().all(|(t, f)| (*t == C(0)) == (f == "r")), "{got:?}");
    let only_2: Vec<Thread> = run(on_threads(|t| t == C(2), counter("w")), 3, 1, 3).into_iter().map(|(_, t, ..)| t).collect();
    assert_eq!(only_2, [C(2), C(2), C(2)]);
}

#[test]
fn mix_is_seeded_and_flip_flop_alternates() {
    let fs = |seed| run(clients(mix(seed, vec![counter("a"), counter("b")])), 1, 1, 12).into_iter().map(|(_, _, f, _)| f).collect::<String>();
    assert_eq!(fs(3), fs(3));
    assert_ne!(fs(3), fs(4));
    assert!(fs(3).contains('a') && fs(3).contains('b'));
    let ff: String = run(clients(flip_flop(counter("a"), limit(2, counter("b")))), 1, 1, 100).into_iter().map(|(_, _, f, _)| f).collect();
    assert_eq!(ff, "ababa");
}

#[test]
fn until_ok_stops_after_a_success() {
    let fails_first_two = |s: &Simulated| if s.value.as_u64() < Some(2) { EventKind::Fail } else { EventKind::Ok };
    let got: Vec<serde_json::Value> = simulate(clients(until_ok(counter("x"))), 1, MS, 100, fails_first_two).into_iter().map(|s| s.value).collect();
    assert_eq!(got, [json!(0), json!(1), json!(2)]);
}

#[test]
fn an_operation_for_later_is_not_committed_early() {
    // The op due at 10 ms is discarded when a completion arrives at 1 ms; asked again,
    // the generator gives the same value: nothing was consumed.
    let gen = any(vec![clients(limit(1, counter("fast"))), nemesis(delay(10 * MS, limit(2, counter("slow"))))]);
    let got: Vec<(u64, String, serde_json::Value)> = run(gen, 1, 1, 10).into_iter().map(|(t, _, f, v)| (t, f, v)).collect();
    assert_eq!(got, [(0, "fast".into(), json!(0)), (0, "slow".into(), json!(0)), (10, "slow".into(), json!(1))]);
}

#[test]
fn a_sleeping_branch_keeps_its_timer_while_others_work() {
    // Clients are always busy; the nemesis's sleep must still end after 50 ms.
    let gen = any(vec![clients(counter("w")), nemesis(then(vec![sleep(50 * MS), once("start-kill", json!(null))]))]);
    let kill: Vec<u64> = run(gen, 2, 1, 300).into_iter().filter(|(_, t, ..)| *t == N).map(|(t, ..)| t).collect();
    assert_eq!(kill, [50]);
}
