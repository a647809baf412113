//! The speaker's `/status` document: for every LoadBalancer service what this node decided,
//! why, and which node it believes owns the IP; with the live members, the BGP sessions and
//! the node self-checks. Built from the same inputs and the same [`Reason`] texts as the
//! decisions and the Events, so what an operator reads in `/status`, in `kubectl describe`
//! and in the logs is one story.
//!
//! Rows are built once per decision (the shell keeps them between requests); rendering is a
//! single pass over them, so answering costs nothing to the event loop.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::IpAddr;
use std::sync::Arc;

use serde::Serialize;

use super::decision::{Cluster, Reason, SpeakerService, Verdict, layer2_owner};
use super::selfcheck::Finding;
use super::state::WithdrawReason;
use crate::config::Protocol;
use crate::l2::election_key::KeyChoice;

/// What this node does with one service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Decision {
    /// Routes or ARP/NDP answers leave this node for the service's IPs.
    Announcing,
    NotAnnouncing,
    /// No configuration loaded yet: nothing is decided.
    NoConfig,
}

impl Decision {
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Announcing => "announcing",
            Decision::NotAnnouncing => "notAnnouncing",
            Decision::NoConfig => "noConfig",
        }
    }
}

/// One service in `/status`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceRow {
    pub service: String,
    /// The status IPs (entries without an `ip` are left out).
    pub ips: Vec<String>,
    /// The protocol of the pool holding the IPs, if some pool does.
    pub protocol: Option<&'static str>,
    pub pool: Option<String>,
    pub decision: Decision,
    /// [`Reason::as_str`]; `None` while announcing.
    pub reason: Option<&'static str>,
    /// The sentence behind the decision, as the Events word it.
    pub message: String,
    /// Layer 2: the elected node as this speaker computes it (every speaker with the same
    /// inputs computes the same one). BGP has no single owner: `None`.
    pub owner: Option<String>,
}

/// The message of an announcing service (the `nodeAssigned` Event's text).
pub fn announcing_message(node: &str) -> String {
    format!("announcing from node {node:?}")
}

/// The Event reason for a node that stops announcing a service.
pub const UNASSIGNED_REASON: &str = "nodeUnassigned";

/// The Normal Event a withdrawal causes on the Service: `nodeUnassigned`, naming the new
/// owner when another node won the election, otherwise the reason. `None` when nothing is
/// worth telling: the service is gone, or it is about to be announced again (other IPs or
/// protocol; the `nodeAssigned` that follows says it).
pub fn withdraw_event(node: &str, reason: &WithdrawReason) -> Option<(&'static str, String)> {
    let WithdrawReason::Verdict(r) = reason else {
        return None;
    };
    let message = match r {
        Reason::ServiceDeleted => return None,
        Reason::NotOwner { owner: Some(o) } => {
            format!("no longer announcing from node {node:?}: the owner is now node {o:?}")
        }
        other => format!("no longer announcing from node {node:?}: {other}"),
    };
    Some((UNASSIGNED_REASON, message))
}

/// The row of `svc` after `verdict` (the result of `decide(svc, cluster)`). `bgp_sessions`
/// is the number of peers with a session on this node: a BGP service announced without any
/// is reported as [`Reason::NoPeerSelected`]. `None` for services `/status` leaves out
/// (not LoadBalancer).
pub fn service_row(
    svc: &SpeakerService<'_>,
    cluster: &Cluster<'_>,
    verdict: &Verdict<'_>,
    bgp_sessions: usize,
) -> Option<ServiceRow> {
    if !svc.is_load_balancer {
        return None;
    }
    let parsed: Vec<IpAddr> = svc
        .ingress
        .iter()
        .flatten()
        .filter_map(|s| crate::config::parse_ip(s))
        .collect();
    let pool = cluster
        .config
        .and_then(|c| (!parsed.is_empty()).then(|| c.pool_containing_all(&parsed))?);
    let mut row = ServiceRow {
        service: svc.key.to_owned(),
        ips: svc.ingress.iter().flatten().cloned().collect(),
        protocol: pool.map(|p| p.protocol.as_str()),
        pool: pool.map(|p| p.name.clone()),
        decision: Decision::NotAnnouncing,
        reason: None,
        message: String::new(),
        owner: None,
    };
    match verdict {
        Verdict::NoConfig => {
            row.decision = Decision::NoConfig;
            row.message = "no configuration loaded yet".to_owned();
        }
        Verdict::Announce {
            protocol: Protocol::Bgp,
            ..
        } if bgp_sessions == 0 => withdrawn(&mut row, &Reason::NoPeerSelected),
        Verdict::Announce { protocol, .. } => {
            row.decision = Decision::Announcing;
            row.message = announcing_message(cluster.node);
            if *protocol == Protocol::Layer2 {
                row.owner = Some(cluster.node.to_owned());
            }
        }
        Verdict::Withdraw(reason) => {
            withdrawn(&mut row, reason);
            row.owner = match reason {
                Reason::NotOwner { owner } => owner.clone(),
                _ => layer2_owner(svc, cluster),
            };
        }
    }
    Some(row)
}

