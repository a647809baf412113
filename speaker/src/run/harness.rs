//! What the loop tests share: a speaker whose API server is mocked (tower-test) and whose
//! Layer 2 dataplane is inert, and `/status` read through the real router.

use std::collections::BTreeSet;

use http::{Method, Request, Response};
use kube::client::Body;
use serde_json::Value;
use tower::ServiceExt as _;
use tower_test::mock;

use super::{Metrics, Settings, Speaker};
use crate::l2::{Layer2, Observed};
use crate::status::Board;

/// The live speakers of every test speaker.
pub(super) const NODES: [&str; 3] = ["node1", "node2", "node3"];

/// `GET /status` through the real router.
pub(super) async fn status(board: &Board) -> Value {
    let response = crate::http::router(kube_shell::metrics::Exposition::default(), board.clone())
        .oneshot(
            Request::get("/status")
                .body(axum::body::Body::empty())
                .expect("request"),
        )
        .await
        .expect("response");
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .expect("body");
    serde_json::from_slice(&bytes).expect("JSON")
}

/// The requests the mocked API server received: method, URI and JSON body.
pub(super) type Requests = tokio::sync::mpsc::UnboundedReceiver<(Method, String, Value)>;

/// A speaker for `node` whose API server answers every request with 201 and the request
/// body; each request is reported on the returned channel. [`NODES`] are the live speakers.
pub(super) fn speaker(node: &str) -> (Speaker, Board, Requests) {
    let (s, board, requests, _) = observed_speaker(node);
    (s, board, requests)
}

/// [`speaker`], with a record of what it tells the Layer 2 dataplane.
pub(super) fn observed_speaker(node: &str) -> (Speaker, Board, Requests, Observed) {
    let (service, mut handle) = mock::pair::<Request<kube::client::Body>, Response<Body>>();
    let client = kube::Client::new(service, "default");
    let (seen, events) = tokio::sync::mpsc::unbounded_channel::<(Method, String, Value)>();
    tokio::spawn(async move {
        while let Some((req, send)) = handle.next_request().await {
            let (method, uri) = (req.method().clone(), req.uri().to_string());
            let bytes = req.into_body().collect_bytes().await.expect("body");
            send.send_response(
                Response::builder()
                    .status(201)
                    .body(Body::from(bytes.to_vec()))
                    .expect("response"),
            );
            let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
            let _ = seen.send((method, uri, body));
        }
    });
    let registry = prometheus::Registry::new();
    let metrics = Metrics {
        k8s: kube_shell::metrics::K8sClient::new(&registry).expect("register"),
        announced: kube_shell::metrics::Announced::new(
            &kube_shell::metrics::Exposition::default(),
            node,
        ),
        forbidden: kube_shell::Forbidden::new(&registry).expect("register"),
    };
    let bgp = crate::bgp::BgpSpeaker::new(
        node,
        kube_shell::metrics::Bgp::new(&registry).expect("register"),
    );
    let settings = Settings {
        node: node.into(),
        namespace: "metallb-system".into(),
        config_name: "config".into(),
        disable_epslices: false,
        speaker_labels: "app=metallb,component=speaker".into(),
        memberlist_port: 7946,
        // The rule the v0.12 manifests select (they pass --log-level).
        election: common::l2::election_key::KeyChoice::choose(None, true),
    };
    let board = Board::new(node);
    let (layer2, observed) = Layer2::observed();
    let mut s =
        Speaker::new(settings, client, metrics, layer2, None, bgp).with_status(board.clone());
    s.live = NODES
        .iter()
        .map(|n| (*n).to_owned())
        .collect::<BTreeSet<_>>();
    (s, board, events, observed)
}
