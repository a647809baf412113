//! One BGP session's state machine (RFC 4271 §8, active side only), sans IO.
//!
//! The driver owns the socket and the clock. It feeds [`Input`]s with the current time and
//! carries out the returned [`Output`]s in order; it calls [`Session::handle`] with
//! [`Input::Tick`] when [`Session::next_deadline`] has passed. At most one connection exists
//! at a time: [`Output::Connect`] starts one, [`Output::CloseTcp`] aborts or closes it, and
//! events of a connection that was closed must not be fed back.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use super::backoff::Backoff;
use super::events::{Connection, DownReason, Input, Output, PeerConfig, StateKind};
use super::message::{DecodeError, Message, TYPE_UPDATE, decode_frame, split_frame};
use super::notification::Notification;
use super::open::{AddressFamily, Open};
use super::pack::{UpdateContext, ipv4_next_hop};
use super::rib::AdjRibOut;
use super::router_id::router_id;
use super::types::HoldTime;
use super::types::Prefix;
use super::update::{AsWidth, Ipv6NextHop, Update};

/// Dial plus OPEN exchange must complete within this (upstream's 10 s deadline).
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Shortest time Established before the back-off is forgiven; see [`Session`].
pub const MIN_STABLE: Duration = Duration::from_secs(10);
/// Negotiated parameters of a connection past the OPEN exchange.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Link {
    ctx: UpdateContext,
    hold: HoldTime,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum State {
    /// `retry_at` is `None` when stopped.
    Idle {
        retry_at: Option<Instant>,
    },
    Connect {
        deadline: Instant,
    },
    OpenSent {
        deadline: Instant,
        conn: Connection,
    },
    OpenConfirm {
        deadline: Instant,
        link: Link,
    },
    Established {
        link: Link,
        since: Instant,
        hold_deadline: Option<Instant>,
        keepalive_at: Option<Instant>,
    },
}

/// A BGP session towards one peer.
///
/// Differences from upstream, each deliberate: the hold timer is enforced on received
/// traffic (a vanished peer is dropped after the hold time, not after TCP gives up), the
/// peer's KEEPALIVE is awaited in OpenConfirm, UPDATEs are packed, and the back-off is only
/// reset once a session stayed Established for a keepalive interval (at least
/// [`MIN_STABLE`]), so a peer that accepts our OPEN and then refuses us is not hammered.
#[derive(Debug)]
pub struct Session {
    config: PeerConfig,
    state: State,
    backoff: Backoff,
    /// The routes to advertise; while Established, also what the peer has.
    rib: AdjRibOut,
    rx: Vec<u8>,
}

impl Session {
    pub fn new(config: PeerConfig) -> Self {
        Self {
            config,
            state: State::Idle { retry_at: None },
            backoff: Backoff::default(),
            rib: AdjRibOut::default(),
            rx: Vec::new(),
        }
    }

    pub fn config(&self) -> &PeerConfig {
        &self.config
    }

    pub fn state(&self) -> StateKind {
        match self.state {
            State::Idle { .. } => StateKind::Idle,
            State::Connect { .. } => StateKind::Connect,
            State::OpenSent { .. } => StateKind::OpenSent,
            State::OpenConfirm { .. } => StateKind::OpenConfirm,
            State::Established { .. } => StateKind::Established,
        }
    }

    /// When to feed the next [`Input::Tick`].
    pub fn next_deadline(&self) -> Option<Instant> {
        match &self.state {
            State::Idle { retry_at } => *retry_at,
            State::Connect { deadline }
            | State::OpenSent { deadline, .. }
            | State::OpenConfirm { deadline, .. } => Some(*deadline),
            State::Established {
                hold_deadline,
                keepalive_at,
                ..
            } => match (hold_deadline, keepalive_at) {
                (Some(a), Some(b)) => Some(*a.min(b)),
                (a, b) => a.or(*b),
            },
        }
    }

