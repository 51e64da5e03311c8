//! A guard that removes a test's Docker objects when the test panics before its own
//! teardown, so one failed test does not leave containers that later tests count as
//! leftovers (`faultline clean --run`, the same removal a user runs).

use std::process::{Command, Stdio};

/// Removes the run's containers, networks and volumes on drop, if the thread panics.
pub struct RemoveOnPanic(pub String);

impl Drop for RemoveOnPanic {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let removed = Command::new(env!("CARGO_BIN_EXE_faultline")).args(["clean", "--run", &self.0]).stdout(Stdio::null()).status();
            eprintln!("the test failed: removed run {}'s Docker objects ({removed:?})", self.0);
        }
    }
}
