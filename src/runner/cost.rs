//! What the controller itself spends: its process's CPU time, read around the run
//! phase, so a run can say how many microseconds of controller CPU each completed
//! client operation cost (docs/ARCHITECTURE.md §1). A controller that is expensive per
//! operation would limit the test instead of the system under test.

use std::time::Duration;

/// The kernel's unit for `utime`/`stime` in `/proc/<pid>/stat` (`USER_HZ`, which Linux
/// fixes at 100 on every architecture for this interface).
const USER_HZ: f64 = 100.0;

/// This process's CPU time so far, user plus system, all threads; `None` where
/// `/proc/self/stat` cannot be read (not Linux).
pub fn process_cpu() -> Option<Duration> {
    parse_stat(&std::fs::read_to_string("/proc/self/stat").ok()?)
}

/// Fields 14 and 15 of a `stat` line, counted after the command name in parentheses
/// (which may itself hold spaces and parentheses).
fn parse_stat(stat: &str) -> Option<Duration> {
    let after_name = &stat[stat.rfind(')')? + 1..];
    let mut fields = after_name.split_whitespace().skip(11);
    let user: u64 = fields.next()?.parse().ok()?;
    let system: u64 = fields.next()?.parse().ok()?;
    Some(Duration::from_secs_f64((user + system) as f64 / USER_HZ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_user_and_system_ticks_after_an_awkward_name() {
        let line = "4242 (fault line) x) S 1 4242 4242 0 -1 4194560 2810 0 0 0 250 31 0 0 20 0 9 0 123 456 789";
        assert_eq!(parse_stat(line), Some(Duration::from_millis(2_810)));
        assert_eq!(parse_stat("garbage"), None);
    }

    #[test]
    fn this_process_has_a_cpu_time() {
        let spin = (0..2_000_000u64).fold(0u64, |a, b| a.wrapping_add(b * b));
        assert!(spin > 0);
        assert!(process_cpu().is_some());
    }
}
