//! Endpoints per service, per source object: one core Endpoints, or each EndpointSlice.

use super::{Changed, Keyed, Relist};
use crate::speaker::{Endpoint, Sources};

/// One Endpoints object or EndpointSlice as the index takes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointsObject {
    /// The service it belongs to, `namespace/name`.
    pub service: String,
    /// The object's own `namespace/name` (a service has several slices).
    pub id: String,
    pub endpoints: Vec<Endpoint>,
}

/// The endpoints of every service. A service with no source object at all is absent, which
/// the decision tells apart from one whose sources list no endpoint (upstream treats the
/// former as a deleted service).
#[derive(Debug, Default)]
pub struct ServiceEndpoints(Keyed<Sources>);

impl ServiceEndpoints {
    /// The sources of one service, if any exists.
    pub fn get(&self, service: &str) -> Option<&Sources> {
        self.0.current.get(service)
    }
}

impl Relist for ServiceEndpoints {
    type Object = EndpointsObject;
    type Changes = Changed;

    fn apply(&mut self, obj: EndpointsObject) -> Changed {
        let sources = self.0.current.entry(obj.service.clone()).or_default();
        if sources.set(obj.id, obj.endpoints) {
            Changed::service(obj.service)
        } else {
            Changed::default()
        }
    }

    fn delete(&mut self, obj: EndpointsObject) -> Changed {
        let Some(sources) = self.0.current.get_mut(&obj.service) else {
            return Changed::default();
        };
        let removed = sources.remove(&obj.id);
        if sources.is_empty() {
            self.0.current.remove(&obj.service);
        }
        if removed {
            Changed::service(obj.service)
        } else {
            Changed::default()
        }
    }

    fn begin(&mut self) {
        self.0.begin();
    }

    fn listed(&mut self, obj: EndpointsObject) {
        self.0
            .pending_mut()
            .entry(obj.service)
            .or_default()
            .set(obj.id, obj.endpoints);
    }

    fn commit(&mut self) -> Changed {
        Changed {
            services: self.0.commit(),
            ..Changed::default()
        }
    }
}
