//! One watch's health, for the log: an outage is one warning when it starts and one line when
//! it ends, not a line per retry (kube-runtime's back-off retries every few seconds, for as
//! long as the API server is away).

use std::time::{Duration, Instant};

/// Tracks whether a watch is failing.
pub struct WatchHealth {
    what: &'static str,
    /// The resource watched and where a 403 is reported (see [`WatchHealth::reporting`]).
    forbidden: Option<(&'static str, crate::Forbidden)>,
    failing: Option<(Instant, u64)>,
}

/// What the caller should log, if anything (kept separate from logging so it can be tested).
#[derive(Debug, PartialEq, Eq)]
pub enum Transition {
    /// The first error of an outage.
    Failing,
    /// Another error of the same outage: not worth a line.
    StillFailing,
    /// The watch works again after `errors` errors over `lasted`.
    Recovered {
        errors: u64,
        lasted: Duration,
    },
    Healthy,
}

impl WatchHealth {
    pub const fn new(what: &'static str) -> Self {
        Self {
            what,
            forbidden: None,
            failing: None,
        }
    }

    /// Reports a 403 on `resource` (`endpointslices.discovery.k8s.io`, …) to `forbidden`.
    pub fn reporting(mut self, resource: &'static str, forbidden: crate::Forbidden) -> Self {
        self.forbidden = Some((resource, forbidden));
        self
    }

    /// A watch error at `now`: logged when it starts an outage.
    pub fn error(&mut self, error: &dyn std::fmt::Display, now: Instant) -> Transition {
        let t = match &mut self.failing {
            Some((_, n)) => {
                *n += 1;
                Transition::StillFailing
            }
            None => {
                self.failing = Some((now, 1));
                Transition::Failing
            }
        };
        match t {
            Transition::Failing => {
                tracing::warn!(op = self.what, error = %error, "watch failing, retrying with back-off (logged once per outage)");
            }
            _ => tracing::debug!(op = self.what, error = %error, "watch still failing"),
        }
        t
    }

    /// A watcher's error at `now`: a 403 is also reported as a missing `list`/`watch` rule
    /// (when [`WatchHealth::reporting`]).
    pub fn watch_error(
        &mut self,
        error: &kube::runtime::watcher::Error,
        now: Instant,
    ) -> Transition {
        use kube::runtime::watcher::Error as E;
        let Some((resource, forbidden)) = &self.forbidden else {
            return self.error(error, now);
        };
        let resource = *resource;
        let denied = match error {
            E::InitialListFailed(e) => crate::Denied::of(e, "list", resource),
            E::WatchStartFailed(e) | E::WatchFailed(e) => crate::Denied::of(e, "watch", resource),
            E::WatchError(s) if s.code == 403 => Some(crate::Denied {
                verb: "watch".into(),
                resource: resource.into(),
            }),
            _ => None,
        };
        if let Some(d) = denied {
            forbidden.report(&d, "the watch retries with back-off");
        }
        self.error(error, now)
    }

    /// An event arrived: the watch works.
    pub fn ok(&mut self, now: Instant) -> Transition {
        match self.failing.take() {
            Some((since, errors)) => {
                let lasted = now.saturating_duration_since(since);
                tracing::info!(
                    op = self.what,
                    errors,
                    seconds = lasted.as_secs_f64(),
                    "watch recovered"
                );
                Transition::Recovered { errors, lasted }
            }
            None => Transition::Healthy,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_outage_is_one_failing_and_one_recovered() {
        let mut h = WatchHealth::new("watchServices");
        let t0 = Instant::now();
        assert_eq!(h.ok(t0), Transition::Healthy);
        assert_eq!(h.error(&"refused", t0), Transition::Failing);
        for i in 1..20 {
            assert_eq!(
                h.error(&"refused", t0 + Duration::from_secs(i)),
                Transition::StillFailing
            );
        }
        assert_eq!(
            h.ok(t0 + Duration::from_secs(60)),
            Transition::Recovered {
                errors: 20,
                lasted: Duration::from_secs(60)
            }
        );
        assert_eq!(h.ok(t0 + Duration::from_secs(61)), Transition::Healthy);
        assert_eq!(
            h.error(&"again", t0 + Duration::from_secs(62)),
            Transition::Failing
        );
    }

    #[test]
    fn a_refused_watch_is_reported_as_a_missing_rule() {
        let registry = prometheus::Registry::new();
        let forbidden = crate::Forbidden::new(&registry).expect("register");
        let mut h = WatchHealth::new("watchNodes").reporting("nodes", forbidden);
        let status: kube::core::Status = serde_json::from_value(serde_json::json!({
            "status": "Failure", "reason": "Forbidden", "code": 403, "message": "nodes is forbidden"
        }))
        .expect("status");
        let e =
            kube::runtime::watcher::Error::InitialListFailed(kube::Error::Api(Box::new(status)));
        let t0 = Instant::now();
        assert_eq!(h.watch_error(&e, t0), Transition::Failing);
        assert_eq!(h.watch_error(&e, t0), Transition::StillFailing);
        let counted: f64 = registry
            .gather()
            .iter()
            .flat_map(|f| f.get_metric().iter().map(|m| m.get_counter().get_value()))
            .sum();
        assert_eq!(counted, 2.0);
    }
}
