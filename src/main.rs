//! The `faultline` command: chaos testing for replicated databases.
//!
//! `main` parses the command line, runs the chosen command, and turns the outcome
//! into the exit code contract of docs/ARCHITECTURE.md §7: 0 valid, 1 invalid, 2 unknown,
//! 254 bad arguments or unreadable input, 255 crash.

mod check;
mod cli;
mod cluster_cmds;
mod docker_cmds;
mod exit;
mod grade_cmd;
mod node_cmd;
mod shutdown;
mod test_cmd;

use clap::Parser;
use exit::Exit;
use std::time::Duration;

/// mimalloc rather than glibc's malloc: checking a large history makes and frees
/// millions of small vectors, across rayon's threads, and glibc's arenas spent a
/// sixth of a million-transaction check in malloc and free (docs/ARCHITECTURE.md §7).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    // A node program owns the process: its exit code, its stderr, its signals.
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("node") && args.get(2).is_some_and(|p| !p.starts_with('-')) {
        return node_cmd::run_program(&args[2], &args[3..]);
    }
    let code = match std::panic::catch_unwind(run) {
        Ok(code) => code,
        Err(_) => Exit::CRASH,
    };
    std::process::ExitCode::from(u8::try_from(code).unwrap_or(u8::MAX))
}

fn run() -> i32 {
    let cli = match cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { Exit::BAD_INPUT } else { 0 };
            let _ = e.print();
            return code;
        }
    };
    let outcome = match cli.command {
        cli::Command::Test(args) => {
            let engine = args.engine.clone();
            docker_cmds::block_on(test_cmd::run(*args, engine))
        }
        cli::Command::Analyze(args) => test_cmd::analyze(&args),
        cli::Command::Report(args) => test_cmd::report(&args),
        cli::Command::Serve(args) => docker_cmds::block_on(test_cmd::serve(args)),
        cli::Command::Grade(args) => {
            let engine = args.engine.clone();
            docker_cmds::block_on(grade_cmd::run(*args, engine))
        }
        cli::Command::Check(args) => check::run(&args),
        cli::Command::Images { command: cli::ImagesCommand::Build(args) } => {
            let engine = args.engine.docker_host.clone();
            docker_cmds::block_on(docker_cmds::images_build(args, engine.as_deref()))
        }
        cli::Command::Cluster { command } => docker_cmds::block_on(cluster_cmds::run(command)),
        cli::Command::Doctor(args) => {
            let engine = args.engine.docker_host.clone();
            docker_cmds::block_on(docker_cmds::doctor(args, engine.as_deref()))
        }
        cli::Command::Clean(args) => {
            let engine = args.engine.docker_host.clone();
            docker_cmds::block_on(docker_cmds::clean(args, engine.as_deref()))
        }
        cli::Command::Delayd(a) => {
            let plan = faultline::netdelay::hold::Plan { delay: Duration::from_millis(a.delay_ms.into()), jitter: Duration::from_millis(a.jitter_ms.into()) };
            faultline::netdelay::daemon::run(a.queue, plan, a.plan_file.as_deref(), a.seed, &a.pid_file).map(|()| 0).map_err(|e| Exit::crash(anyhow::anyhow!("delayd on queue {}: {e}", a.queue)))
        }
        cli::Command::UdpSink(a) => faultline::netdelay::sink::run(a.port, Duration::from_millis(a.quiet_ms), Duration::from_secs(a.seconds), &mut std::io::stdout().lock())
            .map(|_| 0)
            .map_err(|e| Exit::crash(anyhow::anyhow!("udp-sink on port {}: {e}", a.port))),
        cli::Command::Node(args) => {
            let code = node_cmd::run_program(&args.program, &args.args);
            Ok(if code == std::process::ExitCode::SUCCESS { 0 } else { 1 })
        }
    };
    match outcome {
        Ok(code) => code,
        Err(e) => {
            eprintln!("faultline: {e:#}");
            e.exit_code()
        }
    }
}
