//! Running `faultline test` as a user does, for the Docker test files: one run at a
//! time per test binary (a shared lock), so runs do not compete for the machine's two
//! cores, and the run's records read back as the typed values the store writes.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Held by every test while its cluster runs.
pub static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// A fresh store for one test.
pub fn store() -> tempfile::TempDir {
    tempfile::tempdir().expect("a temporary store")
}

/// Runs `faultline test` with `args` (plus a store); answers its output and the run's
/// directory.
pub fn test(store: &Path, args: &[&str]) -> (Output, PathBuf) {
    let (out, dir, _) = timed_test(store, args);
    (out, dir)
}

/// [`test`], also answering how long the command itself took (not the wait for the
/// other tests' runs).
pub fn timed_test(store: &Path, args: &[&str]) -> (Output, PathBuf, Duration) {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    let started = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_faultline"))
        .args(["test", "--store", store.to_str().unwrap()])
        .args(args)
        .output()
        .expect("faultline runs");
    let took = started.elapsed();
    eprintln!("faultline test {} → exit {:?} in {:.1} s\n{}{}", args.join(" "), out.status.code(), took.as_secs_f64(), String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out, store.join("latest"), took)
}

/// Asserts that `faultline test args` is refused as bad options (exit 254) before
/// anything runs, with a reason containing `why`.
pub fn assert_refused(args: &[&str], why: &str) {
    let s = store();
    let out = Command::new(env!("CARGO_BIN_EXE_faultline")).args(["test", "--store", s.path().to_str().unwrap()]).args(args).output().expect("faultline runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(254), "{args:?}: {stderr}");
    assert!(stderr.contains(why), "{args:?}: {stderr}");
}

/// The run's `results.json`, typed.
pub fn results(dir: &Path) -> faultline::store::ResultsRecord {
    faultline::store::read_results(dir).expect("results.json")
}

/// faultline's containers that exist now, counted while no other test runs a
/// cluster (another test's run would be counted as this one's leftovers).
pub fn leftover_containers() -> usize {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    leftovers_while_holding_the_lock()
}

/// [`leftover_containers`] for a test that holds [`ONE_AT_A_TIME`] itself.
pub fn leftovers_while_holding_the_lock() -> usize {
    let out = Command::new("docker").args(["ps", "-aq", "--filter", "label=io.faultline"]).output().expect("docker ps");
    String::from_utf8_lossy(&out.stdout).lines().count()
}
