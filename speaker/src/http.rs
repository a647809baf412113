//! The speaker's metrics port (host network, `METALLB_HOST`:`--port`).
//!
//! `GET /status` explains every decision of this speaker (see [`crate::status`]). It answers
//! JSON unless the query says `format=text` (`/status?format=text`, aligned tables for a
//! terminal); the `Accept` header is ignored, so `curl` and a browser get the same document.

use axum::Router;
use axum::http::Uri;
use axum::http::header::CONTENT_TYPE;
use axum::routing::get;
use kube_shell::metrics::Exposition;

use crate::status::{Board, Format};

/// `/metrics` in Prometheus text format (also the liveness/readiness probe target) and
/// `/status`.
pub fn router(metrics: Exposition, board: Board) -> Router {
    Router::new()
        .route(
            "/metrics",
            get(move || {
                let text = metrics.render();
                async move { ([(CONTENT_TYPE, "text/plain; version=0.0.4")], text) }
            }),
        )
        .route(
            "/status",
            get(move |uri: Uri| {
                let format = status_format(uri.query());
                let board = board.clone();
                async move {
                    // A few milliseconds of CPU for thousands of services: off the runtime's
                    // two workers, so the speaker loop never waits behind a request.
                    let body = tokio::task::spawn_blocking(move || board.render(format))
                        .await
                        .unwrap_or_default();
                    let content_type = match format {
                        Format::Json => "application/json",
                        Format::Text => "text/plain; charset=utf-8",
                    };
                    ([(CONTENT_TYPE, content_type)], body)
                }
            }),
        )
}

/// `format=text` anywhere in the query selects text; everything else is JSON.
fn status_format(query: Option<&str>) -> Format {
    let text = query
        .unwrap_or_default()
        .split('&')
        .any(|kv| kv == "format=text");
    if text { Format::Text } else { Format::Json }
}

pub async fn serve(
    listener: tokio::net::TcpListener,
    metrics: Exposition,
    board: Board,
) -> std::io::Result<()> {
    axum::serve(listener, router(metrics, board)).await
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::http::Request;
    use common::speaker::status::{Decision, ServiceRow};
    use tower::ServiceExt as _;

    use super::*;

    async fn get(router: Router, uri: &str) -> (String, String) {
        let response = router
            .oneshot(Request::get(uri).body(Body::empty()).expect("request"))
            .await
            .expect("response");
        assert_eq!(response.status(), 200);
        let ct = response
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 24)
            .await
            .expect("body");
        (ct, String::from_utf8(bytes.to_vec()).expect("utf-8"))
    }

    #[tokio::test]
    async fn status_is_json_by_default_and_text_on_request() {
        let board = Board::new("node1");
        board.record(
            "ns/web",
            Some(ServiceRow {
                service: "ns/web".into(),
                ips: vec!["10.0.0.5".into()],
                protocol: Some("layer2"),
                pool: Some("a".into()),
                decision: Decision::NotAnnouncing,
                reason: Some("notOwner"),
                message: r#"not the owner: the owner is node "node2""#.into(),
                owner: Some("node2".into()),
            }),
        );
        let router = router(Exposition::default(), board);
        for uri in ["/status", "/status?format=json"] {
            let (ct, body) = get(router.clone(), uri).await;
            assert_eq!(ct, "application/json");
            let doc: serde_json::Value = serde_json::from_str(&body).expect("json");
            assert_eq!(doc["node"], "node1");
            assert_eq!(doc["services"][0]["owner"], "node2");
            assert_eq!(doc["services"][0]["reason"], "notOwner");
        }
        let (ct, body) = get(router.clone(), "/status?x=1&format=text").await;
        assert!(ct.starts_with("text/plain"));
        let line = body
            .lines()
            .find(|l| l.starts_with("ns/web"))
            .expect("service line");
        assert!(line.contains("10.0.0.5") && line.contains("node2") && line.contains("notOwner"));
        let (_, metrics) = get(router, "/metrics").await;
        assert!(!metrics.contains("ns/web"), "metrics unchanged by /status");
    }
}
