//! Where the speaker's inputs come from: the configuration (the ConfigMap, or in CRD mode the
//! `metallb.io` objects: `Source`), and the endpoints.
//!
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

/// Where the configuration comes from (docs/crd.md#crd-mode): the ConfigMap alone, or the
/// `metallb.io` objects (with the ConfigMap watched beside them, to refuse a leftover one).
pub(super) struct Source {
    crd: Option<common::crd::CrdSource>,
    healths: kube_shell::crd::Healths,
}

impl Source {
    pub(super) fn configmap(forbidden: &kube_shell::Forbidden) -> Self {
        Self {
            crd: None,
            healths: kube_shell::crd::Healths::new(forbidden),
        }
    }

    pub(super) fn is_crd(&self) -> bool {
        self.crd.is_some()
    }

    /// The `metallb.io` watches in CRD mode; a stream that never yields otherwise.
    pub(super) fn watch(
        &self,
        client: &kube::Client,
        namespace: &str,
    ) -> futures::stream::BoxStream<'static, kube_shell::crd::ObjectEvent> {
        use futures::StreamExt as _;
        match self.crd {
            Some(_) => kube_shell::crd::watch_objects(client, namespace),
            None => futures::stream::pending().boxed(),
        }
    }

    /// Whether the configuration's initial lists are complete, given that the ConfigMap's
    /// is (`configmap_listed`): in CRD mode, the objects' too.
    pub(super) fn listed(&self, configmap_listed: bool) -> bool {
        match &self.crd {
            None => configmap_listed,
            Some(crd) => crd.all_listed(),
        }
    }
}

impl super::Speaker {
    /// Reads the configuration from `source` (`--config-source`).
    pub fn with_config_source(mut self, source: kube_shell::crd::ConfigSource) -> Self {
        if source == kube_shell::crd::ConfigSource::Crd {
            self.source.crd = Some(common::crd::CrdSource::new(
                common::config::Mode::NativeSpeaker,
                self.settings.config_name.clone(),
            ));
        }
        self
    }

    /// CRD mode: one event of a `metallb.io` watch.
    pub(super) fn on_objects(
        &mut self,
        ev: kube_shell::crd::ObjectEvent,
    ) -> common::speaker::Changed {
        let Some(crd) = &mut self.source.crd else {
            return common::speaker::Changed::default();
        };
        let (kind, done) = (ev.kind, ev.init_done());
        kube_shell::crd::feed(&mut crd.objects, ev, &mut self.source.healths);
        if done {
            crd.mark_listed(kind);
        }
        self.reload_from_objects()
    }

    /// CRD mode: the ConfigMap changed (or completed its list).
    pub(super) fn configmap_beside_objects(&mut self, listed: bool) -> common::speaker::Changed {
        if listed && let Some(crd) = &mut self.source.crd {
            crd.mark_listed("ConfigMap");
        }
        self.reload_from_objects()
    }

    /// Applies the objects' candidate when it is new. A refusal is logged; an Event is
    /// posted on the object only when the refusal is the speaker's own (FRR-only settings
    /// the controller accepts), as the controller posts the others.
    fn reload_from_objects(&mut self) -> common::speaker::Changed {
        use common::config::ReloadOutcome;
        use common::crd::{Reason, SourceError};
        let stale = self.config.is_stale();
        let Some(crd) = &mut self.source.crd else {
            return common::speaker::Changed::default();
        };
        let Some(candidate) = crd.next(self.index.config.text(), stale) else {
            return common::speaker::Changed::default();
        };
        let announced = self.announced_ips();
        let outcome = self
            .config
            .apply_source(candidate, |cfg| super::feed::strands_none(&announced, cfg));
        let changed = match outcome {
            ReloadOutcome::Loaded(_) => self.config_loaded(),
            ReloadOutcome::Invalid(e) => {
                tracing::error!(event = "configStale", error = %e, "config (re)load failed, config marked stale");
                if let SourceError::Invalid(e) = &e
                    && matches!(*e.reason, Reason::NativeMode(_))
                {
                    let about = kube_shell::k8s_event::Regarding {
                        kind: e.object.kind,
                        namespace: self.settings.namespace.clone(),
                        name: e.object.name.clone(),
                        uid: self
                            .source
                            .crd
                            .as_ref()
                            .and_then(|c| c.objects.uid(&e.object)),
                    };
                    let message = format!(
                        "configuration rejected by the speaker on {}, keeping the previous one: {}",
                        self.settings.node,
                        e.event_message()
                    );
                    self.events.post(
                        about,
                        kube_shell::k8s_event::EventType::Warning,
                        "InvalidConfig",
                        &message,
                    );
                }
                common::speaker::Changed::default()
            }
            ReloadOutcome::Rejected(e) => {
                tracing::error!(event = "configStale", error = %e, "new configuration rejected");
                common::speaker::Changed::default()
            }
            ReloadOutcome::Missing => super::feed::config_missing(),
        };
        self.config_metrics();
        changed
    }
}

#[cfg(test)]
#[path = "crd_tests.rs"]
mod crd_tests;
