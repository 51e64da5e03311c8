//! Dynamo: a leaderless, eventually consistent key-value store (docs/ARCHITECTURE.md §3).
//!
//! A consistent-hash ring places each key on N home replicas. Any node coordinates:
//! a read asks the home replicas and merges the first R answers, repairing stale
//! replicas (blocking, async or off); a write goes to all N and succeeds once W
//! acknowledge. With a sloppy quorum, unreachable home replicas are replaced by the next
//! nodes on the ring, which keep the write as a hint and hand it off later. Registers
//! resolve concurrent versions by wall-clock timestamps (LWW, the default) or by version
//! vectors; appends and increments are stamped additions merged by union, unless `rmw`
//! makes them read-modify-write on the register. Anti-entropy pushes changed keys to
//! the other replicas so they converge after a partition. A transaction runs one micro-op
//! at a time: it is not atomic, by design.
//!
//! Bugs (knob settings, docs/ARCHITECTURE.md §4): `lww`, `rmw`, `no-read-repair`, `sloppy-quorum`.

pub mod cell;
pub mod node;
pub mod ring;

pub use cell::Resolution;
pub use node::{Dynamo, Options};
use std::time::Duration;

/// The bugs this design can switch on: each is a knob setting.
pub const BUGS: [&str; 4] = ["lww", "rmw", "no-read-repair", "sloppy-quorum"];
/// The knobs `--opt` accepts.
pub const KNOBS: [&str; 7] = ["n", "r", "w", "read-repair", "sloppy-quorum", "resolution", "anti-entropy-ms"];

/// How reads repair stale replicas.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadRepair {
    /// Before answering the client.
    Blocking,
    /// In the background.
    Async,
    /// Never (the `no-read-repair` bug).
    Off,
}

/// The design's settings.
#[derive(Debug, Clone)]
pub struct Knobs {
    /// Replicas per key.
    pub n: usize,
    /// Answers a read waits for.
    pub r: usize,
    /// Acknowledgements a write waits for.
    pub w: usize,
    /// Read repair.
    pub read_repair: ReadRepair,
    /// Whether fallback nodes stand in for unreachable replicas.
    pub sloppy_quorum: bool,
    /// Register conflict resolution.
    pub resolution: Resolution,
    /// Whether append and incr are read-modify-write on the register.
    pub rmw: bool,
    /// How often anti-entropy runs.
    pub anti_entropy: Duration,
}

impl Default for Knobs {
    /// N=3, R=2, W=2, blocking read repair, strict quorums, LWW, additions merged.
    fn default() -> Knobs {
        Knobs { n: 3, r: 2, w: 2, read_repair: ReadRepair::Blocking, sloppy_quorum: false, resolution: Resolution::Lww, rmw: false, anti_entropy: Duration::from_secs(1) }
    }
}

impl Knobs {
    /// The defaults, changed by bugs and then by `--opt key=value` pairs.
    pub fn from_settings(bugs: &[String], opts: &[(String, String)]) -> Result<Knobs, String> {
        let mut k = Knobs::default();
        for bug in bugs {
            match bug.as_str() {
                "lww" => k.resolution = Resolution::Lww,
                "rmw" => k.rmw = true,
                "no-read-repair" => k.read_repair = ReadRepair::Off,
                "sloppy-quorum" => k.sloppy_quorum = true,
                other => return Err(format!("unknown bug {other:?}; this design knows: {}", BUGS.join(", "))),
            }
        }
        let count = |key: &str, v: &str| v.parse::<usize>().ok().filter(|n| *n > 0).ok_or_else(|| format!("{key} must be a positive integer, got {v:?}"));
        for (key, v) in opts {
            match key.as_str() {
                "n" => k.n = count(key, v)?,
                "r" => k.r = count(key, v)?,
                "w" => k.w = count(key, v)?,
                "anti-entropy-ms" => k.anti_entropy = Duration::from_millis(count(key, v)? as u64),
                "read-repair" => {
                    k.read_repair = match v.as_str() {
                        "blocking" => ReadRepair::Blocking,
                        "async" => ReadRepair::Async,
                        "off" => ReadRepair::Off,
                        _ => return Err(format!("read-repair is blocking, async or off, not {v:?}")),
                    }
                }
                "sloppy-quorum" => k.sloppy_quorum = on_off(key, v)?,
                "resolution" => {
                    k.resolution = match v.as_str() {
                        "lww" => Resolution::Lww,
                        "vv" => Resolution::VersionVectors,
                        _ => return Err(format!("resolution is lww or vv, not {v:?}")),
                    }
                }
                other => return Err(format!("unknown option {other:?}; this design knows: {}", KNOBS.join(", "))),
            }
        }
        if k.r > k.n || k.w > k.n {
            return Err(format!("r={} and w={} must not exceed n={}", k.r, k.w, k.n));
        }
        Ok(k)
    }
}

fn on_off(key: &str, v: &str) -> Result<bool, String> {
    match v {
        "on" | "true" => Ok(true),
        "off" | "false" => Ok(false),
        _ => Err(format!("{key} is on or off, not {v:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn knobs_from_bugs_and_options() {
        let k = Knobs::from_settings(&["rmw".into(), "no-read-repair".into()], &[("r".into(), "1".into()), ("resolution".into(), "vv".into())]).unwrap();
        assert!(k.rmw && k.read_repair == ReadRepair::Off && k.r == 1 && k.resolution == Resolution::VersionVectors);
        assert!(Knobs::from_settings(&[], &[("w".into(), "4".into())]).unwrap_err().contains("must not exceed"));
        assert!(Knobs::from_settings(&[], &[("read-repair".into(), "maybe".into())]).unwrap_err().contains("blocking, async or off"));
        assert!(Knobs::from_settings(&["zap".into()], &[]).unwrap_err().contains("unknown bug"));
    }
}
