//! CRD mode's configuration source (docs/crd.md#crd-mode): the `metallb.io` objects of the
//! namespace as the watches deliver them, the `config` ConfigMap beside them, and the
//! candidate configuration they make. Plain and synchronous: the binaries' watch loops feed it
//! (`kube_shell::watch::feed` into each [`Named`] store) and hand its candidates to
//! [`Loaded::apply_source`](crate::config::Loaded::apply_source).

use std::collections::{BTreeMap, BTreeSet};

use crate::config::{Config, Mode};
use crate::crd::error::{CrdError, ObjectRef};
use crate::crd::types::{
    BfdProfileSpec, BgpAdvertisementSpec, BgpPeerSpec, CommunitySpec, IpAddressPoolSpec, Kind,
    L2AdvertisementSpec, Object,
};
use crate::crd::{Resources, translate};
use crate::relist::Relist;

/// The objects of one kind, by name, with re-list semantics.
#[derive(Debug, Clone)]
pub struct Named<S> {
    items: BTreeMap<String, Object<S>>,
    pending: Option<BTreeMap<String, Object<S>>>,
}

impl<S> Default for Named<S> {
    fn default() -> Self {
        Self {
            items: BTreeMap::new(),
            pending: None,
        }
    }
}

impl<S: Clone> Named<S> {
    /// The objects, in name order.
    pub fn list(&self) -> Vec<Object<S>> {
        self.items.values().cloned().collect()
    }

    pub fn get(&self, name: &str) -> Option<&Object<S>> {
        self.items.get(name)
    }
}

impl<S: PartialEq> Relist for Named<S> {
    type Object = Object<S>;
    /// Whether the set of objects changed.
    type Changes = bool;

    fn apply(&mut self, obj: Object<S>) -> bool {
        let name = obj.metadata.name.clone();
        if self.items.get(&name) == Some(&obj) {
            return false;
        }
        self.items.insert(name, obj);
        true
    }

    fn delete(&mut self, obj: Object<S>) -> bool {
        self.items.remove(&obj.metadata.name).is_some()
    }

    fn begin(&mut self) {
        self.pending = Some(BTreeMap::new());
    }

    fn listed(&mut self, obj: Object<S>) {
        self.pending
            .get_or_insert_with(BTreeMap::new)
            .insert(obj.metadata.name.clone(), obj);
    }

    fn commit(&mut self) -> bool {
        match self.pending.take() {
            Some(listed) if listed != self.items => {
                self.items = listed;
                true
            }
            _ => false,
        }
    }
}

/// Every kind's store.
#[derive(Debug, Clone, Default)]
pub struct Objects {
    pub pools: Named<IpAddressPoolSpec>,
    pub l2_advertisements: Named<L2AdvertisementSpec>,
    pub bgp_advertisements: Named<BgpAdvertisementSpec>,
    pub peers: Named<BgpPeerSpec>,
    pub communities: Named<CommunitySpec>,
    pub bfd_profiles: Named<BfdProfileSpec>,
}

impl Objects {
    pub fn resources(&self) -> Resources {
        Resources {
            pools: self.pools.list(),
            l2_advertisements: self.l2_advertisements.list(),
            bgp_advertisements: self.bgp_advertisements.list(),
            peers: self.peers.list(),
            communities: self.communities.list(),
            bfd_profiles: self.bfd_profiles.list(),
        }
    }

    /// The uid of the object a refusal is about, for the Event on it.
    pub fn uid(&self, object: &ObjectRef) -> Option<String> {
        let name = object.name.as_str();
        let meta = match object.kind {
            IpAddressPoolSpec::KIND => self.pools.get(name).map(|o| &o.metadata),
            L2AdvertisementSpec::KIND => self.l2_advertisements.get(name).map(|o| &o.metadata),
            BgpAdvertisementSpec::KIND => self.bgp_advertisements.get(name).map(|o| &o.metadata),
            BgpPeerSpec::KIND => self.peers.get(name).map(|o| &o.metadata),
            CommunitySpec::KIND => self.communities.get(name).map(|o| &o.metadata),
            BfdProfileSpec::KIND => self.bfd_profiles.get(name).map(|o| &o.metadata),
            _ => None,
        };
        meta.and_then(|m| m.uid.clone())
    }
}

