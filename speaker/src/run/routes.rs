//! The loop's side of BGP: each announced service's routes kept in the `RouteTable`, and
//! the changes handed to the sessions (docs/bgp.md#packing).

use std::net::IpAddr;

use common::config::Protocol;

use super::Speaker;

impl Speaker {
    /// The route changes since the last hand-off, handed to every active session.
    pub(super) fn push_bgp_routes(&mut self) {
        self.bgp.apply_changes(self.routes.take_changes());
    }

    /// Hands the routes off now if a change is pending (instead of at the batch's deadline).
    pub(super) fn flush_routes(&mut self) {
        if self.route_batch.take() {
            self.push_bgp_routes();
        }
    }

    /// `key`'s routes: its IPs × its pool's advertisements (`common::speaker::desired_routes`
    /// is the same union computed at once). Returns whether the route set changed.
    pub(super) fn set_routes_of(&mut self, key: &str, ips: &[IpAddr]) -> bool {
        let Some(cfg) = self.config.current().cloned() else {
            return self.routes.remove(key);
        };
        let Some(pool) = cfg.pool_containing_all(ips) else {
            return self.routes.remove(key);
        };
        let (changed, errors) = self.routes.set(key, ips, pool);
        for e in errors {
            tracing::error!(op = "advertise", error = %e, "cannot advertise");
        }
        changed
    }

    /// A new config may change every BGP service's attributes: their routes are recomputed
    /// from what is announced (once per config load).
    pub(super) fn rebuild_routes(&mut self) {
        self.routes.clear();
        let bgp: Vec<(String, Vec<IpAddr>)> = self
            .announcements
            .with_protocol(Protocol::Bgp)
            .map(|(k, ips)| (k.to_owned(), ips.to_vec()))
            .collect();
        for (key, ips) in bgp {
            self.set_routes_of(&key, &ips);
        }
        self.route_batch.take();
        self.push_bgp_routes();
    }

    /// Sessions for the peers that select this node (config or own labels changed). A new
    /// session starts from the routes the others have: pending changes go out first.
    pub(super) fn sync_peers(&mut self) {
        let Some(peers) = self.config.current().map(|cfg| cfg.peers.clone()) else {
            return;
        };
        self.route_batch.take();
        self.push_bgp_routes();
        let routes = &self.routes;
        self.bgp
            .set_peers(peers, self.index.nodes.own_labels(), &|| routes.snapshot());
    }
}
