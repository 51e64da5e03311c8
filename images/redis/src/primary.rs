//! Where a client finds the primary. With Sentinel, a client asks the Sentinel on the
//! node it is bound to (`SENTINEL GET-MASTER-ADDR-BY-NAME`), as real Redis clients do:
//! a client whose Sentinel sits in a minority keeps hearing of the old primary, which
//! is exactly how a partitioned Redis loses acknowledged writes. Without Sentinel the
//! node itself is the server.

use std::time::Duration;

/// How clients find the primary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Discovery {
    /// Every node is a server of its own: talk to the node a client is bound to.
    Direct,
    /// Ask the node's Sentinel, on `port`, for the primary of the master named `master`.
    Sentinel {
        /// The Sentinels' port.
        port: u16,
        /// The name the Sentinels monitor the primary under.
        master: String,
    },
}

/// The host part of `ip:port`.
pub fn host(addr: &str) -> &str {
    addr.rsplit_once(':').map_or(addr, |(host, _)| host)
}

/// Connects to `addr` (`host:port`), giving up after `timeout`. Nothing has been sent
/// when this fails.
pub async fn connect(addr: &str, timeout: Duration) -> Result<redis::aio::MultiplexedConnection, String> {
    let client = redis::Client::open(format!("redis://{addr}/")).map_err(|e| format!("bad address {addr}: {e}"))?;
    match tokio::time::timeout(timeout, client.get_multiplexed_async_connection()).await {
        Ok(Ok(conn)) => Ok(conn),
        Ok(Err(e)) => Err(format!("connecting to {addr}: {e}")),
        Err(_) => Err(format!("connecting to {addr}: no answer in {timeout:?}")),
    }
}

/// Sends `cmd` on `conn`; `None` when no answer came within `timeout`.
pub async fn query<T: redis::FromRedisValue>(conn: &mut redis::aio::MultiplexedConnection, cmd: &redis::Cmd, timeout: Duration) -> Option<redis::RedisResult<T>> {
    tokio::time::timeout(timeout, cmd.query_async::<T>(conn)).await.ok()
}

/// The primary's `ip:port` as `node_addr`'s Sentinel names it, or why none.
pub async fn ask_sentinel(node_addr: &str, port: u16, master: &str, timeout: Duration) -> Result<String, String> {
    let sentinel = format!("{}:{port}", host(node_addr));
    let mut conn = connect(&sentinel, timeout).await?;
    let mut ask = redis::cmd("SENTINEL");
    ask.arg("GET-MASTER-ADDR-BY-NAME").arg(master);
    match query::<Option<(String, u16)>>(&mut conn, &ask, timeout).await {
        Some(Ok(Some((ip, port)))) => Ok(format!("{ip}:{port}")),
        Some(Ok(None)) => Err(format!("the Sentinel at {sentinel} monitors no master {master:?}")),
        Some(Err(e)) => Err(format!("the Sentinel at {sentinel}: {e}")),
        None => Err(format!("the Sentinel at {sentinel} did not answer in {timeout:?}")),
    }
}

/// The configuration epoch `node_addr`'s Sentinel holds for `master`: it grows with
/// every failover, so it is the term of the primary it names.
pub async fn sentinel_epoch(node_addr: &str, port: u16, master: &str, timeout: Duration) -> Result<u64, String> {
    let sentinel = format!("{}:{port}", host(node_addr));
    let mut conn = connect(&sentinel, timeout).await?;
    let mut ask = redis::cmd("SENTINEL");
    ask.arg("MASTER").arg(master);
    let fields = match query::<Vec<String>>(&mut conn, &ask, timeout).await {
        Some(Ok(fields)) => fields,
        Some(Err(e)) => return Err(format!("the Sentinel at {sentinel}: {e}")),
        None => return Err(format!("the Sentinel at {sentinel} did not answer in {timeout:?}")),
    };
    let epoch = fields.chunks(2).find(|pair| pair[0] == "config-epoch").and_then(|pair| pair.get(1));
    epoch.and_then(|e| e.parse().ok()).ok_or_else(|| format!("the Sentinel at {sentinel} names no config-epoch for {master:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_host_of_an_address() {
        assert_eq!(host("10.1.2.3:6379"), "10.1.2.3");
        assert_eq!(host("redis"), "redis");
    }
}
