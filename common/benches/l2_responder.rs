//! Cost of the pure Layer 2 responder decisions, per received request, with 1 000 owned IPs.

use std::collections::HashSet;
use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use common::l2::ndp::{NdpMessage, NeighborSolicitation};
use common::l2::{MacAddr, arp, election, ndp};
use criterion::{Criterion, criterion_group, criterion_main};

const NODE: MacAddr = MacAddr([0x02, 0, 0, 0, 0, 0x01]);
const CLIENT: MacAddr = MacAddr([0x02, 0, 0, 0, 0, 0x0c]);

fn owned_set() -> HashSet<IpAddr> {
    (0..1000u32)
        .flat_map(|i| {
            let v4 = IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + i));
            let v6 = IpAddr::V6(Ipv6Addr::from(
                0xfd00_0000_0000_0000_0000_0000_0000_0000u128 + u128::from(i),
            ));
            [v4, v6]
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let owned = owned_set();
    let request = |target: Ipv4Addr| {
        arp::ArpFrame {
            eth_dst: MacAddr::BROADCAST,
            eth_src: CLIENT,
            op: arp::Operation::Request,
            sender_mac: CLIENT,
            sender_ip: Ipv4Addr::new(10, 255, 0, 2),
            target_mac: MacAddr::default(),
            target_ip: target,
        }
        .to_bytes()
    };
    let hit = request(Ipv4Addr::new(10, 0, 1, 244));
    let miss = request(Ipv4Addr::new(10, 9, 9, 9));
    c.bench_function("arp_respond_owned", |b| {
        b.iter(|| arp::respond(black_box(&hit), NODE, |ip| owned.contains(&IpAddr::V4(ip))))
    });
    c.bench_function("arp_respond_not_owned", |b| {
        b.iter(|| arp::respond(black_box(&miss), NODE, |ip| owned.contains(&IpAddr::V4(ip))))
    });

    let target = Ipv6Addr::from(0xfd00_0000_0000_0000_0000_0000_0000_0100u128);
    let ns = NdpMessage::Solicitation(NeighborSolicitation {
        target,
        source_lla: Some(CLIENT),
    })
    .to_bytes();
    let src: Ipv6Addr = "fd00:ff::2".parse().unwrap_or(Ipv6Addr::LOCALHOST);
    c.bench_function("ndp_respond_owned", |b| {
        b.iter(|| {
            ndp::respond(src, black_box(&ns), NODE, |ip| {
                owned.contains(&IpAddr::V6(ip))
            })
            .map(|r| NdpMessage::Advertisement(r.advert).to_bytes())
        })
    });

    let members: Vec<String> = (0..1000).map(|i| format!("node-{i:04}")).collect();
    c.bench_function("election_owner_1000_nodes", |b| {
        b.iter(|| election::owner(members.iter().map(String::as_str), black_box("10.0.1.244")))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
