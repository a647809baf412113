//! Graceful stop in Layer 2 mode: which IPs a leaving speaker still answers, and when it may
//! exit.
//!
//! Upstream stops answering the moment it gets SIGTERM, while its peers only elect a new owner
//! once they learn it left: clients asking in between get no answer. Here the speaker leaves
//! memberlist first and keeps answering every IP it owned until another node claims that IP on
//! the wire (the new owner's gratuitous ARP / unsolicited NA burst), or a deadline passes.
//! It stops answering an IP the moment a claim is seen: a reply sent after the new owner's
//! gratuitous packet would move clients back to the dying node.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::time::Instant;

use super::MacAddr;

/// The hand-over state of a leaving speaker. The shell feeds it the claims it sees and asks
/// it, per request, whether to answer; time is passed in.
#[derive(Debug, Clone)]
pub struct Drain {
    /// This node's interface MACs: frames from them are our own claims, not a new owner's.
    ours: BTreeSet<MacAddr>,
    answering: BTreeSet<IpAddr>,
    handed_over: BTreeMap<IpAddr, MacAddr>,
    deadline: Instant,
}

impl Drain {
    /// Starts handing over `owned`; nothing is answered at or after `deadline`, which the
    /// caller keeps inside the pod's termination grace period.
    pub fn new(
        owned: impl IntoIterator<Item = IpAddr>,
        ours: impl IntoIterator<Item = MacAddr>,
        deadline: Instant,
    ) -> Drain {
        Drain {
            ours: ours.into_iter().collect(),
            answering: owned.into_iter().collect(),
            handed_over: BTreeMap::new(),
            deadline,
        }
    }

    /// `mac` claimed `ip` (an ARP frame with `ip` as sender address, or an NA for `ip` with
    /// `mac` as target link-layer address). Returns true when this ends our answering of `ip`.
    pub fn claim(&mut self, ip: IpAddr, mac: MacAddr) -> bool {
        if self.ours.contains(&mac) || !self.answering.remove(&ip) {
            return false;
        }
        self.handed_over.insert(ip, mac);
        true
    }

    /// Whether a request for `ip` arriving at `now` is still answered.
    pub fn answers(&self, ip: IpAddr, now: Instant) -> bool {
        now < self.deadline && self.answering.contains(&ip)
    }

    /// Whether the speaker may stop: every IP was taken over, or the deadline passed.
    pub fn finished(&self, now: Instant) -> bool {
        self.answering.is_empty() || now >= self.deadline
    }

    pub fn deadline(&self) -> Instant {
        self.deadline
    }

    /// IPs another node claimed, with the MAC that claimed them.
    pub fn handed_over(&self) -> &BTreeMap<IpAddr, MacAddr> {
        &self.handed_over
    }

    /// IPs nobody claimed yet (at the deadline: nobody took them over while we were there).
    pub fn unclaimed(&self) -> impl Iterator<Item = IpAddr> + '_ {
        self.answering.iter().copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    const US: MacAddr = MacAddr([2, 0, 0, 0, 1, 1]);
    const US_TOO: MacAddr = MacAddr([2, 0, 0, 0, 1, 9]);
    const NEW: MacAddr = MacAddr([2, 0, 0, 0, 1, 2]);

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn drain(now: Instant) -> Drain {
        Drain::new(
            [ip("192.0.2.1"), ip("192.0.2.2"), ip("2001:db8::1")],
            [US, US_TOO],
            now + Duration::from_millis(1500),
        )
    }

    #[test]
    fn owned_ips_are_answered_until_claimed_then_never_again() {
        let t0 = Instant::now();
        let mut d = drain(t0);
        assert!(d.answers(ip("192.0.2.1"), t0));
        assert!(d.claim(ip("192.0.2.1"), NEW));
        assert!(!d.answers(ip("192.0.2.1"), t0));
        // The rest of the new owner's burst changes nothing.
        assert!(!d.claim(ip("192.0.2.1"), NEW));
        assert!(d.answers(ip("192.0.2.2"), t0));
        assert_eq!(d.handed_over().get(&ip("192.0.2.1")), Some(&NEW));
        assert!(!d.finished(t0 + Duration::from_millis(10)));
    }

    #[test]
    fn our_own_frames_and_foreign_ips_are_not_claims() {
        let t0 = Instant::now();
        let mut d = drain(t0);
        assert!(!d.claim(ip("192.0.2.1"), US));
        assert!(
            !d.claim(ip("192.0.2.1"), US_TOO),
            "another interface of ours"
        );
        assert!(d.answers(ip("192.0.2.1"), t0));
        assert!(!d.claim(ip("192.0.2.99"), NEW), "never ours");
        assert!(!d.answers(ip("192.0.2.99"), t0));
        assert!(d.handed_over().is_empty());
    }

    #[test]
    fn finished_once_every_ip_is_taken_over() {
        let t0 = Instant::now();
        let mut d = drain(t0);
        d.claim(ip("192.0.2.1"), NEW);
        d.claim(ip("2001:db8::1"), NEW);
        assert!(!d.finished(t0));
        assert_eq!(d.unclaimed().collect::<Vec<_>>(), vec![ip("192.0.2.2")]);
        d.claim(ip("192.0.2.2"), MacAddr([2, 0, 0, 0, 1, 3]));
        assert!(d.finished(t0));
        assert_eq!(d.unclaimed().count(), 0);
        assert_eq!(d.handed_over().len(), 3);
    }

    #[test]
    fn deadline_ends_answering_and_the_drain() {
        let t0 = Instant::now();
        let d = drain(t0);
        let before = t0 + Duration::from_millis(1499);
        assert!(d.answers(ip("192.0.2.2"), before));
        assert!(!d.finished(before));
        let at = d.deadline();
        assert_eq!(at, t0 + Duration::from_millis(1500));
        assert!(!d.answers(ip("192.0.2.2"), at));
        assert!(d.finished(at));
        assert_eq!(d.unclaimed().count(), 3);
    }

    #[test]
    fn nothing_owned_is_finished_at_once() {
        let t0 = Instant::now();
        let d = Drain::new([], [US], t0 + Duration::from_secs(3));
        assert!(d.finished(t0));
    }
}
