//! MetalLB v0.13's configuration API: the `metallb.io` objects, translated into the same
//! internal [`Config`](crate::config::Config) the legacy ConfigMap produces, so both front
//! ends drive one core (docs/crd.md).
//!
//! - [`types`]: the objects as plain serde values, with upstream's field names;
//! - [`translate`]: objects → `Config`, with upstream v0.13's validation and its error texts,
//!   each [`CrdError`] naming the object and the field;
//! - [`convert`]: a legacy config → the objects upstream's `configmaptocrs` would write;
//! - [`documents`]: reading objects from (and writing them to) multi-document YAML;
//! - [`source`]: CRD mode's watched objects and the candidate configuration they make.
//!
//! What v0.13 can express and the ConfigMap cannot is supported where the core already has
//! it; everything else is refused by name when present, never ignored
//! (docs/crd.md#not-supported-yet).

mod advertisements;
pub mod convert;
pub mod documents;
mod error;
mod names;
mod peers;
mod pools;
mod selectors;
pub mod source;
mod translate;
pub mod types;

pub use convert::{ConvertError, Converted, convert};
pub use error::{CrdError, ObjectRef, Reason};
pub use source::{CrdSource, SourceError};
pub use translate::translate;
pub use types::{
    BfdProfile, BgpAdvertisement, BgpPeer, Community, IpAddressPool, Kind, L2Advertisement,
};

/// Every `metallb.io` object of the namespace, by kind.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Resources {
    pub pools: Vec<IpAddressPool>,
    pub l2_advertisements: Vec<L2Advertisement>,
    pub bgp_advertisements: Vec<BgpAdvertisement>,
    pub peers: Vec<BgpPeer>,
    pub communities: Vec<Community>,
    pub bfd_profiles: Vec<BfdProfile>,
}

impl Resources {
    /// No object of any kind: no configuration at all (as a missing ConfigMap).
    pub fn is_empty(&self) -> bool {
        self.pools.is_empty()
            && self.l2_advertisements.is_empty()
            && self.bgp_advertisements.is_empty()
            && self.peers.is_empty()
            && self.communities.is_empty()
            && self.bfd_profiles.is_empty()
    }

    /// How many objects there are.
    pub fn len(&self) -> usize {
        self.pools.len()
            + self.l2_advertisements.len()
            + self.bgp_advertisements.len()
            + self.peers.len()
            + self.communities.len()
            + self.bfd_profiles.len()
    }

    /// Every list in name order: the API server's list order, so a translation never
    /// depends on the order objects arrived in. Objects of one name (a file may hold them,
    /// the API cannot) are ordered by their content, so that holds for them too.
    pub fn sorted(&self) -> Resources {
        fn by_name<S: Clone + serde::Serialize>(v: &[types::Object<S>]) -> Vec<types::Object<S>> {
            let content = |o: &types::Object<S>| serde_json::to_string(o).unwrap_or_default();
            let mut v = v.to_vec();
            v.sort_by(|a, b| {
                a.metadata
                    .name
                    .cmp(&b.metadata.name)
                    .then_with(|| content(a).cmp(&content(b)))
            });
            v
        }
        Resources {
            pools: by_name(&self.pools),
            l2_advertisements: by_name(&self.l2_advertisements),
            bgp_advertisements: by_name(&self.bgp_advertisements),
            peers: by_name(&self.peers),
            communities: by_name(&self.communities),
            bfd_profiles: by_name(&self.bfd_profiles),
        }
    }
}

#[cfg(test)]
#[path = "translate_tests.rs"]
mod translate_tests;
