//! The one adapter from a kube-runtime watch to a [`Relist`] index, for both binaries.
//!
//! kube-runtime's watcher delivers live changes as `Apply`/`Delete`, and after a watch error
//! (`410 Expired` and the like) lists again: `Init`, one `InitApply` per object that exists
//! now, `InitDone`. Nothing is sent for objects deleted meanwhile; the index learns it at
//! `InitDone` (its commit). Until then the old view keeps serving, as kube-runtime's own
//! reflector store does. Errors go to the watch's [`WatchHealth`]: one line per outage.

use common::relist::Relist;
use kube::runtime::watcher::{self, Event};

use crate::WatchHealth;

/// Feeds one watcher item to `index`. `view` turns an object into the index's plain value
/// (`None`: the object does not concern us, e.g. an unlabelled slice).
pub fn feed<K, I: Relist>(
    index: &mut I,
    ev: Result<Event<K>, watcher::Error>,
    view: impl Fn(&K) -> Option<I::Object>,
    health: &mut WatchHealth,
) -> I::Changes {
    let now = tokio::time::Instant::now().into_std();
    let ev = match ev {
        Ok(ev) => {
            health.ok(now);
            ev
        }
        Err(e) => {
            // kube-runtime's back-off retries.
            health.watch_error(&e, now);
            return I::Changes::default();
        }
    };
    match ev {
        Event::Apply(obj) => view(&obj).map(|o| index.apply(o)).unwrap_or_default(),
        Event::Delete(obj) => view(&obj).map(|o| index.delete(o)).unwrap_or_default(),
        Event::Init => {
            index.begin();
            I::Changes::default()
        }
        Event::InitApply(obj) => {
            if let Some(o) = view(&obj) {
                index.listed(o);
            }
            I::Changes::default()
        }
        Event::InitDone => index.commit(),
    }
}
