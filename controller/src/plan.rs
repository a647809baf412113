//! `controller plan`: what the controller would do to every LoadBalancer service after an
//! image swap — the operator's "what changes if I swap images?" answered offline.

use std::collections::{BTreeMap, BTreeSet};

use common::config::{Mode, config_text, parse};
use k8s_openapi::api::core::v1::Service;
use serde_json::{Value, json};

use crate::k8s::service::SvcView;
use crate::reconcile::{Action, Reconciler};

/// Why `plan` could not run; exit status 1 for a bad config, 2 for unreadable input.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error("{0}")]
    Config(#[from] common::config::CheckError),
    #[error("config: {0}")]
    Invalid(#[from] common::config::ConfigError),
    #[error("services: {0}")]
    Services(String),
}

impl PlanError {
    pub fn exit_code(&self) -> u8 {
        match self {
            PlanError::Config(e) => e.exit_code(),
            PlanError::Invalid(_) => 1,
            PlanError::Services(_) => 2,
        }
    }
}

/// One row of the plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    pub service: String,
    pub current: Vec<String>,
    pub planned: Vec<String>,
    pub action: &'static str,
    pub pool: Option<String>,
    pub reason: Option<String>,
}

/// Services from `kubectl get svc -A -o yaml` (a `List`) or multi-document YAML.
pub fn read_services(text: &str) -> Result<Vec<Service>, PlanError> {
    let docs: Vec<Value> =
        serde_saphyr::from_str_multiple_with_options(text, services_options(text.len()))
            .map_err(|e| PlanError::Services(yaml_error(&e)))?;
    let mut out = Vec::new();
    for doc in docs {
        let items = match doc.get("kind").and_then(Value::as_str) {
            Some("List" | "ServiceList") => doc
                .get("items")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default(),
            Some("Service") => vec![doc],
            None if doc.is_null() => continue,
            other => {
                return Err(PlanError::Services(format!(
                    "expected Services or a List, found kind {other:?}"
                )));
            }
        };
        for item in items {
            if item
                .get("kind")
                .and_then(Value::as_str)
                .is_some_and(|k| k != "Service")
            {
                continue;
            }
            out.push(serde_json::from_value(item).map_err(|e| PlanError::Services(e.to_string()))?);
        }
    }
    Ok(out)
}

/// The YAML reader's limits for a service list of `len` bytes. Its defaults (250 000 nodes,
/// 1 000 000 events) stop at about 5 000 services; a real list has at most a few nodes per
/// byte, so the caps scale with the input and only alias expansion (a "billion laughs"
/// document) can reach them.
fn services_options(len: usize) -> serde_saphyr::Options {
    let mut budget = serde_saphyr::Budget::default();
    budget.max_nodes = budget.max_nodes.max(len);
    budget.max_events = budget.max_events.max(len);
    budget.max_documents = budget.max_documents.max(len / 64);
    serde_saphyr::options! { budget: Some(budget), with_snippet: false }
}

/// One line for a YAML reading error: a breached limit in plain words, anything else as the
/// reader words it (without its multi-line source excerpt).
fn yaml_error(e: &serde_saphyr::Error) -> String {
    use serde_saphyr::Error as E;
    use serde_saphyr::budget::BudgetBreach as B;
    let at = e
        .location()
        .map(|l| format!(" at line {} column {}", l.line(), l.column()))
        .unwrap_or_default();
    let mut inner = e;
    while let E::AliasError { error, .. } | E::WithSnippet { error, .. } = inner {
        inner = error;
    }
    let what = match inner {
        E::Budget { breach, .. } => match breach {
            B::Nodes { nodes } => format!("too many YAML nodes ({nodes}, aliases expanded)"),
            B::Events { events } => format!("too many YAML events ({events})"),
            B::Aliases { aliases } => format!("too many YAML aliases ({aliases})"),
            B::Anchors { anchors } => format!("too many YAML anchors ({anchors})"),
            B::Depth { depth } => format!("YAML nested too deeply ({depth} levels)"),
            B::Documents { documents } => format!("too many YAML documents ({documents})"),
            other => format!("the YAML exceeds a reading limit ({other:?})"),
        },
        E::AliasReplayLimitExceeded { .. }
        | E::AliasExpansionLimitExceeded { .. }
        | E::AliasReplayStackDepthExceeded { .. } => "aliases expand to too much YAML".to_owned(),
        other => {
            let text = other.to_string();
            return text.lines().next().unwrap_or_default().to_owned();
        }
    };
    format!("{what}{at}; the input is refused")
}