/// Why CRD mode has no new configuration to offer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SourceError {
    /// The objects do not translate.
    #[error("{0}")]
    Invalid(CrdError),
    /// A non-empty `config` ConfigMap and objects at once: which one is meant?
    #[error(
        "the ConfigMap {configmap:?} has a config and {objects} metallb.io objects exist: in CRD mode only the objects are read; empty or delete the ConfigMap's data.config (controller convert writes the objects for it), or run in ConfigMap mode (docs/crd.md#one-source-at-a-time)"
    )]
    Mixed { configmap: String, objects: usize },
}

/// The watches a CRD-mode process runs before its first decision: the six kinds and the
/// ConfigMap.
pub const WATCHES: [&str; 7] = [
    IpAddressPoolSpec::KIND,
    L2AdvertisementSpec::KIND,
    BgpAdvertisementSpec::KIND,
    BgpPeerSpec::KIND,
    CommunitySpec::KIND,
    BfdProfileSpec::KIND,
    "ConfigMap",
];

/// The source: objects, which watches have listed, and the last candidate handed out.
#[derive(Debug)]
pub struct CrdSource {
    pub objects: Objects,
    mode: Mode,
    configmap: String,
    listed: BTreeSet<&'static str>,
    last: Option<Result<Option<Config>, SourceError>>,
}

impl CrdSource {
    /// `configmap` names the ConfigMap watched beside the objects (for the messages).
    pub fn new(mode: Mode, configmap: impl Into<String>) -> Self {
        Self {
            objects: Objects::default(),
            mode,
            configmap: configmap.into(),
            listed: BTreeSet::new(),
            last: None,
        }
    }

    /// One of [`WATCHES`] completed its initial list.
    pub fn mark_listed(&mut self, watch: &'static str) {
        self.listed.insert(watch);
    }

    /// Every watch has listed: a candidate means something now.
    pub fn all_listed(&self) -> bool {
        WATCHES.iter().all(|w| self.listed.contains(w))
    }

    /// What the objects and the ConfigMap's `config` text (`None`: no ConfigMap) make.
    pub fn candidate(&self, configmap: Option<&str>) -> Result<Option<Config>, SourceError> {
        let res = self.objects.resources();
        let has_config = configmap.is_some_and(|t| !t.trim().is_empty());
        if has_config && !res.is_empty() {
            return Err(SourceError::Mixed {
                configmap: self.configmap.clone(),
                objects: res.len(),
            });
        }
        if res.is_empty() {
            return Ok(None);
        }
        translate(&res, self.mode)
            .map(Some)
            .map_err(SourceError::Invalid)
    }

    /// The candidate, when it differs from the last one handed out. An unchanged outcome is
    /// not handed out twice (one log line and one Event per outcome), except a valid
    /// configuration with `retry` (the configuration in force is stale: the caller refused
    /// this one before, and may accept it now, as touching the ConfigMap retries in
    /// ConfigMap mode). `None` until every watch has listed.
    pub fn next(
        &mut self,
        configmap: Option<&str>,
        retry: bool,
    ) -> Option<Result<Option<Config>, SourceError>> {
        if !self.all_listed() {
            return None;
        }
        let candidate = self.candidate(configmap);
        let again = retry && matches!(candidate, Ok(Some(_)));
        if !again && self.last.as_ref() == Some(&candidate) {
            return None;
        }
        self.last = Some(candidate.clone());
        Some(candidate)
    }
}

#[cfg(test)]
#[path = "source_tests.rs"]
mod tests;