    /// Advances the state machine; the outputs are to be carried out in order.
    pub fn handle(&mut self, input: Input<'_>, now: Instant) -> Vec<Output> {
        let mut out = Vec::new();
        match input {
            Input::Start => {
                if self.state == (State::Idle { retry_at: None }) {
                    self.connect(now, &mut out);
                }
            }
            Input::Stop => self.stop(&mut out),
            Input::TcpConnected(conn) => self.on_connected(conn, &mut out),
            Input::TcpFailed(err) => {
                if let State::Connect { .. } = self.state {
                    self.fail(DownReason::ConnectFailed(err), now, &mut out);
                }
            }
            Input::TcpClosed(err) => {
                if self.has_socket() {
                    self.fail(DownReason::TcpClosed(err), now, &mut out);
                }
            }
            Input::Received(bytes) => self.on_bytes(bytes, now, &mut out),
            Input::Tick => self.on_tick(now, &mut out),
            Input::DesiredRoutes(routes) => {
                let changed = self.rib.replace(routes);
                self.send_changes(&changed, now, &mut out);
            }
            Input::RouteChanges(changes) => {
                let changed = self.rib.apply(changes);
                self.send_changes(&changed, now, &mut out);
            }
        }
        out
    }

    fn has_socket(&self) -> bool {
        matches!(
            self.state,
            State::OpenSent { .. } | State::OpenConfirm { .. } | State::Established { .. }
        )
    }

    fn connect(&mut self, now: Instant, out: &mut Vec<Output>) {
        self.state = State::Connect {
            deadline: now + CONNECT_TIMEOUT,
        };
        out.push(Output::Connect {
            peer: self.config.peer,
            source: self.config.source_address,
        });
    }

    fn stop(&mut self, out: &mut Vec<Output>) {
        if self.has_socket() {
            self.send(&Message::Notification(Notification::admin_shutdown()), out);
        }
        let reason = DownReason::Stopped;
        match self.state {
            State::Idle { .. } => {}
            State::Established { .. } => {
                out.push(Output::CloseTcp);
                out.push(Output::SessionDown {
                    reason,
                    retry_in: None,
                });
            }
            _ => {
                out.push(Output::CloseTcp);
                out.push(Output::AttemptFailed {
                    reason,
                    retry_in: None,
                });
            }
        }
        let was_established = matches!(self.state, State::Established { .. });
        self.state = State::Idle { retry_at: None };
        self.rx.clear();
        self.backoff.reset();
        if was_established {
            out.push(self.metrics(0));
        }
    }

    fn on_connected(&mut self, conn: Connection, out: &mut Vec<Output>) {
        let State::Connect { deadline } = self.state else {
            return;
        };
        let c = &self.config;
        let id = router_id(
            c.router_id,
            conn.local.ip(),
            conn.interface_ipv4,
            &c.node_name,
        );
        let open = Open::ours(c.local_asn, c.hold_time, id);
        self.rx.clear();
        self.state = State::OpenSent { deadline, conn };
        self.send(&Message::Open(open), out);
    }

    fn on_tick(&mut self, now: Instant, out: &mut Vec<Output>) {
        match self.state {
            State::Idle { retry_at: Some(at) } if at <= now => self.connect(now, out),
            State::Connect { deadline } if deadline <= now => {
                self.fail(DownReason::ConnectTimeout, now, out)
            }
            State::OpenSent { deadline, .. } | State::OpenConfirm { deadline, .. }
                if deadline <= now =>
            {
                self.send(
                    &Message::Notification(Notification::hold_timer_expired()),
                    out,
                );
                self.fail(DownReason::ConnectTimeout, now, out);
            }
            State::Established {
                hold_deadline: Some(hold),
                ..
            } if hold <= now => {
                self.send(
                    &Message::Notification(Notification::hold_timer_expired()),
                    out,
                );
                self.fail(DownReason::HoldTimerExpired, now, out);
            }
            State::Established {
                keepalive_at: Some(at),
                ..
            } if at <= now => {
                self.send(&Message::Keepalive, out);
                self.restart_keepalive(now);
            }
            _ => {}
        }
    }

