//! Failure detection: one probe per interval, round robin (Go's `probe`/`probeNode`).
//!
//! A probe is a direct ping; without an ack within `probe_timeout`, up to `indirect_checks`
//! alive peers are asked to ping the target for us (relaying its ack, or a nack if they hear
//! nothing), and a TCP ping is tried. Without any ack by the end of the (health-scaled) probe
//! interval, the target becomes suspect. The direct/indirect/deadline phases that Go runs as
//! one blocking goroutine are explicit states here.

use super::Memberlist;
use super::gossip::StreamKind;
use crate::memberlist::packet;
use crate::memberlist::state::Liveness;
use crate::memberlist::stream::{StreamMessage, seal_stream};
use crate::memberlist::wire::{self, Ack, Dead, IndirectPing, Message, Nack, Ping, Suspect};
use std::net::SocketAddr;
use std::time::Instant;

/// The probe in flight.
#[derive(Debug)]
pub(super) struct Probe {
    seq_no: u32,
    target: String,
    /// Incarnation when the probe started: a suspicion must not outrank a refutation that
    /// arrived meanwhile.
    incarnation: u32,
    direct_timeout: Instant,
    deadline: Instant,
    indirect_sent: bool,
    expected_nacks: i64,
    nacks: i64,
    tcp: Option<u64>,
    tcp_acked: bool,
}

impl Probe {
    pub(super) fn next_deadline(&self) -> Instant {
        if self.indirect_sent {
            self.deadline
        } else {
            self.direct_timeout
        }
    }
}

/// An indirect probe we run for a peer: its ack goes back to `requester` under its sequence
/// number, or a nack at `deadline` if it asked for one.
#[derive(Debug)]
pub(super) struct Relay {
    requester: SocketAddr,
    seq_no: u32,
    pub(super) deadline: Instant,
    nack: bool,
}

impl Memberlist {
    /// Picks the next node in probe order and pings it (Go's `probe`). Completing a pass over
    /// the table reaps old dead nodes and reshuffles.
    pub(super) fn start_probe(&mut self, now: Instant) {
        let mut checked = 0;
        let target = loop {
            if checked >= self.table.len() {
                return;
            }
            if self.probe_index >= self.table.len() {
                self.table.reap_and_shuffle(
                    now,
                    self.config.gossip_to_the_dead_time,
                    &mut self.rng,
                );
                self.probe_index = 0;
                checked += 1;
                continue;
            }
            let candidate = self.table.at(self.probe_index);
            self.probe_index += 1;
            match candidate {
                Some(n) if n.name != self.config.name && !n.liveness.dead_or_left() => {
                    break n.clone();
                }
                _ => checked += 1,
            }
        };
        let timers = *self.timers();
        let interval = self.awareness.scale(timers.probe_interval);
        let direct = if timers.scale_probe_timeout {
            self.awareness.scale(timers.probe_timeout)
        } else {
            timers.probe_timeout
        };
        let seq_no = self.next_seq();
        let ping = Message::Ping(Ping {
            seq_no,
            node: target.name.clone(),
            source: self.self_source(),
        })
        .encode();
        let crc = Self::wants_crc(&target);
        if matches!(target.liveness, Liveness::Alive) {
            self.send_msg(target.socket_addr(), crc, ping);
        } else {
            // Tell a suspect node it is suspected, so it can refute at once.
            let suspect = Message::Suspect(Suspect {
                incarnation: target.incarnation,
                node: target.name.clone(),
                from: self.config.name.clone(),
            })
            .encode();
            if let Ok(compound) = packet::compound(&[ping, suspect]) {
                self.raw_send(target.socket_addr(), crc, &compound);
            }
        }
        self.probe = Some(Probe {
            seq_no,
            target: target.name,
            incarnation: target.incarnation,
            direct_timeout: now + direct,
            deadline: now + interval,
            indirect_sent: false,
            expected_nacks: 0,
            nacks: 0,
            tcp: None,
            tcp_acked: false,
        });
    }

    /// Moves the probe in flight through its timeouts.
    pub(super) fn advance_probe(&mut self, now: Instant) {
        let Some(p) = &self.probe else { return };
        if !p.indirect_sent && now >= p.direct_timeout {
            self.probe_indirectly();
        }
        if self.probe.as_ref().is_some_and(|p| now >= p.deadline) {
            self.probe_failed(now);
        }
    }

    fn probe_indirectly(&mut self) {
        let Some(p) = &self.probe else { return };
        let (seq_no, deadline) = (p.seq_no, p.deadline);
        let Some(target) = self.table.get(&p.target).cloned() else {
            self.probe = None;
            return;
        };
        let me = self.config.name.clone();
        let peers: Vec<_> = self
            .table
            .random_nodes(self.config.indirect_checks, &mut self.rng, |n| {
                n.name != me && n.name != target.name && matches!(n.liveness, Liveness::Alive)
            })
            .into_iter()
            .map(|n| {
                (
                    n.socket_addr(),
                    Self::wants_crc(n),
                    n.vsn.protocol_max >= wire::PROTOCOL_NACK,
                )
            })
            .collect();
        let mut expected_nacks = 0;
        for (addr, crc, nack) in peers {
            expected_nacks += i64::from(nack);
            let req = Message::IndirectPing(IndirectPing {
                seq_no,
                target: target.addr,
                port: target.port,
                node: target.name.clone(),
                nack,
                source: self.self_source(),
            });
            self.send_msg(addr, crc, req.encode());
        }
        // Also try TCP: a node that lost UDP but not TCP is misconfigured, not dead.
        let tcp = if !self.config.disable_tcp_pings
            && target.vsn.protocol_max >= wire::PROTOCOL_TCP_PING
        {
            let ping = StreamMessage::Ping(Ping {
                seq_no,
                node: target.name.clone(),
                source: self.self_source(),
            });
            let encrypt = Self::encrypt(&self.config, &mut self.rng);
            seal_stream(&ping.encode(), self.config.enable_compression, encrypt)
                .ok()
                .map(|payload| {
                    let kind = StreamKind::TcpPing { seq_no };
                    self.open_stream(target.socket_addr(), payload, deadline, kind)
                })
        } else {
            None
        };
        if let Some(p) = &mut self.probe {
            p.indirect_sent = true;
            p.expected_nacks = expected_nacks;
            p.tcp = tcp;
        }
    }

