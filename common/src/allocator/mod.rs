//! The controller's IP allocator (spec §3), as pure logic.
//!
//! * [`Allocator`] holds the pools and who holds which address: [`Allocator::assign`]
//!   (exact addresses), [`Allocator::allocate_from_pool`], [`Allocator::allocate`],
//!   [`Allocator::unassign`], [`Allocator::set_pools`] (refuses configs that would orphan an
//!   allocation), and the per-pool [`PoolStats`] behind the allocator gauges.
//! * [`converge`] is one pass of the controller over one service: inputs ([`ServiceSpec`])
//!   and current status in, new [`Status`], Events, log [`Note`]s and an [`Action`] out.
//! * [`plan`] replays a restart over a list of services (state comes only from statuses).
//!
//! Semantics are upstream v0.12.1's, texts included, with deliberate fixes: pools are tried
//! in config order (upstream: random), an annotated service keeps its address when its pool
//! was renamed, and address searches are O(log n) instead of a scan of the pool (an exhausted
//! IPv6 /64 fails at once). See `index.rs` and `sharing.rs` for the data structures.

mod allocate;
mod converge;
mod error;
mod family;
mod index;
mod outcome;
mod plan;
mod service;
mod sharing;
mod state;

#[cfg(test)]
mod tests;

pub use converge::{AllocateError, allocate_ips, converge};
pub use error::{AllocError, IncompatibleConfig};
pub use family::{
    Family, FamilyError, family_for_ips, family_for_texts, go_ip_list, go_str_list, parse_ip,
};
pub use outcome::{Action, ClearReason, Convergence, Event, EventType, Level, Note, Status};
pub use plan::{PlanEntry, PlanService, plan};
pub use service::{
    ANNOTATION_ADDRESS_POOL, ANNOTATION_ALLOW_SHARED_IP, ANNOTATION_LOAD_BALANCER_IPS, Desired,
    RequestError, ServiceSpec,
};
pub use sharing::{Port, Usage};
pub use state::{Allocator, LbIps, PoolStats, gauge_value};