    fn on_bytes(&mut self, bytes: &[u8], now: Instant, out: &mut Vec<Output>) {
        if !self.has_socket() {
            return;
        }
        self.rx.extend_from_slice(bytes);
        let mut consumed = 0;
        while self.has_socket() {
            let Some(rest) = self.rx.get(consumed..) else {
                break;
            };
            match split_frame(rest) {
                Ok(None) => break,
                Ok(Some((frame, len))) => {
                    consumed += len;
                    let kind = frame.kind;
                    // UPDATE bodies are not decoded: routes from the peer are ignored, and
                    // RFC 7606 says a malformed one must not reset the session anyway.
                    let message = if kind == TYPE_UPDATE {
                        None
                    } else {
                        match decode_frame(frame, AsWidth::Four) {
                            Ok(m) => Some(m),
                            Err(e) => {
                                self.reject(DownReason::Malformed(e.clone()), &e, now, out);
                                break;
                            }
                        }
                    };
                    self.on_message(kind, message, now, out);
                }
                Err(e) => {
                    self.reject(DownReason::Malformed(e.clone()), &e, now, out);
                    break;
                }
            }
        }
        if self.has_socket() {
            self.rx.drain(..consumed.min(self.rx.len()));
        }
    }

    /// Sends the NOTIFICATION `err` calls for, then drops the connection.
    fn reject(
        &mut self,
        reason: DownReason,
        err: &DecodeError,
        now: Instant,
        out: &mut Vec<Output>,
    ) {
        self.send(&Message::Notification(err.notification()), out);
        self.fail(reason, now, out);
    }

    fn on_message(
        &mut self,
        kind: u8,
        message: Option<Message>,
        now: Instant,
        out: &mut Vec<Output>,
    ) {
        if let Some(Message::Notification(n)) = message {
            self.fail(DownReason::PeerNotification(n), now, out);
            return;
        }
        match (&mut self.state, message) {
            (State::OpenSent { .. }, Some(Message::Open(open))) => self.on_open(open, now, out),
            (State::OpenConfirm { link, .. }, Some(Message::Keepalive)) => {
                let link = link.clone();
                self.establish(link, now, out);
            }
            (
                State::Established {
                    link,
                    hold_deadline,
                    ..
                },
                None | Some(Message::Keepalive),
            ) => *hold_deadline = link.hold.duration().map(|d| now + d),
            _ => {
                let state = self.state();
                let subcode = match state {
                    StateKind::OpenSent => 1,
                    StateKind::OpenConfirm => 2,
                    _ => 3,
                };
                self.send(
                    &Message::Notification(Notification::fsm_error(subcode)),
                    out,
                );
                self.fail(DownReason::UnexpectedMessage { kind, state }, now, out);
            }
        }
    }

    fn on_open(&mut self, open: Open, now: Instant, out: &mut Vec<Output>) {
        let State::OpenSent { deadline, conn } = self.state else {
            return;
        };
        let c = &self.config;
        if let Err(e) = open.check_peer(c.local_asn, c.peer_asn) {
            self.reject(DownReason::PeerRejected(e.clone()), &e.into(), now, out);
            return;
        }
        let local = conn.local.ip();
        let next_hop_v4 = ipv4_next_hop(local, conn.interface_ipv4)
            .filter(|_| open.supports(AddressFamily::IPV4_UNICAST));
        let global_v6 = match local {
            IpAddr::V6(v6) if v6.to_ipv4_mapped().is_none() => Some(v6),
            _ => conn.interface_ipv6,
        };
        let next_hop_v6 = global_v6
            .filter(|_| open.supports(AddressFamily::IPV6_UNICAST))
            .map(|global| Ipv6NextHop {
                global,
                link_local: conn.link_local.filter(|ll| *ll != global),
            });
        let link = Link {
            ctx: UpdateContext {
                local_asn: c.local_asn,
                ibgp: c.local_asn == c.peer_asn,
                as_width: if open.four_octet_as() {
                    AsWidth::Four
                } else {
                    AsWidth::Two
                },
                next_hop_v4,
                next_hop_v6,
            },
            hold: c.hold_time.negotiate(open.hold_time),
        };
        self.state = State::OpenConfirm { deadline, link };
        self.send(&Message::Keepalive, out);
    }

