//! Writes a seeded, simulated transactional history as faultline JSONL, for benchmarks
//! and for comparing checkers (`faultline check` against `adya check`, Elle).
//!
//! ```text
//! cargo run --release -p faultline-checkers --example gen_txn -- OUT TXNS [serializable|si] [list-append|rw-register] [SEED] [PROCESSES]
//! ```
//!
//! `serializable` histories are strict serializable; `si` ones come from a store with
//! snapshot isolation (first committer wins), so they hold write skew (G2-item) and
//! nothing weaker. 2% of outcomes are lost (`info`), as crashed clients leave them.

use faultline_checkers::testgen::{txn_history, Isolation, SimConfig, TxnConfig, TxnWorkload};
use faultline_history::JsonlWriter;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = "usage: gen_txn OUT TXNS [serializable|si] [list-append|rw-register] [SEED] [PROCESSES]";
    let (Some(out), Some(Ok(txns))) = (args.first(), args.get(1).map(|n| n.parse::<usize>())) else {
        eprintln!("{usage}");
        return ExitCode::from(2);
    };
    let Some(isolation) = pick(args.get(2), &[("serializable", Isolation::Serializable), ("si", Isolation::SnapshotIsolation)]) else {
        eprintln!("unknown isolation; {usage}");
        return ExitCode::from(2);
    };
    let Some(workload) = pick(args.get(3), &[("list-append", TxnWorkload::ListAppend), ("rw-register", TxnWorkload::RwRegister)]) else {
        eprintln!("unknown workload; {usage}");
        return ExitCode::from(2);
    };
    let number = |i: usize, default: u64| args.get(i).map_or(Ok(default), |s| s.parse::<u64>());
    let (Ok(seed), Ok(processes)) = (number(4, 1), number(5, 10)) else {
        eprintln!("{usage}");
        return ExitCode::from(2);
    };
    let sim = SimConfig { crash_rate: 0.02, ..SimConfig::new(processes as usize, txns, 0, seed) };
    let ops = txn_history(&TxnConfig::new(sim, workload, isolation));
    let written = JsonlWriter::create(std::path::Path::new(out)).and_then(|mut w| {
        for op in &ops {
            w.append(op)?;
        }
        w.sync()
    });
    match written {
        Ok(()) => {
            eprintln!("wrote {} events ({txns} transactions) to {out}", ops.len());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("cannot write {out}: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The choice `arg` names (the first when it is absent), or `None` for a name not listed.
fn pick<T: Copy>(arg: Option<&String>, choices: &[(&str, T)]) -> Option<T> {
    match arg {
        None => choices.first().map(|&(_, v)| v),
        Some(name) => choices.iter().find(|(n, _)| n == name).map(|&(_, v)| v),
    }
}
