//! The metrics port: `/metrics` in Prometheus text format (also upstream's liveness and
//! readiness probe target).

use std::net::SocketAddr;

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
                    common::metrics::render(&registry),
                )
                    .into_response()
            }
        }),
    )
}

/// Serves the router on `addr` until the process exits.
pub async fn serve(addr: SocketAddr, registry: Registry) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    axum::serve(listener, router(registry)).await
}
