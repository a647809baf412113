//! The free-space index of one CIDR: which addresses are in use, and the lowest free one, in
//! O(log n) whatever the CIDR's size.
//!
//! Upstream walks every address from the network address up and asks the sharing rules about
//! each (docs/allocation.md#picking-an-address), so an exhausted IPv6 /64 never finishes
//! failing. Here the in-use addresses are kept as maximal *runs* `[start, end]` in a `BTreeMap`
//! keyed by start, over the addresses as integers (IPv4 as its 32-bit value). The lowest free
//! address is then "the CIDR's first address, or just past the run that covers it": one map
//! lookup.
//!
//! `avoid-buggy-ips` (IPv4 `.0`/`.255` never handed out) is handled arithmetically: such an
//! address is never free, and two runs separated only by buggy addresses are merged into one
//! run that spans them. Without that, a full avoid-buggy /8 would be 65 536 runs separated
//! by `.255`/`.0` pairs and finding "no free address" would visit all of them.
//!
//! Invariants (checked by `check_invariants` in tests):
//! * every run starts and ends at an in-use address, and holds only in-use or (with
//!   avoid-buggy) buggy addresses;
//! * between two consecutive runs lies at least one free, non-buggy address.
//!
//! So after jumping past a run, the next address is free unless it is buggy, and the next
//! non-buggy address after it is free: `lowest_free` does at most three lookups.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::ops::Bound::{Excluded, Unbounded};

use ipnet::IpNet;

use super::family::Family;

/// In-use addresses of one CIDR of one pool.
#[derive(Debug, Clone)]
pub(crate) struct CidrIndex {
    net: IpNet,
    first: u128,
    last: u128,
    /// `avoid-buggy-ips` of the pool, and the CIDR is IPv4 (IPv6 has no buggy addresses).
    avoid_buggy: bool,
    /// start → end (inclusive) of maximal runs of unavailable addresses.
    runs: BTreeMap<u128, u128>,
    used: u128,
}

impl CidrIndex {
    pub(crate) fn new(net: IpNet, avoid_buggy: bool) -> Self {
        let (first, last, v4) = match net {
            IpNet::V4(n) => (
                u128::from(u32::from(n.network())),
                u128::from(u32::from(n.broadcast())),
                true,
            ),
            IpNet::V6(n) => (u128::from(n.network()), u128::from(n.broadcast()), false),
        };
        CidrIndex {
            net,
            first,
            last,
            avoid_buggy: avoid_buggy && v4,
            runs: BTreeMap::new(),
            used: 0,
        }
    }

    pub(crate) fn family(&self) -> Family {
        match self.net {
            IpNet::V4(_) => Family::V4,
            IpNet::V6(_) => Family::V6,
        }
    }

    /// Is `ip` inside this CIDR and allowed to be handed out (not buggy under avoid-buggy)?
    pub(crate) fn allows(&self, ip: IpAddr) -> bool {
        self.value(ip)
            .is_some_and(|v| !(self.avoid_buggy && is_buggy(v)))
    }

    /// Is `ip` recorded as in use here?
    pub(crate) fn is_used(&self, ip: IpAddr) -> bool {
        let Some(v) = self.value(ip) else {
            return false;
        };
        !(self.avoid_buggy && is_buggy(v)) && self.run_containing(v).is_some()
    }

    /// The lowest address that is neither in use nor (under avoid-buggy) buggy.
    pub(crate) fn lowest_free(&self) -> Option<IpAddr> {
        let mut x = self.first;
        loop {
            if self.avoid_buggy {
                x = self.skip_buggy(x)?;
            }
            match self.run_containing(x) {
                Some((_, end)) if end >= self.last => return None,
                Some((_, end)) => x = end + 1,
                None => return Some(self.ip(x)),
            }
        }
    }

