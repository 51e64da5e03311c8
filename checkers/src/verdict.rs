//! Verdicts and their merging (docs/ARCHITECTURE.md §7: false beats unknown beats true).

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// A checker's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Validity {
    /// No anomaly found.
    Valid,
    /// The checker could not decide (budget exhausted, nothing to check).
    Unknown,
    /// An anomaly was found.
    Invalid,
}

impl Validity {
    /// Merges two verdicts: invalid beats unknown beats valid.
    pub fn merge(self, other: Validity) -> Validity {
        self.max(other)
    }

    /// Process exit code for this verdict: 0 valid, 1 invalid, 2 unknown.
    pub fn exit_code(self) -> i32 {
        match self {
            Validity::Valid => 0,
            Validity::Invalid => 1,
            Validity::Unknown => 2,
        }
    }

    /// The usual verdict of a counting checker: invalid if it found any anomaly,
    /// unknown if it had nothing to observe (e.g. no ok read), valid otherwise.
    pub fn judge(anomalies: usize, observations: usize) -> Validity {
        if anomalies > 0 {
            Validity::Invalid
        } else if observations == 0 {
            Validity::Unknown
        } else {
            Validity::Valid
        }
    }

    /// Valid when `ok`, invalid otherwise.
    pub fn from_ok(ok: bool) -> Validity {
        if ok {
            Validity::Valid
        } else {
            Validity::Invalid
        }
    }
}

impl fmt::Display for Validity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Validity::Valid => "valid",
            Validity::Invalid => "INVALID",
            Validity::Unknown => "unknown",
        })
    }
}

/// Serialized as Jepsen does: `true`, `false` or `"unknown"`.
impl Serialize for Validity {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Validity::Valid => s.serialize_bool(true),
            Validity::Invalid => s.serialize_bool(false),
            Validity::Unknown => s.serialize_str("unknown"),
        }
    }
}

/// Read as written: `true`, `false` or `"unknown"`.
impl<'de> Deserialize<'de> for Validity {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Validity, D::Error> {
        match serde_json::Value::deserialize(d)? {
            serde_json::Value::Bool(true) => Ok(Validity::Valid),
            serde_json::Value::Bool(false) => Ok(Validity::Invalid),
            serde_json::Value::String(s) if s == "unknown" => Ok(Validity::Unknown),
            other => Err(serde::de::Error::custom(format!("a verdict is true, false or \"unknown\", not {other}"))),
        }
    }
}

/// One checker's verdict with its evidence.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CheckResult {
    /// The checker's name, e.g. `linearizable`, `set-full`.
    pub checker: String,
    /// The verdict.
    pub valid: Validity,
    /// One line saying what was found.
    pub summary: String,
    /// Readable explanation, one line per entry (may be empty).
    pub explanation: Vec<String>,
    /// The evidence as typed data, for reports and `--json`.
    pub evidence: crate::Evidence,
    /// How many of each anomaly type were found (empty when valid), for scorecards.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub anomalies: std::collections::BTreeMap<String, usize>,
    /// History indices of the operations that witness the anomalies (at most 100,
    /// ascending), so reports can link to them and grading can say when an anomaly
    /// first showed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub witnesses: Vec<u64>,
}

impl CheckResult {
    /// A result with its evidence.
    pub fn new(checker: &str, valid: Validity, summary: String, explanation: Vec<String>, evidence: impl Into<crate::Evidence>) -> CheckResult {
        CheckResult {
            checker: checker.to_owned(),
            valid,
            summary,
            explanation,
            evidence: evidence.into(),
            anomalies: Default::default(),
            witnesses: Vec::new(),
        }
    }

    /// Adds anomaly counts (zero counts are dropped) and witnessing operations.
    pub fn with_findings(
        mut self,
        anomalies: impl IntoIterator<Item = (String, usize)>,
        witnesses: impl IntoIterator<Item = u64>,
    ) -> CheckResult {
        self.anomalies.extend(anomalies.into_iter().filter(|(_, n)| *n > 0));
        let mut w: Vec<u64> = witnesses.into_iter().collect();
        w.sort_unstable();
        w.dedup();
        w.truncate(100);
        self.witnesses = w;
        self
    }
}

impl CheckResult {
    /// The evidence as JSON, for tests and tools that look up fields by name.
    pub fn evidence_json(&self) -> serde_json::Value {
        serde_json::to_value(&self.evidence).unwrap_or_default()
    }
}

/// The merged verdict of several results (valid when there are none).
pub fn merge_results(results: &[CheckResult]) -> Validity {
    results.iter().fold(Validity::Valid, |v, r| v.merge(r.valid))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn false_beats_unknown_beats_true() {
        use Validity::*;
        assert_eq!(Valid.merge(Unknown), Unknown);
        assert_eq!(Unknown.merge(Invalid), Invalid);
        assert_eq!(Invalid.merge(Valid), Invalid);
        assert_eq!(Valid.merge(Valid), Valid);
        assert_eq!(serde_json::to_string(&[Valid, Invalid, Unknown]).unwrap(), r#"[true,false,"unknown"]"#);
        assert_eq!(serde_json::from_str::<Vec<Validity>>(r#"[true,false,"unknown"]"#).unwrap(), [Valid, Invalid, Unknown]);
        assert!(serde_json::from_str::<Validity>("1").is_err());
        assert_eq!((Valid.exit_code(), Invalid.exit_code(), Unknown.exit_code()), (0, 1, 2));
        assert_eq!((Validity::judge(1, 0), Validity::judge(0, 0), Validity::judge(0, 5)), (Invalid, Unknown, Valid));
    }
}
