//! The speaker's side of the start-up join gate (docs/layer2.md#start-up): with memberlist,
//! the first decisions wait until the listed speakers have joined, or the grace is over.

use std::time::Duration;

use common::speaker::JoinGate;

use super::Speaker;

/// With memberlist, how long the first decisions wait at most for the listed speakers to join
/// (docs/layer2.md#start-up): two rejoin rounds and a margin.
pub(super) const START_JOIN_GRACE: Duration = Duration::from_secs(5);

impl Speaker {
    /// Whether the join gate is open (docs/layer2.md#start-up); says so when it opens on its
    /// deadline with listed speakers missing.
    pub(super) fn join_gate_open(&mut self, elapsed: Duration) -> bool {
        let missing: Vec<String> = match &self.join_gate {
            JoinGate::Waiting {
                listed: Some(listed),
                ..
            } => listed.difference(&self.live).cloned().collect(),
            _ => Vec::new(),
        };
        let waiting = self.join_gate.deadline().is_some();
        let open = self.join_gate.check(elapsed, &self.live);
        if waiting && open && !missing.is_empty() {
            tracing::warn!(
                component = "Memberlist",
                op = "startup",
                missing = ?missing,
                "listed speakers did not join within the start-up grace, deciding without them"
            );
        }
        open
    }
}
