//! The shell both binaries share around the pure logic in `common`, written once
//! (docs/kubernetes.md): the API client, Event posting, watch health and RBAC refusals, the
//! listener, and the process-wide pieces — command line, log format, Prometheus metrics.

pub mod cli;
pub mod client;
pub mod crd;
pub mod events;
pub mod forbidden;
pub mod k8s_event;
pub mod listen;
pub mod logfmt;
pub mod metrics;
pub mod offline;
pub mod watch;
pub mod watch_health;

pub use events::EventSink;
pub use forbidden::{Denied, Forbidden};
pub use listen::bind_dual_stack;
pub use watch_health::WatchHealth;
