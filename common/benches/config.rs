//! Parse + validate a large legacy config: 1 000 pools × 10 ranges and 500 peers (issue
//! figure: median under 50 ms), plainly as stated and with realistic extras (node-selectors
//! on every peer, two advertisements with communities on every pool).

use std::fmt::Write as _;

use common::config::{Mode, parse};
use criterion::{Criterion, criterion_group, criterion_main};

fn big_config() -> String {
    let mut s = String::from("bgp-communities:\n  no-advertise: 65535:65282\npeers:\n");
    for i in 0..500u32 {
        let _ = write!(
            s,
            "- my-asn: 64500\n  peer-asn: {}\n  peer-address: 172.16.{}.{}\n  hold-time: 1m30s\n  node-selectors:\n  - match-labels:\n      rack: r{}\n    match-expressions:\n    - {{key: network-speed, operator: NotIn, values: [slow]}}\n",
            64501 + i,
            i >> 8,
            i & 255,
            i % 16
        );
    }
    s.push_str("address-pools:\n");
    for p in 0..1000u32 {
        let _ = write!(s, "- name: pool-{p}\n  protocol: bgp\n  addresses:\n");
        for r in 0..10u32 {
            let _ = writeln!(
                s,
                "  - 10.{}.{}.{}-10.{}.{}.{}",
                p >> 8,
                p & 255,
                r * 25 + 1,
                p >> 8,
                p & 255,
                r * 25 + 20
            );
        }
        s.push_str("  bgp-advertisements:\n  - localpref: 100\n    communities: [no-advertise]\n  - aggregation-length: 32\n");
    }
    s
}

/// The workload as stated: pools with ten ranges each and plain peers.
fn plain_config() -> String {
    let mut s = String::from("peers:\n");
    for i in 0..500u32 {
        let _ = write!(
            s,
            "- my-asn: 64500\n  peer-asn: {}\n  peer-address: 172.16.{}.{}\n",
            64501 + i,
            i >> 8,
            i & 255
        );
    }
    s.push_str("address-pools:\n");
    for p in 0..1000u32 {
        let _ = write!(s, "- name: pool-{p}\n  protocol: layer2\n  addresses:\n");
        for r in 0..10u32 {
            let _ = writeln!(
                s,
                "  - 10.{}.{}.{}-10.{}.{}.{}",
                p >> 8,
                p & 255,
                r * 25 + 1,
                p >> 8,
                p & 255,
                r * 25 + 20
            );
        }
    }
    s
}

fn bench(c: &mut Criterion) {
    let plain = plain_config();
    let cfg = parse(&plain, Mode::Controller).expect("plain benchmark config is valid");
    assert_eq!((cfg.pools.len(), cfg.peers.len()), (1000, 500));
    c.bench_function("config/plain_1000_pools_x10_ranges_500_peers", |b| {
        b.iter(|| parse(std::hint::black_box(&plain), Mode::Controller))
    });
    let text = big_config();
    let cfg = parse(&text, Mode::Controller).expect("benchmark config is valid");
    assert_eq!((cfg.pools.len(), cfg.peers.len()), (1000, 500));
    c.bench_function("config/typed_decode_only", |b| {
        b.iter(|| common::config::decode_only(std::hint::black_box(&text)))
    });
    c.bench_function("config/parse_1000_pools_x10_ranges_500_peers", |b| {
        b.iter(|| parse(std::hint::black_box(&text), Mode::Controller))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
