//! Which endpoints API the speaker reads: v1 EndpointSlices where the API server serves them
//! and this ServiceAccount may read them, else v1 Endpoints.
//!
//! The speaker roles of the v0.8 and v0.9 manifests grant `endpoints`, not `endpointslices`,
//! and API servers before 1.21 do not serve `discovery.k8s.io/v1`. A watch on a forbidden or
//! missing resource only retries forever, so the choice is made once, from the answer to one
//! list, before any watch starts; `--disable-epslices` skips the question. Exactly one of the
//! two APIs is ever watched.

use std::time::Duration;

use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::Api;
use kube::api::ListParams;

/// The endpoints API in use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndpointsApi {
    Slices,
    Endpoints,
}

/// Asks the API server (with back-off while it does not answer) which API to read.
pub async fn choose(
    client: &kube::Client,
    disable_epslices: bool,
    forbidden: &kube_shell::Forbidden,
) -> EndpointsApi {
    if disable_epslices {
        return EndpointsApi::Endpoints;
    }
    let api: Api<EndpointSlice> = Api::all(client.clone());
    let mut delay = Duration::from_secs(1);
    let mut logged = false;
    loop {
        match api.list_metadata(&ListParams::default().limit(1)).await {
            Ok(_) => return EndpointsApi::Slices,
            Err(e) => {
                if let Some(denied) =
                    kube_shell::Denied::of(&e, "list", "endpointslices.discovery.k8s.io")
                {
                    forbidden.report(&denied, "reading v1 Endpoints instead");
                    return EndpointsApi::Endpoints;
                }
                if matches!(&e, kube::Error::Api(s) if s.code == 404) {
                    tracing::warn!(
                        op = "endpointsSource",
                        "the API server does not serve discovery.k8s.io/v1 EndpointSlices: reading v1 Endpoints"
                    );
                    return EndpointsApi::Endpoints;
                }
                if !logged {
                    tracing::warn!(op = "endpointsSource", error = %e, "cannot ask the API server for EndpointSlices yet, retrying with back-off");
                    logged = true;
                }
            }
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_secs(30));
    }
}
