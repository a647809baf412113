//! UPDATE packing and Adj-RIB-Out diffing.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, Ipv6Addr};

use ipnet::IpNet;
use proptest::collection::btree_map;
use proptest::prelude::*;

use super::hex;
use crate::bgp::{
    AdjRibOut, AsWidth, Asn, Community, DesiredRoutes, Ipv6NextHop, MAX_MESSAGE_LEN, Message,
    PathAttribute, Prefix, RouteAttrs, RouteChange, Update, UpdateContext, decode, diff,
    pack_announcements, pack_withdrawals,
};

fn ebgp() -> UpdateContext {
    UpdateContext {
        local_asn: Asn(64500),
        ibgp: false,
        as_width: AsWidth::Four,
        next_hop_v4: Some(Ipv4Addr::new(10, 0, 0, 2)),
        next_hop_v6: Some(Ipv6NextHop {
            global: "2001:db8::2".parse().unwrap(),
            link_local: Some("fe80::2".parse().unwrap()),
        }),
    }
}

fn ibgp() -> UpdateContext {
    UpdateContext {
        local_asn: Asn(64500),
        ibgp: true,
        ..ebgp()
    }
}

fn host_v4(i: u32) -> Prefix {
    Prefix::host(Ipv4Addr::from(0x0a00_0000 + i).into())
}

fn attrs(local_pref: u32, communities: &[u32]) -> RouteAttrs {
    RouteAttrs::new(local_pref, communities.iter().copied().map(Community)).unwrap()
}

/// Encodes every UPDATE, checks the size limit and decodes it again.
fn wire_roundtrip(updates: &[Update], ctx: &UpdateContext) -> Vec<Update> {
    updates
        .iter()
        .map(|u| {
            let bytes = Message::Update(u.clone())
                .encode(ctx.as_width)
                .expect("fits");
            assert!(bytes.len() <= MAX_MESSAGE_LEN, "{} bytes", bytes.len());
            match decode(&bytes, ctx.as_width) {
                Ok(Some((Message::Update(back), _))) => back,
                other => panic!("does not decode: {other:?}"),
            }
        })
        .collect()
}

/// What a receiving router learns: prefix → (local pref, communities), and withdrawals.
fn learned(updates: &[Update]) -> (BTreeMap<Prefix, RouteAttrs>, Vec<Prefix>) {
    let mut routes = BTreeMap::new();
    let mut withdrawn = Vec::new();
    for u in updates {
        withdrawn.extend(u.withdrawn.iter().map(|n| Prefix::from(*n)));
        let mut lp = 0;
        let mut comms = Vec::new();
        let mut nlri: Vec<Prefix> = u.nlri.iter().map(|n| Prefix::from(*n)).collect();
        for a in &u.attributes {
            match a {
                PathAttribute::LocalPref(v) => lp = *v,
                PathAttribute::Communities(c) => comms = c.clone(),
                PathAttribute::MpReach { nlri: n, .. } => {
                    nlri.extend(n.iter().map(|n| Prefix::from(*n)))
                }
                PathAttribute::MpUnreach { withdrawn: w } => {
                    withdrawn.extend(w.iter().map(|n| Prefix::from(*n)))
                }
                _ => {}
            }
        }
        let a = RouteAttrs::new(lp, comms).unwrap();
        for p in nlri {
            assert!(routes.insert(p, a.clone()).is_none(), "{p} announced twice");
        }
    }
    (routes, withdrawn)
}

