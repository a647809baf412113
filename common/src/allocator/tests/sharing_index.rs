//! The sharing groups' "lowest shareable address" index against a scan that asks
//! `checkSharing` about every address.

use std::net::Ipv4Addr;

use proptest::prelude::*;

use super::*;
use crate::allocator::sharing::{Claim, Sharing};

const SERVICES: usize = 12;

#[derive(Debug, Clone)]
enum Op {
    /// Service takes address `ip` (offset in 10.0.0.0/28) with this usage, if allowed.
    Take(usize, u8, Usage),
    Drop(usize),
    /// Query with a usage over `[lo, hi]`.
    Query(Usage, u8, u8),
}

fn usage() -> impl Strategy<Value = Usage> {
    (
        prop_oneof![Just(""), Just("k"), Just("j")],
        prop_oneof![Just(""), Just("app=x")],
        proptest::sample::subsequence(
            vec![("TCP", 80), ("TCP", 443), ("UDP", 53), ("TCP", 53)],
            0..=3,
        ),
    )
        .prop_map(|(k, b, ports)| shared(k, b, &ports))
}

fn ops() -> impl Strategy<Value = Vec<Op>> {
    proptest::collection::vec(
        prop_oneof![
            4 => (0..SERVICES, 0u8..16, usage()).prop_map(|(s, i, u)| Op::Take(s, i, u)),
            1 => (0..SERVICES).prop_map(Op::Drop),
            3 => (usage(), 0u8..16, 0u8..16).prop_map(|(u, a, b)| Op::Query(u, a.min(b), a.max(b))),
        ],
        0..200,
    )
}

fn addr(offset: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(10, 0, 0, offset))
}

proptest! {
    #[test]
    fn lowest_shareable_agrees_with_check_sharing(ops in ops()) {
        let mut sharing = Sharing::default();
        let mut held: Vec<Option<(IpAddr, Claim)>> = vec![None; SERVICES];
        for op in ops {
            match op {
                Op::Take(s, offset, usage) => {
                    let name = format!("s{s}");
                    let ip = addr(offset);
                    if sharing.check(&name, ip, &usage).is_ok() {
                        let previous = held[s].take();
                        if let Some((old, claim)) = &previous {
                            sharing.remove(claim, *old);
                        }
                        let claim = Claim::new(&name, &usage, previous.as_ref().map(|(_, c)| c), &sharing);
                        sharing.add(&claim, ip);
                        held[s] = Some((ip, claim));
                    }
                }
                Op::Drop(s) => {
                    if let Some((old, claim)) = held[s].take() {
                        let freed = sharing.remove(&claim, old);
                        prop_assert_eq!(freed, sharing.holders(old).is_empty());
                    }
                }
                Op::Query(usage, lo, hi) => {
                    let want = (lo..=hi).map(addr).find(|ip| {
                        !usage.sharing_key.is_empty()
                            && sharing.is_used(*ip)
                            && sharing.check("newcomer", *ip, &usage).is_ok()
                    });
                    prop_assert_eq!(sharing.lowest_shareable(&usage, addr(lo), addr(hi)), want);
                }
            }
        }
    }
}
