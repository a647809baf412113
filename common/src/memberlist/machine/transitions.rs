//! State transitions on alive, suspect and dead news (Go's `aliveNode`, `suspectNode`,
//! `deadNode`, `mergeState`, `refute`, `verifyProtocol`).
//!
//! The rules: news about a node counts only with an incarnation at least as new as ours
//! (alive needs a strictly newer one); accusations about ourselves are refuted by gossiping
//! alive with a higher incarnation; accepted news is re-gossiped. Suspicion turns into death
//! after Lifeguard's timeout unless refuted.

use super::{Event, JoinError, Memberlist};
use crate::memberlist::state::{self, Liveness, NodeState, Suspicion};
use crate::memberlist::wire::{
    Alive, Dead, MemberState, Message, PushNodeState, Suspect, Versions,
};
use std::time::Instant;

impl Memberlist {
    /// Applies an alive message. `bootstrap` marks our own announcement at start-up.
    pub(super) fn alive_node(&mut self, a: Alive, bootstrap: bool, now: Instant) {
        let is_local = a.node == self.config.name;
        // A queued alive about us must not undo a leave in progress.
        if self.left && is_local {
            return;
        }
        if let Some(v) = a.vsn
            && (v.protocol_min == 0 || v.protocol_max == 0 || v.protocol_min > v.protocol_max)
        {
            return;
        }
        let mut updates_addr = false;
        match self.table.get(&a.node) {
            None => {
                // New nodes enter as dead at incarnation 0, so the checks below treat the
                // message as news (and an incarnation-0 alive as none, as in Go).
                let node = NodeState {
                    name: a.node.clone(),
                    addr: a.addr,
                    port: a.port,
                    meta: a.meta.clone(),
                    vsn: a.vsn.unwrap_or_default(),
                    incarnation: 0,
                    liveness: Liveness::Dead,
                    state_change: now,
                };
                self.table.insert(node, &mut self.rng);
            }
            Some(st) if st.addr != a.addr || st.port != a.port => {
                // Only a node that left may come back elsewhere; anything else is a name
                // conflict (two nodes claiming one name), and the known address wins.
                if !matches!(st.liveness, Liveness::Left) {
                    return;
                }
                updates_addr = true;
            }
            Some(_) => {}
        }
        let Some(st) = self.table.get_mut(&a.node) else {
            return;
        };
        if a.incarnation <= st.incarnation && !is_local && !updates_addr {
            return;
        }
        if a.incarnation < st.incarnation && is_local {
            return;
        }
        let old_state = st.liveness.state();
        let old_meta = st.meta.clone();
        if !bootstrap && is_local {
            // Someone gossips about us. The same incarnation with the same data is just our
            // own news coming back; anything else (e.g. a previous run of ours) is refuted.
            if a.incarnation == st.incarnation && a.meta == st.meta && a.vsn == Some(st.vsn) {
                return;
            }
            self.refute(a.incarnation);
            return;
        }
        if let Some(v) = a.vsn {
            st.vsn = v;
        }
        st.incarnation = a.incarnation;
        st.meta.clone_from(&a.meta);
        st.addr = a.addr;
        st.port = a.port;
        if !matches!(st.liveness, Liveness::Alive) {
            st.liveness = Liveness::Alive;
            st.state_change = now;
        }
        let member = st.member();
        let meta_changed = old_meta != member.meta;
        let msg = Message::Alive(a).encode();
        self.broadcasts.queue(&member.name, msg, false);
        if matches!(old_state, MemberState::Dead | MemberState::Left) {
            self.emit(Event::Joined(member), now);
        } else if meta_changed {
            self.emit(Event::Updated(member), now);
        }
    }

    /// Applies a suspicion: start the timer, or count a confirmation of a running one.
    pub(super) fn suspect_node(&mut self, s: Suspect, now: Instant) {
        let n = self.table.len();
        let timers = *self.timers();
        let Some(st) = self.table.get_mut(&s.node) else {
            return;
        };
        if s.incarnation < st.incarnation {
            return;
        }
        if let Liveness::Suspect(suspicion) = &mut st.liveness {
            // Independent confirmations shorten the timeout; re-gossip new ones so they
            // reach the other accusers too.
            if suspicion.confirm(&s.from) {
                let msg = Message::Suspect(s.clone()).encode();
                self.broadcasts.queue(&s.node, msg, false);
            }
            return;
        }
        if !matches!(st.liveness, Liveness::Alive) {
            return;
        }
        if s.node == self.config.name {
            self.refute(s.incarnation);
            return;
        }
        st.incarnation = s.incarnation;
        st.state_change = now;
        let k = state::expected_confirmations(&timers, n);
        let min = state::suspicion_timeout(timers.suspicion_mult, n, timers.probe_interval);
        let max = min * timers.suspicion_max_timeout_mult;
        st.liveness = Liveness::Suspect(Suspicion::new(s.from.clone(), k, min, max, now));
        let msg = Message::Suspect(s.clone()).encode();
        self.broadcasts.queue(&s.node, msg, false);
    }

