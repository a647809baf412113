//! What one convergence pass produces besides the allocator update: the status to write,
//! Events, log notes (upstream's go-kit fields) and the plan verdict.

use std::net::IpAddr;

use serde_json::Value;

use super::error::AllocError;
use super::family::FamilyError;
use super::service::RequestError;
use crate::gotext::ip_string;

/// Kubernetes Event type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventType {
    Normal,
    Warning,
}

/// An Event to attach to the Service (docs/metrics-events.md#controller-events).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub kind: EventType,
    pub reason: &'static str,
    pub message: String,
}

/// What to do with `status.loadBalancer`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    /// Leave the status exactly as it is (even entries we would not write ourselves).
    Untouched,
    /// `ingress = [{ip}…]` in this order; empty clears the status.
    Set(Vec<IpAddr>),
}

/// Why an assignment was cleared (`event=clearAssignment`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClearReason {
    NotLoadBalancer,
    NoClusterIps,
    /// The status family differs from the cluster IPs' family (upstream clears silently).
    FamilyChanged,
    /// `Assign` of the status addresses failed.
    NotAllowed(AllocError),
    DifferentPool,
    DifferentIp,
}

impl ClearReason {
    /// The `reason` log field (`None`: upstream logs the error instead).
    pub fn code(&self) -> Option<&'static str> {
        match self {
            ClearReason::NotLoadBalancer => Some("notLoadBalancer"),
            ClearReason::NoClusterIps => Some("noClusterIPs"),
            ClearReason::FamilyChanged => Some("ipFamilyChanged"),
            ClearReason::NotAllowed(_) => None,
            ClearReason::DifferentPool => Some("differentPoolRequested"),
            ClearReason::DifferentIp => Some("differentIPRequested"),
        }
    }

    /// Why the old addresses went, for `controller plan` and the plan verdict: the refusal
    /// itself where there is one (which pool, which sharing rule), else [`Self::message`].
    pub fn explain(&self) -> String {
        match self {
            ClearReason::NotAllowed(e) => format!("current IP refused: {e}"),
            other => other.message().to_owned(),
        }
    }

    pub fn message(&self) -> &'static str {
        match self {
            ClearReason::NotLoadBalancer => "not a LoadBalancer",
            ClearReason::NoClusterIps => "No ClusterIPs",
            ClearReason::FamilyChanged => "IP family of the status differs from the service's",
            ClearReason::NotAllowed(_) => "current IP not allowed by config, clearing",
            ClearReason::DifferentPool => {
                "user requested a different pool than the one currently assigned"
            }
            ClearReason::DifferentIp => {
                "user requested a different IP than the one currently assigned"
            }
        }
    }
}

/// Log severity of a [`Note`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Debug,
    Info,
    Error,
}

/// Something worth a log line (docs/allocation.md#events-and-log-lines), in the order it
/// happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Note {
    Cleared(ClearReason),
    LbIpsFamily(FamilyError),
    ClusterIpsFamily(FamilyError),
    InvalidRequest(RequestError),
    /// The deliberate fix: the requested pool no longer exists, the address is kept.
    KeptUnknownPool {
        requested: String,
        current: String,
    },
    NotSynced,
    AllocationFailed(String),
    IpAllocated(Vec<IpAddr>),
    /// Defensive checks that should never fire.
    Bug(&'static str),
}

impl Note {
    pub fn level(&self) -> Level {
        match self {
            Note::Cleared(ClearReason::NotLoadBalancer) => Level::Debug,
            Note::LbIpsFamily(_)
            | Note::ClusterIpsFamily(_)
            | Note::InvalidRequest(_)
            | Note::AllocationFailed(_)
            | Note::Bug(_) => Level::Error,
            _ => Level::Info,
        }
    }

    /// The go-kit fields upstream logs (`msg` last), ready for `logfmt::render`.
    pub fn fields(&self) -> Vec<(&'static str, Value)> {
        let s = |v: &str| Value::from(v);
        match self {
            Note::Cleared(reason) => {
                let mut f = vec![("event", s("clearAssignment"))];
                match (reason, reason.code()) {
                    (ClearReason::NotAllowed(e), _) => {
                        f.push(("error", Value::from(e.to_string())))
                    }
                    (_, Some(code)) => f.push(("reason", s(code))),
                    (_, None) => {}
                }
                f.push(("msg", s(reason.message())));
                f
            }
            Note::LbIpsFamily(_) => vec![
                ("event", s("clearAssignment")),
                ("reason", s("nolbIPsIPFamily")),
                ("msg", s("Failed to retrieve lbIPs family")),
            ],
            Note::ClusterIpsFamily(_) => vec![
                ("event", s("clearAssignment")),
                ("reason", s("noclusterIPsIPFamily")),
                ("msg", s("Failed to retrieve clusterIPs family")),
            ],
            Note::InvalidRequest(e) => vec![
                ("event", s("loadbalancerIP")),
                ("error", Value::from(e.to_string())),
                ("msg", s("invalid requested loadbalancer IPs")),
            ],
            Note::KeptUnknownPool { requested, current } => vec![
                ("event", s("keepAssignment")),
                ("requestedPool", Value::from(requested.as_str())),
                ("pool", Value::from(current.as_str())),
                (
                    "msg",
                    s("requested pool does not exist (renamed?); keeping the current IP"),
                ),
            ],
            Note::NotSynced => vec![(
                "msg",
                s("controller not synced yet, cannot allocate IP; will retry after sync"),
            )],
            Note::AllocationFailed(e) => vec![
                ("op", s("allocateIPs")),
                ("error", Value::from(e.as_str())),
                ("msg", s("IP allocation failed")),
            ],
            Note::IpAllocated(ips) => vec![
                ("event", s("ipAllocated")),
                (
                    "ip",
                    Value::from(ips.iter().map(|ip| ip_string(*ip)).collect::<Vec<_>>()),
                ),
                ("msg", s("IP address assigned by controller")),
            ],
            Note::Bug(msg) => vec![("bug", s("true")), ("msg", s(msg))],
        }
    }
}

/// The plan verdict for one service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// Same addresses as before (possibly none).
    Kept,
    /// Had none, now has addresses.
    Assigned,
    /// Had addresses, now has different ones.
    Changed,
    /// Had addresses, now has none, without an error.
    Cleared,
    /// A Warning event was raised (the status may or may not have changed).
    Failed,
    /// Needs a new address but the controller has not synced yet; retried later.
    Deferred,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Kept => "kept",
            Action::Assigned => "assigned",
            Action::Changed => "changed",
            Action::Cleared => "cleared",
            Action::Failed => "failed",
            Action::Deferred => "deferred",
        }
    }
}

/// Result of one pass.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Convergence {
    pub status: Status,
    /// Return `Error` to the work queue (retry with back-off): only when an address is needed
    /// before the initial sync. The status must then not be written.
    pub retry: bool,
    pub events: Vec<Event>,
    pub notes: Vec<Note>,
    pub action: Action,
    /// Text behind the action: the Event message (`Assigned IP […]`, the warning), or the
    /// clear reason.
    pub reason: String,
}
