//! Allocator scale (issue "Controller: exact IP allocation"):
//! * 100 000 sequential allocations in a /8 (goal: median < 200 ms in total);
//! * one allocation in an IPv6 /64 with 100 000 addresses in use (goal < 10 µs), also for a
//!   sharing service whose group's 100 000 addresses all have its port taken;
//! * a failing allocation in an exhausted pool (goal < 10 µs);
//! * a controller restart rebuilding from 50 000 statuses (goal < 100 ms).

use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr};

use common::allocator::{Allocator, Convergence, Family, Port, ServiceSpec, Usage, converge};
use common::config::{Pool, Protocol};
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};

fn pool(name: &str, cidr: &str, avoid_buggy: bool) -> Pool {
    Pool {
        name: name.to_owned(),
        protocol: Protocol::Layer2,
        cidrs: vec![cidr.parse().expect("bench CIDR")],
        avoid_buggy_ips: avoid_buggy,
        auto_assign: true,
        bgp_advertisements: Vec::new(),
    }
}

fn usage(key: &str) -> Usage {
    Usage {
        ports: vec![Port::new("TCP", 443)],
        sharing_key: key.to_owned(),
        backend_key: String::new(),
    }
}

fn keys(n: usize, prefix: &str) -> Vec<String> {
    (0..n).map(|i| format!("{prefix}/svc-{i}")).collect()
}

/// An allocator over `cidr` with `n` services allocated in sequence.
fn filled(cidr: &str, family: Family, n: usize, u: &Usage, avoid_buggy: bool) -> Allocator {
    let mut a = Allocator::with_pools(&[pool("p", cidr, avoid_buggy)]);
    for key in keys(n, "fill") {
        a.allocate(&key, family, u).expect("pool large enough");
    }
    a
}

fn sequential_slash8(c: &mut Criterion) {
    let mut g = c.benchmark_group("allocator");
    g.sample_size(20);
    let names = keys(100_000, "ns");
    let u = usage("");
    g.bench_function("allocate_100k_sequential_in_slash8", |b| {
        b.iter_batched(
            || Allocator::with_pools(&[pool("p", "10.0.0.0/8", false)]),
            |mut a| {
                for key in &names {
                    black_box(a.allocate(key, Family::V4, &u).expect("room"));
                }
                a
            },
            BatchSize::PerIteration,
        )
    });
    g.finish();
}

fn one_in_big_pool(c: &mut Criterion) {
    let mut g = c.benchmark_group("allocator");
    for (name, key) in [("plain", ""), ("shared_same_port", "k")] {
        let u = usage(key);
        let mut a = filled("fd00::/64", Family::V6, 100_000, &u, false);
        g.bench_function(
            format!("allocate_release_one_in_v6_slash64_100k_used/{name}"),
            |b| {
                b.iter(|| {
                    let got = a.allocate("ns/new", Family::V6, &u).expect("room");
                    black_box(got);
                    a.unassign("ns/new")
                })
            },
        );
    }
    g.finish();
}

fn exhausted(c: &mut Criterion) {
    let mut g = c.benchmark_group("allocator");
    let cases = [
        (
            "v6_slash112_plain",
            "fd00::/112",
            Family::V6,
            "",
            false,
            65_536,
        ),
        (
            "v6_slash112_shared_same_port",
            "fd00::/112",
            Family::V6,
            "k",
            false,
            65_536,
        ),
        (
            "v4_slash16_avoid_buggy",
            "10.1.0.0/16",
            Family::V4,
            "",
            true,
            65_536 - 512,
        ),
    ];
    for (name, cidr, family, key, avoid, n) in cases {
        let u = usage(key);
        let mut a = filled(cidr, family, n, &u, avoid);
        assert!(
            a.allocate("ns/new", family, &u).is_err(),
            "{name} must be exhausted"
        );
        g.bench_function(format!("fail_in_exhausted_pool/{name}"), |b| {
            b.iter(|| black_box(a.allocate_from_pool("ns/new", family, "p", &u).is_err()))
        });
    }
    g.finish();
}

/// A service whose status holds an address, as the controller lists it at a restart.
struct Held {
    key: String,
    spec: ServiceSpec,
    status_ips: Vec<String>,
}

/// The allocator work of a restart where every service holds an address: each one
/// re-assigns its status before the initial sync (the controller's first pass).
fn rebuild_from(pools: &[Pool], services: &[Held]) -> (Allocator, Vec<Convergence>) {
    let mut alloc = Allocator::with_pools(pools);
    alloc.reserve(services.len());
    let decided = services
        .iter()
        .map(|s| converge(&mut alloc, &s.key, &s.spec, &s.status_ips, false))
        .collect();
    (alloc, decided)
}

fn rebuild(c: &mut Criterion) {
    let mut g = c.benchmark_group("allocator");
    g.sample_size(20);
    let pools = [pool("p", "10.0.0.0/16", false)];
    let services: Vec<Held> = keys(50_000, "ns")
        .into_iter()
        .zip(0u32..)
        .map(|(key, i)| Held {
            key,
            spec: ServiceSpec {
                is_load_balancer: true,
                cluster_ips: vec!["10.96.0.1".to_owned()],
                usage: usage(""),
                ..ServiceSpec::default()
            },
            status_ips: vec![IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + i)).to_string()],
        })
        .collect();
    let (a, decided) = rebuild_from(&pools, &services);
    assert_eq!(a.service_count(), 50_000);
    assert!(
        decided
            .iter()
            .all(|c| c.action == common::allocator::Action::Kept)
    );
    // The allocator is kept after a restart: time the rebuild, not its teardown.
    g.bench_function("rebuild_from_50k_statuses", |b| {
        b.iter_with_large_drop(|| rebuild_from(&pools, &services))
    });
    g.finish();
}

criterion_group!(
    benches,
    sequential_slash8,
    one_in_big_pool,
    exhausted,
    rebuild
);
criterion_main!(benches);
