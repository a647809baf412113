//! Services, by `namespace/name`: the fields the decision reads, and which services hold the
//! same first status IP (a shared IP, elected as one under the service-name key).

use std::collections::{BTreeSet, HashMap};
use std::net::IpAddr;

use super::{Changed, Keyed, Relist};
use crate::speaker::{Endpoint, SpeakerService};

/// The fields of a Service the speaker decides on (and posts its Events about).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServiceEntry {
    /// `metadata.uid`, for the Events about the service.
    pub uid: Option<String>,
    /// `spec.type: LoadBalancer`.
    pub is_load_balancer: bool,
    /// `status.loadBalancer.ingress[].ip`, `None` for entries without one.
    pub ingress: Vec<Option<String>>,
    /// `externalTrafficPolicy: Local`.
    pub local: bool,
}

impl ServiceEntry {
    /// The decision's view of this service, with its merged endpoints (`None` when no
    /// endpoints object exists for it). It shares its IP with nobody; see
    /// [`SpeakerService::sharing`].
    pub fn view<'a>(
        &'a self,
        key: &'a str,
        endpoints: Option<&'a [Endpoint]>,
    ) -> SpeakerService<'a> {
        SpeakerService {
            key,
            is_load_balancer: self.is_load_balancer,
            ingress: &self.ingress,
            local: self.local,
            endpoints,
            shared_with: &[],
        }
    }

    /// The IP the Layer 2 election is about: the first status IP of a LoadBalancer service,
    /// in its canonical form (`::ffff:a.b.c.d` is `a.b.c.d`, as Go prints both).
    pub fn first_ip(&self) -> Option<IpAddr> {
        if !self.is_load_balancer {
            return None;
        }
        let first = self.ingress.first()?.as_deref()?;
        crate::config::parse_ip(first).map(|ip| ip.to_canonical())
    }
}

/// One Service as the index takes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceObject {
    /// `namespace/name`.
    pub key: String,
    pub entry: ServiceEntry,
}

/// Every Service of the cluster.
#[derive(Debug, Default)]
pub struct Services {
    entries: Keyed<ServiceEntry>,
    first_ips: FirstIps,
}

impl Services {
    pub fn get(&self, key: &str) -> Option<&ServiceEntry> {
        self.entries.current.get(key)
    }

    /// Every service key, in no particular order.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.entries.current.keys().map(String::as_str)
    }

    pub fn len(&self) -> usize {
        self.entries.current.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.current.is_empty()
    }

    /// The other LoadBalancer services whose first status IP is `key`'s, in name order:
    /// empty for a service alone on its IP. A lookup, not a scan.
    pub fn sharing<'a>(&'a self, key: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.first_ips
            .by_key
            .get(key)
            .and_then(|ip| self.first_ips.by_ip.get(ip))
            .into_iter()
            .flatten()
            .map(String::as_str)
            .filter(move |k| *k != key)
    }

    /// Records `key`'s first IP after its entry changed, and adds to `changed` the other
    /// services whose group it joined or left: their election key may change with it.
    fn track(&mut self, key: &str, changed: &mut BTreeSet<String>) {
        let ip = self
            .entries
            .current
            .get(key)
            .and_then(ServiceEntry::first_ip);
        self.first_ips.set(key, ip, changed);
    }
}

impl Relist for Services {
    type Object = ServiceObject;
    type Changes = Changed;

    /// An update that leaves the decided fields as they were (a port, an annotation)
    /// changes nothing.
    fn apply(&mut self, obj: ServiceObject) -> Changed {
        match self.entries.current.get(&obj.key) {
            Some(old) if *old == obj.entry => Changed::default(),
            _ => {
                self.entries.current.insert(obj.key.clone(), obj.entry);
                let mut changed = Changed::service(obj.key.clone());
                self.track(&obj.key, &mut changed.services);
                changed
            }
        }
    }

    fn delete(&mut self, obj: ServiceObject) -> Changed {
        match self.entries.current.remove(&obj.key) {
            Some(_) => {
                let mut changed = Changed::service(obj.key.clone());
                self.track(&obj.key, &mut changed.services);
                changed
            }
            None => Changed::default(),
        }
    }

    fn begin(&mut self) {
        self.entries.begin();
    }

    fn listed(&mut self, obj: ServiceObject) {
        self.entries.pending_mut().insert(obj.key, obj.entry);
    }

    fn commit(&mut self) -> Changed {
        let mut services = self.entries.commit();
        let keys: Vec<String> = services.iter().cloned().collect();
        for key in keys {
            self.track(&key, &mut services);
        }
        Changed {
            services,
            ..Changed::default()
        }
    }
}

/// LoadBalancer services by first status IP, both ways, kept in step with the entries so
/// that finding the services sharing an IP costs a lookup.
#[derive(Debug, Default)]
struct FirstIps {
    /// Sorted. A vector, not a `BTreeSet`: almost every IP has one holder, and a B-tree's
    /// first leaf costs ~280 bytes (2.8 MB of the heap at 10 000 services, issue #21).
    by_ip: HashMap<IpAddr, Vec<String>>,
    by_key: HashMap<String, IpAddr>,
}

impl FirstIps {
    /// `key`'s first IP is now `ip` (`None`: it has none, or is gone). Adds the other holders
    /// of the old and the new IP to `touched` when it moved.
    fn set(&mut self, key: &str, ip: Option<IpAddr>, touched: &mut BTreeSet<String>) {
        let old = self.by_key.get(key).copied();
        if old == ip {
            return;
        }
        if let Some(old) = old {
            self.by_key.remove(key);
            if let Some(holders) = self.by_ip.get_mut(&old) {
                holders.retain(|k| k != key);
                touched.extend(holders.iter().cloned());
                if holders.is_empty() {
                    self.by_ip.remove(&old);
                }
            }
        }
        if let Some(ip) = ip {
            self.by_key.insert(key.to_owned(), ip);
            let holders = self.by_ip.entry(ip).or_default();
            touched.extend(holders.iter().cloned());
            if let Err(at) = holders.binary_search_by(|k| k.as_str().cmp(key)) {
                holders.reserve_exact(1);
                holders.insert(at, key.to_owned());
            }
        }
    }
}
