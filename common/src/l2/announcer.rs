//! The announced set of Layer 2 IPs and the schedule of gratuitous rounds
//! (docs/layer2.md#gratuitous-bursts, docs/layer2.md#pacing, docs/layer2.md#reference-counts).
//!
//! Two deliberate departures from v0.12, both fixes of upstream bugs:
//! * the reference count of an IP is exactly the number of services listing it, however
//!   often a service is re-synced (upstream leaked counts and NDP group memberships);
//! * a gratuitous burst goes out only when an IP becomes owned, not on every re-sync; an
//!   optional periodic refresh (`--garp-interval`) covers switches that age entries out.
//!
//! And one addition: rounds leave through a [`Pacer`], oldest due first, so thousands of
//! addresses owned at once are announced at a bounded rate while each is answered (the
//! responders read [`Announcer::owned`]) from the moment it is owned.

use std::collections::{BTreeSet, HashMap};
use std::net::IpAddr;
use std::time::{Duration, Instant};

use super::pace::{Pace, Pacer};

/// Spacing of the rounds of a burst (upstream issue #172): a round delayed by pacing or a
/// late poll pushes the next one back, so two rounds of one IP are never closer than this.
pub const BURST_INTERVAL: Duration = Duration::from_millis(1100);
/// Rounds in a burst: unpaced, at 0, 1.1, 2.2, 3.3 and 4.4 s.
pub const BURST_ROUNDS: u8 = 5;

/// Why a round is sent; only for logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RoundKind {
    /// Part of the burst after the IP became owned.
    Burst,
    /// The periodic refresh of an IP owned for a while.
    Refresh,
}

/// One gratuitous round for one IP: the shell sends the ARP pair (IPv4) or the unsolicited
/// NA (IPv6) on every responder interface.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GratuitousRound {
    pub ip: IpAddr,
    pub kind: RoundKind,
}

/// IPs whose ownership changed through one call: the shell joins/leaves NDP groups for them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OwnershipChange {
    pub gained: Vec<IpAddr>,
    pub lost: Vec<IpAddr>,
}

/// An owned IP: its users and its next rounds.
#[derive(Debug, Clone, Copy)]
struct Owned {
    refs: usize,
    /// Burst rounds still to send, the next one due at `burst_at`.
    burst_left: u8,
    burst_at: Instant,
    /// The next periodic round, with `--garp-interval`.
    refresh_at: Option<Instant>,
}

impl Owned {
    /// When its next round is due, if it has one.
    fn due(&self) -> Option<Instant> {
        let burst = (self.burst_left > 0).then_some(self.burst_at);
        match (burst, self.refresh_at) {
            (Some(b), Some(r)) => Some(b.min(r)),
            (b, r) => b.or(r),
        }
    }
}

#[derive(Debug)]
pub struct Announcer {
    /// Sorted, without duplicates. A boxed slice, not a `BTreeSet`: services have one or two
    /// IPs, and a B-tree's first leaf costs ~200 bytes per service.
    services: HashMap<String, Box<[IpAddr]>>,
    owned: HashMap<IpAddr, Owned>,
    /// Every owned IP with a round to come, by due time: the oldest leaves first.
    queue: BTreeSet<(Instant, IpAddr)>,
    refresh_interval: Option<Duration>,
    pacer: Pacer,
}

impl Default for Announcer {
    fn default() -> Announcer {
        Announcer::new(None, None)
    }
}

impl Announcer {
    /// `refresh_interval`: send one round per owned IP this often; `None` (the default of
    /// upstream) sends nothing after the first burst. A zero interval counts as `None`.
    /// `pace`: how fast rounds may leave; `None` sends each when due, as upstream.
    pub fn new(refresh_interval: Option<Duration>, pace: Option<Pace>) -> Announcer {
        Announcer {
            services: HashMap::new(),
            owned: HashMap::new(),
            queue: BTreeSet::new(),
            refresh_interval: refresh_interval.filter(|d| !d.is_zero()),
            pacer: Pacer::new(pace),
        }
    }

    /// Makes `service` announce exactly `ips` (replacing what it announced before).
    /// Idempotent: re-syncing the same set changes nothing and sends nothing.
    pub fn set_balancer(
        &mut self,
        service: &str,
        ips: impl IntoIterator<Item = IpAddr>,
        now: Instant,
    ) -> OwnershipChange {
        let mut new: Vec<IpAddr> = ips.into_iter().collect();
        new.sort_unstable();
        new.dedup();
        if new.is_empty() {
            return self.delete_balancer(service);
        }
        let new: Box<[IpAddr]> = new.into();
        let old = self
            .services
            .insert(service.to_owned(), new.clone())
            .unwrap_or_default();
        let mut change = OwnershipChange::default();
        for &ip in old.iter().filter(|ip| new.binary_search(ip).is_err()) {
            if self.release(ip) {
                change.lost.push(ip);
            }
        }
        for &ip in new.iter().filter(|ip| old.binary_search(ip).is_err()) {
            if self.acquire(ip, now) {
                change.gained.push(ip);
            }
        }
        change
    }