#[test]
fn ten_thousand_hosts_fit_in_thirteen_updates() {
    let ctx = ebgp();
    let a = RouteAttrs::default();
    let routes: Vec<(Prefix, &RouteAttrs)> = (0..10_000).map(|i| (host_v4(i), &a)).collect();
    let updates = pack_announcements(&ctx, routes.iter().copied());
    // 43 bytes of header and attributes leave room for 810 five-byte /32 NLRI entries.
    assert_eq!(updates.len(), 10_000usize.div_ceil(810));
    let (got, _) = learned(&wire_roundtrip(&updates, &ctx));
    let want: BTreeMap<Prefix, RouteAttrs> =
        routes.iter().map(|(p, a)| (*p, (*a).clone())).collect();
    assert_eq!(got, want);
    // Every message carries upstream's attribute list for an eBGP 4-byte peer.
    let first = hex("40010102 4002060201 0000fbf4 4003040a000002");
    let mut attr_bytes = Vec::new();
    for a in &updates[0].attributes {
        a.encode(AsWidth::Four, &mut attr_bytes).unwrap();
    }
    assert_eq!(attr_bytes, first);
}

#[test]
fn different_attributes_never_share_a_message() {
    let ctx = ibgp();
    let (a, b) = (attrs(100, &[]), attrs(100, &[0xffff_ff01]));
    let routes = [(host_v4(1), &a), (host_v4(2), &b), (host_v4(3), &a)];
    let updates = wire_roundtrip(&pack_announcements(&ctx, routes), &ctx);
    assert_eq!(updates.len(), 2);
    assert_eq!(updates[0].nlri.len() + updates[1].nlri.len(), 3);
    let (got, _) = learned(&updates);
    assert_eq!(got[&host_v4(1)], a);
    assert_eq!(got[&host_v4(2)], b);
}

#[test]
fn withdrawals_are_split_at_4096_bytes() {
    // Upstream put all of these into one 5 000-byte message.
    let prefixes: Vec<Prefix> = (0..1000).map(host_v4).collect();
    let updates = pack_withdrawals(prefixes.iter().copied());
    assert_eq!(updates.len(), 2);
    let back = wire_roundtrip(&updates, &ebgp());
    assert_eq!(learned(&back).1, prefixes);
}

#[test]
fn ipv6_goes_in_mp_reach_first_with_global_and_link_local_next_hop() {
    let ctx = ebgp();
    let a = RouteAttrs::default();
    let p: Prefix = "2001:db8:1::/48".parse().unwrap();
    let updates = pack_announcements(&ctx, [(p, &a)]);
    let bytes = Message::Update(updates[0].clone())
        .encode(AsWidth::Four)
        .unwrap();
    let want = hex("ffffffffffffffffffffffffffffffff 0053 02 0000 003c \
         800e 2c 0002 01 20 20010db8000000000000000000000002 fe800000000000000000000000000002 00 \
         30 20010db80001 \
         40010102 4002060201 0000fbf4");
    assert_eq!(bytes, want);
    assert_eq!(
        decode(&want, AsWidth::Four),
        Ok(Some((Message::Update(updates[0].clone()), want.len())))
    );
}

#[test]
fn ipv6_withdrawals_use_mp_unreach() {
    let p: Prefix = "2001:db8:1::/48".parse().unwrap();
    let updates = pack_withdrawals([p, host_v4(1)]);
    let bytes: Vec<Vec<u8>> = updates
        .iter()
        .map(|u| Message::Update(u.clone()).encode(AsWidth::Four).unwrap())
        .collect();
    assert_eq!(
        bytes,
        [
            hex("ffffffffffffffffffffffffffffffff 001c 02 0005 200a000001 0000"),
            hex(
                "ffffffffffffffffffffffffffffffff 0024 02 0000 000d 800f 0a 0002 01 30 20010db80001"
            ),
        ]
    );
}

#[test]
fn families_without_next_hop_are_not_carried() {
    let ctx = UpdateContext {
        next_hop_v6: None,
        ..ebgp()
    };
    let a = RouteAttrs::default();
    let v6: Prefix = "2001:db8::/64".parse().unwrap();
    assert!(!ctx.can_carry(v6));
    assert!(pack_announcements(&ctx, [(v6, &a)]).is_empty());
}

