//! The BGP speaker's protocol core: codec, UPDATE packing, Adj-RIB-Out and the session
//! state machine, all without sockets or clocks.
//!
//! # Flow
//!
//! One [`Session`] per active peer. The driver (speaker crate) owns the TCP socket and the
//! timer and loops:
//!
//! ```text
//! outputs = session.handle(input, now)      // input: Start, TcpConnected, Received(bytes),
//!                                           //        Tick, DesiredRoutes(routes),
//!                                           //        RouteChanges(changes), Stop, …
//! for o in outputs { carry out o }          // Connect, Send(bytes), CloseTcp, SessionUp,
//!                                           // SessionDown, AttemptFailed, Metrics
//! sleep until session.next_deadline(), then handle(Input::Tick, now)
//! ```
//!
//! Inside, received bytes go through [`split_frame`] / [`decode`]; route changes are applied
//! to the [`AdjRibOut`] and the prefixes they changed packed into as few UPDATEs as fit in
//! 4096 bytes ([`pack_announcements`], [`pack_withdrawals`]).
//!
//! Wire behaviour follows upstream MetalLB's native speaker (docs/bgp.md): the same OPEN
//! bytes, attribute order, AS_TRANS, iBGP LOCAL_PREF and communities. Deliberate fixes:
//! minimal 29-byte OPENs are accepted, the hold timer is enforced, UPDATEs are packed and
//! split at 4096 bytes, IPv6 routes travel in MP_REACH_NLRI, and the reconnect back-off
//! survives a peer that accepts the OPEN only to send a NOTIFICATION.

mod backoff;
mod events;
mod message;
mod notification;
mod open;
mod pack;
mod rib;
mod router_id;
mod session;
mod types;
mod update;
mod wire;

#[cfg(test)]
mod tests;

pub use backoff::{Backoff, MAX_BACKOFF};
pub use events::{Connection, DownReason, Input, Output, PeerConfig, StateKind};
pub use message::{
    DecodeError, EncodeError, Frame, HEADER_LEN, MARKER, MAX_MESSAGE_LEN, Message, decode,
    decode_frame, split_frame,
};
pub use notification::Notification;
pub use open::{AddressFamily, Capability, Open, OpenError};
pub use pack::{UpdateContext, ipv4_next_hop, pack_announcements, pack_withdrawals};
pub use rib::{AdjRibOut, DesiredRoutes, RouteChange, diff};
pub use router_id::{from_node_name as router_id_from_node_name, router_id};
pub use session::{CONNECT_TIMEOUT, MIN_STABLE, Session};
pub use types::{Asn, Community, HoldTime, Prefix, RouteAttrs, TypeError};
pub use update::{
    AsSegment, AsWidth, Ipv6NextHop, Origin, PathAttribute, SegmentKind, Update, UpdateError,
};
