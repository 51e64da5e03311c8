//! `faultline check`: reads a history file, runs the model's checker, prints the
//! verdict as text or JSON, and returns the verdict's exit code.

use crate::cli::{CheckArgs, FormatArg, Model, NilReadArg};
use clap::ValueEnum;
use crate::exit::Exit;
use anyhow::anyhow;
use faultline_checkers::elle::{self, ElleOptions, RwOptions, TxnHistory, TxnHistoryReader, TxnKind};
use faultline_checkers::import::{self, Format, Imported, NilRead};
use faultline_checkers::linear::{LinearOptions, RegisterModel};
use faultline_checkers::{bank, counter, merge_results, set_full, stats, unique_ids, CheckResult, History, Validity};
use std::time::{Duration, Instant};

/// What `faultline check --json` prints.
#[derive(serde::Serialize)]
struct CheckReport<'a> {
    /// The history file (`-` for standard input).
    file: &'a std::path::Path,
    /// The format it was read as.
    format: &'static str,
    /// The model, as `--model` spells it.
    model: String,
    /// The merged verdict.
    valid: Validity,
    /// Each checker's result.
    results: &'a [CheckResult],
    /// ok / fail / info per function.
    stats: stats::StatsEvidence,
    /// Time to read and check.
    elapsed_ms: f64,
    /// The most memory the process held (MiB), where the system says (Linux).
    peak_rss_mb: Option<f64>,
}

/// The process's peak resident memory (MiB), from `/proc/self/status`.
fn peak_rss_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

/// Runs `faultline check`; returns the exit code for the verdict.
pub fn run(args: &CheckArgs) -> Result<i32, Exit> {
    let started = Instant::now();
    let format = match args.format {
        FormatArg::Auto => None,
        FormatArg::Jsonl => Some(Format::Jsonl),
        FormatArg::Edn => Some(Format::Edn),
        FormatArg::PorcupineEtcd => Some(Format::PorcupineEtcd),
        FormatArg::PorcupineKv => Some(Format::PorcupineKv),
        FormatArg::JepsenJson => Some(Format::JepsenJson),
    };
    let nil_read = args.nil_read.map(|n| match n {
        NilReadArg::Unknown => NilRead::Unknown,
        NilReadArg::Absent => NilRead::Absent,
    });
    let transactional = matches!(args.model, Model::ListAppend | Model::RwRegister);
    if transactional && args.file.as_os_str() != "-" && args.export_edn.is_none() {
        let known = match format {
            Some(f) => Some(f),
            None => import::detect_file(&args.file).map_err(Exit::bad_input)?,
        };
        if let Some(history) = read_txns(args, known).map_err(Exit::bad_input)? {
            return check_txns(args, &history, known.unwrap_or(Format::Jsonl), started);
        }
    }
    let imported = if args.file.as_os_str() == "-" {
        let stdin = std::path::Path::new("<stdin>");
        faultline_history::read_text(std::io::stdin().lock(), stdin).and_then(|text| import::import_str(&text, stdin, format, nil_read))
    } else {
        import::import_file(&args.file, format, nil_read)
    }
    .map_err(Exit::bad_input)?;
    if let Some(out) = &args.export_edn {
        std::fs::write(out, import::to_jepsen_edn(&imported.ops))
            .map_err(|e| Exit::bad_input(anyhow!("cannot write {}: {e}", out.display())))?;
    }
    let Imported { ops, lines, format, initial_value, single_key } = imported;
    let history = History::new(ops).map_err(|e| {
        let line = lines.get(e.position()).copied().unwrap_or(0);
        Exit::bad_input(anyhow!("{}:{line}: {e}", args.file.display()))
    })?;
    // Bare values (one register, one set) need no flag: no op carries a key.
    let keyed_model = matches!(args.model, Model::Register | Model::CasRegister | Model::SetFull);
    let single_key = single_key || args.single_key || (keyed_model && faultline_checkers::bare_values(&history));
    let results = check_model(&history, args, single_key, args.initial_value.clone().unwrap_or(initial_value))
        .map_err(|e| bad_op(args, &lines, e))?;
    report(args, format, history.len(), stats::counts(&history), &results, started)
}

/// Reads a JSONL or EDN transactional history file without holding its events: each
/// is folded into compact transactions as it is read (docs/ARCHITECTURE.md §7, "Elle at
/// scale"). `None` for other formats, and for EDN whose ops lack a `:process` (the
/// general importer numbers those).
fn read_txns(args: &CheckArgs, format: Option<Format>) -> Result<Option<TxnHistory>, faultline_history::ParseError> {
    let kind = txn_kind(args);
    let path = args.file.as_path();
    let io = |source| faultline_history::ParseError::Io { path: path.to_owned(), source };
    match format {
        Some(Format::Jsonl) => {
            let file = std::fs::File::open(path).map_err(io)?;
            TxnHistory::read_jsonl(std::io::BufReader::with_capacity(1 << 20, file), path, kind).map(Some)
        }
        Some(Format::Edn) => {
            let text = faultline_history::read_text_file(path)?;
            let mut reader = TxnHistoryReader::new(kind, path);
            match import::stream_edn(&text, path, |op, line| reader.push(&op, line))? {
                import::Streamed::Whole => reader.finish("edn").map(Some),
                import::Streamed::NeedsWholeFile => Ok(None),
            }
        }
        _ => Ok(None),
    }
}