#[test]
fn rib_sends_only_the_changed_prefixes() {
    let ctx = ibgp();
    let mut rib = AdjRibOut::default();
    let mut desired: DesiredRoutes = (0..3).map(|i| (host_v4(i), attrs(0, &[]))).collect();
    assert_eq!(rib.replace(desired.clone()).len(), 3);
    assert_eq!(
        learned(&rib.announce_all(&ctx)).0,
        desired,
        "a new connection gets all"
    );
    assert!(
        rib.replace(desired.clone()).is_empty(),
        "nothing changed, nothing to send"
    );

    // One changed, one removed, one added.
    desired.insert(host_v4(0), attrs(200, &[]));
    desired.remove(&host_v4(1));
    desired.insert(host_v4(9), attrs(0, &[]));
    let changed = rib.replace(desired.clone());
    let (announced, withdrawn) = learned(&rib.updates(&ctx, &changed));
    assert_eq!(
        announced.keys().copied().collect::<Vec<_>>(),
        [host_v4(0), host_v4(9)]
    );
    assert_eq!(withdrawn, [host_v4(1)]);
    assert_eq!((rib.len(), rib.carried(&ctx)), (3, 3));

    // The same as changes: a prefix changed and changed back in one batch is not sent.
    let changes = [
        RouteChange {
            prefix: host_v4(2),
            route: None,
        },
        RouteChange {
            prefix: host_v4(5),
            route: Some(attrs(0, &[])),
        },
        RouteChange {
            prefix: host_v4(2),
            route: Some(attrs(0, &[])),
        },
        RouteChange {
            prefix: host_v4(9),
            route: None,
        },
    ];
    assert_eq!(rib.apply(&changes), [host_v4(5), host_v4(9)]);
    let (announced, withdrawn) = learned(&rib.updates(&ctx, &[host_v4(5), host_v4(9)]));
    assert_eq!(announced.keys().copied().collect::<Vec<_>>(), [host_v4(5)]);
    assert_eq!(withdrawn, [host_v4(9)]);
}

#[test]
fn carried_counts_the_families_the_connection_has() {
    let v4_only = UpdateContext {
        next_hop_v6: None,
        ..ebgp()
    };
    let mut rib = AdjRibOut::default();
    let v6: Prefix = "2001:db8::/64".parse().unwrap();
    rib.apply(&[
        RouteChange {
            prefix: host_v4(1),
            route: Some(attrs(0, &[])),
        },
        RouteChange {
            prefix: v6,
            route: Some(attrs(0, &[])),
        },
    ]);
    assert_eq!(rib.carried(&ebgp()), 2);
    assert_eq!(rib.carried(&v4_only), 1);
    assert!(
        rib.updates(&v4_only, &[v6]).is_empty(),
        "not carried, not sent"
    );
    rib.apply(&[RouteChange {
        prefix: host_v4(1),
        route: None,
    }]);
    assert_eq!(rib.carried(&v4_only), 0);
}

fn any_prefix() -> impl Strategy<Value = Prefix> {
    prop_oneof![
        (any::<u32>(), 0..=32u8).prop_map(|(a, l)| {
            Prefix::new(IpNet::new(Ipv4Addr::from(a).into(), l).unwrap_or_default())
        }),
        (any::<u128>(), 0..=128u8).prop_map(|(a, l)| {
            Prefix::new(IpNet::new(Ipv6Addr::from(a).into(), l).unwrap_or_default())
        }),
    ]
}