    /// Applies a death (or, when `from == node`, a graceful departure).
    pub(super) fn dead_node(&mut self, d: Dead, now: Instant) {
        let Some(st) = self.table.get_mut(&d.node) else {
            return;
        };
        if d.incarnation < st.incarnation || st.liveness.dead_or_left() {
            return;
        }
        let is_local = d.node == self.config.name;
        if is_local && !self.left {
            self.refute(d.incarnation);
            return;
        }
        st.incarnation = d.incarnation;
        st.liveness = if d.node == d.from {
            Liveness::Left
        } else {
            Liveness::Dead
        };
        st.state_change = now;
        let member = st.member();
        let msg = Message::Dead(d).encode();
        // Our own leave is tracked: `leave_finished` waits for it to be gossiped.
        self.broadcasts.queue(&member.name, msg, is_local);
        self.emit(Event::Left(member), now);
    }

    /// Suspect timers that ran out: the node is dead, declared by us.
    pub(super) fn expire_suspicions(&mut self, now: Instant) {
        let expired: Vec<(String, u32)> = self
            .table
            .iter()
            .filter_map(|n| match &n.liveness {
                Liveness::Suspect(s) if s.deadline() <= now => {
                    Some((n.name.clone(), n.incarnation))
                }
                _ => None,
            })
            .collect();
        for (node, incarnation) in expired {
            let from = self.config.name.clone();
            self.dead_node(
                Dead {
                    incarnation,
                    node,
                    from,
                },
                now,
            );
        }
    }

    /// Announces ourselves alive with an incarnation above `accused` (Go's `refute`). Having
    /// to refute counts against our health: we were slow enough to be suspected.
    pub(super) fn refute(&mut self, accused: u32) {
        let mut inc = self.incarnation.wrapping_add(1);
        if accused >= inc {
            inc = accused.wrapping_add(1);
        }
        self.incarnation = inc;
        self.awareness.apply(1);
        let me = self.config.name.clone();
        if let Some(st) = self.table.get_mut(&me) {
            st.incarnation = inc;
        }
        let msg = Message::Alive(self.self_alive(inc)).encode();
        self.broadcasts.queue(&me, msg, false);
    }

    /// Merges a peer's table (Go's `mergeRemoteState` + `mergeState`). A peer's "dead" is only
    /// taken as suspicion: we give the node the chance to refute rather than trust hearsay.
    pub(super) fn merge_remote(
        &mut self,
        remote: Vec<PushNodeState>,
        now: Instant,
    ) -> Result<(), JoinError> {
        self.verify_protocol(&remote)?;
        let me = self.config.name.clone();
        for r in remote {
            match r.state {
                MemberState::Alive => {
                    let port = if r.port == 0 {
                        self.config.advertise.port()
                    } else {
                        r.port
                    };
                    let a = Alive {
                        incarnation: r.incarnation,
                        node: r.name,
                        addr: r.addr,
                        port,
                        meta: r.meta,
                        vsn: r.vsn,
                    };
                    self.alive_node(a, false, now);
                }
                MemberState::Left => {
                    let d = Dead {
                        incarnation: r.incarnation,
                        from: r.name.clone(),
                        node: r.name,
                    };
                    self.dead_node(d, now);
                }
                MemberState::Dead | MemberState::Suspect => {
                    let s = Suspect {
                        incarnation: r.incarnation,
                        node: r.name,
                        from: me.clone(),
                    };
                    self.suspect_node(s, now);
                }
            }
        }
        Ok(())
    }

    /// Every alive node, local and remote, must speak a protocol (and delegate protocol)
    /// version every other alive node understands.
    fn verify_protocol(&self, remote: &[PushNodeState]) -> Result<(), JoinError> {
        let remote_alive = remote
            .iter()
            .filter(|r| r.state == MemberState::Alive)
            .filter_map(|r| r.vsn);
        let local_alive = self
            .table
            .iter()
            .filter(|n| matches!(n.liveness, Liveness::Alive))
            .map(|n| n.vsn);
        let (mut pmin, mut pmax, mut dmin, mut dmax) = (0u8, u8::MAX, 0u8, u8::MAX);
        for v in remote_alive.chain(local_alive) {
            pmin = pmin.max(v.protocol_min);
            pmax = pmax.min(v.protocol_max);
            dmin = dmin.max(v.delegate_min);
            dmax = dmax.min(v.delegate_max);
        }
        let spoken = remote
            .iter()
            .map(|r| (r.name.as_str(), r.vsn.unwrap_or_default()))
            .chain(self.table.iter().map(|n| (n.name.as_str(), n.vsn)));
        for (name, v) in spoken {
            let Versions {
                protocol_cur: p,
                delegate_cur: d,
                ..
            } = v;
            if p < pmin || p > pmax {
                return Err(JoinError::Incompatible(format!(
                    "node {name:?} protocol version {p} is outside [{pmin}, {pmax}]"
                )));
            }
            if d < dmin || d > dmax {
                return Err(JoinError::Incompatible(format!(
                    "node {name:?} delegate protocol version {d} is outside [{dmin}, {dmax}]"
                )));
            }
        }
        Ok(())
    }
}
