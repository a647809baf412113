//! memberlist codec cost for a 1000-member push/pull (a full state exchange, sent on join and
//! every 30 s), in each wire form: plain, LZW-compressed (memberlist's default), and
//! compressed + AES-GCM.

use common::memberlist::crypto::{EncryptionVersion, Keyring, SecretKey};
use common::memberlist::packet::Encrypt;
use common::memberlist::stream::{StreamMessage, decode_stream, seal_stream};
use common::memberlist::wire::{MemberState, PushNodeState, PushPull, Versions};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;

fn state(members: usize) -> StreamMessage {
    let nodes = (0..members)
        .map(|i| PushNodeState {
            name: format!("worker-{i:04}.k8s.example.internal"),
            addr: [10, 20, (i / 250) as u8, (i % 250) as u8].into(),
            port: 7946,
            meta: Vec::new(),
            incarnation: (i % 7) as u32 + 1,
            state: if i % 50 == 0 {
                MemberState::Suspect
            } else {
                MemberState::Alive
            },
            vsn: Some(Versions::METALLB),
        })
        .collect();
    StreamMessage::PushPull(PushPull {
        join: false,
        nodes,
        user_state: Vec::new(),
    })
}

fn bench(c: &mut Criterion) {
    let msg = state(1000);
    let plain = msg.encode();
    let key = SecretKey::from_metallb_secret("bench-secret").expect("non-empty");
    let ring = Keyring::new(key.clone());
    let enc = Encrypt {
        key: &key,
        version: EncryptionVersion::V1,
        nonce: [7; 12],
    };
    let compressed = seal_stream(&plain, true, None).expect("seal");
    let sealed = seal_stream(&plain, true, Some(enc)).expect("seal");
    eprintln!(
        "push/pull of 1000 members: {} bytes plain, {} compressed, {} compressed+encrypted",
        plain.len(),
        compressed.len(),
        sealed.len()
    );

    let mut g = c.benchmark_group("memberlist push-pull 1000 members");
    g.throughput(Throughput::Elements(1000));
    g.bench_function("encode plain", |b| b.iter(|| black_box(&msg).encode()));
    g.bench_function("decode plain", |b| {
        b.iter(|| decode_stream(black_box(&plain), None, true))
    });
    g.bench_function("encode+compress", |b| {
        b.iter(|| seal_stream(&black_box(&msg).encode(), true, None))
    });
    g.bench_function("decompress+decode", |b| {
        b.iter(|| decode_stream(black_box(&compressed), None, true))
    });
    g.bench_function("encode+compress+encrypt", |b| {
        b.iter(|| seal_stream(&black_box(&msg).encode(), true, Some(enc)))
    });
    g.bench_function("decrypt+decompress+decode", |b| {
        b.iter(|| decode_stream(black_box(&sealed), Some(&ring), true))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
