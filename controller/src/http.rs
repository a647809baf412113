//! The metrics port: `/metrics` in Prometheus text format (also upstream's liveness and
//! readiness probe target).

use axum::Router;
use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use axum::routing::get;
use prometheus::Registry;

/// The router, separate from `serve` so tests can call it without a socket.
pub fn router(registry: Registry) -> Router {
    Router::new().route(
        "/metrics",
        get(move || {
            let registry = registry.clone();
            async move {
                (
                    [(CONTENT_TYPE, "text/plain; version=0.0.4")],
                    kube_shell::metrics::render(&registry),
                )
                    .into_response()
            }
        }),
    )
}

/// Serves the router on `listener` until the process exits.
pub async fn serve(listener: tokio::net::TcpListener, registry: Registry) -> std::io::Result<()> {
    axum::serve(listener, router(registry)).await
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::http::Request;
    use tower::ServiceExt as _;

    use super::*;

    #[tokio::test]
    async fn metrics_serves_upstream_names() {
        let registry = Registry::new();
        let k8s = kube_shell::metrics::K8sClient::new(&registry).expect("register");
        let alloc = kube_shell::metrics::Allocator::new(&registry).expect("register");
        k8s.config_loaded_bool.set(1);
        alloc
            .addresses_total
            .with_label_values(&["default"])
            .set(11.0);
        let response = router(registry)
            .oneshot(
                Request::get("/metrics")
                    .body(Body::empty())
                    .expect("request"),
            )
            .await
            .expect("response");
        assert_eq!(response.status(), 200);
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .expect("body");
        let text = String::from_utf8(bytes.to_vec()).expect("utf-8");
        assert!(
            text.contains("metallb_k8s_client_config_loaded_bool 1\n"),
            "{text}"
        );
        assert!(
            text.contains("metallb_allocator_addresses_total{pool=\"default\"} 11\n"),
            "{text}"
        );
    }
}
