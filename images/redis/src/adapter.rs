//! The `resp` adapter: a workload's transaction as one Lua script ([`crate::script`])
//! on the primary, found through Sentinel ([`crate::primary`]) or on the node itself.
//!
//! Each client (one per history process) keeps its own connection to the primary it
//! was told of, and asks its node's Sentinel again when that answer is a second old,
//! when the primary says it is now a replica (`READONLY`) and after any connection
//! error; a real client subscribed to Sentinel's `+switch-master` learns no sooner.
//! Nothing is retried: each attempt is its own operation.
//!
//! Outcomes:
//! - the script ran: `ok`; with `wait-replicas` > 0 the client then sends `WAIT n t`
//!   after a transaction that wrote, and fewer than n acknowledgements make it `info`
//!   (the write is on the primary but may not survive it: Redis does not undo it);
//! - nothing was sent (no primary known, a refused connection), or Redis refused before
//!   writing (`READONLY`, `NOREPLICAS`, `MASTERDOWN`, `LOADING`, a cas mismatch): `fail`;
//! - a read-only transaction that went wrong in any way: `fail` (it changed nothing);
//! - anything else after the script was sent (timeout, a dropped connection, an error
//!   half way): `info`.

use crate::primary::{self, Discovery};
use crate::script::{self, AppendCommand};
use faultline_history::micro_op::MicroOp;
use faultline_workloads::adapter::{Adapter, BoxFuture, LeaderQuery, Role, TxnOutcome};
use redis::aio::MultiplexedConnection;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long a client trusts what Sentinel told it before asking again.
const PRIMARY_FRESH: Duration = Duration::from_secs(1);

/// Error codes with which Redis refuses a script before it has written anything.
const DEFINITE: [&str; 6] = ["READONLY", "NOREPLICAS", "MASTERDOWN", "LOADING", "CASMISMATCH", "UNSUPPORTED"];

/// The adapter's options (a design's `[client.options]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RespOptions {
    /// How clients find the primary.
    pub discovery: Discovery,
    /// What an append is.
    pub append: AppendCommand,
    /// Replicas a write must reach (`WAIT`) before it counts as `ok`; 0: no `WAIT`.
    pub wait_replicas: u32,
    /// How long `WAIT` waits.
    pub wait_timeout: Duration,
}

impl RespOptions {
    /// The options from a design's adapter options (unknown ones are refused).
    pub fn parse(options: &std::collections::BTreeMap<String, String>) -> Result<RespOptions, String> {
        const KNOWN: [&str; 5] = ["sentinel-master", "sentinel-port", "append-command", "wait-replicas", "wait-timeout-ms"];
        if let Some(k) = options.keys().find(|k| !KNOWN.contains(&k.as_str())) {
            return Err(format!("adapter resp has no option {k:?}; it knows {}", KNOWN.join(", ")));
        }
        let number = |key: &str, default: u64| -> Result<u64, String> {
            options.get(key).map_or(Ok(default), |v| v.parse().map_err(|_| format!("adapter option {key} is a whole number, not {v:?}")))
        };
        let discovery = match options.get("sentinel-master") {
            Some(master) if !master.is_empty() => {
                let port = number("sentinel-port", 26379)?;
                let port = u16::try_from(port).map_err(|_| format!("sentinel-port {port} is not a port"))?;
                Discovery::Sentinel { port, master: master.clone() }
            }
            _ => Discovery::Direct,
        };
        let wait_replicas = number("wait-replicas", 0)?;
        Ok(RespOptions {
            discovery,
            append: AppendCommand::parse(options.get("append-command").map_or("rpush", String::as_str))?,
            wait_replicas: u32::try_from(wait_replicas).map_err(|_| format!("wait-replicas {wait_replicas} is too large"))?,
            wait_timeout: Duration::from_millis(number("wait-timeout-ms", 500)?),
        })
    }
}

/// A client's way to the primary.
#[derive(Clone)]
struct Session {
    primary: String,
    conn: MultiplexedConnection,
    asked: Instant,
}

/// Redis's RESP protocol, for every node of a run.
pub struct RespApi {
    addrs: HashMap<String, String>,
    timeout: Duration,
    options: RespOptions,
    sessions: Mutex<HashMap<String, Session>>,
}

