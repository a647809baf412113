//! `/status` rendering (issue #8 "explain every decision"): 5 000 LoadBalancer services
//! (half Layer 2 with their owners, half BGP), three members, two BGP sessions, the three
//! node checks; rendered as JSON and as the text table. Goal: < 10 ms each.
//!
//! Also measured: building all 5 000 rows (`decide` + `service_row`), the cost of a full
//! re-decision pass on top of the decisions themselves.

use std::collections::BTreeSet;
use std::hint::black_box;

use common::config::{Mode, parse};
use common::speaker::selfcheck::{NodeFacts, self_check};
use common::speaker::status::{BgpSessionRow, MemberRow, Snapshot, StatusView, service_row};
use common::speaker::{Cluster, Endpoint, SpeakerService, decide};
use criterion::{Criterion, criterion_group, criterion_main};

const SERVICES: usize = 5_000;

struct Svc {
    key: String,
    ingress: Vec<Option<String>>,
    endpoints: Vec<Endpoint>,
}

fn services() -> Vec<Svc> {
    (0..SERVICES)
        .map(|i| {
            let ip = if i % 2 == 0 {
                format!("10.{}.{}.{}", 20 + i / 65_536, (i / 256) % 256, i % 256)
            } else {
                format!("192.0.{}.{}", (i / 256) % 256, i % 256)
            };
            Svc {
                key: format!("ns-{}/svc-{i}", i % 50),
                ingress: vec![Some(ip)],
                endpoints: vec![Endpoint {
                    addr: format!("10.244.{}.{}", (i / 256) % 256, i % 256),
                    node: Some(format!("node{}", i % 3 + 1)),
                    ready: i % 7 != 0,
                }],
            }
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let cfg = parse(
        "address-pools:\n- name: l2\n  protocol: layer2\n  addresses: [10.0.0.0/8]\n- name: b\n  protocol: bgp\n  addresses: [192.0.0.0/16]\n",
        Mode::NativeSpeaker,
    )
    .expect("bench config");
    let live: BTreeSet<String> = ["node1", "node2", "node3"].map(String::from).into();
    let excluded = BTreeSet::new();
    let cluster = Cluster {
        node: "node1",
        config: Some(&cfg),
        live: common::speaker::Live::Known(&live),
        excluded: &excluded,
        election: common::l2::election::ElectionKey::FirstIp,
    };
    let svcs = services();
    let build = || {
        let mut snap = Snapshot {
            node: "node1".into(),
            config_loaded: true,
            members: live.iter().cloned().collect(),
            ..Snapshot::default()
        };
        for s in &svcs {
            let view = SpeakerService {
                key: &s.key,
                is_load_balancer: true,
                ingress: &s.ingress,
                local: false,
                endpoints: Some(&s.endpoints),
                shared_with: &[],
            };
            let verdict = decide(&view, &cluster);
            snap.set_row(&s.key, service_row(&view, &cluster, &verdict, 2));
        }
        snap
    };
    let snap = build();
    assert_eq!(snap.services.len(), SERVICES);
    let bgp: Vec<BgpSessionRow> = (1..=2)
        .map(|i| BgpSessionRow {
            peer: format!("192.168.0.{i}:179"),
            my_asn: 64500,
            peer_asn: 64501,
            state: "Established",
            prefixes_sent: SERVICES / 2,
            prefixes_pending: 0,
            last_error: None,
        })
        .collect();
    let checks = self_check(&NodeFacts::default());
    let ml: Vec<MemberRow> = live
        .iter()
        .enumerate()
        .map(|(i, n)| MemberRow {
            name: n.clone(),
            addr: format!("10.0.0.{}:7946", i + 1),
            state: "alive",
        })
        .collect();
    let view = StatusView {
        snapshot: &snap,
        memberlist: Some(&ml),
        bgp: &bgp,
        checks: &checks,
    };
    let mut g = c.benchmark_group("status_5000_services");
    g.bench_function("json", |b| b.iter(|| black_box(view.to_json())));
    g.bench_function("text", |b| b.iter(|| black_box(view.to_text())));
    g.sample_size(20);
    g.bench_function("build_rows", |b| b.iter(|| black_box(build())));
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
