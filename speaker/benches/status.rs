//! `GET /status` answered over loopback TCP by the speaker's real router (axum), with 5 000
//! LoadBalancer services on the board: what an operator's `curl` waits for, minus the
//! network. Goal (issue #8): < 10 ms.

use std::collections::BTreeSet;
use std::hint::black_box;

use common::config::{Mode, parse};
use common::speaker::status::service_row;
use common::speaker::{Cluster, Endpoint, SpeakerService, decide};
use criterion::{Criterion, criterion_group, criterion_main};
use speaker::status::Board;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

const SERVICES: usize = 5_000;

fn board() -> Board {
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
    let board = Board::new("node1");
    board.set_cluster(Some(&cfg), &live);
    for i in 0..SERVICES {
        let key = format!("ns-{}/svc-{i}", i % 50);
        let ip = if i % 2 == 0 {
            format!("10.{}.{}.{}", 20 + i / 65_536, (i / 256) % 256, i % 256)
        } else {
            format!("192.0.{}.{}", (i / 256) % 256, i % 256)
        };
        let ingress = vec![Some(ip)];
        let endpoints = vec![Endpoint {
            addr: format!("10.244.{}.{}", (i / 256) % 256, i % 256),
            node: Some(format!("node{}", i % 3 + 1)),
            ready: i % 7 != 0,
        }];
        let svc = SpeakerService {
            key: &key,
            is_load_balancer: true,
            ingress: &ingress,
            local: false,
            endpoints: Some(&endpoints),
            shared_with: &[],
        };
        let verdict = decide(&svc, &cluster);
        board.record(&key, service_row(&svc, &cluster, &verdict, 2));
    }
    board
}

/// One HTTP/1.1 GET with `Connection: close`; returns the response size.
async fn get(addr: std::net::SocketAddr, path: &str) -> usize {
    let mut s = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let req = format!("GET {path} HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n");
    s.write_all(req.as_bytes()).await.expect("write");
    let mut buf = Vec::with_capacity(2 << 20);
    s.read_to_end(&mut buf).await.expect("read");
    assert!(buf.starts_with(b"HTTP/1.1 200"), "status line");
    buf.len()
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let board = board();
    let addr = rt.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let app = speaker::http::router(kube_shell::metrics::Exposition::default(), board);
        tokio::spawn(async move { axum::serve(listener, app).await });
        addr
    });
    let mut g = c.benchmark_group("status_http_5000_services");
    g.bench_function("json", |b| {
        b.iter(|| black_box(rt.block_on(get(addr, "/status"))))
    });
    g.bench_function("text", |b| {
        b.iter(|| black_box(rt.block_on(get(addr, "/status?format=text"))))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