/// What became of a script that was sent.
fn error_outcome(e: &redis::RedisError, writes: bool) -> TxnOutcome {
    let why = e.to_string();
    let definite = e.code().is_some_and(|code| DEFINITE.contains(&code)) || e.is_connection_refusal();
    if definite || !writes {
        TxnOutcome::Fail(why)
    } else {
        TxnOutcome::Info(why)
    }
}

impl RespApi {
    /// Nodes by name → `ip:port` of their Redis; every request gives up after `timeout`.
    pub fn new(addrs: HashMap<String, String>, timeout: Duration, options: RespOptions) -> RespApi {
        RespApi { addrs, timeout, options, sessions: Mutex::new(HashMap::new()) }
    }

    fn node_addr(&self, node: &str) -> Result<&str, String> {
        self.addrs.get(node).map(String::as_str).ok_or_else(|| format!("unknown node {node}"))
    }

    /// The session of `client`, bound to `node`: kept while fresh, else made anew.
    async fn session(&self, node: &str, client: &str) -> Result<Session, String> {
        let kept = self.sessions.lock().map_err(|_| "a client panicked holding the sessions".to_owned())?.get(client).cloned();
        if let Some(s) = kept.as_ref().filter(|s| s.asked.elapsed() < PRIMARY_FRESH) {
            return Ok(s.clone());
        }
        let node_addr = self.node_addr(node)?;
        let primary = match &self.options.discovery {
            Discovery::Direct => node_addr.to_owned(),
            Discovery::Sentinel { port, master } => primary::ask_sentinel(node_addr, *port, master, self.timeout).await?,
        };
        let conn = match kept.filter(|s| s.primary == primary) {
            Some(s) => s.conn,
            None => primary::connect(&primary, self.timeout).await?,
        };
        let session = Session { primary, conn, asked: Instant::now() };
        self.remember(client, Some(session.clone()));
        Ok(session)
    }

    fn remember(&self, client: &str, session: Option<Session>) {
        if let Ok(mut sessions) = self.sessions.lock() {
            match session {
                Some(s) => sessions.insert(client.to_owned(), s),
                None => sessions.remove(client),
            };
        }
    }

    async fn run(&self, node: &str, client: &str, ops: &[MicroOp]) -> TxnOutcome {
        let writes = ops.iter().any(|op| !op.is_read());
        let mut session = match self.session(node, client).await {
            Ok(s) => s,
            Err(why) => return TxnOutcome::Fail(why),
        };
        let (keys, argv) = script::arguments(ops, self.options.append);
        let mut eval = redis::cmd("EVAL");
        eval.arg(script::LUA).arg(keys.len()).arg(&keys).arg(&argv);
        let returned = match primary::query::<Vec<String>>(&mut session.conn, &eval, self.timeout).await {
            Some(Ok(returned)) => returned,
            Some(Err(e)) => {
                if e.code() == Some("READONLY") || e.is_io_error() || e.is_connection_dropped() {
                    self.remember(client, None);
                }
                return error_outcome(&e, writes);
            }
            None => {
                self.remember(client, None);
                let why = format!("{} did not answer in {:?}", session.primary, self.timeout);
                return if writes { TxnOutcome::Info(why) } else { TxnOutcome::Fail(why) };
            }
        };
        let results = match script::results(ops, &returned) {
            Ok(r) => r,
            Err(why) if writes => return TxnOutcome::Info(why),
            Err(why) => return TxnOutcome::Fail(why),
        };
        if writes && self.options.wait_replicas > 0 {
            if let Some(short) = self.wait(&mut session).await {
                return TxnOutcome::Info(short);
            }
        }
        TxnOutcome::Ok(results)
    }

    /// `WAIT`s for the configured replicas; why the write is not known to have reached
    /// them, if it is not.
    async fn wait(&self, session: &mut Session) -> Option<String> {
        let (n, t) = (self.options.wait_replicas, self.options.wait_timeout);
        let mut wait = redis::cmd("WAIT");
        wait.arg(n).arg(t.as_millis() as u64);
        match primary::query::<u32>(&mut session.conn, &wait, self.timeout.max(t + Duration::from_millis(500))).await {
            Some(Ok(acked)) if acked >= n => None,
            Some(Ok(acked)) => Some(format!("written on {}, acknowledged by {acked} of the {n} replicas WAIT asked for in {t:?}", session.primary)),
            Some(Err(e)) => Some(format!("written on {}, then WAIT failed: {e}", session.primary)),
            None => Some(format!("written on {}, then WAIT did not answer", session.primary)),
        }
    }
}

