//! The whole translation: a set of objects to the internal [`Config`] the ConfigMap parser
//! produces, or the first reason it cannot be (upstream v0.13's `config.For`, step by step).

use crate::config::{Config, Mode, Pool, Protocol, parse_go_duration};
use crate::crd::Resources;
use crate::crd::advertisements;
use crate::crd::error::{CrdError, Reason};
use crate::crd::peers;
use crate::crd::pools;
use crate::crd::types::{
    BfdProfileSpec, BgpAdvertisementSpec, BgpPeerSpec, IpAddressPoolSpec, Kind,
};

/// Translates `res` as the process in `mode` would: [`Mode::NativeSpeaker`] first refuses
/// FRR-only settings with upstream's messages (`DiscardFRROnly`).
///
/// Objects are taken in name order whatever order they come in, as the API server lists
/// them: pools are allocated from in that order (docs/crd.md#pool-order).
pub fn translate(res: &Resources, mode: Mode) -> Result<Config, CrdError> {
    let res = res.sorted();
    if mode == Mode::NativeSpeaker {
        discard_frr_only(&res)?;
    }
    let bfd_profiles = peers::bfd_profiles(&res.bfd_profiles)?;
    let peers = peers::peers(&res.peers, &bfd_profiles)?;
    let aliases = advertisements::aliases(&res.communities)?;
    let drafts = pools::drafts(&res.pools)?;
    let layer2 = advertisements::layer2(&res.l2_advertisements, &drafts)?;
    let bgp = advertisements::bgp(&res.bgp_advertisements, &drafts, &aliases)?;

    let mut out = Vec::with_capacity(drafts.len());
    // The first BGPAdvertisement of each BGP pool, for the BFD echo check.
    let mut announced_by = Vec::new();
    for ((draft, l2), bgp) in drafts.into_iter().zip(layer2).zip(bgp) {
        let err = |reason| CrdError::new(IpAddressPoolSpec::KIND, &draft.name, "spec", reason);
        let protocol = match (l2, bgp.first) {
            (Some(l2), Some(bgp)) => return Err(err(Reason::BothProtocols { l2, bgp })),
            (Some(_), None) => Protocol::Layer2,
            (None, Some(bgp)) => {
                announced_by.push(bgp);
                Protocol::Bgp
            }
            (None, None) => return Err(err(Reason::NotAnnounced)),
        };
        out.push(Pool {
            name: draft.name,
            protocol,
            cidrs: draft.cidrs,
            avoid_buggy_ips: draft.avoid_buggy_ips,
            auto_assign: draft.auto_assign,
            bgp_advertisements: bgp.ads,
        });
    }
    let cfg = Config {
        peers,
        pools: out,
        bfd_profiles,
    };
    bfd_echo_on_ipv6(&cfg, &res, &announced_by)?;
    Ok(cfg)
}

/// `DiscardFRROnly` of v0.13, minus its IPv6 rule (we advertise IPv6 natively) and its
/// large-community rule (large communities are refused in every mode).
fn discard_frr_only(res: &Resources) -> Result<(), CrdError> {
    for p in &res.peers {
        let err = |field: &str, what: &str| {
            CrdError::new(
                BgpPeerSpec::KIND,
                p.name(),
                field,
                Reason::NativeMode(format!(
                    "peer {} has {what} set on native bgp mode",
                    p.spec.peer_address
                )),
            )
        };
        if !p.spec.bfd_profile.is_empty() {
            return Err(err("spec.bfdProfile", "bfd-profile"));
        }
        // A keepalive that does not parse is the translation's error, not this one.
        if parse_go_duration(&p.spec.keepalive_time).is_ok_and(|ns| ns != 0) {
            return Err(err("spec.keepaliveTime", "keepalive-time"));
        }
        if !p.spec.vrf.is_empty() {
            return Err(err("spec.vrf", "vrf"));
        }
    }
    if let Some(b) = res.bfd_profiles.first() {
        return Err(CrdError::new(
            BfdProfileSpec::KIND,
            b.name(),
            "spec",
            Reason::NativeMode("bfd profiles section set".to_owned()),
        ));
    }
    Ok(())
}

/// `validateConfig` of v0.13: BFD echo mode cannot serve IPv6 routes. Every advertisement
/// goes to every peer here (`peers` is refused), so a BGP pool with an IPv6 CIDR conflicts
/// with any peer whose profile has echo mode on. `announced_by` names the first
/// BGPAdvertisement of each BGP pool, in pool order.
fn bfd_echo_on_ipv6(
    cfg: &Config,
    res: &Resources,
    announced_by: &[String],
) -> Result<(), CrdError> {
    let echo = cfg.peers.iter().zip(&res.peers).find(|(p, _)| {
        cfg.bfd_profiles
            .get(&p.bfd_profile)
            .is_some_and(|b| b.echo_mode)
    });
    let Some((_, peer)) = echo else {
        return Ok(());
    };
    let bgp_pools = cfg.pools.iter().filter(|p| p.protocol == Protocol::Bgp);
    for (pool, ad) in bgp_pools.zip(announced_by) {
        if pool.cidrs.iter().any(|c| matches!(c, ipnet::IpNet::V6(_))) {
            return Err(CrdError::new(
                BgpAdvertisementSpec::KIND,
                ad,
                "spec",
                Reason::BfdEcho {
                    pool: pool.name.clone(),
                    ad: ad.clone(),
                    peer: peer.name().to_owned(),
                },
            ));
        }
    }
    Ok(())
}
