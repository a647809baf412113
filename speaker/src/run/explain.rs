//! The speaker loop's side of `/status`: it hands the [`Board`] every decision row (in
//! `reconcile`) and the cluster facts the rows depend on. Kept out of `run.rs`, which only
//! calls in here.

use crate::status::Board;

use super::Speaker;

impl Speaker {
    /// Publishes this speaker's decisions, BGP sessions and cluster facts to `board`, the
    /// one `/status` renders.
    pub fn with_status(mut self, board: Board) -> Self {
        board.set_bgp(self.bgp.status());
        board.set_election(self.settings.election);
        board.set_live_source(if self.membership.is_some() {
            super::LIVE_FROM_MEMBERLIST
        } else {
            super::LIVE_FROM_PODS
        });
        if let Some(m) = &self.membership {
            board.set_memberlist(m.handle.clone());
        }
        self.status = board;
        self.publish_cluster();
        self
    }

    /// The config state and live speakers, after each pass.
    pub(super) fn publish_cluster(&self) {
        self.status
            .set_cluster(self.config.current().map(|c| &**c), &self.live);
    }
}

#[cfg(test)]
#[path = "explain_tests.rs"]
mod tests;