/// Plans `services` against the config in `config_input` (manifest or bare document) by
/// running the controller's own [`Reconciler`] over them as a restart would see them: the
/// Services listed, the ConfigMap listed, then the initial sync (services holding IPs first,
/// then the rest). What it prints is what the live loop would do, by construction.
pub fn run(config_input: &str, services_input: &str) -> Result<Vec<Row>, PlanError> {
    let text = config_text(config_input)?;
    // Refused before the loop sees it, with the parser's exit code and text.
    parse(&text, Mode::Controller)?;
    let views: Vec<SvcView> = read_services(services_input)?
        .iter()
        .map(SvcView::from_service)
        .collect();
    let mut rec = Reconciler::new();
    let mut actions = Vec::new();
    let mut keys = BTreeSet::new();
    for view in &views {
        keys.insert(view.key());
        actions.extend(rec.service_changed(view.clone()));
    }
    actions.extend(rec.config_changed(Some(&text)));
    actions.extend(rec.config_listed());
    actions.extend(rec.services_listed(&keys));
    // A service the allocator asked to see again (its retry), as the loop's queue would.
    let retries: Vec<String> = actions
        .iter()
        .filter_map(|a| match a {
            Action::Retry { key } => Some(key.clone()),
            _ => None,
        })
        .collect();
    for key in retries {
        actions.extend(rec.retry(&key));
    }

    // Per service: the decision behind its status write (a later pass over the same service
    // then only keeps what was written), else its last decision.
    let mut decided: BTreeMap<String, (common::allocator::Action, String)> = BTreeMap::new();
    let mut written: BTreeMap<String, (Vec<String>, (common::allocator::Action, String))> =
        BTreeMap::new();
    for action in actions {
        match action {
            Action::Decided {
                key,
                outcome,
                reason,
            } => {
                decided.insert(key, (outcome, reason));
            }
            Action::WriteStatus { svc, ips } => {
                let key = svc.key();
                let why = or_kept(decided.get(&key).cloned());
                written.insert(key, (ips, why));
            }
            _ => {}
        }
    }
    Ok(views
        .iter()
        .filter(|v| v.is_load_balancer || !v.status_ips().is_empty())
        .map(|v| {
            let key = v.key();
            let current = v.status_ips();
            let (planned, (outcome, reason)) = match written.get(&key) {
                Some((ips, why)) => (ips.clone(), why.clone()),
                None => (current.clone(), or_kept(decided.get(&key).cloned())),
            };
            Row {
                planned,
                pool: rec.allocation().pool_of(&key).map(str::to_owned),
                reason: (!reason.is_empty()).then_some(reason),
                action: outcome.as_str(),
                current,
                service: key,
            }
        })
        .collect())
}

/// A service never decided (no config loaded) reads as kept: nothing would change.
fn or_kept(d: Option<(common::allocator::Action, String)>) -> (common::allocator::Action, String) {
    d.unwrap_or((common::allocator::Action::Kept, String::new()))
}

pub fn to_json(rows: &[Row]) -> Value {
    Value::Array(
        rows.iter()
            .map(|r| {
                json!({"service": r.service, "current": r.current, "planned": r.planned, "action": r.action, "pool": r.pool, "reason": r.reason})
            })
            .collect(),
    )
}

pub fn to_table(rows: &[Row]) -> String {
    let cells: Vec<[String; 6]> = rows
        .iter()
        .map(|r| {
            [
                r.service.clone(),
                list(&r.current),
                list(&r.planned),
                r.action.to_owned(),
                r.pool.clone().unwrap_or_else(|| "-".into()),
                r.reason.clone().unwrap_or_default(),
            ]
        })
        .collect();
    let header = ["SERVICE", "CURRENT", "PLANNED", "ACTION", "POOL", "REASON"].map(str::to_owned);
    let mut widths = header.clone().map(|h| h.len());
    for row in &cells {
        for (w, c) in widths.iter_mut().zip(row) {
            *w = (*w).max(c.len());
        }
    }
    let mut out = String::new();
    for row in std::iter::once(&header).chain(&cells) {
        let line: Vec<String> = row
            .iter()
            .zip(widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        out.push_str(line.join("  ").trim_end());
        out.push('\n');
    }
    out
}

fn list(ips: &[String]) -> String {
    if ips.is_empty() {
        "-".into()
    } else {
        ips.join(",")
    }
}
