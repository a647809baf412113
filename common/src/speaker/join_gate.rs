//! When a speaker with memberlist may take its first decisions (docs/layer2.md#start-up).
//!
//! Right after start, memberlist holds only this node: its joins to speakers that are not up
//! yet fail, and the others join it some milliseconds later. Deciding in that window elects
//! among this node alone, so it announces addresses another node owns (two MACs answer one
//! IP) until the others join. The gate holds the first decisions until every speaker the pod
//! list names is a member, or a grace period has passed (a listed speaker may be down for
//! good: its pod stays Ready until the node controller notices).

use std::collections::BTreeSet;
use std::time::Duration;

/// The start-up gate; time is passed in as the time since the speaker started.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JoinGate {
    /// Waiting for the listed speakers to join, until `deadline`.
    Waiting {
        /// The nodes of the Ready speaker pods, once the first pod list has answered.
        listed: Option<BTreeSet<String>>,
        deadline: Duration,
    },
    /// Decisions may be taken (and the gate never closes again).
    Open,
}

impl JoinGate {
    /// A gate that waits at most `grace` from start.
    pub fn waiting(grace: Duration) -> Self {
        Self::Waiting {
            listed: None,
            deadline: grace,
        }
    }

    /// The nodes of the Ready speaker pods, from a pod list.
    pub fn on_listed(&mut self, nodes: BTreeSet<String>) {
        if let Self::Waiting { listed, .. } = self {
            *listed = Some(nodes);
        }
    }

    /// Opens the gate when every listed speaker is among `members`, or at the deadline;
    /// returns whether it is open.
    pub fn check(&mut self, now: Duration, members: &BTreeSet<String>) -> bool {
        if let Self::Waiting { listed, deadline } = self {
            let joined = listed.as_ref().is_some_and(|l| l.is_subset(members));
            if !joined && now < *deadline {
                return false;
            }
            *self = Self::Open;
        }
        true
    }

    /// The deadline while waiting.
    pub fn deadline(&self) -> Option<Duration> {
        match self {
            Self::Waiting { deadline, .. } => Some(*deadline),
            Self::Open => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(names: &[&str]) -> BTreeSet<String> {
        names.iter().map(|s| (*s).to_owned()).collect()
    }

    const GRACE: Duration = Duration::from_secs(5);

    #[test]
    fn closed_while_alone_in_memberlist_and_others_are_listed() {
        let mut g = JoinGate::waiting(GRACE);
        assert!(
            !g.check(Duration::from_millis(1), &set(&["node1"])),
            "no pod list yet"
        );
        g.on_listed(set(&["node1", "node2", "node3"]));
        assert!(!g.check(Duration::from_millis(5), &set(&["node1"])));
        assert!(!g.check(Duration::from_millis(9), &set(&["node1", "node3"])));
        assert!(g.check(
            Duration::from_millis(12),
            &set(&["node1", "node2", "node3"])
        ));
        assert_eq!(g, JoinGate::Open);
    }

    #[test]
    fn opens_at_the_deadline_when_a_listed_speaker_never_joins() {
        let mut g = JoinGate::waiting(GRACE);
        g.on_listed(set(&["node1", "node2"]));
        assert!(!g.check(GRACE - Duration::from_millis(1), &set(&["node1"])));
        assert_eq!(g.deadline(), Some(GRACE));
        assert!(g.check(GRACE, &set(&["node1"])));
        assert_eq!(g.deadline(), None);
    }

    #[test]
    fn opens_at_the_deadline_without_a_pod_list() {
        let mut g = JoinGate::waiting(GRACE);
        assert!(g.check(GRACE, &set(&["node1"])));
    }

    #[test]
    fn members_beyond_the_list_do_not_hold_it() {
        let mut g = JoinGate::waiting(GRACE);
        g.on_listed(set(&["node1"]));
        assert!(g.check(Duration::ZERO, &set(&["node1", "node9"])));
    }

    #[test]
    fn stays_open_once_open() {
        let mut g = JoinGate::waiting(GRACE);
        g.on_listed(set(&["node1"]));
        assert!(g.check(Duration::ZERO, &set(&["node1"])));
        g.on_listed(set(&["node1", "node2"]));
        assert!(g.check(Duration::ZERO, &set(&["node1"])));
    }
}