/// Six distinct attribute sets (so that groups grow past one message), including one at
/// the community cap.
fn any_attrs() -> impl Strategy<Value = RouteAttrs> {
    (0..2u32, prop_oneof![Just(0u32), Just(1), Just(255)])
        .prop_map(|(lp, n)| RouteAttrs::new(lp, (0..n).map(Community)).unwrap_or_default())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    /// Whatever the routes, the messages fit, every prefix is sent exactly once with its
    /// attributes, and a message is only closed when the next prefix would not fit.
    #[test]
    fn packing_is_complete_bounded_and_tight(
        routes in btree_map(any_prefix(), any_attrs(), 0..3000),
        ibgp_session in any::<bool>(),
    ) {
        let ctx = UpdateContext { ibgp: ibgp_session, ..ebgp() };
        let updates = pack_announcements(&ctx, routes.iter().map(|(p, a)| (*p, a)));
        let back = wire_roundtrip(&updates, &ctx);
        // LOCAL_PREF only travels on iBGP sessions.
        let want: BTreeMap<Prefix, RouteAttrs> = routes
            .iter()
            .map(|(p, a)| {
                let lp = if ibgp_session { a.local_pref() } else { 0 };
                (*p, RouteAttrs::new(lp, a.communities()).unwrap())
            })
            .collect();
        prop_assert_eq!(&learned(&back).0, &want);
        for pair in updates.windows(2) {
            if pair[0].attributes.len() == pair[1].attributes.len() {
                let same_group = pair[0]
                    .attributes
                    .iter()
                    .zip(&pair[1].attributes)
                    .all(|(a, b)| std::mem::discriminant(a) == std::mem::discriminant(b)
                        && !matches!(a, PathAttribute::MpReach { .. }) && a == b);
                if same_group && !pair[0].nlri.is_empty() {
                    let len = Message::Update(pair[0].clone()).encode(ctx.as_width).unwrap().len();
                    let next = 1 + usize::from(pair[1].nlri[0].prefix_len()).div_ceil(8);
                    prop_assert!(len + next > MAX_MESSAGE_LEN, "message closed early");
                }
            }
        }
        let withdrawals = pack_withdrawals(routes.keys().copied());
        let back = wire_roundtrip(&withdrawals, &ctx);
        prop_assert_eq!(learned(&back).1, routes.keys().copied().filter(|p| p.net().addr().is_ipv4())
            .chain(routes.keys().copied().filter(|p| p.net().addr().is_ipv6())).collect::<Vec<_>>());
    }
}

fn any_change() -> impl Strategy<Value = RouteChange> {
    // Few prefixes, so that changes hit the same ones again.
    (0..40u32, proptest::option::of(any_attrs())).prop_map(|(i, route)| RouteChange {
        prefix: if i % 4 == 0 {
            Prefix::host(Ipv6Addr::from(0x2001_0db8_u128 << 96 | u128::from(i)).into())
        } else {
            host_v4(i)
        },
        route,
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// A peer that is sent the UPDATEs of every batch of changes holds exactly the routes
    /// the connection carries, whatever the batches; `diff` of two sets, applied, turns
    /// one into the other.
    #[test]
    fn the_peer_follows_every_batch_of_changes(
        batches in proptest::collection::vec(proptest::collection::vec(any_change(), 0..20), 0..20),
        v6 in any::<bool>(),
    ) {
        let ctx = UpdateContext {
            ibgp: true,
            next_hop_v6: if v6 { ebgp().next_hop_v6 } else { None },
            ..ebgp()
        };
        let mut rib = AdjRibOut::default();
        let mut peer: BTreeMap<Prefix, RouteAttrs> = BTreeMap::new();
        for batch in batches {
            let before = rib.routes().clone();
            let changed = rib.apply(&batch);
            let (announced, withdrawn) = learned(&wire_roundtrip(&rib.updates(&ctx, &changed), &ctx));
            for p in withdrawn {
                prop_assert!(peer.remove(&p).is_some(), "{} withdrawn but never announced", p);
            }
            peer.extend(announced);
            let carried: BTreeMap<Prefix, RouteAttrs> = rib
                .routes()
                .iter()
                .filter(|(p, _)| ctx.can_carry(**p))
                .map(|(p, a)| (*p, a.clone()))
                .collect();
            prop_assert_eq!(&peer, &carried);
            prop_assert_eq!(rib.carried(&ctx), carried.len());
            let mut replay = AdjRibOut::default();
            replay.replace(before);
            let changes = diff(replay.routes(), rib.routes());
            replay.apply(&changes);
            prop_assert_eq!(replay.routes(), rib.routes());
        }
    }
}