    /// No ack by the deadline: adjust health and suspect the target.
    fn probe_failed(&mut self, now: Instant) {
        let Some(p) = self.probe.take() else { return };
        if let Some(id) = p.tcp {
            self.streams.remove(&id);
        }
        if p.tcp_acked {
            // Reachable over TCP only: a network problem, not a failure (Go logs a warning).
            self.awareness.apply(-1);
            return;
        }
        // With nack-capable peers, missing nacks point at our own network; otherwise any
        // failed probe counts against our health.
        let delta = if p.expected_nacks > 0 {
            (p.expected_nacks - p.nacks).max(0)
        } else {
            1
        };
        self.awareness.apply(delta);
        let suspect = Suspect {
            incarnation: p.incarnation,
            node: p.target,
            from: self.config.name.clone(),
        };
        self.suspect_node(suspect, now);
    }

    /// Answers a ping, to the source address it names or else to the datagram's sender.
    pub(super) fn handle_ping(&mut self, from: SocketAddr, ping: Ping) {
        if !ping.node.is_empty() && ping.node != self.config.name {
            return; // meant for whoever had our address before
        }
        let to = ping.source.map_or(from, |s| s.addr);
        let ack = Message::Ack(Ack {
            seq_no: ping.seq_no,
            payload: Vec::new(),
        });
        self.send_msg(to, false, ack.encode());
    }

    /// Probes a node on a peer's behalf (Go's `handleIndirectPing`).
    pub(super) fn handle_indirect_ping(
        &mut self,
        from: SocketAddr,
        req: IndirectPing,
        now: Instant,
    ) {
        let port = if req.port == 0 || self.config.versions.protocol_cur < 2 {
            self.config.advertise.port()
        } else {
            req.port
        };
        let seq_no = self.next_seq();
        let requester = req.source.map_or(from, |s| s.addr);
        self.relays.insert(
            seq_no,
            Relay {
                requester,
                seq_no: req.seq_no,
                deadline: now + self.timers().probe_timeout,
                nack: req.nack,
            },
        );
        let ping = Message::Ping(Ping {
            seq_no,
            node: req.node,
            source: self.self_source(),
        });
        self.send_msg(SocketAddr::new(req.target, port), false, ping.encode());
    }

    pub(super) fn handle_ack(&mut self, seq_no: u32) {
        if self.probe.as_ref().is_some_and(|p| p.seq_no == seq_no) {
            if let Some(id) = self.probe.take().and_then(|p| p.tcp) {
                self.streams.remove(&id);
            }
            self.awareness.apply(-1);
        } else if let Some(relay) = self.relays.remove(&seq_no) {
            let ack = Message::Ack(Ack {
                seq_no: relay.seq_no,
                payload: Vec::new(),
            });
            self.send_msg(relay.requester, false, ack.encode());
        }
    }

    pub(super) fn handle_nack(&mut self, seq_no: u32) {
        if let Some(p) = self.probe.as_mut().filter(|p| p.seq_no == seq_no) {
            p.nacks += 1;
        }
    }

    /// The TCP fallback ping of the probe in flight came back.
    pub(super) fn tcp_ping_acked(&mut self, seq_no: u32) {
        if let Some(p) = self.probe.as_mut().filter(|p| p.seq_no == seq_no) {
            p.tcp_acked = true;
        }
    }

    /// The TCP fallback of the probe in flight was refused: no process listens at the
    /// target's address, so it is dead, not slow (`Timers::refused_tcp_ping_is_death`). Its
    /// incarnation is the one the probe started with: a refutation that arrived meanwhile
    /// outranks this.
    pub(super) fn tcp_ping_refused(&mut self, seq_no: u32, now: Instant) {
        let Some(p) = self.probe.take_if(|p| p.seq_no == seq_no) else {
            return;
        };
        let dead = Dead {
            incarnation: p.incarnation,
            node: p.target,
            from: self.config.name.clone(),
        };
        self.dead_node(dead, now);
    }

    /// Relays whose target stayed silent: send the promised nacks.
    pub(super) fn expire_relays(&mut self, now: Instant) {
        let expired: Vec<u32> = self
            .relays
            .iter()
            .filter(|(_, r)| r.deadline <= now)
            .map(|(seq, _)| *seq)
            .collect();
        for seq in expired {
            if let Some(relay) = self.relays.remove(&seq).filter(|r| r.nack) {
                let nack = Message::Nack(Nack {
                    seq_no: relay.seq_no,
                });
                self.send_msg(relay.requester, false, nack.encode());
            }
        }
    }
}