    /// Records `ip` as in use. Idempotent; addresses the CIDR does not allow are ignored
    /// (the allocator never records them: `assign` checks the pool allows every address).
    pub(crate) fn mark_used(&mut self, ip: IpAddr) {
        if !self.allows(ip) || self.is_used(ip) {
            return;
        }
        let Some(v) = self.value(ip) else { return };
        let avoid = self.avoid_buggy;
        let right = self
            .runs
            .range((Excluded(v), Unbounded))
            .next()
            .map(|(s, e)| (*s, *e))
            .filter(|(rs, _)| only_buggy_between(avoid, v, *rs));
        if let Some(rs) = right.map(|(rs, _)| rs) {
            self.runs.remove(&rs);
        }
        let end = right.map_or(v, |(_, re)| re);
        // Extend the left neighbour in place when it reaches `v` (the sequential case).
        match self.runs.range_mut(..v).next_back() {
            Some((_, le)) if only_buggy_between(avoid, *le, v) => *le = end,
            _ => {
                self.runs.insert(v, end);
            }
        }
        self.used += 1;
    }

    /// Records `ip` as free again. Idempotent.
    pub(crate) fn mark_free(&mut self, ip: IpAddr) {
        let Some(v) = self.value(ip) else { return };
        if !self.is_used(ip) {
            return;
        }
        let Some((s, e)) = self.run_containing(v) else {
            return;
        };
        self.runs.remove(&s);
        if s < v {
            self.insert_trimmed(s, v - 1);
        }
        if v < e {
            self.insert_trimmed(v + 1, e);
        }
        self.used -= 1;
    }

    /// Addresses that may be handed out: the CIDR's size, less its buggy addresses under
    /// avoid-buggy. Saturates at `u128::MAX` (only `::/0` has 2^128 addresses).
    pub(crate) fn capacity(&self) -> u128 {
        let size = (self.last - self.first).saturating_add(1);
        if !self.avoid_buggy {
            return size;
        }
        let buggy =
            count_residue(self.first, self.last, 0) + count_residue(self.first, self.last, 255);
        size - buggy
    }

    pub(crate) fn used(&self) -> u128 {
        self.used
    }

    /// First and last address of the CIDR.
    pub(crate) fn bounds(&self) -> (IpAddr, IpAddr) {
        (self.ip(self.first), self.ip(self.last))
    }

    /// The address just below `ip`, if still inside the CIDR.
    pub(crate) fn before(&self, ip: IpAddr) -> Option<IpAddr> {
        let v = self.value(ip)?;
        (v > self.first).then(|| self.ip(v - 1))
    }

    fn value(&self, ip: IpAddr) -> Option<u128> {
        let v = match (self.net, ip.to_canonical()) {
            (IpNet::V4(_), IpAddr::V4(a)) => u128::from(u32::from(a)),
            (IpNet::V6(_), IpAddr::V6(a)) => u128::from(a),
            _ => return None,
        };
        (self.first..=self.last).contains(&v).then_some(v)
    }

    fn ip(&self, v: u128) -> IpAddr {
        match self.net {
            // Values of an IPv4 CIDR come from a u32 and stay within it.
            IpNet::V4(_) => IpAddr::V4(Ipv4Addr::from(u32::try_from(v).unwrap_or(u32::MAX))),
            IpNet::V6(_) => IpAddr::V6(Ipv6Addr::from(v)),
        }
    }

    fn run_containing(&self, v: u128) -> Option<(u128, u128)> {
        self.runs
            .range(..=v)
            .next_back()
            .filter(|(_, e)| **e >= v)
            .map(|(s, e)| (*s, *e))
    }

    /// The first non-buggy address ≥ `x` inside the CIDR.
    fn skip_buggy(&self, x: u128) -> Option<u128> {
        let next = match x & 0xff {
            0 => x.checked_add(1)?,
            255 => x.checked_add(2)?,
            _ => x,
        };
        (next <= self.last).then_some(next)
    }

    /// Inserts `[s, e]` without its buggy edges (runs start and end at in-use addresses).
    fn insert_trimmed(&mut self, mut s: u128, mut e: u128) {
        if self.avoid_buggy {
            while s <= e && is_buggy(s) {
                s += 1;
            }
            while e > s && is_buggy(e) {
                e -= 1;
            }
        }
        if s <= e && !(self.avoid_buggy && is_buggy(s)) {
            self.runs.insert(s, e);
        }
    }

