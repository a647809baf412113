//! The controller's IP allocator (docs/allocation.md), as pure logic.
//!
//! * [`Allocator`] holds the pools and who holds which address: [`Allocator::assign`]
//!   (exact addresses), [`Allocator::allocate_from_pool`], [`Allocator::allocate`],
//!   [`Allocator::unassign`], [`Allocator::set_pools`] (refuses configs that would orphan an
//!   allocation), and the per-pool [`PoolStats`] behind the allocator gauges.
//! * [`converge`] is one pass of the controller over one service: inputs ([`ServiceSpec`])
//!   and current status in, new [`Status`], Events, log [`Note`]s and an [`Action`] out.
//! * [`plan`] replays a restart over a list of services (state comes only from statuses).
//!
//! Semantics and texts are upstream v0.12.1's. Differences, all deliberate:
//!
//! * pools are tried in config order (upstream: random map order), and of several services
//!   in an error the list is sorted (upstream: map order);
//! * an annotated service keeps its address when its pool was renamed (`converge.rs`);
//! * address searches use indexes instead of scanning the pool (`index.rs`, `sharing.rs`):
//!   same answers, but an exhausted IPv6 /64 fails at once;
//! * an address stays protected while any service holds it (upstream forgets the sharing key
//!   once no *ports* remain, which only port-less services could reach);
//! * capacity is the exact count as `u128` (upstream: `MaxInt64` once a CIDR has 2^62
//!   addresses, and -1 for a buggy /32 under avoid-buggy-ips);
//! * requested dual-stack addresses keep their order in the status (upstream re-sorts them
//!   as text on the pass after allocation, one extra status write);
//! * `assign` of an empty list fails (upstream records an allocation without addresses;
//!   unreachable from the controller).

mod allocate;
mod converge;
mod error;
mod family;
mod index;
mod outcome;
mod service;
mod sharing;
mod state;

#[cfg(test)]
mod tests;

pub use converge::{AllocateError, allocate_ips, converge};
pub use error::{AllocError, Exhausted, IncompatibleConfig, SharingRule, not_allowed};
pub use family::{
    Family, FamilyError, family_for_ips, family_for_texts, go_ip_list, go_str_list, parse_ip,
};
pub use outcome::{Action, ClearReason, Convergence, Event, EventType, Level, Note, Status};
pub use service::{
    ANNOTATION_ADDRESS_POOL, ANNOTATION_ALLOW_SHARED_IP, ANNOTATION_LOAD_BALANCER_IPS, Desired,
    RequestError, ServiceSpec,
};
pub use sharing::{Port, PortProtocol, Usage};
pub use state::{Allocator, LbIps, PoolStats, gauge_value};
