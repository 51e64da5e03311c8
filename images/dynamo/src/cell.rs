//! What a replica stores per key, and how two versions merge.
//!
//! A cell holds a register (written by `w` and `cas`, and by `append`/`incr` under the
//! `rmw` bug) stamped with the coordinator's wall clock and a version vector, and a set
//! of stamped additions (`append`, `incr`) that merge by union, so concurrent additions
//! are never lost.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// A coordinator's stamp: wall-clock nanoseconds, then node and a counter for ties.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Stamp {
    /// Wall-clock time at the coordinator (libfaketime skews it).
    pub ts: u64,
    /// The coordinator.
    pub node: String,
    /// The coordinator's counter.
    pub seq: u64,
}

/// How concurrent register versions are resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resolution {
    /// The newer timestamp wins, whatever the causality.
    Lww,
    /// A version that causally follows another (by version vector) wins; only
    /// concurrent versions fall back to the timestamp.
    VersionVectors,
}

/// A register version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Register {
    /// When and where it was written.
    pub stamp: Stamp,
    /// Writes it has seen, per coordinator.
    #[serde(default)]
    pub vv: BTreeMap<String, u64>,
    /// The value.
    pub value: Value,
}

/// An addition: an appended element or an increment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Add {
    /// Appended to the list.
    Append(Value),
    /// Added to the counter.
    Incr(i64),
}

/// A key's state at one replica.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Cell {
    /// The register, if written.
    #[serde(default)]
    pub reg: Option<Register>,
    /// Additions, sorted by stamp.
    #[serde(default)]
    pub adds: Vec<(Stamp, Add)>,
}

fn dominates(a: &BTreeMap<String, u64>, b: &BTreeMap<String, u64>) -> bool {
    b.iter().all(|(k, v)| a.get(k).is_some_and(|x| x >= v))
}

impl Cell {
    /// Merges `other` in; true if this cell changed.
    pub fn merge(&mut self, other: &Cell, resolution: Resolution) -> bool {
        let before = self.clone();
        if let Some(theirs) = &other.reg {
            self.reg = Some(match self.reg.take() {
                None => theirs.clone(),
                Some(mine) => resolve(mine, theirs.clone(), resolution),
            });
        }
        for add in &other.adds {
            if let Err(at) = self.adds.binary_search_by(|(s, _)| s.cmp(&add.0)) {
                self.adds.insert(at, add.clone());
            }
        }
        *self != before
    }

    /// The value a client reads: the additions (a list, or a counter's sum) if any,
    /// else the register, else null.
    pub fn value(&self) -> Value {
        match self.adds.first() {
            Some((_, Add::Append(_))) => Value::Array(self.adds.iter().filter_map(|(_, a)| if let Add::Append(v) = a { Some(v.clone()) } else { None }).collect()),
            Some((_, Add::Incr(_))) => json!(self.adds.iter().map(|(_, a)| if let Add::Incr(d) = a { *d } else { 0 }).sum::<i64>()),
            None => self.reg.as_ref().map_or(Value::Null, |r| r.value.clone()),
        }
    }

    /// The version vector of its register (empty if none).
    pub fn vv(&self) -> BTreeMap<String, u64> {
        self.reg.as_ref().map(|r| r.vv.clone()).unwrap_or_default()
    }
}

fn resolve(mine: Register, theirs: Register, resolution: Resolution) -> Register {
    if resolution == Resolution::VersionVectors {
        let (a, b) = (dominates(&mine.vv, &theirs.vv), dominates(&theirs.vv, &mine.vv));
        match (a, b) {
            (true, false) => return mine,
            (false, true) => return theirs,
            _ => {}
        }
        let mut vv = mine.vv.clone();
        for (k, v) in &theirs.vv {
            let e = vv.entry(k.clone()).or_insert(0);
            *e = (*e).max(*v);
        }
        let winner = if theirs.stamp > mine.stamp { theirs } else { mine };
        return Register { vv, ..winner };
    }
    if theirs.stamp > mine.stamp {
        theirs
    } else {
        mine
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reg(ts: u64, vv: &[(&str, u64)], v: i64) -> Cell {
        let vv = vv.iter().map(|(k, n)| (k.to_string(), *n)).collect();
        Cell { reg: Some(Register { stamp: Stamp { ts, node: "n1".into(), seq: 0 }, vv, value: json!(v) }), adds: Vec::new() }
    }

    #[test]
    fn lww_trusts_clocks_and_version_vectors_trust_causality() {
        // The later write (by causality) carries an older timestamp: a skewed clock.
        let (first, second) = (reg(200, &[("n1", 1)], 1), reg(100, &[("n1", 1), ("n2", 1)], 2));
        let mut lww = first.clone();
        lww.merge(&second, Resolution::Lww);
        assert_eq!(lww.value(), json!(1), "LWW drops the causally later write");
        let mut vv = first;
        vv.merge(&second, Resolution::VersionVectors);
        assert_eq!(vv.value(), json!(2));
    }

    #[test]
    fn additions_merge_by_union_in_stamp_order() {
        let add = |ts, a| Cell { reg: None, adds: vec![(Stamp { ts, node: "n1".into(), seq: 0 }, a)] };
        let mut c = add(2, Add::Append(json!("b")));
        assert!(c.merge(&add(1, Add::Append(json!("a"))), Resolution::Lww));
        assert!(!c.merge(&add(1, Add::Append(json!("a"))), Resolution::Lww), "merging is idempotent");
        assert_eq!(c.value(), json!(["a", "b"]));
        let mut n = add(1, Add::Incr(2));
        n.merge(&add(2, Add::Incr(3)), Resolution::Lww);
        assert_eq!(n.value(), json!(5));
        assert_eq!(Cell::default().value(), Value::Null);
    }
}
