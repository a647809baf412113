//! Nodes: which are excluded from external load balancing, and this node's own labels.

use std::collections::BTreeSet;

use super::{Changed, Relist};
use crate::config::Labels;

/// One Node as the index takes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeObject {
    pub name: String,
    pub labels: Labels,
    /// Labelled `node.kubernetes.io/exclude-from-external-load-balancers`.
    pub excluded: bool,
}

/// What the decisions need from the Node objects. Only excluded nodes and this node are
/// kept: any other node entering or leaving the cluster changes no decision (live speakers
/// come from memberlist or the speaker pods, not from here).
#[derive(Debug)]
pub struct Nodes {
    own: String,
    own_labels: Labels,
    excluded: BTreeSet<String>,
    pending: Option<Listing>,
}

/// A re-list under way.
#[derive(Debug, Default)]
struct Listing {
    excluded: BTreeSet<String>,
    own_labels: Option<Labels>,
}

impl Nodes {
    /// No node known yet, for the speaker on node `own`.
    pub fn new(own: impl Into<String>) -> Self {
        Nodes {
            own: own.into(),
            own_labels: Labels::new(),
            excluded: BTreeSet::new(),
            pending: None,
        }
    }

    /// This node's labels (empty until its Node object is seen).
    pub fn own_labels(&self) -> &Labels {
        &self.own_labels
    }

    /// The nodes that neither announce nor win elections.
    pub fn excluded(&self) -> &BTreeSet<String> {
        &self.excluded
    }

    /// Takes this node's labels; a change affects every decision (peers, exclusion).
    fn set_own_labels(&mut self, labels: Labels) -> Changed {
        if labels == self.own_labels {
            return Changed::default();
        }
        self.own_labels = labels;
        Changed {
            all: true,
            own_labels: true,
            ..Changed::default()
        }
    }
}

impl Relist for Nodes {
    type Object = NodeObject;
    type Changes = Changed;

    fn apply(&mut self, obj: NodeObject) -> Changed {
        let excluded_changed = if obj.excluded {
            self.excluded.insert(obj.name.clone())
        } else {
            self.excluded.remove(&obj.name)
        };
        let mut out = if obj.name == self.own {
            self.set_own_labels(obj.labels)
        } else {
            Changed::default()
        };
        out.all |= excluded_changed;
        out
    }

    /// This node's labels are kept when its own Node object goes: the speaker still runs
    /// here, and dropping them would close the BGP sessions its peers' node selectors
    /// chose, only to reopen them when the node registers again. It stops being excluded.
    fn delete(&mut self, obj: NodeObject) -> Changed {
        Changed {
            all: self.excluded.remove(&obj.name),
            ..Changed::default()
        }
    }

    fn begin(&mut self) {
        self.pending = Some(Listing::default());
    }

    fn listed(&mut self, obj: NodeObject) {
        let listing = self.pending.get_or_insert_with(Listing::default);
        if obj.excluded {
            listing.excluded.insert(obj.name.clone());
        }
        if obj.name == self.own {
            listing.own_labels = Some(obj.labels);
        }
    }

    /// Nodes missing from the re-list are deleted, with the same rule for this node as
    /// [`Relist::delete`]: its labels are kept.
    fn commit(&mut self) -> Changed {
        let Some(listing) = self.pending.take() else {
            return Changed::default();
        };
        let excluded_changed = listing.excluded != self.excluded;
        self.excluded = listing.excluded;
        let mut out = match listing.own_labels {
            Some(labels) => self.set_own_labels(labels),
            None => Changed::default(),
        };
        out.all |= excluded_changed;
        out
    }
}
