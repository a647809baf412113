//! Services, by `namespace/name`: the fields the decision reads.

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
    /// endpoints object exists for it).
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
        }
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
pub struct Services(Keyed<ServiceEntry>);

impl Services {
    pub fn get(&self, key: &str) -> Option<&ServiceEntry> {
        self.0.current.get(key)
    }

    /// Every service key, in no particular order.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.0.current.keys().map(String::as_str)
    }

    pub fn len(&self) -> usize {
        self.0.current.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.current.is_empty()
    }
}

impl Relist for Services {
    type Object = ServiceObject;

    /// An update that leaves the decided fields as they were (a port, an annotation)
    /// changes nothing.
    fn apply(&mut self, obj: ServiceObject) -> Changed {
        match self.0.current.get(&obj.key) {
            Some(old) if *old == obj.entry => Changed::default(),
            _ => {
                self.0.current.insert(obj.key.clone(), obj.entry);
                Changed::service(obj.key)
            }
        }
    }

    fn delete(&mut self, obj: ServiceObject) -> Changed {
        match self.0.current.remove(&obj.key) {
            Some(_) => Changed::service(obj.key),
            None => Changed::default(),
        }
    }

    fn begin(&mut self) {
        self.0.begin();
    }

    fn listed(&mut self, obj: ServiceObject) {
        self.0.pending_mut().insert(obj.key, obj.entry);
    }

    fn commit(&mut self) -> Changed {
        Changed {
            services: self.0.commit(),
            ..Changed::default()
        }
    }
}
