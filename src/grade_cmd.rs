//! `faultline grade`: the matrix from a file or flags, one cell after another with
//! progress, the scorecard's files, and exit 0 when every cell met its expectation,
//! 1 when one deviated, 130 when interrupted.

use crate::cli::{EngineArg, ExpectArg, GradeArgs, GradeCommand, MergeArgs};
use crate::exit::Exit;
use crate::shutdown::Shutdown;
use anyhow::anyhow;
use faultline::grade::matrix::{Expect, Matrix, Overrides};
use faultline::grade::{self, Event};
use faultline::runner::{Interrupt, TestError};
use std::io::IsTerminal;

fn matrix(args: &GradeArgs, engine: &EngineArg) -> Result<Matrix, Exit> {
    let o = Overrides {
        time_limit: args.time_limit,
        seeds: args.seeds.clone(),
        store: args.store.clone(),
        base_image: args.base.base_image.clone(),
        docker_host: engine.docker_host.clone(),
        publish_ports: engine.publish_ports,
    };
    match &args.matrix {
        Some(path) => Matrix::read(path, &o).map_err(|e| Exit::bad_input(anyhow!(e))),
        None => {
            let expect = args.expect.map(|e| match e {
                ExpectArg::Valid => Expect::Valid,
                ExpectArg::Invalid => Expect::Invalid,
                ExpectArg::Any => Expect::Any,
            });
            Ok(Matrix::from_flags(&args.designs, &args.bug_sets, &args.workloads, &args.nemeses, expect, &o))
        }
    }
}

/// `faultline grade merge`: exit 0 when every cell of every shard met its
/// expectation, 1 when one deviated or a shard is missing.
fn merge(args: &MergeArgs) -> Result<i32, Exit> {
    let cards = args.shards.iter().map(|p| grade::merge::read(p).map(|card| (p.clone(), card))).collect::<Result<Vec<_>, _>>().map_err(|e| Exit::bad_input(anyhow!(e)))?;
    let merged = grade::merge::merge(cards).map_err(|e| Exit::bad_input(anyhow!(e)))?;
    grade::write(&merged.card, &args.out).map_err(|e| Exit::crash(anyhow!("writing the scorecard to {}: {e}", args.out.display())))?;
    print!("{}", grade::render::summary_text(&merged.card, &args.out.join("scorecard.html")));
    if !merged.missing.is_empty() {
        let n = merged.card.graded.as_ref().map_or(0, |g| g.cells_total);
        let missing: Vec<String> = merged.missing.iter().map(usize::to_string).collect();
        eprintln!("faultline: shard(s) {} not given: the scorecard holds {} of the matrix's {n} cells", missing.join(", "), merged.card.cells_run);
        return Ok(1);
    }
    Ok(if merged.card.deviations == 0 { 0 } else { 1 })
}

/// Runs `faultline grade`.
pub async fn run(args: GradeArgs, engine: EngineArg) -> Result<i32, Exit> {
    if let Some(GradeCommand::Merge(m)) = &args.command {
        return merge(m);
    }
    let matrix = matrix(&args, &engine)?;
    let matrix = match args.shard {
        Some(shard) => matrix.shard(shard),
        None => matrix,
    };
    let out = args.out.clone().unwrap_or_else(|| args.store.join("scorecard").join(chrono::Utc::now().format("%Y%m%dT%H%M%SZ").to_string()));
    let n = matrix.cells.len();
    let time: f64 = matrix.cells.iter().map(|c| c.opts.time_limit_s).sum();
    let part = matrix.shard.map_or(String::new(), |s| format!(" (shard {s} of its {} cells)", matrix.total));
    println!("faultline grade: {}{part} — {n} cells, {time:.0} s of workload (plus about 8 s of setup, heal and teardown each); scorecard in {}", matrix.name, out.display());
    let bar = std::io::stderr().is_terminal().then(|| {
        let bar = indicatif::ProgressBar::new(n as u64);
        bar.set_style(indicatif::ProgressStyle::with_template("{elapsed_precise} [{bar:30}] {pos}/{len} {msg}").unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()));
        bar.enable_steady_tick(std::time::Duration::from_millis(500));
        bar
    });
    let interrupt: Interrupt = match Shutdown::listen() {
        Ok(mut s) => Box::pin(async move { s.recv().await }),
        Err(_) => Box::pin(std::future::pending()),
    };
    let engines = grade::pool::engines(&args.engines);
    if engines.len() > 1 {
        println!("on {} engines: {}", engines.len(), args.engines.join(", "));
    }
    let observe = |e: Event| match e {
        Event::Start(i, n, cell) => {
            let what = format!("{} / {} / {} / seed {}", cell.row, cell.opts.workload, cell.opts.nemesis, cell.opts.seed);
            match &bar {
                Some(bar) => bar.set_message(what),
                None => eprintln!("[{}/{n}] {what} …", i + 1),
            }
        }
        Event::Done(i, n, r) => {
            let line = format!("[{}/{n}] {} / {} / {} / seed {}: {} — {} ({:.0} s)", i + 1, r.row, r.workload, r.nemesis, r.seed, match (r.passed, r.detect) {
                (true, _) => "ok".to_owned(),
                (false, Some(share)) if r.verdict != "error" => format!("missed (the row must detect in {:.0}% of its runs)", share * 100.0),
                (false, _) => "DEVIATION".to_owned(),
            }, r.why, r.wall_s);
            match &bar {
                Some(bar) => {
                    bar.println(line);
                    bar.inc(1);
                }
                None => eprintln!("{line}"),
            }
        }
        Event::EngineLost(engine, why) => {
            let line = format!("faultline: engine {engine} is lost ({why}); its cells go to the other engines");
            match &bar {
                Some(bar) => bar.println(line),
                None => eprintln!("{line}"),
            }
        }
    };
    let graded = grade::run(&matrix, &out, &engines, interrupt, observe).await;
    if let Some(bar) = &bar {
        bar.finish_and_clear();
    }
    let graded = match graded {
        Ok(g) => g,
        Err(TestError::BadOptions(e)) => return Err(Exit::bad_input(anyhow!(e))),
        Err(e) => return Err(Exit::crash(e)),
    };
    let card = &graded.card;
    print!("{}", grade::render::summary_text(card, &out.join("scorecard.html")));
    if let Some(signal) = graded.interrupted {
        eprintln!("faultline: {signal}: grading stopped after {} of {n} cells; the scorecard holds those", card.cells_run);
        return Ok(130);
    }
    Ok(if card.deviations == 0 { 0 } else { 1 })
}
