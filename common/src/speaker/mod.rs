//! What this node announces, and why not (docs/speaker.md), as pure functions over the
//! speaker's view of the cluster. Layer 2 and BGP share the per-service procedure; `/status`
//! and Events reuse the same reasons.

mod advertise;
mod decision;
mod endpoints;
pub mod index;
mod join_gate;
mod routes;
pub mod selfcheck;
mod state;
pub mod status;

pub use advertise::{AdvertiseError, desired_routes};
pub use decision::{
    Cluster, IpSharer, Live, Reason, SpeakerService, Verdict, decide, layer2_owner,
};
pub use endpoints::{Endpoint, Readiness, Sources};
pub use index::{Changed, Index, Relist};
pub use join_gate::JoinGate;
pub use routes::RouteTable;
pub use state::{Announcements, Change, WithdrawReason};
