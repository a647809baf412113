//! Dissemination: gossip rounds, push/pull state exchange, joins, leaving, and the stream
//! plumbing they need.

use super::{JoinError, Memberlist, Output, StreamId, StreamProgress, StreamReply};
use crate::memberlist::packet;
use crate::memberlist::state::Liveness;
use crate::memberlist::stream::{StreamMessage, decode_stream, seal_stream};
use crate::memberlist::wire::{Ack, Dead, ErrorResponse, PushNodeState, PushPull, WireError};
use std::net::SocketAddr;
use std::time::Instant;

/// What a stream we opened is for.
#[derive(Debug, Clone, Copy)]
pub(super) enum StreamKind {
    /// State exchange; `join` ones report their outcome.
    PushPull { join: bool, peer: SocketAddr },
    /// TCP fallback for the probe with this sequence number.
    TcpPing { seq_no: u32 },
}

#[derive(Debug)]
pub(super) struct PendingStream {
    pub(super) deadline: Instant,
    kind: StreamKind,
}

impl Memberlist {
    /// Exchanges state with each of `peers` over TCP (Go's `Join`). Each address reports back
    /// as an [`Output::JoinFinished`]; members learned show up as `Joined` events.
    pub fn join(&mut self, peers: &[SocketAddr], now: Instant) {
        for &peer in peers {
            let deadline = now + self.config.tcp_timeout;
            match self.local_state(true) {
                Ok(payload) => {
                    self.open_stream(
                        peer,
                        payload,
                        deadline,
                        StreamKind::PushPull { join: true, peer },
                    );
                }
                Err(e) => self.outputs.push_back(Output::JoinFinished {
                    peer,
                    result: Err(e.into()),
                }),
            }
        }
    }

    /// Leaves the cluster gracefully (Go's `Leave`): we declare ourselves dead with
    /// `from == us`, which peers record as "left", and start gossiping it right away. Keep
    /// driving the machine until [`leave_finished`](Self::leave_finished) or a timeout.
    pub fn leave(&mut self, now: Instant) {
        if self.left {
            return;
        }
        self.left = true;
        let me = self.config.name.clone();
        let incarnation = self
            .table
            .get(&me)
            .map_or(self.incarnation, |n| n.incarnation);
        self.dead_node(
            Dead {
                incarnation,
                node: me.clone(),
                from: me,
            },
            now,
        );
        self.gossip(now);
    }

    /// Sends pending broadcasts to a few random peers (Go's `gossip`). Recently dead nodes
    /// are included so that a node wrongly declared dead hears about it and refutes.
    pub(super) fn gossip(&mut self, now: Instant) {
        let me = &self.config.name;
        let dead_window = self.config.gossip_to_the_dead_time;
        let targets: Vec<_> = self
            .table
            .random_nodes(self.config.gossip_nodes, &mut self.rng, |n| {
                n.name != *me
                    && match n.liveness {
                        Liveness::Alive | Liveness::Suspect(_) => true,
                        Liveness::Dead => {
                            now.saturating_duration_since(n.state_change) <= dead_window
                        }
                        Liveness::Left => false,
                    }
            })
            .into_iter()
            .map(|n| (n.socket_addr(), Self::wants_crc(n)))
            .collect();
        let mut avail = self
            .config
            .udp_buffer_size
            .saturating_sub(packet::COMPOUND_HEADER_OVERHEAD);
        if self.config.keyring.is_some() {
            avail = avail.saturating_sub(self.encryption_version().overhead());
        }
        for (addr, crc) in targets {
            let msgs = self.take_broadcasts(avail);
            match msgs.as_slice() {
                [] => return,
                [one] => self.raw_send(addr, crc, one),
                many => {
                    if let Ok(compound) = packet::compound(many) {
                        self.raw_send(addr, crc, &compound);
                    }
                }
            }
        }
    }

    /// Periodic anti-entropy with one random alive peer (Go's `pushPull`).
    pub(super) fn push_pull_random(&mut self, now: Instant) {
        let me = &self.config.name;
        let peer = self
            .table
            .random_nodes(1, &mut self.rng, |n| {
                n.name != *me && matches!(n.liveness, Liveness::Alive)
            })
            .first()
            .map(|n| n.socket_addr());
        if let (Some(peer), Ok(payload)) = (peer, self.local_state(false)) {
            let deadline = now + self.config.tcp_timeout;
            self.open_stream(
                peer,
                payload,
                deadline,
                StreamKind::PushPull { join: false, peer },
            );
        }
    }

    /// Our whole table as a sealed push/pull message (Go's `sendLocalState`).
    fn local_state(&mut self, join: bool) -> Result<Vec<u8>, WireError> {
        let nodes = self
            .table
            .iter()
            .map(|n| PushNodeState {
                name: n.name.clone(),
                addr: n.addr,
                port: n.port,
                meta: n.meta.clone(),
                incarnation: n.incarnation,
                state: n.liveness.state(),
                vsn: Some(n.vsn),
            })
            .collect();
        let msg = StreamMessage::PushPull(PushPull {
            join,
            nodes,
            user_state: Vec::new(),
        });
        self.seal(&msg)
    }

    fn seal(&mut self, msg: &StreamMessage) -> Result<Vec<u8>, WireError> {
        let encrypt = Self::encrypt(&self.config, &mut self.rng);
        seal_stream(&msg.encode(), self.config.enable_compression, encrypt)
    }

