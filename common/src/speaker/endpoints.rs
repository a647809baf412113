//! Endpoint readiness (spec §4.2). Layer 2 asks "which nodes host a ready endpoint"; BGP asks
//! "is some address ready", where an address listed not-ready anywhere is not ready at all.

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

#[cfg(test)]
mod tests {
    use super::*;

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
