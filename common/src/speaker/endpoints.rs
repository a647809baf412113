//! Endpoint readiness (docs/speaker.md#endpoint-readiness). Layer 2 asks "which nodes host a
//! ready endpoint"; BGP asks "is some address ready", where an address listed not-ready
//! anywhere is not ready at all.

use std::collections::BTreeSet;

/// One endpoint address from an Endpoints subset or an EndpointSlice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub addr: String,
    /// The node hosting it (EndpointSlice `nodeName`, else the hostname topology label).
    pub node: Option<String>,
    pub ready: bool,
}

/// Readiness of one service's endpoints, precomputed once per decision.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Readiness {
    /// Any endpoint is ready, whether or not it names a node.
    pub any_ready: bool,
    /// Nodes hosting at least one ready endpoint (Layer 2, node-level).
    pub ready_nodes: BTreeSet<String>,
    /// Nodes hosting an address that is ready everywhere it is listed (BGP, per address).
    pub ready_address_nodes: BTreeSet<String>,
    /// Some address is ready everywhere it is listed.
    pub any_address_ready: bool,
}

impl Readiness {
    pub fn of(endpoints: &[Endpoint]) -> Self {
        let not_ready: BTreeSet<&str> = endpoints
            .iter()
            .filter(|e| !e.ready)
            .map(|e| e.addr.as_str())
            .collect();
        let mut r = Readiness::default();
        for e in endpoints.iter().filter(|e| e.ready) {
            r.any_ready = true;
            if let Some(n) = &e.node {
                r.ready_nodes.insert(n.clone());
            }
            if !not_ready.contains(e.addr.as_str()) {
                r.any_address_ready = true;
                if let Some(n) = &e.node {
                    r.ready_address_nodes.insert(n.clone());
                }
            }
        }
        r
    }
}

/// One service's endpoints, per source object: its Endpoints, or each of its EndpointSlices.
///
/// A sorted `Vec` rather than a `BTreeMap`: nearly every service has one or two slices, and a
/// B-tree's first leaf alone costs ~500 bytes per service.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Sources(Vec<(String, Vec<Endpoint>)>);

impl Sources {
    /// Records (or replaces) the endpoints one source object lists. Returns whether that
    /// changed anything: a new source counts even with an empty list (the service then has
    /// an endpoints object, which the decision tells apart from none).
    pub fn set(&mut self, id: String, mut list: Vec<Endpoint>) -> bool {
        match self.0.binary_search_by(|(k, _)| k.as_str().cmp(&id)) {
            Ok(i) if self.0[i].1 == list => false,
            Ok(i) => {
                // Kept as long as the source object exists: no spare capacity, whoever built
                // the list.
                list.shrink_to_fit();
                self.0[i].1 = list;
                true
            }
            Err(i) => {
                list.shrink_to_fit();
                // One more slot, not the doubling `insert` would do: a service has one or two
                // sources, and 1 000 services spent 192 KB on spare capacity.
                self.0.reserve_exact(1);
                self.0.insert(i, (id, list));
                true
            }
        }
    }

    /// Forgets a deleted source object; returns whether it was known.
    pub fn remove(&mut self, id: &str) -> bool {
        match self.0.binary_search_by(|(k, _)| k.as_str().cmp(id)) {
            Ok(i) => {
                self.0.remove(i);
                true
            }
            Err(_) => false,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Every endpoint of every source, in source-name order.
    pub fn merged(&self) -> Vec<Endpoint> {
        self.0.iter().flat_map(|(_, l)| l.iter().cloned()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_replace_remove_and_merge_in_name_order() {
        let mut s = Sources::default();
        assert!(s.set("ns/web-b".into(), vec![ep("10.1.0.2", Some("n2"), true)]));
        assert!(s.set("ns/web-a".into(), vec![ep("10.1.0.1", Some("n1"), true)]));
        assert!(s.set("ns/web-b".into(), vec![ep("10.1.0.3", Some("n3"), false)]));
        assert!(!s.set("ns/web-b".into(), vec![ep("10.1.0.3", Some("n3"), false)]));
        assert!(
            s.set("ns/web-c".into(), Vec::new()),
            "a new source, even empty"
        );
        let addrs = |s: &Sources| s.merged().into_iter().map(|e| e.addr).collect::<Vec<_>>();
        assert_eq!(addrs(&s), ["10.1.0.1", "10.1.0.3"]);
        assert!(s.remove("ns/web-a"));
        assert!(!s.remove("ns/unknown"));
        assert!(s.remove("ns/web-c"));
        assert_eq!(addrs(&s), ["10.1.0.3"]);
        assert!(s.remove("ns/web-b"));
        assert!(s.is_empty());
    }

    fn ep(addr: &str, node: Option<&str>, ready: bool) -> Endpoint {
        Endpoint {
            addr: addr.into(),
            node: node.map(Into::into),
            ready,
        }
    }

    #[test]
    fn node_level_and_address_level_readiness_differ() {
        // The address is ready in one subset and not ready in another (some ports unready):
        // Layer 2 still counts the node, BGP does not.
        let r = Readiness::of(&[
            ep("10.1.0.5", Some("n1"), true),
            ep("10.1.0.5", Some("n1"), false),
            ep("10.1.0.6", Some("n2"), false),
        ]);
        assert!(r.any_ready);
        assert_eq!(r.ready_nodes, BTreeSet::from(["n1".to_owned()]));
        assert!(!r.any_address_ready);
        assert!(r.ready_address_nodes.is_empty());
    }

    #[test]
    fn endpoints_without_a_node_count_as_ready_somewhere() {
        let r = Readiness::of(&[ep("10.1.0.7", None, true)]);
        assert!(r.any_ready && r.any_address_ready);
        assert!(r.ready_nodes.is_empty());
        assert_eq!(Readiness::of(&[]), Readiness::default());
    }
}
