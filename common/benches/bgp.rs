//! BGP codec throughput: 10 000 /32 service routes packed into UPDATEs and decoded back,
//! against upstream's one-UPDATE-per-prefix encoding.

use std::hint::black_box;
use std::net::Ipv4Addr;

use common::bgp::{
    AsSegment, AsWidth, Asn, Message, Origin, PathAttribute, Prefix, RouteAttrs, SegmentKind,
    Update, UpdateContext, decode, pack_announcements,
};
use criterion::{Criterion, criterion_group, criterion_main};

const ROUTES: u32 = 10_000;

fn context() -> UpdateContext {
    UpdateContext {
        local_asn: Asn(64500),
        ibgp: false,
        as_width: AsWidth::Four,
        next_hop_v4: Some(Ipv4Addr::new(10, 0, 0, 2)),
        next_hop_v6: None,
    }
}

fn prefixes() -> Vec<Prefix> {
    (0..ROUTES)
        .map(|i| Prefix::host(Ipv4Addr::from(0x0a01_0000 + i).into()))
        .collect()
}

fn encode_packed(ctx: &UpdateContext, routes: &[(Prefix, &RouteAttrs)]) -> (usize, Vec<u8>) {
    let updates = pack_announcements(ctx, routes.iter().copied());
    let mut wire = Vec::new();
    for u in &updates {
        Message::Update(u.clone())
            .encode_into(ctx.as_width, &mut wire)
            .expect("packed UPDATEs fit");
    }
    (updates.len(), wire)
}

/// Upstream's shape: one UPDATE per prefix, same attributes.
fn encode_one_per_prefix(prefixes: &[Prefix]) -> (usize, Vec<u8>) {
    let mut wire = Vec::new();
    for p in prefixes {
        let ipnet::IpNet::V4(net) = p.net() else {
            continue;
        };
        let update = Update {
            withdrawn: vec![],
            attributes: vec![
                PathAttribute::Origin(Origin::Incomplete),
                PathAttribute::AsPath(vec![AsSegment {
                    kind: SegmentKind::Sequence,
                    asns: vec![Asn(64500)],
                }]),
                PathAttribute::NextHop(Ipv4Addr::new(10, 0, 0, 2)),
            ],
            nlri: vec![net],
        };
        Message::Update(update)
            .encode_into(AsWidth::Four, &mut wire)
            .expect("fits");
    }
    (prefixes.len(), wire)
}

fn decode_all(mut wire: &[u8]) -> usize {
    let mut prefixes = 0;
    while let Ok(Some((message, n))) = decode(wire, AsWidth::Four) {
        if let Message::Update(u) = message {
            prefixes += u.nlri.len();
        }
        wire = &wire[n..];
    }
    prefixes
}

fn bench(c: &mut Criterion) {
    let ctx = context();
    let attrs = RouteAttrs::default();
    let prefixes = prefixes();
    let routes: Vec<(Prefix, &RouteAttrs)> = prefixes.iter().map(|p| (*p, &attrs)).collect();

    let (packed_count, packed) = encode_packed(&ctx, &routes);
    let (single_count, single) = encode_one_per_prefix(&prefixes);
    assert_eq!(decode_all(&packed), prefixes.len());
    assert_eq!(decode_all(&single), prefixes.len());
    eprintln!(
        "{ROUTES} /32 routes: packed into {packed_count} UPDATEs ({} bytes); \
         upstream shape {single_count} UPDATEs ({} bytes)",
        packed.len(),
        single.len()
    );

    let mut g = c.benchmark_group("bgp_10k_routes");
    g.bench_function("encode_packed", |b| {
        b.iter(|| encode_packed(black_box(&ctx), black_box(&routes)))
    });
    g.bench_function("encode_one_per_prefix", |b| {
        b.iter(|| encode_one_per_prefix(black_box(&prefixes)))
    });
    g.bench_function("decode_packed", |b| {
        b.iter(|| decode_all(black_box(&packed)))
    });
    g.bench_function("decode_one_per_prefix", |b| {
        b.iter(|| decode_all(black_box(&single)))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
