//! Adj-RIB-Out: what this session has told the peer, so that a change of the desired
//! routes costs only the difference.

use std::collections::BTreeMap;

use super::pack::{UpdateContext, pack_announcements, pack_withdrawals};
use super::types::{Prefix, RouteAttrs};
use super::update::Update;

/// The routes this node wants every peer to have, with their attributes.
pub type DesiredRoutes = BTreeMap<Prefix, RouteAttrs>;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AdjRibOut {
    sent: DesiredRoutes,
}

impl AdjRibOut {
    /// Brings the peer to `desired`: new and changed routes are announced (packed), routes
    /// no longer desired are withdrawn. Announcements come first, so a prefix moving to a
    /// covering aggregate is never briefly unreachable. Routes the session cannot carry
    /// (a family the peer did not negotiate) are neither sent nor remembered.
    pub fn sync(&mut self, ctx: &UpdateContext, desired: &DesiredRoutes) -> Vec<Update> {
        let announce = desired
            .iter()
            .filter(|(p, attrs)| ctx.can_carry(**p) && self.sent.get(*p) != Some(*attrs))
            .map(|(p, attrs)| (*p, attrs));
        let mut updates = pack_announcements(ctx, announce);
        let withdraw = self
            .sent
            .keys()
            .filter(|p| !desired.contains_key(*p) || !ctx.can_carry(**p))
            .copied();
        updates.extend(pack_withdrawals(withdraw));
        self.sent = desired
            .iter()
            .filter(|(p, _)| ctx.can_carry(**p))
            .map(|(p, a)| (*p, a.clone()))
            .collect();
        updates
    }

    /// Forgets everything: the session went down, so the peer dropped our routes and the
    /// next [`AdjRibOut::sync`] resends them all.
    pub fn clear(&mut self) {
        self.sent.clear();
    }

    /// Number of prefixes the peer currently has from us.
    pub fn len(&self) -> usize {
        self.sent.len()
    }

    pub fn is_empty(&self) -> bool {
        self.sent.is_empty()
    }
}
