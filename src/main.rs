//! The `faultline` command: chaos testing for replicated databases.
//!
//! `main` parses the command line, runs the chosen command, and turns the outcome
//! into the exit code contract of DESIGN §7: 0 valid, 1 invalid, 2 unknown,
//! 254 bad arguments or unreadable input, 255 crash.

mod check;
mod cli;
mod cluster_cmds;
mod docker_cmds;
mod exit;
mod grade_cmd;
mod shutdown;
mod test_cmd;

use clap::Parser;
use exit::Exit;

fn main() {
    let code = match std::panic::catch_unwind(run) {
        Ok(code) => code,
        Err(_) => Exit::CRASH,
    };
    std::process::exit(code);
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
        cli::Command::Test(args) => docker_cmds::block_on(test_cmd::run(*args)),
        cli::Command::Analyze(args) => test_cmd::analyze(&args),
        cli::Command::Report(args) => test_cmd::report(&args),
        cli::Command::Serve(args) => docker_cmds::block_on(test_cmd::serve(args)),
        cli::Command::Grade(args) => docker_cmds::block_on(grade_cmd::run(*args)),
        cli::Command::Check(args) => check::run(&args),
        cli::Command::Images { command: cli::ImagesCommand::Build(args) } => docker_cmds::block_on(docker_cmds::images_build(args)),
        cli::Command::Cluster { command } => docker_cmds::block_on(cluster_cmds::run(command)),
        cli::Command::Doctor(args) => docker_cmds::block_on(docker_cmds::doctor(args)),
        cli::Command::Clean(args) => docker_cmds::block_on(docker_cmds::clean(args)),
    };
    match outcome {
        Ok(code) => code,
        Err(e) => {
            eprintln!("faultline: {e:#}");
            e.exit_code()
        }
    }
}
