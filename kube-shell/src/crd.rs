//! CRD mode's watches (docs/crd.md#crd-mode): the six `metallb.io` kinds of the namespace,
//! merged into one stream, each event fed to its store in `common::crd::source`.
//!
//! The objects are watched as kube's `DynamicObject`s and decoded into common's plain types,
//! so the binaries need no generated client types, and fields outside v0.13's API reach the
//! translation (which reports them) instead of being dropped by a typed decoder.

use common::crd::source::{Named, Objects};
use common::crd::types::{
    BfdProfileSpec, BgpAdvertisementSpec, BgpPeerSpec, CommunitySpec, GROUP, IpAddressPoolSpec,
    Kind, L2AdvertisementSpec, Object,
};
use futures::stream::{BoxStream, StreamExt as _};
use kube::api::{ApiResource, DynamicObject, GroupVersionKind};
use kube::runtime::WatchStreamExt as _;
use kube::runtime::watcher::{self, Event, watcher};
use kube::{Api, Client};
use serde::de::DeserializeOwned;

use crate::{Forbidden, WatchHealth};

/// Where the configuration comes from (`--config-source`, `METALLB_CONFIG_SOURCE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum ConfigSource {
    /// The legacy `config` ConfigMap (MetalLB v0.8–v0.12).
    #[default]
    Configmap,
    /// MetalLB v0.13's `metallb.io` objects.
    Crd,
}

/// One event of one kind's watch.
pub struct ObjectEvent {
    pub kind: &'static str,
    pub event: Result<Event<DynamicObject>, watcher::Error>,
}

impl ObjectEvent {
    /// The watch completed a (re-)list.
    pub fn init_done(&self) -> bool {
        matches!(self.event, Ok(Event::InitDone))
    }
}

fn resource<S: Kind>() -> ApiResource {
    ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk(GROUP, S::VERSION, S::KIND),
        S::PLURAL,
    )
}

fn watch<S: Kind>(client: &Client, namespace: &str) -> BoxStream<'static, ObjectEvent> {
    let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), namespace, &resource::<S>());
    watcher(api, watcher::Config::default())
        .default_backoff()
        .map(|event| ObjectEvent {
            kind: S::KIND,
            event,
        })
        .boxed()
}

/// The six watches of `namespace`, as one stream (each retries with back-off forever).
pub fn watch_objects(client: &Client, namespace: &str) -> BoxStream<'static, ObjectEvent> {
    futures::stream::select_all([
        watch::<IpAddressPoolSpec>(client, namespace),
        watch::<L2AdvertisementSpec>(client, namespace),
        watch::<BgpAdvertisementSpec>(client, namespace),
        watch::<BgpPeerSpec>(client, namespace),
        watch::<CommunitySpec>(client, namespace),
        watch::<BfdProfileSpec>(client, namespace),
    ])
    .boxed()
}

/// Each kind's watch health, for one log line per outage; a 403 is reported as the missing
/// rule (manifests/crd/metallb.yaml grants them).
pub struct Healths([(&'static str, WatchHealth); 6]);

impl Healths {
    pub fn new(forbidden: &Forbidden) -> Self {
        let h = |op: &'static str, resource: &'static str| {
            WatchHealth::new(op).reporting(resource, forbidden.clone())
        };
        Self([
            (
                IpAddressPoolSpec::KIND,
                h("watchIPAddressPools", "ipaddresspools.metallb.io"),
            ),
            (
                L2AdvertisementSpec::KIND,
                h("watchL2Advertisements", "l2advertisements.metallb.io"),
            ),
            (
                BgpAdvertisementSpec::KIND,
                h("watchBGPAdvertisements", "bgpadvertisements.metallb.io"),
            ),
            (BgpPeerSpec::KIND, h("watchBGPPeers", "bgppeers.metallb.io")),
            (
                CommunitySpec::KIND,
                h("watchCommunities", "communities.metallb.io"),
            ),
            (
                BfdProfileSpec::KIND,
                h("watchBFDProfiles", "bfdprofiles.metallb.io"),
            ),
        ])
    }

    fn of(&mut self, kind: &str) -> Option<&mut WatchHealth> {
        self.0.iter_mut().find(|(k, _)| *k == kind).map(|(_, h)| h)
    }
}

/// A watched object as common's plain value; `None` (logged) if it does not decode, which
/// the API server's schema validation makes all but impossible for our CRDs.
fn view<S: DeserializeOwned + Default>(obj: &DynamicObject) -> Option<Object<S>> {
    let decoded = serde_json::to_value(obj).and_then(serde_json::from_value::<Object<S>>);
    match decoded {
        Ok(o) => Some(o),
        Err(e) => {
            tracing::warn!(op = "decodeObject", name = obj.metadata.name.as_deref().unwrap_or_default(), error = %e, "ignoring an object that does not decode");
            None
        }
    }
}

fn feed_kind<S: DeserializeOwned + Default + PartialEq>(
    store: &mut Named<S>,
    ev: Result<Event<DynamicObject>, watcher::Error>,
    health: &mut WatchHealth,
) -> bool {
    crate::watch::feed(store, ev, view::<S>, health)
}

/// Feeds one event to its kind's store; whether the objects changed.
pub fn feed(objects: &mut Objects, ev: ObjectEvent, healths: &mut Healths) -> bool {
    let Some(health) = healths.of(ev.kind) else {
        return false;
    };
    match ev.kind {
        IpAddressPoolSpec::KIND => feed_kind(&mut objects.pools, ev.event, health),
        L2AdvertisementSpec::KIND => feed_kind(&mut objects.l2_advertisements, ev.event, health),
        BgpAdvertisementSpec::KIND => feed_kind(&mut objects.bgp_advertisements, ev.event, health),
        BgpPeerSpec::KIND => feed_kind(&mut objects.peers, ev.event, health),
        CommunitySpec::KIND => feed_kind(&mut objects.communities, ev.event, health),
        BfdProfileSpec::KIND => feed_kind(&mut objects.bfd_profiles, ev.event, health),
        _ => false,
    }
}

/// The API version of a kind an Event may be about (core kinds are `v1`).
pub fn api_version_of(kind: &str) -> String {
    let version = match kind {
        IpAddressPoolSpec::KIND => IpAddressPoolSpec::VERSION,
        L2AdvertisementSpec::KIND => L2AdvertisementSpec::VERSION,
        BgpAdvertisementSpec::KIND => BgpAdvertisementSpec::VERSION,
        BgpPeerSpec::KIND => BgpPeerSpec::VERSION,
        CommunitySpec::KIND => CommunitySpec::VERSION,
        BfdProfileSpec::KIND => BfdProfileSpec::VERSION,
        _ => return "v1".to_owned(),
    };
    format!("{GROUP}/{version}")
}
