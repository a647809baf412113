//! The per-peer Prometheus series (docs/metrics-events.md#upstream-series), labelled
//! `peer="ip:port"`.
//!
//! Series are created at 0 when a session starts and deleted when it is closed. Two sessions
//! can share a label (same address and port, other settings different — upstream allows
//! it), so the series are reference-counted and deleted with the last session using them.
//! A closed session's task may still be finishing; its handle is revoked first, so nothing
//! it reports afterwards can resurrect a deleted series.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use common::bgp::StateKind;
use kube_shell::metrics::Bgp;

/// Owned by the manager: which labels are in use, by how many sessions.
pub(crate) struct Series {
    metrics: Bgp,
    users: HashMap<String, usize>,
}

/// A session's way to report; cheap to clone into its task.
#[derive(Clone)]
pub(crate) struct PeerSeries {
    live: Arc<Mutex<Option<(Bgp, String)>>>,
    /// What `/status` shows; kept apart from `live` so it outlives the metrics series.
    view: Arc<Mutex<SessionView>>,
}

/// The session as `/status` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SessionView {
    pub state: StateKind,
    pub prefixes_sent: usize,
    pub prefixes_pending: usize,
    pub last_error: Option<String>,
}

impl Default for SessionView {
    fn default() -> Self {
        SessionView {
            state: StateKind::Idle,
            prefixes_sent: 0,
            prefixes_pending: 0,
            last_error: None,
        }
    }
}

impl Series {
    pub fn new(metrics: Bgp) -> Self {
        Self {
            metrics,
            users: HashMap::new(),
        }
    }

    /// Registers a session reporting under `label`, creating the series at 0 if new.
    pub fn acquire(&mut self, label: &str) -> PeerSeries {
        let users = self.users.entry(label.to_owned()).or_default();
        if *users == 0 {
            let m = &self.metrics;
            m.session_up.with_label_values(&[label]).set(0.0);
            m.updates_total.with_label_values(&[label]).reset();
            m.announced_prefixes_total
                .with_label_values(&[label])
                .set(0.0);
            m.pending_prefixes_total
                .with_label_values(&[label])
                .set(0.0);
        }
        *users += 1;
        PeerSeries {
            live: Arc::new(Mutex::new(Some((self.metrics.clone(), label.to_owned())))),
            view: Arc::default(),
        }
    }

    /// Silences `series` and deletes its label's series if no other session uses them.
    pub fn release(&mut self, series: &PeerSeries) {
        let Some((_, label)) = series.lock().take() else {
            return;
        };
        let Some(users) = self.users.get_mut(&label) else {
            return;
        };
        *users -= 1;
        if *users == 0 {
            self.users.remove(&label);
            let m = &self.metrics;
            let _ = m.session_up.remove_label_values(&[&label]);
            let _ = m.updates_total.remove_label_values(&[&label]);
            let _ = m.announced_prefixes_total.remove_label_values(&[&label]);
            let _ = m.pending_prefixes_total.remove_label_values(&[&label]);
        }
    }
}

impl PeerSeries {
    fn lock(&self) -> MutexGuard<'_, Option<(Bgp, String)>> {
        self.live.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn view_mut(&self) -> MutexGuard<'_, SessionView> {
        self.view.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The session's state, as `/status` shows it.
    pub fn view(&self) -> SessionView {
        self.view_mut().clone()
    }

    /// The FSM state after the session handled an input.
    pub fn state(&self, state: StateKind) {
        self.view_mut().state = state;
    }

    /// Why the last session or attempt ended.
    pub fn failed(&self, why: String) {
        self.view_mut().last_error = Some(why);
    }

    pub fn session_up(&self, up: bool) {
        if let Some((m, label)) = self.lock().as_ref() {
            m.session_up
                .with_label_values(&[label])
                .set(if up { 1.0 } else { 0.0 });
        }
    }

    pub fn report(&self, updates_sent: u64, announced: usize, pending: usize) {
        {
            let mut v = self.view_mut();
            v.prefixes_sent = announced;
            v.prefixes_pending = pending;
        }
        if let Some((m, label)) = self.lock().as_ref() {
            // Counts of this size are exact in an f64.
            if updates_sent > 0 {
                m.updates_total
                    .with_label_values(&[label])
                    .inc_by(updates_sent as f64);
            }
            m.announced_prefixes_total
                .with_label_values(&[label])
                .set(announced as f64);
            m.pending_prefixes_total
                .with_label_values(&[label])
                .set(pending as f64);
        }
    }
}

#[cfg(test)]
mod tests {
    use prometheus::Registry;

    use super::*;

    fn value(r: &Registry, name: &str, label: &str) -> Option<f64> {
        r.gather()
            .iter()
            .find(|f| f.name() == name)?
            .get_metric()
            .iter()
            .find(|m| m.get_label().iter().any(|l| l.value() == label))
            .map(|m| {
                if name.ends_with("updates_total") {
                    m.get_counter().get_value()
                } else {
                    m.get_gauge().get_value()
                }
            })
    }

    #[test]
    fn series_exist_at_zero_while_used_and_vanish_with_the_last_user() {
        let r = Registry::new();
        let mut s = Series::new(Bgp::new(&r).expect("register"));
        let a = s.acquire("10.0.0.1:179");
        assert_eq!(
            value(&r, "metallb_bgp_session_up", "10.0.0.1:179"),
            Some(0.0)
        );
        assert_eq!(
            value(&r, "metallb_bgp_updates_total", "10.0.0.1:179"),
            Some(0.0)
        );
        a.session_up(true);
        a.report(3, 2, 2);
        let b = s.acquire("10.0.0.1:179");
        assert_eq!(
            value(&r, "metallb_bgp_updates_total", "10.0.0.1:179"),
            Some(3.0),
            "a second user does not reset the first one's counter"
        );
        s.release(&a);
        a.session_up(false);
        assert_eq!(
            value(&r, "metallb_bgp_session_up", "10.0.0.1:179"),
            Some(1.0)
        );
        s.release(&b);
        s.release(&b);
        for name in [
            "metallb_bgp_session_up",
            "metallb_bgp_updates_total",
            "metallb_bgp_announced_prefixes_total",
            "metallb_bgp_pending_prefixes_total",
        ] {
            assert_eq!(value(&r, name, "10.0.0.1:179"), None, "{name}");
        }
        b.report(1, 1, 1);
        assert_eq!(
            value(&r, "metallb_bgp_announced_prefixes_total", "10.0.0.1:179"),
            None,
            "a released handle reports nothing"
        );
    }
}