fn withdrawn(row: &mut ServiceRow, reason: &Reason) {
    row.decision = Decision::NotAnnouncing;
    row.reason = Some(reason.as_str());
    row.message = reason.to_string();
}

/// One BGP session of this node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BgpSessionRow {
    /// `ip:port`, the `peer` label of the metrics.
    pub peer: String,
    pub my_asn: u32,
    pub peer_asn: u32,
    /// RFC 4271 state name (`Idle`, `Connect`, `OpenSent`, `OpenConfirm`, `Established`).
    pub state: &'static str,
    /// Prefixes the peer has from us (`metallb_bgp_announced_prefixes_total`).
    pub prefixes_sent: usize,
    /// Prefixes waiting to be sent (`metallb_bgp_pending_prefixes_total`).
    pub prefixes_pending: usize,
    /// Why the last attempt or session ended, if one did.
    pub last_error: Option<String>,
}

/// One memberlist member as this speaker sees it. A member stuck in `suspect` is one this
/// speaker cannot reach (UDP/TCP 7946 blocked, node down): it still counts as live until
/// declared dead, so elections may pick it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MemberRow {
    pub name: String,
    pub addr: String,
    /// `alive` or `suspect`.
    pub state: &'static str,
}

/// What the speaker's loop publishes after each decision pass.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    pub node: String,
    /// The Layer 2 election rule this speaker uses, and why: fixed at start-up.
    pub election: KeyChoice,
    pub config_loaded: bool,
    /// Live speakers (memberlist members, or Ready speaker pods without memberlist).
    pub members: Vec<String>,
    /// Where `members` come from: `memberlist`, `speakerPods`, or `readyEndpointNodes` when
    /// the RBAC may not list pods (v0.8 installs: candidates are the nodes with a ready
    /// endpoint).
    pub live_source: &'static str,
    pub services: BTreeMap<String, Arc<ServiceRow>>,
}

impl Snapshot {
    /// Records the row of `key` (`None` removes it).
    pub fn set_row(&mut self, key: &str, row: Option<ServiceRow>) {
        match row {
            Some(r) => {
                if self.services.get(key).is_none_or(|old| **old != r) {
                    self.services.insert(key.to_owned(), Arc::new(r));
                }
            }
            None => {
                self.services.remove(key);
            }
        }
    }
}

/// A whole `/status` document: the loop's snapshot plus what other tasks own.
#[derive(Debug, Clone, Copy)]
pub struct StatusView<'a> {
    pub snapshot: &'a Snapshot,
    /// memberlist's own view; `None` when memberlist is disabled (the live speakers then
    /// come from the Ready speaker pods).
    pub memberlist: Option<&'a [MemberRow]>,
    pub bgp: &'a [BgpSessionRow],
    pub checks: &'a [Finding],
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Document<'a> {
    node: &'a str,
    /// `ip` or `serviceName`.
    election_key: &'static str,
    /// Why: the setting, or what the command line shows of the install.
    election_key_reason: &'static str,
    config_loaded: bool,
    members: &'a [String],
    live_speakers: &'static str,
    memberlist: Option<&'a [MemberRow]>,
    #[serde(serialize_with = "values")]
    services: &'a BTreeMap<String, Arc<ServiceRow>>,
    bgp_sessions: &'a [BgpSessionRow],
    node_checks: &'a [Finding],
}

fn values<S: serde::Serializer>(
    map: &&BTreeMap<String, Arc<ServiceRow>>,
    s: S,
) -> Result<S::Ok, S::Error> {
    s.collect_seq(map.values().map(|r| &**r))
}

