//! Parse + validate a large legacy config: 1 000 pools × 10 ranges and 500 peers (issue
//! figure: median under 50 ms), plainly as stated and with realistic extras (node-selectors
//! on every peer, two advertisements with communities on every pool).

use std::fmt::Write as _;

use common::config::{Mode, parse};
use criterion::{Criterion, criterion_group, criterion_main};

/// 500 peers and 1 000 pools of ten ranges each. `realistic` adds what production configs
/// carry: node-selectors on every peer, two advertisements with communities on every pool.
fn config(realistic: bool) -> String {
    let mut s = String::new();
    if realistic {
        s.push_str("bgp-communities:\n  no-advertise: 65535:65282\n");
    }
    s.push_str("peers:\n");
    for i in 0..500u32 {
        let _ = write!(
            s,
            "- my-asn: 64500\n  peer-asn: {}\n  peer-address: 172.16.{}.{}\n",
            64501 + i,
            i >> 8,
            i & 255
        );
        if realistic {
            let _ = write!(
                s,
                "  hold-time: 1m30s\n  node-selectors:\n  - match-labels:\n      rack: r{}\n    match-expressions:\n    - {{key: network-speed, operator: NotIn, values: [slow]}}\n",
                i % 16
            );
        }
    }
    s.push_str("address-pools:\n");
    let protocol = if realistic { "bgp" } else { "layer2" };
    for p in 0..1000u32 {
        let _ = write!(
            s,
            "- name: pool-{p}\n  protocol: {protocol}\n  addresses:\n"
        );
        for r in 0..10u32 {
            let (hi, lo) = (p >> 8, p & 255);
            let _ = writeln!(
                s,
                "  - 10.{hi}.{lo}.{}-10.{hi}.{lo}.{}",
                r * 25 + 1,
                r * 25 + 20
            );
        }
        if realistic {
            s.push_str("  bgp-advertisements:\n  - localpref: 100\n    communities: [no-advertise]\n  - aggregation-length: 32\n");
        }
    }
    s
}

fn bench(c: &mut Criterion) {
    let plain = config(false);
    let cfg = parse(&plain, Mode::Controller).expect("plain benchmark config is valid");
    assert_eq!((cfg.pools.len(), cfg.peers.len()), (1000, 500));
    c.bench_function("config/plain_1000_pools_x10_ranges_500_peers", |b| {
        b.iter(|| parse(std::hint::black_box(&plain), Mode::Controller))
    });
    let text = config(true);
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
