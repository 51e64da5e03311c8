//! Watching leadership during a run (docs/ARCHITECTURE.md §1, step 5): for a design that can
//! say which node leads, a task asks every node its role twice a second and keeps
//! each new (leader, term) it sees. The summary and the report use it to say whether
//! a failover was exercised at all, which a valid verdict alone cannot tell.

use crate::store::Leadership;
use faultline_nemesis::{NodeRole, Standing};
use faultline_workloads::adapter::LeaderQuery;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How often the nodes are asked.
const EVERY: Duration = Duration::from_millis(500);
/// How long one round of asking may take (a paused node does not answer).
const ROUND: Duration = Duration::from_secs(1);

/// A running watch; [`LeaderWatch::stop`] (or dropping it) ends it.
pub struct LeaderWatch {
    seen: Arc<Mutex<Vec<Leadership>>>,
    task: tokio::task::JoinHandle<()>,
}

/// Starts watching `nodes` through `query` twice a second; times count from `started`.
pub fn watch(query: Arc<dyn LeaderQuery>, nodes: Vec<String>, started: Instant) -> LeaderWatch {
    watch_every(query, nodes, started, EVERY)
}

/// [`watch`], asking every `every`.
fn watch_every(query: Arc<dyn LeaderQuery>, nodes: Vec<String>, started: Instant, every: Duration) -> LeaderWatch {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let into = seen.clone();
    let task = tokio::spawn(async move {
        loop {
            if let Ok(Some((term, node))) = tokio::time::timeout(ROUND, current_leader(&*query, &nodes)).await {
                let mut seen = into.lock().unwrap_or_else(|p| p.into_inner());
                note(&mut seen, node, term, started.elapsed().as_secs_f64());
            }
            tokio::time::sleep(every).await;
        }
    });
    LeaderWatch { seen, task }
}

/// Asks every node its role at once: the node that leads, and its term. Of two nodes
/// that both believe they lead (an old leader cut off), the higher term's is current.
pub async fn current_leader(query: &dyn LeaderQuery, nodes: &[String]) -> Option<(u64, String)> {
    faultline_nemesis::current_leader(&roles(query, nodes, ROUND).await).map(|r| (r.term, r.node.clone()))
}

/// Asks every node its role at once; answers the roles of the nodes that answered
/// within `within` (a paused node does not).
pub async fn roles(query: &dyn LeaderQuery, nodes: &[String], within: Duration) -> Vec<NodeRole> {
    let asks = nodes.iter().map(|n| async move { (n, tokio::time::timeout(within, query.role(n)).await) });
    let answers = futures_util::future::join_all(asks).await;
    answers
        .into_iter()
        .filter_map(|(node, answer)| {
            let role = answer.ok()?.ok()?;
            let standing = match (role.leads, role.campaigning) {
                (true, _) => Standing::Leads,
                (false, true) => Standing::Campaigns,
                (false, false) => Standing::Follows,
            };
            Some(NodeRole { node: node.clone(), term: role.term, standing, voted: role.voted })
        })
        .collect()
}

/// Keeps `(node, term)` if it is newer than the last leadership seen: a later term,
/// or the first one. An old leader that still believes it leads in an older term
/// (it is partitioned away) does not count as a change back.
fn note(seen: &mut Vec<Leadership>, node: String, term: u64, at_s: f64) {
    if seen.last().is_none_or(|last| term > last.term) {
        seen.push(Leadership { node, term, since_s: (at_s * 10.0).round() / 10.0 });
    }
}

impl LeaderWatch {
    /// Stops the watch; answers each leadership seen, in order.
    pub fn stop(self) -> Vec<Leadership> {
        std::mem::take(&mut *self.seen.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

impl Drop for LeaderWatch {
    /// A run that fails part way drops its watch: the asking stops with it.
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use faultline_workloads::adapter::Role;
    use futures_util::future::BoxFuture;

    #[test]
    fn only_newer_terms_are_kept() {
        let mut seen = Vec::new();
        for (node, term, at) in [("n1", 2, 0.5), ("n1", 2, 1.0), ("n2", 3, 4.0), ("n1", 2, 4.5), ("n2", 3, 5.0), ("n2", 5, 9.0)] {
            note(&mut seen, node.into(), term, at);
        }
        let kept: Vec<(&str, u64)> = seen.iter().map(|l| (l.node.as_str(), l.term)).collect();
        assert_eq!(kept, [("n1", 2), ("n2", 3), ("n2", 5)]);
    }

    /// n1 leads in term 1 for the first two rounds of asking (four calls), then n2 in term 2.
    struct Handover(std::sync::atomic::AtomicUsize);

    impl LeaderQuery for Handover {
        fn role<'a>(&'a self, node: &'a str) -> BoxFuture<'a, Result<Role, String>> {
            let late = self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst) >= 4;
            let leads = if late { node == "n2" } else { node == "n1" };
            Box::pin(async move { Ok(Role { leads, term: if late { 2 } else { 1 }, campaigning: false, voted: None }) })
        }
    }

    #[tokio::test]
    async fn a_watch_sees_a_handover() {
        let w = watch_every(Arc::new(Handover(Default::default())), vec!["n1".into(), "n2".into()], Instant::now(), Duration::from_millis(5));
        tokio::time::sleep(Duration::from_millis(200)).await;
        let seen = w.stop();
        let kept: Vec<(&str, u64)> = seen.iter().map(|l| (l.node.as_str(), l.term)).collect();
        assert_eq!(kept, [("n1", 1), ("n2", 2)]);
    }
}
