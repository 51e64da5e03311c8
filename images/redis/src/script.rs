//! A workload's transaction as one Lua script: Redis runs a script atomically on the
//! primary and replicates its effects, so a multi-key transaction (list-append,
//! rw-register, bank) is as atomic as Redis can make it, and a single read or write is
//! the plain command it would be anyway.
//!
//! Values live in Redis's own types, as JSON text: a register is a string (`GET`,
//! `SET`), a list an `RPUSH`ed list (or, with the `sadd` append command, a set), a
//! counter an integer (`INCRBY`). A read asks the key's `TYPE` and reads it the way
//! that type is read, so one script serves every workload.
//!
//! Redis never rolls a script back: a script that fails half way keeps what it wrote.
//! So every compare-and-set is checked before anything is written, and a `cas` on a key
//! the same transaction writes before it is refused up front (no workload asks for one),
//! and so is a micro-op the script does not know.

use faultline_history::micro_op::MicroOp;
use serde_json::{json, Value};

/// The script. `KEYS[i]` is micro-op i's key; `ARGV[3i-2]`, `ARGV[3i-1]`, `ARGV[3i]`
/// its function and its arguments as JSON text; the last `ARGV` is the command that
/// appends (`RPUSH` or `SADD`). It returns one string per micro-op: a read's value as
/// JSON text, an increment's new value, `ok` for the rest.
pub const LUA: &str = r#"
local n = #KEYS
local append = ARGV[3 * n + 1]
local function read(k)
  local t = redis.call('TYPE', k)['ok']
  if t == 'string' then return redis.call('GET', k)
  elseif t == 'list' then return '[' .. table.concat(redis.call('LRANGE', k, 0, -1), ',') .. ']'
  elseif t == 'set' then return '[' .. table.concat(redis.call('SMEMBERS', k), ',') .. ']'
  elseif t == 'none' then return 'null'
  end
  return redis.error_reply('WRONGTYPE key ' .. k .. ' holds a ' .. t)
end
-- Every micro-op is known and every cas checked before the first write: Redis keeps
-- what a failed script wrote.
local known = {r = true, w = true, cas = true, append = true, incr = true}
local written = {}
for i = 1, n do
  local f, k = ARGV[3 * i - 2], KEYS[i]
  if not known[f] then return redis.error_reply('UNSUPPORTED micro-op ' .. f) end
  if f == 'cas' then
    if written[k] then return redis.error_reply('UNSUPPORTED cas on key ' .. k .. ' after a write of it in the same transaction') end
    local now = redis.call('GET', k)
    if now == false then now = 'null' end
    if now ~= ARGV[3 * i - 1] then return redis.error_reply('CASMISMATCH key ' .. k .. ' holds ' .. now .. ', not ' .. ARGV[3 * i - 1]) end
  end
  if f ~= 'r' then written[k] = true end
end
local results = {}
for i = 1, n do
  local f, k, a, b = ARGV[3 * i - 2], KEYS[i], ARGV[3 * i - 1], ARGV[3 * i]
  if f == 'r' then
    local v = read(k)
    if type(v) == 'table' then return v end
    results[i] = v
  elseif f == 'w' then redis.call('SET', k, a); results[i] = 'ok'
  elseif f == 'cas' then redis.call('SET', k, b); results[i] = 'ok'
  elseif f == 'append' then redis.call(append, k, a); results[i] = 'ok'
  else results[i] = tostring(redis.call('INCRBY', k, a)) end
end
return results
"#;

/// How an append reaches Redis: onto a list or into a set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppendCommand {
    /// `RPUSH`: ordered, as list-append needs.
    Rpush,
    /// `SADD`: a Redis set (the set workload only; its reads come back unordered).
    Sadd,
}

impl AppendCommand {
    /// From the adapter option's text.
    pub fn parse(text: &str) -> Result<AppendCommand, String> {
        match text {
            "rpush" => Ok(AppendCommand::Rpush),
            "sadd" => Ok(AppendCommand::Sadd),
            other => Err(format!("append-command is rpush or sadd, not {other:?}")),
        }
    }

    fn command(self) -> &'static str {
        match self {
            AppendCommand::Rpush => "RPUSH",
            AppendCommand::Sadd => "SADD",
        }
    }
}

/// The script's `KEYS` and `ARGV` for a transaction.
pub fn arguments(ops: &[MicroOp], append: AppendCommand) -> (Vec<String>, Vec<String>) {
    let mut keys = Vec::with_capacity(ops.len());
    let mut argv = Vec::with_capacity(3 * ops.len() + 1);
    for op in ops {
        keys.push(op.key().to_owned());
        let (f, a, b) = match op {
            MicroOp::Read(_) => ("r", String::new(), String::new()),
            MicroOp::Write(_, v) => ("w", v.to_string(), String::new()),
            MicroOp::Cas(_, old, new) => ("cas", old.to_string(), new.to_string()),
            MicroOp::Append(_, v) => ("append", v.to_string(), String::new()),
            MicroOp::Incr(_, d) => ("incr", d.to_string(), String::new()),
        };
        argv.extend([f.to_owned(), a, b]);
    }
    argv.push(append.command().to_owned());
    (keys, argv)
}

/// The micro-ops' results, from what the script returned for each.
pub fn results(ops: &[MicroOp], returned: &[String]) -> Result<Vec<Value>, String> {
    if returned.len() != ops.len() {
        return Err(format!("the script returned {} results for {} micro-ops", returned.len(), ops.len()));
    }
    ops.iter()
        .zip(returned)
        .map(|(op, text)| match op {
            MicroOp::Read(k) => {
                let value: Value = serde_json::from_str(text).map_err(|e| format!("key {k} holds what faultline did not write ({e}): {text}"))?;
                Ok(json!(["r", k, value]))
            }
            MicroOp::Incr(k, _) => {
                let now: i64 = text.parse().map_err(|e| format!("INCRBY {k} answered {text:?}: {e}"))?;
                Ok(json!(["incr", k, now]))
            }
            other => Ok(other.to_value()),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ops(list: Value) -> Vec<MicroOp> {
        list.as_array().unwrap().iter().map(|m| MicroOp::from_value(m).unwrap()).collect()
    }

    #[test]
    fn micro_ops_become_keys_and_json_arguments() {
        let txn = ops(json!([["r", "x", null], ["append", "y", 3], ["cas", "z", [null, 4]], ["incr", "c", -2]]));
        let (keys, argv) = arguments(&txn, AppendCommand::Rpush);
        assert_eq!(keys, ["x", "y", "z", "c"]);
        assert_eq!(argv, ["r", "", "", "append", "3", "", "cas", "null", "4", "incr", "-2", "", "RPUSH"]);
        assert_eq!(arguments(&txn, AppendCommand::Sadd).1.last().unwrap(), "SADD");
    }

    #[test]
    fn results_carry_what_was_read() {
        let txn = ops(json!([["r", "x", null], ["r", "l", null], ["w", "y", 5], ["incr", "c", 2]]));
        let out = results(&txn, &["null".into(), "[1,2]".into(), "ok".into(), "7".into()]).unwrap();
        assert_eq!(out, vec![json!(["r", "x", null]), json!(["r", "l", [1, 2]]), json!(["w", "y", 5]), json!(["incr", "c", 7])]);
    }

    #[test]
    fn foreign_values_and_short_answers_are_errors() {
        let txn = ops(json!([["r", "x", null]]));
        assert!(results(&txn, &["not json".into()]).unwrap_err().contains("did not write"));
        assert!(results(&txn, &[]).unwrap_err().contains("0 results for 1"));
        assert!(AppendCommand::parse("lpush").is_err());
    }
}