    fn establish(&mut self, link: Link, now: Instant, out: &mut Vec<Output>) {
        let hold = link.hold;
        self.state = State::Established {
            hold_deadline: hold.duration().map(|d| now + d),
            keepalive_at: None,
            link,
            since: now,
        };
        self.restart_keepalive(now);
        out.push(Output::SessionUp { hold_time: hold });
        // A new connection: the peer has none of our routes.
        let updates = match &self.state {
            State::Established { link, .. } => self.rib.announce_all(&link.ctx),
            _ => Vec::new(),
        };
        self.send_updates(updates, now, out);
    }

    fn restart_keepalive(&mut self, now: Instant) {
        if let State::Established {
            link, keepalive_at, ..
        } = &mut self.state
        {
            *keepalive_at = link.hold.keepalive_interval().map(|d| now + d);
        }
    }

    /// Sends the routes of the `changed` prefixes (Established only) and reports metrics.
    fn send_changes(&mut self, changed: &[Prefix], now: Instant, out: &mut Vec<Output>) {
        let updates = match &self.state {
            State::Established { link, .. } if !changed.is_empty() => {
                self.rib.updates(&link.ctx, changed)
            }
            _ => Vec::new(),
        };
        self.send_updates(updates, now, out);
    }

    /// Encodes and queues `updates` (restarting the keepalive timer), then reports metrics.
    fn send_updates(&mut self, updates: Vec<Update>, now: Instant, out: &mut Vec<Output>) {
        let State::Established { link, .. } = &self.state else {
            out.push(self.metrics(0));
            return;
        };
        let width = link.ctx.as_width;
        let count = updates.len() as u64;
        let mut bytes = Vec::new();
        for update in updates {
            if let Err(e) = Message::Update(update).encode_into(width, &mut bytes) {
                self.fail(DownReason::Encode(e), now, out);
                return;
            }
        }
        if !bytes.is_empty() {
            out.push(Output::Send(bytes));
            self.restart_keepalive(now);
        }
        out.push(self.metrics(count));
    }

    fn metrics(&self, updates_sent: u64) -> Output {
        let announced_prefixes = match &self.state {
            State::Established { link, .. } => self.rib.carried(&link.ctx),
            _ => 0,
        };
        Output::Metrics {
            updates_sent,
            announced_prefixes,
            pending_prefixes: self.rib.len(),
        }
    }

    /// Encodes and queues one of the session's own messages: an OPEN with three
    /// capabilities, a KEEPALIVE, or a NOTIFICATION whose data is at most a received
    /// message's body. None of these can exceed the size limits, so there is no error path.
    fn send(&self, message: &Message, out: &mut Vec<Output>) {
        let width = match &self.state {
            State::Established { link, .. } | State::OpenConfirm { link, .. } => link.ctx.as_width,
            _ => AsWidth::Four,
        };
        if let Ok(bytes) = message.encode(width) {
            out.push(Output::Send(bytes));
        }
    }

    /// Ends the connection or attempt and schedules the next one.
    fn fail(&mut self, reason: DownReason, now: Instant, out: &mut Vec<Output>) {
        let established = match &self.state {
            State::Established { since, link, .. } => {
                let stable = link
                    .hold
                    .keepalive_interval()
                    .unwrap_or(MIN_STABLE)
                    .max(MIN_STABLE);
                if now.saturating_duration_since(*since) >= stable {
                    self.backoff.reset();
                }
                true
            }
            _ => false,
        };
        if !matches!(self.state, State::Idle { .. }) {
            out.push(Output::CloseTcp);
        }
        let retry_in = self.backoff.next_delay();
        self.state = State::Idle {
            retry_at: Some(now + retry_in),
        };
        self.rx.clear();
        let retry_in = Some(retry_in);
        if established {
            out.push(Output::SessionDown { reason, retry_in });
            out.push(self.metrics(0));
        } else {
            out.push(Output::AttemptFailed { reason, retry_in });
        }
    }
}