    pub(super) fn open_stream(
        &mut self,
        to: SocketAddr,
        payload: Vec<u8>,
        deadline: Instant,
        kind: StreamKind,
    ) -> StreamId {
        self.next_stream += 1;
        let id = self.next_stream;
        self.streams.insert(id, PendingStream { deadline, kind });
        self.outputs.push_back(Output::Connect {
            id,
            to,
            payload,
            deadline,
        });
        id
    }

    /// Handles an inbound stream (Go's `handleConn`), given every byte received so far.
    pub fn handle_stream(&mut self, data: &[u8], now: Instant) -> StreamReply {
        let msg = match decode_stream(
            data,
            self.config.keyring.as_ref(),
            self.config.gossip_verify_incoming,
        ) {
            Ok(None) => return StreamReply::NeedMore,
            Ok(Some(msg)) => msg,
            Err(error) => {
                let reply = StreamMessage::Err(ErrorResponse {
                    error: error.to_string(),
                });
                return match self.seal(&reply) {
                    Ok(reply) => StreamReply::Refuse { reply, error },
                    Err(_) => StreamReply::Close,
                };
            }
        };
        match msg {
            StreamMessage::PushPull(remote) => {
                // Answer first, then merge, as Go does: the peer gets our view even if we
                // end up rejecting theirs.
                let reply = match self.local_state(remote.join) {
                    Ok(reply) => reply,
                    Err(_) => return StreamReply::Close,
                };
                // An incompatible table is not merged (Go logs it); the peer learns the same
                // when it merges our answer.
                if self.merge_remote(remote.nodes, now).is_err() {
                    return StreamReply::Reply(reply);
                }
                StreamReply::Reply(reply)
            }
            StreamMessage::Ping(p) if p.node.is_empty() || p.node == self.config.name => {
                let ack = StreamMessage::Ack(Ack {
                    seq_no: p.seq_no,
                    payload: Vec::new(),
                });
                self.seal(&ack)
                    .map_or(StreamReply::Close, StreamReply::Reply)
            }
            _ => StreamReply::Close,
        }
    }

    /// Feeds the answer to a stream we opened, given every byte received so far.
    pub fn handle_stream_reply(
        &mut self,
        id: StreamId,
        data: &[u8],
        now: Instant,
    ) -> Result<StreamProgress, WireError> {
        let Some(pending) = self.streams.get(&id) else {
            return Ok(StreamProgress::Done); // timed out or superseded
        };
        let kind = pending.kind;
        let decoded = decode_stream(
            data,
            self.config.keyring.as_ref(),
            self.config.gossip_verify_incoming,
        );
        let msg = match decoded {
            Ok(None) => return Ok(StreamProgress::NeedMore),
            Ok(Some(StreamMessage::Err(e))) => Err(WireError::Remote(e.error)),
            Ok(Some(msg)) => Ok(msg),
            Err(e) => Err(e),
        };
        self.streams.remove(&id);
        match (kind, msg) {
            (StreamKind::PushPull { join, peer }, Ok(StreamMessage::PushPull(remote))) => {
                let merged = self.merge_remote(remote.nodes, now);
                if join {
                    self.outputs.push_back(Output::JoinFinished {
                        peer,
                        result: merged,
                    });
                }
                Ok(StreamProgress::Done)
            }
            (StreamKind::TcpPing { seq_no }, Ok(StreamMessage::Ack(ack)))
                if ack.seq_no == seq_no =>
            {
                self.tcp_ping_acked(seq_no);
                Ok(StreamProgress::Done)
            }
            (kind, result) => {
                let error = match result {
                    Ok(other) => WireError::Unexpected(other.message_type()),
                    Err(e) => e,
                };
                if let StreamKind::PushPull { join: true, peer } = kind {
                    let result = Err(JoinError::Protocol(error.clone()));
                    self.outputs
                        .push_back(Output::JoinFinished { peer, result });
                }
                Err(error)
            }
        }
    }

    /// Like [`stream_failed`](Self::stream_failed), for a connection the peer's host refused
    /// (a TCP reset, `ECONNREFUSED`): nothing listens on the peer's memberlist port. When it
    /// was a probe's TCP fallback and the timers say so
    /// ([`Timers::refused_tcp_ping_is_death`](crate::memberlist::Timers)), the target is
    /// declared dead at once (docs/memberlist.md#timers).
    pub fn stream_refused(&mut self, id: StreamId, now: Instant) {
        if let Some(PendingStream {
            kind: StreamKind::TcpPing { seq_no },
            ..
        }) = self.streams.get(&id)
            && self.timers().refused_tcp_ping_is_death
        {
            let seq_no = *seq_no;
            self.streams.remove(&id);
            self.tcp_ping_refused(seq_no, now);
            return;
        }
        self.stream_failed(id);
    }

    /// A stream we opened failed: connect error, I/O error, early EOF or deadline.
    pub fn stream_failed(&mut self, id: StreamId) {
        if let Some(PendingStream {
            kind: StreamKind::PushPull { join: true, peer },
            ..
        }) = self.streams.remove(&id)
        {
            self.outputs.push_back(Output::JoinFinished {
                peer,
                result: Err(JoinError::Unreachable),
            });
        }
    }

    /// Streams the shell never reported on are given up at their deadline.
    pub(super) fn expire_streams(&mut self, now: Instant) {
        let expired: Vec<StreamId> = self
            .streams
            .iter()
            .filter(|(_, s)| s.deadline <= now)
            .map(|(id, _)| *id)
            .collect();
        for id in expired {
            self.stream_failed(id);
        }
    }
}
