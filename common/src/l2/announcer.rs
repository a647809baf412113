//! The announced set of Layer 2 IPs and the schedule of gratuitous rounds
//! (docs/layer2.md#gratuitous-bursts, docs/layer2.md#reference-counts).
//!
//! Two deliberate departures from v0.12, both fixes of upstream bugs:
//! * the reference count of an IP is exactly the number of services listing it, however
//!   often a service is re-synced (upstream leaked counts and NDP group memberships);
//! * a gratuitous burst goes out only when an IP becomes owned, not on every re-sync; an
//!   optional periodic refresh (`--garp-interval`) covers switches that age entries out.

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// Spacing of the rounds of a burst (upstream issue #172).
pub const BURST_INTERVAL: Duration = Duration::from_millis(1100);
/// How long a burst lasts: rounds at 0, 1.1, 2.2, 3.3 and 4.4 s.
pub const BURST_LENGTH: Duration = Duration::from_secs(5);

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

#[derive(Debug, Clone, Copy)]
struct Burst {
    next: Instant,
    until: Instant,
}

#[derive(Debug, Default)]
pub struct Announcer {
    /// Sorted, without duplicates. A boxed slice, not a `BTreeSet`: services have one or two
    /// IPs, and a B-tree's first leaf costs ~200 bytes per service.
    services: HashMap<String, Box<[IpAddr]>>,
    refcount: HashMap<IpAddr, usize>,
    bursts: BTreeMap<IpAddr, Burst>,
    refresh_interval: Option<Duration>,
    refresh_due: BTreeMap<IpAddr, Instant>,
}

impl Announcer {
    /// `refresh_interval`: send one round per owned IP this often; `None` (the default of
    /// upstream) sends nothing after the first burst. A zero interval counts as `None`.
    pub fn new(refresh_interval: Option<Duration>) -> Announcer {
        Announcer {
            refresh_interval: refresh_interval.filter(|d| !d.is_zero()),
            ..Announcer::default()
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
        self.refcount.contains_key(&ip)
    }

    /// How many services announce `ip`.
    pub fn refcount(&self, ip: IpAddr) -> usize {
        self.refcount.get(&ip).copied().unwrap_or(0)
    }

    pub fn owned_ips(&self) -> impl Iterator<Item = IpAddr> + '_ {
        self.refcount.keys().copied()
    }

    /// The rounds due at `now`, at most one per IP; rounds missed by polling late are
    /// folded into one rather than sent in a rush.
    pub fn poll_gratuitous(&mut self, now: Instant) -> Vec<GratuitousRound> {
        let mut due: BTreeMap<IpAddr, RoundKind> = BTreeMap::new();
        for (&ip, burst) in &mut self.bursts {
            if burst.next <= now {
                due.insert(ip, RoundKind::Burst);
                burst.next = first_after(burst.next, BURST_INTERVAL, now);
            }
        }
        self.bursts.retain(|_, b| b.next < b.until);
        if let Some(interval) = self.refresh_interval {
            for (&ip, next) in &mut self.refresh_due {
                if *next <= now {
                    due.entry(ip).or_insert(RoundKind::Refresh);
                    *next = first_after(*next, interval, now);
                }
            }
        }
        due.into_iter()
            .map(|(ip, kind)| GratuitousRound { ip, kind })
            .collect()
    }

    /// When [`Announcer::poll_gratuitous`] next has something to return.
    pub fn next_deadline(&self) -> Option<Instant> {
        let burst = self.bursts.values().map(|b| b.next).min();
        let refresh = self.refresh_due.values().min().copied();
        burst.into_iter().chain(refresh).min()
    }

    /// Counts one more user of `ip`; true when it just became owned.
    fn acquire(&mut self, ip: IpAddr, now: Instant) -> bool {
        let count = self.refcount.entry(ip).or_insert(0);
        *count += 1;
        if *count > 1 {
            return false;
        }
        self.bursts.insert(
            ip,
            Burst {
                next: now,
                until: now + BURST_LENGTH,
            },
        );
        if let Some(interval) = self.refresh_interval {
            self.refresh_due.insert(ip, now + interval);
        }
        true
    }

    /// Counts one user less of `ip`; true when it is no longer owned.
    fn release(&mut self, ip: IpAddr) -> bool {
        let Some(count) = self.refcount.get_mut(&ip) else {
            return false;
        };
        *count -= 1;
        if *count > 0 {
            return false;
        }
        self.refcount.remove(&ip);
        self.bursts.remove(&ip);
        self.refresh_due.remove(&ip);
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
