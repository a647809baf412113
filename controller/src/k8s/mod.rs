//! The controller's Kubernetes I/O: what it reads from Services and what it writes (status
//! through the `services/status` subresource, core/v1 Events, the memberlist Secret).

pub mod secret;
pub mod service;