impl Adapter for RespApi {
    fn txn<'a>(&'a self, node: &'a str, client: &'a str, _seq: u64, ops: Vec<serde_json::Value>) -> BoxFuture<'a, TxnOutcome> {
        Box::pin(async move {
            let parsed: Result<Vec<MicroOp>, String> = ops.iter().map(MicroOp::from_value).collect();
            match parsed {
                Ok(ops) => self.run(node, client, &ops).await,
                Err(why) => TxnOutcome::Fail(why),
            }
        })
    }
}

impl LeaderQuery for RespApi {
    /// A node leads when its Redis says `ROLE` is `master`; the term is the epoch its
    /// Sentinel holds (0 without Sentinel), which every failover raises.
    fn role<'a>(&'a self, node: &'a str) -> BoxFuture<'a, Result<Role, String>> {
        Box::pin(async move {
            let addr = self.node_addr(node)?;
            let mut conn = primary::connect(addr, self.timeout).await?;
            let role = match primary::query::<redis::Value>(&mut conn, &redis::cmd("ROLE"), self.timeout).await {
                Some(Ok(redis::Value::Array(fields))) => match fields.first() {
                    Some(redis::Value::BulkString(name)) => String::from_utf8_lossy(name).into_owned(),
                    other => return Err(format!("{node} answered ROLE with {other:?}")),
                },
                Some(Ok(other)) => return Err(format!("{node} answered ROLE with {other:?}")),
                Some(Err(e)) => return Err(format!("{node}: {e}")),
                None => return Err(format!("{node} did not answer ROLE in {:?}", self.timeout)),
            };
            let term = match &self.options.discovery {
                Discovery::Direct => 0,
                Discovery::Sentinel { port, master } => primary::sentinel_epoch(addr, *port, master, self.timeout).await.unwrap_or(0),
            };
            Ok(Role { leads: role == "master", term, campaigning: false, voted: None })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn options(pairs: &[(&str, &str)]) -> Result<RespOptions, String> {
        RespOptions::parse(&pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect::<BTreeMap<_, _>>())
    }

    #[test]
    fn options_name_sentinel_wait_and_the_append_command() {
        let plain = options(&[]).unwrap();
        assert_eq!(plain.discovery, Discovery::Direct);
        assert_eq!((plain.append, plain.wait_replicas), (AppendCommand::Rpush, 0));
        let sentinel = options(&[("sentinel-master", "faultline"), ("wait-replicas", "2"), ("wait-timeout-ms", "250"), ("append-command", "sadd")]).unwrap();
        assert_eq!(sentinel.discovery, Discovery::Sentinel { port: 26379, master: "faultline".into() });
        assert_eq!((sentinel.append, sentinel.wait_replicas, sentinel.wait_timeout), (AppendCommand::Sadd, 2, Duration::from_millis(250)));
        assert!(options(&[("wait", "1")]).unwrap_err().contains("no option \"wait\""));
        assert!(options(&[("wait-replicas", "two")]).unwrap_err().contains("whole number"));
        assert!(options(&[("sentinel-master", "m"), ("sentinel-port", "70000")]).unwrap_err().contains("not a port"));
    }

    #[test]
    fn refusals_before_a_write_fail_and_the_rest_of_a_write_is_unknown() {
        let server = |code: &str| redis::RedisError::from((redis::ErrorKind::Extension, "server", code.to_owned()));
        let parse = |line: &str| -> redis::RedisError { redis::parse_redis_value(line.as_bytes()).unwrap().extract_error().unwrap_err() };
        assert!(matches!(error_outcome(&parse("-READONLY You can't write against a read only replica.\r\n"), true), TxnOutcome::Fail(_)));
        assert!(matches!(error_outcome(&parse("-NOREPLICAS Not enough good replicas to write.\r\n"), true), TxnOutcome::Fail(_)));
        assert!(matches!(error_outcome(&parse("-CASMISMATCH key r1 holds 3, not 4\r\n"), true), TxnOutcome::Fail(_)));
        assert!(matches!(error_outcome(&parse("-ERR something odd\r\n"), true), TxnOutcome::Info(_)));
        assert!(matches!(error_outcome(&parse("-ERR something odd\r\n"), false), TxnOutcome::Fail(_)));
        assert!(matches!(error_outcome(&server("x"), true), TxnOutcome::Info(_)));
    }
}