    #[cfg(test)]
    pub(crate) fn check_invariants(&self, used: &std::collections::BTreeSet<u128>) {
        let mut prev_end: Option<u128> = None;
        for (&s, &e) in &self.runs {
            assert!(
                s <= e && s >= self.first && e <= self.last,
                "run {s}..{e} out of CIDR"
            );
            assert!(
                used.contains(&s) && used.contains(&e),
                "run {s}..{e} edges unused"
            );
            for v in s..=e {
                assert!(
                    used.contains(&v) || (self.avoid_buggy && is_buggy(v)),
                    "hole in run at {v}"
                );
            }
            if let Some(pe) = prev_end {
                assert!(
                    (pe + 1..s).any(|v| !(used.contains(&v) || self.avoid_buggy && is_buggy(v))),
                    "runs ending {pe} and starting {s} not maximal"
                );
            }
            prev_end = Some(e);
        }
        assert_eq!(self.used, u128::try_from(used.len()).unwrap_or(0));
    }
}

/// Are all addresses strictly between `a` and `b` (a < b) buggy ones we never hand out?
/// (Vacuously true when there are none: the runs touch.)
fn only_buggy_between(avoid_buggy: bool, a: u128, b: u128) -> bool {
    let gap = b - a - 1;
    gap == 0 || (avoid_buggy && gap <= 2 && (a + 1..b).all(is_buggy))
}

/// Low octet 0 or 255 (only meaningful for IPv4 values).
fn is_buggy(v: u128) -> bool {
    matches!(v & 0xff, 0 | 255)
}