impl StatusView<'_> {
    /// The JSON document (`GET /status`).
    pub fn to_json(&self) -> String {
        let doc = Document {
            node: &self.snapshot.node,
            election_key: self.snapshot.election.key.as_str(),
            election_key_reason: self.snapshot.election.source.explain(),
            config_loaded: self.snapshot.config_loaded,
            members: &self.snapshot.members,
            live_speakers: self.snapshot.live_source,
            memberlist: self.memberlist,
            services: &self.snapshot.services,
            bgp_sessions: self.bgp,
            node_checks: self.checks,
        };
        // Serializing plain structs of strings and numbers into a String cannot fail.
        serde_json::to_string_pretty(&doc).unwrap_or_default()
    }

    /// The text view (`GET /status?format=text`): one line per service IP, then sessions
    /// and checks, as aligned tables.
    pub fn to_text(&self) -> String {
        let s = self.snapshot;
        let mut out = String::with_capacity(128 * (s.services.len() + 8));
        let _ = writeln!(
            out,
            "node: {}\nelection key: {} ({})\nconfig: {}\nlive speakers from: {}\nmembers ({}): {}\n",
            s.node,
            s.election.key,
            s.election.source.explain(),
            if s.config_loaded {
                "loaded"
            } else {
                "not loaded"
            },
            s.live_source,
            s.members.len(),
            s.members.join(", ")
        );
        if let Some(ml) = self.memberlist {
            let view: Vec<String> = ml
                .iter()
                .map(|m| format!("{} ({}, {})", m.name, m.addr, m.state))
                .collect();
            out.truncate(out.trim_end().len());
            let _ = writeln!(out, "\nmemberlist: {}\n", view.join(", "));
        }
        let dash = |o: Option<&str>| o.unwrap_or("-").to_owned();
        let mut rows: Vec<[String; 7]> = Vec::with_capacity(s.services.len());
        for r in s.services.values() {
            let ips: Vec<&str> = if r.ips.is_empty() {
                vec!["-"]
            } else {
                r.ips.iter().map(String::as_str).collect()
            };
            for ip in ips {
                rows.push([
                    r.service.clone(),
                    ip.to_owned(),
                    dash(r.protocol),
                    r.decision.as_str().to_owned(),
                    dash(r.owner.as_deref()),
                    dash(r.reason),
                    r.message.clone(),
                ]);
            }
        }
        table(
            &mut out,
            [
                "SERVICE", "IP", "PROTOCOL", "DECISION", "OWNER", "REASON", "MESSAGE",
            ],
            &rows,
        );
        out.push('\n');
        let sessions: Vec<[String; 6]> = self
            .bgp
            .iter()
            .map(|b| {
                [
                    b.peer.clone(),
                    format!("{}/{}", b.my_asn, b.peer_asn),
                    b.state.to_owned(),
                    b.prefixes_sent.to_string(),
                    b.prefixes_pending.to_string(),
                    dash(b.last_error.as_deref()),
                ]
            })
            .collect();
        table(
            &mut out,
            [
                "PEER",
                "ASN/PEER-ASN",
                "STATE",
                "SENT",
                "PENDING",
                "LAST-ERROR",
            ],
            &sessions,
        );
        out.push('\n');
        let checks: Vec<[String; 3]> = self
            .checks
            .iter()
            .map(|c| {
                [
                    c.check.as_str().to_owned(),
                    if c.ok { "ok" } else { "FAILED" }.to_owned(),
                    c.message.clone(),
                ]
            })
            .collect();
        table(&mut out, ["CHECK", "RESULT", "MESSAGE"], &checks);
        out
    }
}

/// Appends `header` and `rows` with columns padded to their widest cell.
fn table<const N: usize>(out: &mut String, header: [&str; N], rows: &[[String; N]]) {
    let mut widths = header.map(str::len);
    for row in rows {
        for (w, c) in widths.iter_mut().zip(row) {
            *w = (*w).max(c.chars().count());
        }
    }
    let mut line = |cells: &mut dyn Iterator<Item = &str>| {
        let start = out.len();
        for (i, (c, w)) in cells.zip(widths).enumerate() {
            if i > 0 {
                out.push_str("  ");
            }
            out.push_str(c);
            for _ in c.chars().count()..w {
                out.push(' ');
            }
        }
        let trimmed = out[start..].trim_end().len() + start;
        out.truncate(trimmed);
        out.push('\n');
    };
    line(&mut header.iter().copied());
    for row in rows {
        line(&mut row.iter().map(String::as_str));
    }
}

#[cfg(test)]
#[path = "status_tests.rs"]
mod tests;
