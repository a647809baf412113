//! The thin Kubernetes shell both binaries share: what talks to the API server or binds a
//! socket on behalf of the pure logic in `common`, written once (docs/kubernetes.md).

pub mod client;
pub mod events;
pub mod forbidden;
pub mod listen;
pub mod watch_health;

pub use events::EventSink;
pub use forbidden::{Denied, Forbidden};
pub use listen::bind_dual_stack;
pub use watch_health::WatchHealth;
