//! Which string a Layer 2 election hashes, and how a speaker picks it.
//!
//! MetalLB changed the Layer 2 election in v0.11. Up to v0.10 each speaker ranked the nodes
//! hosting a ready endpoint of the service (and running a live speaker) by
//! `SHA-256(node + "#" + namespace/name)`; from v0.11 on it ranks by
//! `SHA-256(node + "#" + first status IP)`, and a `Cluster`-policy service may be announced by
//! any live speaker. A speaker that elects differently from the speakers it replaces moves
//! owners on the swap, and while the DaemonSet rolls the old and the new speakers disagree
//! (an IP answered by two nodes, or by none). So the speaker elects the way the release the
//! cluster was installed from does, which it reads from the command line that release's
//! manifest gives it (see [`RELEASE_ARGS`]).

use std::fmt;
use std::str::FromStr;

/// The election rule, named after the string hashed with each node name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum ElectionKey {
    /// v0.11 and later: `node#<first status IP>` in Go's text form. Services sharing an IP
    /// hash the same string, so they agree on one node. `Cluster`-policy services may be
    /// announced by any live speaker; `Local` ones only by nodes with a ready endpoint.
    #[default]
    FirstIp,
    /// v0.8 to v0.10: `node#<namespace>/<name>`, among the nodes hosting a ready endpoint of
    /// the service whatever its traffic policy. Upstream elected each service on its own, so
    /// two services sharing an IP could be answered by two nodes; here every service holding
    /// an IP uses the smallest `namespace/name` (byte order) among them, so the IP has one
    /// owner while a service alone on its IP, the common case, elects exactly as upstream.
    ServiceName,
}

impl ElectionKey {
    /// The value of `--l2-election-key` / `METALLB_L2_ELECTION_KEY`.
    pub fn flag_value(self) -> &'static str {
        match self {
            ElectionKey::FirstIp => "ip",
            ElectionKey::ServiceName => "service-name",
        }
    }

    /// The name `/status` and the logs use.
    pub fn as_str(self) -> &'static str {
        match self {
            ElectionKey::FirstIp => "ip",
            ElectionKey::ServiceName => "serviceName",
        }
    }

    /// Whether the candidates are the nodes hosting a ready endpoint whatever the traffic
    /// policy (v0.8 to v0.10), rather than every live speaker for `Cluster` (v0.11 on).
    pub fn candidates_need_endpoints(self) -> bool {
        self == ElectionKey::ServiceName
    }
}

impl fmt::Display for ElectionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ElectionKey {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "ip" => Ok(ElectionKey::FirstIp),
            "service-name" => Ok(ElectionKey::ServiceName),
            _ => Err(format!(
                "invalid Layer 2 election key {s:?}: ip (MetalLB v0.11 and later) or service-name (v0.8 to v0.10)"
            )),
        }
    }
}

/// Why a speaker uses its key: logged once at start-up and shown by `/status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum KeySource {
    /// `--l2-election-key` or `METALLB_L2_ELECTION_KEY`.
    #[default]
    Setting,
    /// Not set, and `--log-level` is on the command line: the v0.11+ manifests and charts.
    LogLevelGiven,
    /// Not set, and no `--log-level` on the command line: the v0.8 to v0.10 manifests.
    LogLevelAbsent,
}

impl KeySource {
    /// A short name for `/status` and the logs.
    pub fn as_str(self) -> &'static str {
        match self {
            KeySource::Setting => "setting",
            KeySource::LogLevelGiven => "logLevelGiven",
            KeySource::LogLevelAbsent => "logLevelAbsent",
        }
    }

    /// The sentence an operator reads.
    pub fn explain(self) -> &'static str {
        match self {
            KeySource::Setting => "set by --l2-election-key / METALLB_L2_ELECTION_KEY",
            KeySource::LogLevelGiven => {
                "not set; --log-level is on the command line, as in the MetalLB v0.11+ manifests"
            }
            KeySource::LogLevelAbsent => {
                "not set; no --log-level on the command line, as in the MetalLB v0.8-v0.10 manifests"
            }
        }
    }
}

/// The key a speaker uses, with the reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct KeyChoice {
    pub key: ElectionKey,
    pub source: KeySource,
}

impl KeyChoice {
    /// The explicit setting wins; otherwise `--log-level` given on the command line (not
    /// defaulted) means a v0.11+ install, and its absence a v0.8 to v0.10 one.
    pub fn choose(setting: Option<ElectionKey>, log_level_on_command_line: bool) -> KeyChoice {
        match (setting, log_level_on_command_line) {
            (Some(key), _) => KeyChoice {
                key,
                source: KeySource::Setting,
            },
            (None, true) => KeyChoice {
                key: ElectionKey::FirstIp,
                source: KeySource::LogLevelGiven,
            },
            (None, false) => KeyChoice {
                key: ElectionKey::ServiceName,
                source: KeySource::LogLevelAbsent,
            },
        }
    }
}

