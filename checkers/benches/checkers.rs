//! Checker benchmarks on seeded generated histories; throughput is in ops/s.
//!
//! `cargo bench -p faultline-checkers` (add a filter such as `linear/register` to run a
//! subset). Histories are generated once, before timing.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use faultline_checkers::linear::{self, LinearOptions, RegisterModel};
use faultline_checkers::elle::{self, ElleOptions, TxnHistory, TxnKind};
use faultline_history::JsonlWriter;
use faultline_checkers::testgen::{
    counter_history, plant_stale_get, register_history, set_history, string_kv_history, txn_history, Isolation, RegisterOps, SimConfig, TxnConfig,
    TxnWorkload,
};
use faultline_checkers::{counter, set_full, History, Validity};
use std::time::Duration;

const SEED: u64 = 20261122;

/// The `faultline` binary's allocator, so the figures are the command's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn history(cfg: &SimConfig, kinds: RegisterOps) -> History {
    History::new(register_history(cfg, kinds)).expect("generated histories are well formed")
}

fn bench_linear(c: &mut Criterion, name: &str, kinds: RegisterOps, model: RegisterModel, keys: usize, shapes: &[(usize, usize)]) {
    let mut group = c.benchmark_group(format!("linear/{name}"));
    group.sample_size(10).warm_up_time(Duration::from_millis(500)).measurement_time(Duration::from_secs(3));
    for &(processes, ops) in shapes {
        for crash_rate in [0.0, 0.05] {
            let cfg = SimConfig { crash_rate, ..SimConfig::new(processes, ops, keys, SEED) };
            let h = history(&cfg, kinds);
            let opts = LinearOptions::new(model);
            assert_eq!(linear::check(&h, &opts).map(|r| r.valid), Ok(Validity::Valid));
            group.throughput(Throughput::Elements(ops as u64));
            let id = format!("{processes}p-{ops}ops-{keys}keys-{}", if crash_rate > 0.0 { "crashes" } else { "no-crashes" });
            group.bench_function(BenchmarkId::from_parameter(id), |b| b.iter(|| linear::check(&h, &opts)));
        }
    }
    group.finish();
}

fn linearizability(c: &mut Criterion) {
    let shapes = [(10, 1_000), (50, 1_000), (100, 1_000), (10, 10_000), (50, 10_000), (100, 10_000), (10, 100_000), (50, 100_000), (100, 100_000)];
    bench_linear(c, "register", RegisterOps::ReadWrite, RegisterModel::Register, 20, &shapes);
    bench_linear(c, "cas-register", RegisterOps::ReadWriteCas, RegisterModel::CasRegister, 20, &[(30, 100_000)]);
    bench_linear(c, "kv", RegisterOps::ReadWriteAppend, RegisterModel::Kv, 10, &[(10, 2_000), (50, 2_000), (100, 2_000), (50, 20_000)]);
    string_kv(c);
    let tiny = history(&SimConfig::new(5, 19, 2, SEED), RegisterOps::ReadWriteCas);
    let opts = LinearOptions::new(RegisterModel::CasRegister);
    c.bench_function("linear/tiny-38-events", |b| b.iter(|| linear::check(&tiny, &opts)));
}

/// Porcupine's kv shape (string appends, 10 keys), valid and with one stale get; and,
/// when `FAULTLINE_KV_HISTORIES` names a directory holding `kv-ok.edn` and
/// `kv-bad.edn` (as `../shared/bench/gen_kv.py` writes them), those two files.
fn string_kv(c: &mut Criterion) {
    let mut group = c.benchmark_group("linear/string-kv");
    group.sample_size(10).warm_up_time(Duration::from_millis(500)).measurement_time(Duration::from_secs(3));
    let opts = LinearOptions { initial: serde_json::json!(""), ..LinearOptions::new(RegisterModel::Kv) };
    for processes in [50, 100] {
        let ops = string_kv_history(&SimConfig::new(processes, 2_000, 10, SEED));
        let mut bad = ops.clone();
        assert!(plant_stale_get(&mut bad), "a get to make stale");
        for (name, ops, expect) in [("valid", ops, Validity::Valid), ("stale-get", bad, Validity::Invalid)] {
            let h = History::new(ops).expect("well formed");
            assert_eq!(linear::check(&h, &opts).map(|r| r.valid), Ok(expect));
            group.bench_function(BenchmarkId::from_parameter(format!("{processes}c-2000ops-{name}")), |b| b.iter(|| linear::check(&h, &opts)));
        }
    }
    if let Some(dir) = std::env::var_os("FAULTLINE_KV_HISTORIES") {
        for (name, expect) in [("kv-ok.edn", Validity::Valid), ("kv-bad.edn", Validity::Invalid)] {
            let path = std::path::Path::new(&dir).join(name);
            let imported = faultline_checkers::import::import_file(&path, None, None).expect("a gen_kv.py history");
            let h = History::new(imported.ops).expect("well formed");
            let opts = LinearOptions { initial: imported.initial_value, ..LinearOptions::new(RegisterModel::Kv) };
            assert_eq!(linear::check(&h, &opts).map(|r| r.valid), Ok(expect));
            group.bench_function(BenchmarkId::from_parameter(format!("gen_kv/{name}")), |b| b.iter(|| linear::check(&h, &opts)));
        }
    }
    group.finish();
}

