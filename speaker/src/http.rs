//! The speaker's metrics port (host network, `METALLB_HOST`:`--port`).

use std::net::SocketAddr;

use axum::Router;
use axum::http::header::CONTENT_TYPE;
use axum::routing::get;
use prometheus::Registry;

/// `/metrics` in Prometheus text format; also the liveness/readiness probe target.
pub fn router(registry: Registry) -> Router {
    Router::new().route(
        "/metrics",
        get(move || {
            let text = common::metrics::render(&registry);
            async move { ([(CONTENT_TYPE, "text/plain; version=0.0.4")], text) }
        }),
    )
}

pub async fn serve(addr: SocketAddr, registry: Registry) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    axum::serve(listener, router(registry)).await
}