/// One upstream release's speaker DaemonSet, as that release's install manifest starts the
/// container: the facts detection relies on.
#[derive(Debug, Clone, Copy)]
pub struct ReleaseArgs {
    pub release: &'static str,
    /// `args:` of the speaker container, in order.
    pub args: &'static [&'static str],
    /// Names of the `env:` entries of the speaker container.
    pub env: &'static [&'static str],
    /// The rule that release's speaker elects by.
    pub key: ElectionKey,
}

/// The speaker container of each release's manifest. Only v0.11 added `--log-level` to the
/// args, and no release sets `METALLB_L2_ELECTION_KEY`, so the args alone tell the rule.
/// (The v0.10 and later Helm charts agree: v0.10.x passes no `--log-level`, v0.11+ passes it
/// while `speaker.logLevel` is non-empty, which it is by default.)
pub const RELEASE_ARGS: &[ReleaseArgs] = &[
    ReleaseArgs {
        release: "v0.8.3",
        args: &["--port=7472", "--config=config"],
        env: &["METALLB_NODE_NAME", "METALLB_HOST"],
        key: ElectionKey::ServiceName,
    },
    ReleaseArgs {
        release: "v0.9.3",
        args: &["--port=7472", "--config=config"],
        env: &[
            "METALLB_NODE_NAME",
            "METALLB_HOST",
            "METALLB_ML_BIND_ADDR",
            "METALLB_ML_LABELS",
            "METALLB_ML_NAMESPACE",
            "METALLB_ML_SECRET_KEY",
        ],
        key: ElectionKey::ServiceName,
    },
    ReleaseArgs {
        release: "v0.10.3",
        args: &["--port=7472", "--config=config"],
        env: &[
            "METALLB_NODE_NAME",
            "METALLB_HOST",
            "METALLB_ML_BIND_ADDR",
            "METALLB_ML_LABELS",
            "METALLB_ML_SECRET_KEY",
        ],
        key: ElectionKey::ServiceName,
    },
    ReleaseArgs {
        release: "v0.11.0",
        args: &["--port=7472", "--config=config", "--log-level=info"],
        env: &[
            "METALLB_NODE_NAME",
            "METALLB_HOST",
            "METALLB_ML_BIND_ADDR",
            "METALLB_ML_LABELS",
            "METALLB_ML_SECRET_KEY",
        ],
        key: ElectionKey::FirstIp,
    },
    ReleaseArgs {
        release: "v0.12.1",
        args: &["--port=7472", "--config=config", "--log-level=info"],
        env: &[
            "METALLB_NODE_NAME",
            "METALLB_HOST",
            "METALLB_ML_BIND_ADDR",
            "METALLB_ML_LABELS",
            "METALLB_ML_SECRET_KEY",
        ],
        key: ElectionKey::FirstIp,
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flag_values_round_trip_and_junk_is_refused() {
        for k in [ElectionKey::FirstIp, ElectionKey::ServiceName] {
            assert_eq!(k.flag_value().parse::<ElectionKey>(), Ok(k));
        }
        let err = "name".parse::<ElectionKey>().expect_err("not a key");
        assert!(err.contains("ip") && err.contains("service-name"), "{err}");
        assert_eq!(ElectionKey::ServiceName.to_string(), "serviceName");
    }

    #[test]
    fn setting_wins_then_log_level_decides() {
        for given in [false, true] {
            for k in [ElectionKey::FirstIp, ElectionKey::ServiceName] {
                assert_eq!(
                    KeyChoice::choose(Some(k), given),
                    KeyChoice {
                        key: k,
                        source: KeySource::Setting
                    }
                );
            }
        }
        assert_eq!(KeyChoice::choose(None, true).key, ElectionKey::FirstIp);
        assert_eq!(KeyChoice::choose(None, false).key, ElectionKey::ServiceName);
    }

    #[test]
    fn the_release_table_is_consistent_with_detection() {
        for r in RELEASE_ARGS {
            let given = r.args.iter().any(|a| a.starts_with("--log-level"));
            assert_eq!(KeyChoice::choose(None, given).key, r.key, "{}", r.release);
            assert!(!r.env.contains(&"METALLB_L2_ELECTION_KEY"));
        }
    }
}
