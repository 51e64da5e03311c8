//! Writes a simulated, correct history as JSONL to stdout, for trying the checkers:
//!
//! `cargo run -p faultline-checkers --example gen_history -- KIND PROCESSES OPS KEYS SEED [CRASH_RATE]`
//!
//! KIND: register, cas, kv, set, counter, or a transactional store: list-append-ser,
//! list-append-si, rw-register-ser, rw-register-si (KEYS is then the active key pool).

use faultline_checkers::testgen::{
    counter_history, register_history, set_history, txn_history, Isolation, RegisterOps, SimConfig, TxnConfig, TxnWorkload,
};
use faultline_history::JsonlWriter;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = "usage: gen_history register|cas|kv|set|counter|list-append-ser|list-append-si|rw-register-ser|rw-register-si PROCESSES OPS KEYS SEED [CRASH_RATE]";
    let num = |i: usize| args.get(i).and_then(|s| s.parse::<u64>().ok());
    let (Some(kind), Some(processes), Some(ops), Some(keys), Some(seed)) = (args.first(), num(1), num(2), num(3), num(4)) else {
        eprintln!("{usage}");
        return ExitCode::from(254);
    };
    let crash_rate = args.get(5).and_then(|s| s.parse().ok()).unwrap_or(0.0);
    let cfg = SimConfig { crash_rate, ..SimConfig::new(processes as usize, ops as usize, keys as usize, seed) };
    let history = match kind.as_str() {
        "register" => register_history(&cfg, RegisterOps::ReadWrite),
        "cas" => register_history(&cfg, RegisterOps::ReadWriteCas),
        "kv" => register_history(&cfg, RegisterOps::ReadWriteAppend),
        "set" => set_history(&cfg, 50, 0.1),
        "counter" => counter_history(&cfg, 0.3),
        "list-append-ser" | "list-append-si" | "rw-register-ser" | "rw-register-si" => {
            let workload = if kind.starts_with("list") { TxnWorkload::ListAppend } else { TxnWorkload::RwRegister };
            let isolation = if kind.ends_with("si") { Isolation::SnapshotIsolation } else { Isolation::Serializable };
            let mut txn = TxnConfig::new(cfg, workload, isolation);
            txn.active_keys = keys.max(1) as usize;
            txn_history(&txn)
        }
        _ => {
            eprintln!("{usage}");
            return ExitCode::from(254);
        }
    };
    let mut out = JsonlWriter::new(std::io::stdout().lock());
    for op in &history {
        if let Err(e) = out.append(op) {
            eprintln!("gen_history: {e}");
            return ExitCode::from(255);
        }
    }
    match out.finish() {
        Ok(_) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("gen_history: {e}");
            ExitCode::from(255)
        }
    }
}