/// How many `v` in `[lo, hi]` have `v % 256 == r`.
fn count_residue(lo: u128, hi: u128, r: u128) -> u128 {
    let upto = |x: u128| if x < r { 0 } else { (x - r) / 256 + 1 };
    upto(hi) - if lo == 0 { 0 } else { upto(lo - 1) }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use proptest::prelude::*;

    use super::*;

    fn net(s: &str) -> IpNet {
        s.parse().unwrap()
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn network_and_broadcast_are_ordinary_candidates() {
        let mut idx = CidrIndex::new(net("10.0.0.0/30"), false);
        assert_eq!(idx.lowest_free(), Some(ip("10.0.0.0")));
        for a in ["10.0.0.0", "10.0.0.1", "10.0.0.2"] {
            idx.mark_used(ip(a));
        }
        assert_eq!(idx.lowest_free(), Some(ip("10.0.0.3")));
        idx.mark_used(ip("10.0.0.3"));
        assert_eq!(idx.lowest_free(), None);
        assert_eq!(idx.runs.len(), 1);
        idx.mark_free(ip("10.0.0.1"));
        assert_eq!(idx.lowest_free(), Some(ip("10.0.0.1")));
        assert_eq!(idx.used(), 3);
    }

    #[test]
    fn avoid_buggy_skips_and_bridges_dot_zero_and_dot_255() {
        let mut idx = CidrIndex::new(net("10.0.0.0/23"), true);
        assert_eq!(idx.capacity(), 512 - 4);
        assert_eq!(idx.lowest_free(), Some(ip("10.0.0.1")));
        for last in 1..=254 {
            idx.mark_used(IpAddr::V4(Ipv4Addr::new(10, 0, 0, last)));
        }
        assert_eq!(idx.lowest_free(), Some(ip("10.0.1.1")));
        idx.mark_used(ip("10.0.1.1"));
        // 10.0.0.1–10.0.1.1 is one run: .255 and .0 between are bridged.
        assert_eq!(idx.runs.len(), 1);
        assert!(!idx.allows(ip("10.0.0.255")));
        assert!(!idx.is_used(ip("10.0.1.0")));
    }

    #[test]
    fn full_avoid_buggy_slash_16_fails_in_one_lookup() {
        let mut idx = CidrIndex::new(net("10.1.0.0/16"), true);
        for v in 0u32..65_536 {
            let a = IpAddr::V4(Ipv4Addr::from(0x0a01_0000 | v));
            if idx.allows(a) {
                idx.mark_used(a);
            }
        }
        assert_eq!(idx.runs.len(), 1);
        assert_eq!(idx.used(), idx.capacity());
        assert_eq!(idx.lowest_free(), None);
    }

    #[test]
    fn capacity_is_exact() {
        assert_eq!(
            CidrIndex::new(net("10.0.0.0/8"), true).capacity(),
            (1 << 24) - 2 * (1 << 16)
        );
        assert_eq!(CidrIndex::new(net("10.0.0.0/8"), false).capacity(), 1 << 24);
        assert_eq!(CidrIndex::new(net("10.0.0.0/25"), true).capacity(), 127);
        assert_eq!(CidrIndex::new(net("10.0.0.128/25"), true).capacity(), 127);
        assert_eq!(CidrIndex::new(net("10.0.0.64/26"), true).capacity(), 64);
        // Upstream computes -1 for a buggy /32 (it subtracts it twice); the truth is 0.
        assert_eq!(CidrIndex::new(net("10.0.0.255/32"), true).capacity(), 0);
        assert_eq!(CidrIndex::new(net("fd00::/64"), true).capacity(), 1 << 64);
        assert_eq!(CidrIndex::new(net("::/0"), false).capacity(), u128::MAX);
    }

    #[test]
    fn ipv6_slash_64_tail_and_whole_space() {
        let mut idx = CidrIndex::new(net("fd00::/64"), false);
        idx.mark_used(ip("fd00::"));
        idx.mark_used(ip("fd00::ffff:ffff:ffff:ffff"));
        assert_eq!(idx.lowest_free(), Some(ip("fd00::1")));
        let mut all = CidrIndex::new(net("::/0"), false);
        all.mark_used(ip("::"));
        assert_eq!(all.lowest_free(), Some(ip("::1")));
        let mut top = CidrIndex::new(net("ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe/127"), false);
        top.mark_used(ip("ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe"));
        top.mark_used(ip("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"));
        assert_eq!(top.lowest_free(), None);
        assert!(!top.allows(ip("10.0.0.1")), "other family");
    }

    #[derive(Debug, Clone)]
    enum Op {
        Use(u32),
        Free(u32),
    }

    fn ops() -> impl Strategy<Value = Vec<Op>> {
        proptest::collection::vec(
            prop_oneof![
                (0u32..1024).prop_map(Op::Use),
                (0u32..1024).prop_map(Op::Free)
            ],
            0..400,
        )
    }

    proptest! {
        /// The runs answer exactly what a scan over a plain set of used addresses answers.
        #[test]
        fn agrees_with_a_scan(
            ops in ops(),
            avoid in any::<bool>(),
            (first, len) in prop_oneof![
                Just((0x0a00_0000u32, 22u8)), // crosses three .255/.0 pairs
                Just((0x0a00_0180, 25)),      // ends on .255
                Just((0x0a00_0000, 30)),
                Just((0x0a00_00ff, 32)),
            ],
        ) {
            let size = 1u32 << (32 - len);
            let mut idx = CidrIndex::new(IpNet::V4(ipnet::Ipv4Net::new(Ipv4Addr::from(first), len).unwrap()), avoid);
            let mut used = BTreeSet::new();
            for op in ops {
                match op {
                    Op::Use(o) => {
                        let o = o % size;
                        let a = IpAddr::V4(Ipv4Addr::from(first + o));
                        if idx.allows(a) {
                            idx.mark_used(a);
                            used.insert(u128::from(first + o));
                        }
                    }
                    Op::Free(o) => {
                        let o = o % size;
                        idx.mark_free(IpAddr::V4(Ipv4Addr::from(first + o)));
                        used.remove(&u128::from(first + o));
                    }
                }
                idx.check_invariants(&used);
                let want = (u128::from(first)..u128::from(first) + u128::from(size))
                    .find(|v| !(used.contains(v) || avoid && is_buggy(*v)))
                    .map(|v| IpAddr::V4(Ipv4Addr::from(u32::try_from(v).unwrap())));
                prop_assert_eq!(idx.lowest_free(), want);
            }
        }
    }
}
