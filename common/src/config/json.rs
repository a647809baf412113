//! The normalised JSON view printed by `check-config`: what the process understood, with
//! every default filled in, so an operator can diff it against their intent.

use ipnet::IpNet;
use serde_json::{Map, Value, json};

use super::{BgpAdvertisement, Config, Peer};
use crate::gotext::ip_string;

/// The documented `check-config` output.
pub fn to_json(cfg: &Config) -> Value {
    let peers: Vec<Value> = cfg.peers.iter().map(peer_json).collect();
    let mut pools = Map::new();
    for p in &cfg.pools {
        pools.insert(
            p.name.clone(),
            json!({
                "protocol": p.protocol.as_str(),
                "cidrs": p.cidrs.iter().map(IpNet::to_string).collect::<Vec<_>>(),
                "auto_assign": p.auto_assign,
                "avoid_buggy_ips": p.avoid_buggy_ips,
                "bgp_advertisements": p.bgp_advertisements.iter().map(advertisement_json).collect::<Vec<_>>(),
            }),
        );
    }
    let mut bfd = Map::new();
    for (name, b) in &cfg.bfd_profiles {
        bfd.insert(
            name.clone(),
            json!({
                "receive_interval": b.receive_interval,
                "transmit_interval": b.transmit_interval,
                "detect_multiplier": b.detect_multiplier,
                "echo_interval": b.echo_interval,
                "echo_mode": b.echo_mode,
                "passive_mode": b.passive_mode,
                "minimum_ttl": b.minimum_ttl,
            }),
        );
    }
    json!({ "peers": peers, "pools": pools, "bfd_profiles": bfd })
}

fn peer_json(p: &Peer) -> Value {
    json!({
        "my_asn": p.my_asn.get(),
        "peer_asn": p.peer_asn.get(),
        "peer_address": ip_string(p.addr),
        "peer_port": p.port,
        "hold_time_s": p.hold_time.as_secs(),
        "keepalive_time_s": seconds(p.keepalive_time_ns),
        "router_id": p.router_id.map(ip_string),
        "source_address": p.src_addr.map(ip_string),
        "password": p.password,
        "bfd_profile": p.bfd_profile,
        "ebgp_multihop": p.ebgp_multihop,
        "node_selectors": p.node_selectors.iter().map(ToString::to_string).collect::<Vec<_>>(),
    })
}

fn advertisement_json(a: &BgpAdvertisement) -> Value {
    json!({
        "aggregation_length": a.aggregation_length,
        "aggregation_length_v6": a.aggregation_length_v6,
        "localpref": a.localpref,
        "communities": a.communities.iter().map(ToString::to_string).collect::<Vec<_>>(),
    })
}

/// Whole seconds as an integer, fractions (the unrounded hold/3 default) as a float.
fn seconds(ns: i64) -> Value {
    if ns % 1_000_000_000 == 0 {
        json!(ns / 1_000_000_000)
    } else {
        json!(ns as f64 / 1e9)
    }
}
