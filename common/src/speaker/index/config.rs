//! The ConfigMap: its `config` text, or its absence.

use super::{Changed, Relist};

/// The text of the watched ConfigMap's `config` key (empty when the key is missing), or
/// `None` while no such ConfigMap exists. Only the text is kept: whether it loads is the
/// loop's business, which reloads when [`Changed::config`] says so.
#[derive(Debug, Default)]
pub struct ConfigText {
    text: Option<String>,
    /// A re-list under way: `Some(None)` until the ConfigMap is listed.
    pending: Option<Option<String>>,
}

impl ConfigText {
    /// The text in the cluster now, `None` when the ConfigMap does not exist.
    pub fn text(&self) -> Option<&str> {
        self.text.as_deref()
    }

    fn set(&mut self, text: Option<String>) -> Changed {
        if text == self.text {
            return Changed::default();
        }
        self.text = text;
        Changed {
            config: true,
            ..Changed::default()
        }
    }
}

impl Relist for ConfigText {
    /// The `config` text of the one ConfigMap the watch selects.
    type Object = String;
    type Changes = Changed;

    fn apply(&mut self, text: String) -> Changed {
        self.set(Some(text))
    }

    fn delete(&mut self, _: String) -> Changed {
        self.set(None)
    }

    fn begin(&mut self) {
        self.pending = Some(None);
    }

    fn listed(&mut self, text: String) {
        self.pending = Some(Some(text));
    }

    /// A re-list without the ConfigMap means it was deleted.
    fn commit(&mut self) -> Changed {
        match self.pending.take() {
            Some(text) => self.set(text),
            None => Changed::default(),
        }
    }
}