fn invariants(c: &mut Criterion) {
    let mut group = c.benchmark_group("invariants");
    group.sample_size(10).warm_up_time(Duration::from_millis(500)).measurement_time(Duration::from_secs(5));
    let ops = 1_000_000;
    let sets = History::new(set_history(&SimConfig::new(10, ops, 1, SEED), 1_000, 0.01)).expect("well formed");
    let opts = set_full::SetFullOptions::default();
    assert_eq!(set_full::check(&sets, &opts).map(|r| r.valid), Ok(Validity::Valid));
    group.throughput(Throughput::Elements(ops as u64));
    group.bench_function("set-full/1M-ops", |b| b.iter(|| set_full::check(&sets, &opts)));
    let counts = History::new(counter_history(&SimConfig::new(10, ops, 1, SEED), 0.3)).expect("well formed");
    assert_eq!(counter::check(&counts).map(|r| r.valid), Ok(Validity::Valid));
    group.bench_function("counter/1M-ops", |b| b.iter(|| counter::check(&counts)));
    group.finish();
}

fn transactional(c: &mut Criterion) {
    let mut group = c.benchmark_group("elle");
    group.sample_size(10).warm_up_time(Duration::from_millis(500)).measurement_time(Duration::from_secs(5));
    let shapes = [
        (TxnWorkload::ListAppend, Isolation::Serializable, 10, 10_000),
        (TxnWorkload::ListAppend, Isolation::Serializable, 100, 10_000),
        (TxnWorkload::ListAppend, Isolation::Serializable, 10, 100_000),
        (TxnWorkload::ListAppend, Isolation::Serializable, 100, 100_000),
        (TxnWorkload::ListAppend, Isolation::SnapshotIsolation, 10, 100_000),
        (TxnWorkload::RwRegister, Isolation::Serializable, 10, 100_000),
        (TxnWorkload::ListAppend, Isolation::Serializable, 10, 1_000_000),
    ];
    for (workload, isolation, processes, txns) in shapes {
        let sim = SimConfig { crash_rate: 0.02, ..SimConfig::new(processes, txns, 0, SEED) };
        let h = History::new(txn_history(&TxnConfig::new(sim, workload, isolation))).expect("well formed");
        let kind = if workload == TxnWorkload::ListAppend { TxnKind::ListAppend } else { TxnKind::RwRegister };
        let opts = ElleOptions::new(kind);
        let expected = if isolation == Isolation::Serializable { Validity::Valid } else { Validity::Invalid };
        assert_eq!(elle::check(&h, &opts).map(|r| r.valid), Ok(expected));
        group.throughput(Throughput::Elements(txns as u64));
        let id = format!("{workload:?}-{isolation:?}-{processes}p-{txns}txns");
        group.bench_function(BenchmarkId::from_parameter(id), |b| b.iter(|| elle::check(&h, &opts)));
    }
    group.finish();
}

/// `faultline check`'s own path for a transactional JSONL file: read straight into
/// compact transactions, then checked. On generated 100k- and 1M-transaction files, or
/// on the file named by `FAULTLINE_APPEND_HISTORY` (e.g. `gen_append.py`'s).
fn transactional_files(c: &mut Criterion) {
    let mut group = c.benchmark_group("elle-jsonl");
    group.sample_size(10).warm_up_time(Duration::from_millis(500)).measurement_time(Duration::from_secs(10));
    let dir = tempfile::tempdir().expect("a temporary directory");
    let mut files: Vec<(String, std::path::PathBuf)> = Vec::new();
    match std::env::var_os("FAULTLINE_APPEND_HISTORY") {
        Some(path) => files.push(("given-file".to_owned(), path.into())),
        None => {
            for txns in [100_000, 1_000_000] {
                let sim = SimConfig { crash_rate: 0.02, ..SimConfig::new(20, txns, 0, SEED) };
                let path = dir.path().join(format!("append-{txns}.jsonl"));
                let mut w = JsonlWriter::create(&path).expect("a history file");
                for op in txn_history(&TxnConfig::new(sim, TxnWorkload::ListAppend, Isolation::Serializable)) {
                    w.append(&op).expect("written");
                }
                w.sync().expect("written");
                files.push((format!("list-append-{txns}txns"), path));
            }
        }
    }
    let opts = ElleOptions::new(TxnKind::ListAppend);
    let check = |path: &std::path::Path| {
        let file = std::io::BufReader::with_capacity(1 << 20, std::fs::File::open(path).expect("readable"));
        let h = TxnHistory::read_jsonl(file, path, TxnKind::ListAppend).expect("a list-append history");
        elle::check_txns(&h, &opts).expect("checkable")
    };
    for (id, path) in &files {
        assert_ne!(check(path).valid, Validity::Unknown);
        group.bench_function(BenchmarkId::from_parameter(id), |b| b.iter(|| check(path)));
    }
    group.finish();
}

criterion_group!(benches, linearizability, invariants, transactional, transactional_files);
criterion_main!(benches);
