//! How a micro-op becomes Swift requests, and Swift's answers outcomes.
//!
//! - A register (`w`, `r`, `cas`) is an object `registers/<key>` holding the value as
//!   JSON text. Swift has one conditional write, `If-None-Match: *` (create only), so
//!   a cas from null is a create and any other cas is refused before anything is sent:
//!   a read-compare-write from the client would not be atomic, and blaming Swift for
//!   the client's race would be dishonest.
//! - An append adds an object named by the value's JSON text to the container
//!   `list-<key>`; a read of a key with no object lists that container. A listing is
//!   ordered by name, not by time, so only the set workload (membership) can use it.
//! - Counters and multi-micro-op transactions are refused: Swift has neither.
//!
//! A read that goes wrong changed nothing (`fail`); a write Swift answers `503` may
//! have reached some replicas (`info`); a `4xx` changed nothing (`fail`).

use faultline_history::micro_op::MicroOp;
use faultline_workloads::adapter::TxnOutcome;
use serde_json::Value;

/// Swift's account for faultline's data (the proxy creates it on first use).
pub const ACCOUNT: &str = "/v1/AUTH_faultline";

/// The container of register objects.
pub const REGISTERS: &str = "registers";

/// What to send for one micro-op.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Plan {
    /// `GET` the register object; if it does not exist, list the appends container.
    Read {
        /// The register object's path.
        object: String,
        /// The appends container's path.
        listing: String,
    },
    /// `PUT` an object into `container` (created first if need be).
    Put {
        /// The container's name.
        container: String,
        /// The object's path.
        path: String,
        /// Its body.
        body: String,
        /// Create only (`If-None-Match: *`).
        create_only: bool,
    },
    /// Not sent: Swift cannot do it; why.
    Refuse(String),
}