/// Checks a transactional history read by [`read_txns`].
fn check_txns(args: &CheckArgs, history: &TxnHistory, format: Format, started: Instant) -> Result<i32, Exit> {
    let result = elle::check_txns(history, &elle_options(args, txn_kind(args))).map_err(|e| match &e {
        faultline_checkers::CheckError::BadOp { position, .. } => {
            Exit::bad_input(anyhow!("{}:{}: {e}", args.file.display(), history.line_of(*position).unwrap_or(0)))
        }
        faultline_checkers::CheckError::BadOption(_) => Exit::bad_input(e),
    })?;
    report(args, format, history.events(), history.stats(), &[result], started)
}

fn txn_kind(args: &CheckArgs) -> TxnKind {
    if args.model == Model::ListAppend { TxnKind::ListAppend } else { TxnKind::RwRegister }
}

/// Prints the verdict (text or `--json`) and returns its exit code.
fn report(args: &CheckArgs, format: Format, events: usize, counts: stats::StatsEvidence, results: &[CheckResult], started: Instant) -> Result<i32, Exit> {
    let valid = merge_results(results);
    let elapsed = started.elapsed();
    if args.json {
        let out = CheckReport {
            file: &args.file,
            format: format.name(),
            model: args.model.to_possible_value().map(|v| v.get_name().to_owned()).unwrap_or_default(),
            valid,
            results,
            stats: counts,
            elapsed_ms: elapsed.as_secs_f64() * 1e3,
            peak_rss_mb: peak_rss_mb(),
        };
        println!("{}", serde_json::to_string_pretty(&out).map_err(Exit::crash)?);
    } else {
        print_text(args, format, events, counts.total, results, valid, elapsed);
    }
    Ok(valid.exit_code())
}

/// The transactional checker's options from the command line.
fn elle_options(args: &CheckArgs, kind: TxnKind) -> ElleOptions {
    ElleOptions {
        consistency_model: args.consistency_model,
        rw: RwOptions { linearizable_keys: args.linearizable_keys, sequential_keys: args.sequential_keys, wfr_keys: args.wfr_keys },
        time_budget: Duration::from_secs_f64(args.time_budget),
        ..ElleOptions::new(kind)
    }
}

/// Runs the checker(s) for the chosen model.
fn check_model(
    history: &History,
    args: &CheckArgs,
    single_key: bool,
    initial: serde_json::Value,
) -> Result<Vec<CheckResult>, faultline_checkers::CheckError> {
    let linear = |model| LinearOptions {
        single_key,
        initial: initial.clone(),
        time_budget: Duration::from_secs_f64(args.time_budget),
        memory_budget_bytes: args.memory_budget.saturating_mul(1 << 20),
        all_keys: args.all_keys,
        ..LinearOptions::new(model)
    };
    Ok(vec![match args.model {
        Model::Register => faultline_checkers::linear::check(history, &linear(RegisterModel::Register))?,
        Model::CasRegister => faultline_checkers::linear::check(history, &linear(RegisterModel::CasRegister))?,
        Model::Kv => faultline_checkers::linear::check(history, &linear(RegisterModel::Kv))?,
        Model::Mutex => faultline_checkers::linear::check(history, &linear(RegisterModel::Mutex))?,
        Model::MultiRegister => faultline_checkers::linear::check(history, &linear(RegisterModel::MultiRegister))?,
        Model::Set => faultline_checkers::set::check(history)?,
        Model::LongFork => faultline_checkers::long_fork::check(history)?,
        Model::SetFull => {
            set_full::check(history, &set_full::SetFullOptions { single_key, linearizable: args.linearizable_set })?
        }
        Model::Counter => counter::check(history)?,
        Model::Bank => bank::check(history, &bank::BankOptions { total: args.bank_total, ..Default::default() })?,
        Model::UniqueIds => unique_ids::check(history)?,
        Model::Stats => stats::check(history),
        Model::ListAppend | Model::RwRegister => {
            elle::check(history, &elle_options(args, txn_kind(args)))?
        }
    }])
}

/// A checker's complaint about an operation, pointed at its source line.
fn bad_op(args: &CheckArgs, lines: &[usize], e: faultline_checkers::CheckError) -> Exit {
    match &e {
        faultline_checkers::CheckError::BadOp { position, .. } => {
            let line = lines.get(*position).copied().unwrap_or(0);
            Exit::bad_input(anyhow!("{}:{line}: {e}", args.file.display()))
        }
        faultline_checkers::CheckError::BadOption(_) => Exit::bad_input(e),
    }
}

fn print_text(args: &CheckArgs, format: Format, events: usize, counts: stats::Counts, results: &[CheckResult], valid: Validity, elapsed: Duration) {
    println!(
        "{} ({}, {} events; {} ops: {} ok, {} fail, {} info)",
        args.file.display(),
        format.name(),
        events,
        counts.count,
        counts.ok,
        counts.fail,
        counts.info
    );
    for r in results {
        println!("  {}: {} — {}", r.checker, r.valid, r.summary);
        for line in r.explanation.iter().take(60) {
            println!("    {line}");
        }
        if r.explanation.len() > 60 {
            println!("    … {} more lines (see --json)", r.explanation.len() - 60);
        }
    }
    println!("verdict: {valid} (checked in {:.1} ms)", elapsed.as_secs_f64() * 1e3);
}
