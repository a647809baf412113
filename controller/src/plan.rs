//! `controller plan`: what the controller would do to every LoadBalancer service after an
//! image swap — the operator's "what changes if I swap images?" answered offline.

use common::allocator::{PlanService, Status, plan};
use common::config::{Mode, config_text, parse};
use common::gotext::ip_string;
use k8s_openapi::api::core::v1::Service;
use serde_json::{Value, json};

use crate::alloc::spec_of;
use crate::k8s::service::SvcView;

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
        serde_saphyr::from_str_multiple(text).map_err(|e| PlanError::Services(e.to_string()))?;
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

/// Plans `services` against the config in `config_input` (manifest or bare document).
pub fn run(config_input: &str, services_input: &str) -> Result<Vec<Row>, PlanError> {
    let cfg = parse(&config_text(config_input)?, Mode::Controller)?;
    let views: Vec<SvcView> = read_services(services_input)?
        .iter()
        .map(SvcView::from_service)
        .collect();
    let input: Vec<PlanService> = views
        .iter()
        .map(|v| PlanService {
            key: v.key(),
            spec: spec_of(v),
            status_ips: v.status_ips(),
        })
        .collect();
    let (alloc, passes) = plan(&cfg.pools, &input);
    Ok(passes
        .into_iter()
        .zip(&input)
        .zip(&views)
        .filter(|((_, svc), view)| view.is_load_balancer || !svc.status_ips.is_empty())
        .map(|((c, svc), _)| Row {
            planned: match c.status {
                Status::Untouched => svc.status_ips.clone(),
                Status::Set(ips) => ips.into_iter().map(ip_string).collect(),
            },
            pool: alloc.pool_of(&svc.key).map(str::to_owned),
            reason: (!c.reason.is_empty()).then_some(c.reason),
            action: c.action.as_str(),
            current: svc.status_ips.clone(),
            service: svc.key.clone(),
        })
        .collect())
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