/// A key or value as one URL path segment: bytes outside the unreserved set are
/// percent-encoded.
pub fn segment(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn appends_container(key: &str) -> String {
    format!("list-{}", segment(key))
}

/// The plan for a transaction (a single micro-op).
pub fn plan(ops: &[MicroOp]) -> Plan {
    let [op] = ops else {
        return Plan::Refuse(format!("Swift has no transactions: {} micro-ops in one operation", ops.len()));
    };
    let object = |key: &str| format!("{ACCOUNT}/{REGISTERS}/{}", segment(key));
    match op {
        MicroOp::Read(k) => Plan::Read { object: object(k), listing: format!("{ACCOUNT}/{}?format=json", appends_container(k)) },
        MicroOp::Write(k, v) => Plan::Put { container: REGISTERS.to_owned(), path: object(k), body: v.to_string(), create_only: false },
        MicroOp::Cas(k, Value::Null, new) => Plan::Put { container: REGISTERS.to_owned(), path: object(k), body: new.to_string(), create_only: true },
        MicroOp::Cas(k, _, _) => Plan::Refuse(format!("Swift has no conditional overwrite (cas on {k} from a value); only a create from null")),
        MicroOp::Append(k, v) => {
            let container = appends_container(k);
            Plan::Put { path: format!("{ACCOUNT}/{container}/{}", segment(&v.to_string())), container, body: String::new(), create_only: false }
        }
        MicroOp::Incr(k, _) => Plan::Refuse(format!("Swift has no counters (incr on {k})")),
    }
}

/// One entry of a container listing (`?format=json`).
#[derive(Debug, serde::Deserialize)]
struct Listed {
    name: String,
}

/// The values of a container listing: each object's name is a value's JSON text.
pub fn listed_values(body: &[u8]) -> Result<Vec<Value>, String> {
    let listed: Vec<Listed> = serde_json::from_slice(body).map_err(|e| format!("the listing is not Swift's JSON: {e}"))?;
    listed.iter().map(|l| serde_json::from_str(&l.name).map_err(|e| format!("object {:?} was not named by faultline: {e}", l.name))).collect()
}

/// A register's value from a `GET` body.
pub fn object_value(body: &[u8]) -> Result<Value, String> {
    serde_json::from_slice(body).map_err(|e| format!("the object holds what faultline did not write ({e}): {}", String::from_utf8_lossy(body)))
}

/// What a `PUT`'s answer means for the micro-op `op`.
pub fn put_outcome(op: &MicroOp, status: u16, body: &[u8]) -> TxnOutcome {
    let why = || format!("HTTP {status}: {}", String::from_utf8_lossy(body).trim());
    match status {
        200..=299 => TxnOutcome::Ok(vec![op.to_value()]),
        412 => TxnOutcome::Fail(format!("cas-mismatch: {} exists ({})", op.key(), why())),
        400..=499 => TxnOutcome::Fail(why()),
        _ => TxnOutcome::Info(why()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn op(m: Value) -> MicroOp {
        MicroOp::from_value(&m).unwrap()
    }

    #[test]
    fn registers_are_objects_and_appends_are_objects_named_by_value() {
        assert_eq!(plan(&[op(json!(["w", "r1", 5]))]), Plan::Put { container: "registers".into(), path: "/v1/AUTH_faultline/registers/r1".into(), body: "5".into(), create_only: false });
        assert_eq!(plan(&[op(json!(["append", "set", 42]))]), Plan::Put { container: "list-set".into(), path: "/v1/AUTH_faultline/list-set/42".into(), body: String::new(), create_only: false });
        assert_eq!(plan(&[op(json!(["r", "set", null]))]), Plan::Read { object: "/v1/AUTH_faultline/registers/set".into(), listing: "/v1/AUTH_faultline/list-set?format=json".into() });
        assert!(matches!(plan(&[op(json!(["cas", "r1", [null, 3]]))]), Plan::Put { create_only: true, .. }));
    }

    #[test]
    fn what_swift_cannot_do_is_refused_before_sending() {
        assert!(matches!(plan(&[op(json!(["cas", "r1", [2, 3]]))]), Plan::Refuse(why) if why.contains("no conditional overwrite")));
        assert!(matches!(plan(&[op(json!(["incr", "c", 1]))]), Plan::Refuse(_)));
        assert!(matches!(plan(&[op(json!(["r", "a", null])), op(json!(["r", "b", null]))]), Plan::Refuse(why) if why.contains("no transactions")));
    }

    #[test]
    fn names_are_one_path_segment_each() {
        assert_eq!(segment("a b/\"c\""), "a%20b%2F%22c%22");
        assert_eq!(segment("-7"), "-7");
    }

    #[test]
    fn listings_and_objects_read_back_as_values() {
        assert_eq!(listed_values(br#"[{"name": "1", "bytes": 0}, {"name": "12", "bytes": 0}]"#).unwrap(), vec![json!(1), json!(12)]);
        assert!(listed_values(br#"[{"name": "x"}]"#).unwrap_err().contains("not named by faultline"));
        assert_eq!(object_value(b"7").unwrap(), json!(7));
        assert!(object_value(b"<html>").is_err());
    }

    #[test]
    fn answers_to_writes_become_outcomes() {
        let w = op(json!(["w", "r1", 5]));
        assert_eq!(put_outcome(&w, 201, b""), TxnOutcome::Ok(vec![json!(["w", "r1", 5])]));
        assert!(matches!(put_outcome(&w, 503, b"Service Unavailable"), TxnOutcome::Info(_)));
        assert!(matches!(put_outcome(&w, 404, b"Not Found"), TxnOutcome::Fail(_)));
        let cas = op(json!(["cas", "r1", [null, 3]]));
        assert!(matches!(put_outcome(&cas, 412, b""), TxnOutcome::Fail(why) if why.starts_with("cas-mismatch")));
        assert_eq!(put_outcome(&cas, 201, b""), TxnOutcome::Ok(vec![json!(["cas", "r1", [null, 3]])]));
    }
}