    /// Stops announcing `service`. Nothing is sent: the new owner's gratuitous rounds move
    /// the traffic.
    pub fn delete_balancer(&mut self, service: &str) -> OwnershipChange {
        let mut change = OwnershipChange::default();
        for &ip in self.services.remove(service).unwrap_or_default().iter() {
            if self.release(ip) {
                change.lost.push(ip);
            }
        }
        change
    }

    /// Whether some service announces `ip`: the responders' question for every request.
    pub fn owned(&self, ip: IpAddr) -> bool {
        self.owned.contains_key(&ip)
    }

    /// How many services announce `ip`.
    pub fn refcount(&self, ip: IpAddr) -> usize {
        self.owned.get(&ip).map_or(0, |o| o.refs)
    }

    pub fn owned_ips(&self) -> impl Iterator<Item = IpAddr> + '_ {
        self.owned.keys().copied()
    }

    /// The rounds due at `now` that the pace lets go, oldest due first, at most one per IP.
    /// A round that could not go stays due; a late one is sent once, not once per missed
    /// slot, and the IP's next burst round comes [`BURST_INTERVAL`] after it.
    pub fn poll_gratuitous(&mut self, now: Instant) -> Vec<GratuitousRound> {
        let mut out = Vec::new();
        while let Some(&(due, ip)) = self.queue.first() {
            if due > now || !self.pacer.try_take(now) {
                break;
            }
            self.queue.pop_first();
            let Some(o) = self.owned.get_mut(&ip) else {
                continue;
            };
            let burst_due = o.burst_left > 0 && o.burst_at <= now;
            if let Some(at) = o.refresh_at.filter(|at| *at <= now)
                && let Some(interval) = self.refresh_interval
            {
                // A burst round due at once stands for the refresh.
                o.refresh_at = Some(first_after(at, interval, now));
            }
            let kind = if burst_due {
                o.burst_left -= 1;
                o.burst_at = now + BURST_INTERVAL;
                RoundKind::Burst
            } else {
                RoundKind::Refresh
            };
            if let Some(next) = o.due() {
                self.queue.insert((next, ip));
            }
            out.push(GratuitousRound { ip, kind });
        }
        out
    }

    /// When [`Announcer::poll_gratuitous`] next has something to return. While the pace
    /// holds rounds back, the shell is woken for a batch of them at a time.
    pub fn next_deadline(&self) -> Option<Instant> {
        let &(due, _) = self.queue.first()?;
        let throttled = self.pacer.ready_at(1).is_some_and(|at| at > due);
        let n = if throttled {
            self.pacer.batch().min(self.queue.len())
        } else {
            1
        };
        Some(self.pacer.ready_at(n).map_or(due, |at| at.max(due)))
    }

    /// Rounds waiting (due now or later): 0 once every burst is out and no refresh is set.
    pub fn queued(&self) -> usize {
        self.queue.len()
    }

    /// Counts one more user of `ip`; true when it just became owned.
    fn acquire(&mut self, ip: IpAddr, now: Instant) -> bool {
        if let Some(o) = self.owned.get_mut(&ip) {
            o.refs += 1;
            return false;
        }
        let o = Owned {
            refs: 1,
            burst_left: BURST_ROUNDS,
            burst_at: now,
            refresh_at: self.refresh_interval.map(|i| now + i),
        };
        if let Some(due) = o.due() {
            self.queue.insert((due, ip));
        }
        self.owned.insert(ip, o);
        true
    }

    /// Counts one user less of `ip`; true when it is no longer owned.
    fn release(&mut self, ip: IpAddr) -> bool {
        let Some(o) = self.owned.get_mut(&ip) else {
            return false;
        };
        o.refs -= 1;
        if o.refs > 0 {
            return false;
        }
        if let Some(due) = o.due() {
            self.queue.remove(&(due, ip));
        }
        self.owned.remove(&ip);
        true
    }
}

/// `start + k·step` for the smallest `k ≥ 1` that lies after `now`.
fn first_after(start: Instant, step: Duration, now: Instant) -> Instant {
    let behind = now.saturating_duration_since(start).as_nanos();
    let steps = behind / step.as_nanos().max(1) + 1;
    let steps = u32::try_from(steps).unwrap_or(u32::MAX);
    start
        .checked_add(step.saturating_mul(steps))
        .unwrap_or(now + step)
}

#[cfg(test)]
#[path = "announcer_tests.rs"]
mod tests;
