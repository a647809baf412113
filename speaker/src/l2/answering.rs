//! What the responders answer, shared by the driver and every reader task: the owned set
//! while running, the [`Drain`] during a graceful stop.
//!
//! Readers consult it for every request and report every claim they see, so a claim stops
//! the answers of the same socket before the next frame is read: no reply can follow the new
//! owner's gratuitous packet on that interface.

use std::collections::{BTreeMap, HashSet};
use std::net::IpAddr;
use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::Instant;

use common::l2::MacAddr;
use common::l2::announcer::OwnershipChange;
use common::l2::drain::Drain;
use tokio::sync::Notify;

/// How a graceful stop ended.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DrainReport {
    /// IPs another node claimed while we still answered, with its MAC.
    pub handed_over: BTreeMap<IpAddr, MacAddr>,
    /// IPs nobody claimed before the deadline.
    pub unclaimed: Vec<IpAddr>,
}

#[derive(Default)]
pub(crate) struct Answering {
    state: RwLock<State>,
    /// Woken when a claim ends the answering of an IP during a drain.
    handed_over: Notify,
}

#[derive(Default)]
struct State {
    owned: HashSet<IpAddr>,
    drain: Option<Drain>,
}

impl Answering {
    fn read(&self) -> RwLockReadGuard<'_, State> {
        self.state.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, State> {
        self.state.write().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether a request for `ip` arriving at `now` gets a reply.
    pub(crate) fn answers(&self, ip: IpAddr, now: Instant) -> bool {
        let state = self.read();
        match &state.drain {
            Some(drain) => drain.answers(ip, now),
            None => state.owned.contains(&ip),
        }
    }

    pub(crate) fn update(&self, change: &OwnershipChange) {
        let mut state = self.write();
        for ip in &change.lost {
            state.owned.remove(ip);
        }
        state.owned.extend(change.gained.iter().copied());
    }

    /// From now on answers follow `drain` instead of the owned set.
    pub(crate) fn start_drain(&self, drain: Drain) {
        self.write().drain = Some(drain);
    }

    /// `mac` claimed `ip` on the wire. Outside a drain this costs one read lock. Returns true
    /// when it ended our answering of `ip`.
    pub(crate) fn claimed(&self, ip: IpAddr, mac: MacAddr) -> bool {
        if self.read().drain.is_none() {
            return false;
        }
        let ended = self
            .write()
            .drain
            .as_mut()
            .is_some_and(|drain| drain.claim(ip, mac));
        if ended {
            self.handed_over.notify_one();
        }
        ended
    }

    /// Waits until the drain is finished (every IP claimed, or its deadline). Without a drain
    /// it returns at once with an empty report.
    pub(crate) async fn drained(&self) -> DrainReport {
        loop {
            // Registered before the check: a claim landing in between leaves a permit.
            let notified = self.handed_over.notified();
            let deadline = {
                let state = self.read();
                let Some(drain) = &state.drain else {
                    return DrainReport::default();
                };
                if drain.finished(super::now()) {
                    return DrainReport {
                        handed_over: drain.handed_over().clone(),
                        unclaimed: drain.unclaimed().collect(),
                    };
                }
                drain.deadline()
            };
            tokio::select! {
                () = notified => {}
                () = tokio::time::sleep_until(deadline.into()) => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::time::Duration;

    const NEW: MacAddr = MacAddr([2, 0, 0, 0, 1, 2]);

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn owning(ips: &[&str]) -> Answering {
        let a = Answering::default();
        a.update(&OwnershipChange {
            gained: ips.iter().map(|s| ip(s)).collect(),
            lost: Vec::new(),
        });
        a
    }

    #[tokio::test(start_paused = true)]
    async fn claims_end_the_drain_before_the_deadline() {
        let a = Arc::new(owning(&["192.0.2.1", "192.0.2.2"]));
        let start = super::super::now();
        assert!(!a.claimed(ip("192.0.2.1"), NEW), "no drain, no claim");
        assert!(a.answers(ip("192.0.2.1"), start));
        a.start_drain(Drain::new(
            [ip("192.0.2.1"), ip("192.0.2.2")],
            [],
            start + Duration::from_secs(3),
        ));
        let waiter = tokio::spawn({
            let a = Arc::clone(&a);
            async move { a.drained().await }
        });
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(a.claimed(ip("192.0.2.1"), NEW));
        assert!(!a.answers(ip("192.0.2.1"), super::super::now()));
        assert!(a.answers(ip("192.0.2.2"), super::super::now()));
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(!waiter.is_finished());
        assert!(a.claimed(ip("192.0.2.2"), NEW));
        let report = waiter.await.expect("waiter");
        assert_eq!(report.handed_over.len(), 2);
        assert!(report.unclaimed.is_empty());
        assert_eq!(
            super::super::now() - start,
            Duration::from_millis(200),
            "returned at the last claim, not at the deadline"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn unclaimed_ips_are_released_at_the_deadline() {
        let a = owning(&["192.0.2.1"]);
        let start = super::super::now();
        a.start_drain(Drain::new(
            [ip("192.0.2.1")],
            [],
            start + Duration::from_secs(2),
        ));
        let report = a.drained().await;
        assert_eq!(super::super::now() - start, Duration::from_secs(2));
        assert_eq!(report.unclaimed, vec![ip("192.0.2.1")]);
        assert!(!a.answers(ip("192.0.2.1"), super::super::now()));
    }
}
