//! CRD mode's side of the controller loop (docs/crd.md#crd-mode): the `metallb.io` watches
//! and the ConfigMap beside them feed `common::crd::CrdSource`, whose candidates go to the
//! same [`Reconciler`] the ConfigMap's text goes to.

use k8s_openapi::api::core::v1::ConfigMap;
use kube::runtime::watcher::Event;
use kube_shell::crd::ObjectEvent;

use super::Shell;
use crate::reconcile::{Action, Reconciler};

impl Shell {
    /// CRD mode: the ConfigMap is watched only to refuse it beside objects
    /// (docs/crd.md#one-source-at-a-time).
    pub(super) fn configmap_beside_objects(
        &mut self,
        rec: &mut Reconciler,
        ev: Event<ConfigMap>,
        listed: &mut Option<Option<String>>,
    ) -> Vec<Action> {
        let text_of = |cm: &ConfigMap| {
            cm.data
                .as_ref()
                .and_then(|d| d.get("config").cloned())
                .unwrap_or_default()
        };
        match ev {
            Event::Init => *listed = Some(None),
            Event::InitApply(cm) => {
                self.config_uid.clone_from(&cm.metadata.uid);
                *listed = Some(Some(text_of(&cm)));
            }
            Event::InitDone => {
                self.configmap_text = listed.take().flatten();
                if let Some(crd) = &mut self.crd {
                    crd.mark_listed("ConfigMap");
                }
            }
            Event::Apply(cm) => {
                self.config_uid.clone_from(&cm.metadata.uid);
                self.configmap_text = Some(text_of(&cm));
            }
            Event::Delete(_) => self.configmap_text = None,
        }
        self.offer_objects(rec)
    }

    /// CRD mode: one event of a `metallb.io` watch.
    pub(super) fn object_event(
        &mut self,
        rec: &mut Reconciler,
        ev: ObjectEvent,
        health: &mut kube_shell::crd::Healths,
    ) -> Vec<Action> {
        let Some(crd) = &mut self.crd else {
            return Vec::new();
        };
        let (kind, done) = (ev.kind, ev.init_done());
        kube_shell::crd::feed(&mut crd.objects, ev, health);
        if done {
            crd.mark_listed(kind);
        }
        self.offer_objects(rec)
    }

    /// Hands the objects' candidate to the reconciler when it is new; the first time every
    /// watch has listed, the config counts as listed (the loop may start deciding).
    fn offer_objects(&mut self, rec: &mut Reconciler) -> Vec<Action> {
        let Some(crd) = &mut self.crd else {
            return Vec::new();
        };
        let stale = rec.config().is_stale();
        let Some(candidate) = crd.next(self.configmap_text.as_deref(), stale) else {
            return Vec::new();
        };
        let objects = &crd.objects;
        let mut out = rec.config_from_objects(candidate, |o| objects.uid(o));
        out.extend(rec.config_listed());
        out
    }
}
