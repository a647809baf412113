//! What goes into and comes out of a [`super::Session`]: its configuration, the events
//! the driver feeds it and the actions it asks for. Plain data, so that the driver and the
//! tests can build and match them without touching the state machine.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use thiserror::Error;

use super::message::{DecodeError, EncodeError};
use super::notification::Notification;
use super::open::OpenError;
use super::rib::{DesiredRoutes, RouteChange};
use super::types::{Asn, HoldTime};

/// Static configuration of one session (one peer entry on this node).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerConfig {
    pub local_asn: Asn,
    pub peer_asn: Asn,
    pub peer: SocketAddr,
    pub source_address: Option<IpAddr>,
    /// What we propose; the session uses the smaller of this and the peer's.
    pub hold_time: HoldTime,
    /// `router-id` from the configuration; an IPv6 value is ignored like upstream.
    pub router_id: Option<IpAddr>,
    pub node_name: String,
}

/// A connected socket and what the driver knows about the interface it left through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Connection {
    pub local: SocketAddr,
    pub remote: SocketAddr,
    /// An IPv4 address of the interface owning `local`: router ID and IPv4 next hop of
    /// an IPv6 session.
    pub interface_ipv4: Option<Ipv4Addr>,
    /// A global IPv6 address of that interface: IPv6 next hop of an IPv4 session.
    pub interface_ipv6: Option<Ipv6Addr>,
    /// Its link-local address, sent as the second IPv6 next hop (RFC 2545).
    pub link_local: Option<Ipv6Addr>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input<'a> {
    /// Begin connecting (the peer became active on this node).
    Start,
    /// Tear down and stay idle (peer removed or deselected).
    Stop,
    TcpConnected(Connection),
    /// The dial failed; the text is for the log.
    TcpFailed(String),
    /// The connection ended: EOF, read or write error.
    TcpClosed(String),
    /// Bytes read from the socket, in order; they may split messages anywhere.
    Received(&'a [u8]),
    /// Some deadline may have passed.
    Tick,
    /// The routes this node should advertise are now these.
    DesiredRoutes(DesiredRoutes),
    /// The routes this node should advertise changed so (applied in order): the work of the
    /// prefixes named, not of every route.
    RouteChanges(&'a [RouteChange]),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// Open a TCP connection (binding `source` if given) and answer with
    /// [`Input::TcpConnected`] or [`Input::TcpFailed`].
    Connect {
        peer: SocketAddr,
        source: Option<IpAddr>,
    },
    /// Write these bytes (one or more whole messages).
    Send(Vec<u8>),
    /// Abort the dial or close the socket, after writing any preceding `Send`.
    CloseTcp,
    /// Established (`sessionUp`, `session_up` = 1).
    SessionUp { hold_time: HoldTime },
    /// An Established session ended (`sessionDown`, `session_up` = 0). `retry_in` is the
    /// back-off before the next attempt, `None` after [`Input::Stop`].
    SessionDown {
        reason: DownReason,
        retry_in: Option<Duration>,
    },
    /// An attempt failed before reaching Established.
    AttemptFailed {
        reason: DownReason,
        retry_in: Option<Duration>,
    },
    /// Metric changes: `updates_sent` is an increment, the others are current values.
    Metrics {
        updates_sent: u64,
        announced_prefixes: usize,
        pending_prefixes: usize,
    },
}

/// Why a session or attempt ended, worded for the log.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DownReason {
    #[error("dial failed: {0}")]
    ConnectFailed(String),
    #[error("timed out waiting for the OPEN exchange")]
    ConnectTimeout,
    #[error("connection closed: {0}")]
    TcpClosed(String),
    #[error("{0}")]
    Malformed(DecodeError),
    #[error("{0}")]
    PeerRejected(OpenError),
    #[error("{0}")]
    PeerNotification(Notification),
    #[error("hold timer expired")]
    HoldTimerExpired,
    #[error("unexpected message type {kind} in state {state:?}")]
    UnexpectedMessage { kind: u8, state: StateKind },
    #[error("cannot encode message: {0}")]
    Encode(EncodeError),
    #[error("stopped")]
    Stopped,
}

/// RFC 4271 state names, for logs and tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StateKind {
    Idle,
    Connect,
    OpenSent,
    OpenConfirm,
    Established,
}
