//! The configuration in force, and the rule that a failed reload never replaces it.

use std::sync::Arc;

use super::{Config, ConfigError, Mode, parse};

/// What became of one reload attempt. `I` is why a source was invalid: the ConfigMap
/// parser's [`ConfigError`], or CRD mode's refusal (`crate::crd::SourceError`).
#[derive(Debug)]
pub enum ReloadOutcome<E, I = ConfigError> {
    /// The new configuration is in force.
    Loaded(Arc<Config>),
    /// The document did not parse or validate; the previous configuration stays.
    Invalid(I),
    /// The document parsed but the caller refused it (e.g. it would orphan allocated IPs);
    /// the previous configuration stays.
    Rejected(E),
    /// The ConfigMap is gone; the previous configuration stays.
    Missing,
}

/// The configuration a process runs on, with upstream's `config_loaded_bool` and
/// `config_stale_bool` semantics (docs/config.md#reloading): loaded never goes back to false;
/// stale is true while the latest document failed or is missing.
#[derive(Debug)]
pub struct Loaded {
    mode: Mode,
    current: Option<Arc<Config>>,
    stale: bool,
}

impl Loaded {
    pub fn new(mode: Mode) -> Self {
        Self {
            mode,
            current: None,
            stale: false,
        }
    }

    /// The configuration in force, if one was ever loaded.
    pub fn current(&self) -> Option<&Arc<Config>> {
        self.current.as_ref()
    }

    pub fn is_loaded(&self) -> bool {
        self.current.is_some()
    }

    pub fn is_stale(&self) -> bool {
        self.stale
    }

    /// Which process's rules the configuration is validated by.
    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// Applies the ConfigMap's `config` text (`None` when the ConfigMap was deleted). `accept`
    /// sees the parsed candidate and may refuse it; only an accepted candidate replaces the
    /// configuration in force.
    pub fn apply<E>(
        &mut self,
        text: Option<&str>,
        accept: impl FnOnce(&Config) -> Result<(), E>,
    ) -> ReloadOutcome<E> {
        let candidate = text.map(|t| parse(t, self.mode)).transpose();
        self.apply_source(candidate, accept)
    }

    /// Applies a configuration read from elsewhere (CRD mode translates objects):
    /// `Ok(None)` is no configuration at all, `Err` a refused source. The same rules as
    /// [`Loaded::apply`]: only an accepted candidate replaces the configuration in force.
    pub fn apply_source<E, I>(
        &mut self,
        candidate: Result<Option<Config>, I>,
        accept: impl FnOnce(&Config) -> Result<(), E>,
    ) -> ReloadOutcome<E, I> {
        let candidate = match candidate {
            Ok(Some(c)) => c,
            Ok(None) => {
                self.stale = true;
                return ReloadOutcome::Missing;
            }
            Err(e) => {
                self.stale = true;
                return ReloadOutcome::Invalid(e);
            }
        };
        if let Err(e) = accept(&candidate) {
            self.stale = true;
            return ReloadOutcome::Rejected(e);
        }
        let cfg = Arc::new(candidate);
        self.current = Some(Arc::clone(&cfg));
        self.stale = false;
        ReloadOutcome::Loaded(cfg)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_source_follows_the_same_rules() {
        let mut l = Loaded::new(Mode::NativeSpeaker);
        assert_eq!(l.mode(), Mode::NativeSpeaker);
        let good = parse(GOOD, Mode::NativeSpeaker).expect("valid");
        assert!(matches!(
            l.apply_source::<(), &str>(Ok(Some(good.clone())), |_| Ok(())),
            ReloadOutcome::Loaded(_)
        ));
        assert!(matches!(
            l.apply_source::<(), &str>(Err("refused"), |_| Ok(())),
            ReloadOutcome::Invalid("refused")
        ));
        assert!(l.is_stale());
        assert_eq!(l.current().map(|c| &**c), Some(&good));
        assert!(matches!(
            l.apply_source::<(), &str>(Ok(None), |_| Ok(())),
            ReloadOutcome::Missing
        ));
        assert_eq!(l.current().map(|c| &**c), Some(&good));
    }

    const GOOD: &str =
        "address-pools:\n- name: a\n  protocol: layer2\n  addresses: [10.0.0.0/24]\n";
    const OTHER: &str =
        "address-pools:\n- name: b\n  protocol: layer2\n  addresses: [10.1.0.0/24]\n";

    #[test]
    fn failures_keep_the_last_good_config() {
        let mut l = Loaded::new(Mode::Controller);
        assert!(!l.is_loaded() && !l.is_stale());
        assert!(matches!(
            l.apply::<()>(Some(GOOD), |_| Ok(())),
            ReloadOutcome::Loaded(_)
        ));
        let good = l.current().cloned().expect("loaded");

        assert!(matches!(
            l.apply::<()>(Some("peers: 3"), |_| Ok(())),
            ReloadOutcome::Invalid(_)
        ));
        assert!(l.is_stale() && l.is_loaded());
        assert_eq!(l.current(), Some(&good));

        assert!(matches!(
            l.apply(Some(OTHER), |_| Err("orphans IPs")),
            ReloadOutcome::Rejected("orphans IPs")
        ));
        assert_eq!(l.current(), Some(&good));

        assert!(matches!(
            l.apply::<()>(None, |_| Ok(())),
            ReloadOutcome::Missing
        ));
        assert!(l.is_stale());
        assert_eq!(l.current(), Some(&good));

        assert!(matches!(
            l.apply::<()>(Some(OTHER), |_| Ok(())),
            ReloadOutcome::Loaded(_)
        ));
        assert!(!l.is_stale());
        assert_eq!(
            l.current()
                .and_then(|c| c.pool("b"))
                .map(|p| p.name.as_str()),
            Some("b")
        );
    }
}
