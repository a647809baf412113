//! What this node currently announces, and the transitions a new verdict causes
//! (docs/speaker.md#announcing-and-withdrawing), with two deliberate fixes: `nodeAssigned` is
//! reported only when the announcement starts or changes, and a withdrawal always says which
//! gauge series to delete (upstream's label typo left them behind).

use std::collections::BTreeMap;
use std::net::IpAddr;

use super::decision::{Reason, Verdict};
use crate::config::Protocol;

/// Why an announcement ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WithdrawReason {
    /// The verdict for the service.
    Verdict(Reason),
    /// It will be announced again with the other protocol.
    ProtocolChanged,
    /// It will be announced again with other IPs.
    IpsChanged,
}

impl WithdrawReason {
    /// Upstream's `reason` log value.
    pub fn as_str(&self) -> &'static str {
        match self {
            WithdrawReason::Verdict(r) => r.as_str(),
            WithdrawReason::ProtocolChanged => "protocolChanged",
            WithdrawReason::IpsChanged => "loadBalancerIPChanged",
        }
    }
}

/// One thing the dataplane, metrics and events must do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    Announce {
        key: String,
        protocol: Protocol,
        ips: Vec<IpAddr>,
    },
    Withdraw {
        key: String,
        protocol: Protocol,
        ips: Vec<IpAddr>,
        reason: WithdrawReason,
    },
}

/// The services this node announces.
#[derive(Debug, Default)]
pub struct Announcements {
    current: BTreeMap<String, (Protocol, Vec<IpAddr>)>,
}

impl Announcements {
    /// What `key` is announced with, if anything.
    pub fn get(&self, key: &str) -> Option<&(Protocol, Vec<IpAddr>)> {
        self.current.get(key)
    }

    /// Every announced service with its protocol and IPs.
    pub fn iter(&self) -> impl Iterator<Item = (&str, Protocol, &[IpAddr])> {
        self.current
            .iter()
            .map(|(k, (p, ips))| (k.as_str(), *p, ips.as_slice()))
    }

    /// Announced services of one protocol (the BGP planner's input).
    pub fn with_protocol(&self, protocol: Protocol) -> impl Iterator<Item = (&str, &[IpAddr])> {
        self.current
            .iter()
            .filter(move |(_, (p, _))| *p == protocol)
            .map(|(k, (_, ips))| (k.as_str(), ips.as_slice()))
    }

    pub fn len(&self) -> usize {
        self.current.len()
    }

    pub fn is_empty(&self) -> bool {
        self.current.is_empty()
    }

    /// Applies a verdict; the changes come in the order they must be carried out.
    pub fn apply(&mut self, key: &str, verdict: &Verdict<'_>) -> Vec<Change> {
        match verdict {
            Verdict::NoConfig => Vec::new(),
            Verdict::Withdraw(reason) => self
                .withdraw(key, WithdrawReason::Verdict(reason.clone()))
                .into_iter()
                .collect(),
            Verdict::Announce { protocol, ips, .. } => {
                let mut out = Vec::new();
                match self.current.get(key) {
                    Some((p, i)) if p == protocol && i == ips => return out,
                    Some((p, _)) if p != protocol => {
                        out.extend(self.withdraw(key, WithdrawReason::ProtocolChanged))
                    }
                    Some(_) => out.extend(self.withdraw(key, WithdrawReason::IpsChanged)),
                    None => {}
                }
                self.current
                    .insert(key.to_owned(), (*protocol, ips.clone()));
                out.push(Change::Announce {
                    key: key.to_owned(),
                    protocol: *protocol,
                    ips: ips.clone(),
                });
                out
            }
        }
    }

    fn withdraw(&mut self, key: &str, reason: WithdrawReason) -> Option<Change> {
        let (protocol, ips) = self.current.remove(key)?;
        Some(Change::Withdraw {
            key: key.to_owned(),
            protocol,
            ips,
            reason,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Mode, parse};

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("ip")
    }

    #[test]
    fn transitions_follow_the_upstream_order_and_repeat_nothing() {
        let cfg = parse("address-pools:\n- {name: a, protocol: layer2, addresses: [10.0.0.0/24]}\n- {name: b, protocol: bgp, addresses: [10.1.0.0/24]}\n", Mode::Controller).expect("valid");
        let (l2, bgp) = (&cfg.pools[0], &cfg.pools[1]);
        let mut a = Announcements::default();
        let announce = |protocol, pool, ips: &[&str]| Verdict::Announce {
            protocol,
            ips: ips.iter().map(|s| ip(s)).collect(),
            pool,
        };

        let first = a.apply("ns/s", &announce(Protocol::Layer2, l2, &["10.0.0.1"]));
        assert_eq!(
            first,
            vec![Change::Announce {
                key: "ns/s".into(),
                protocol: Protocol::Layer2,
                ips: vec![ip("10.0.0.1")]
            }]
        );
        // A resync with the same verdict changes nothing: no event, no gratuitous burst.
        assert!(
            a.apply("ns/s", &announce(Protocol::Layer2, l2, &["10.0.0.1"]))
                .is_empty()
        );

        let moved = a.apply("ns/s", &announce(Protocol::Layer2, l2, &["10.0.0.2"]));
        assert!(matches!(
            &moved[0],
            Change::Withdraw {
                reason: WithdrawReason::IpsChanged,
                ..
            }
        ));
        assert!(matches!(&moved[1], Change::Announce { .. }));

        let switched = a.apply("ns/s", &announce(Protocol::Bgp, bgp, &["10.1.0.2"]));
        assert!(matches!(
            &switched[0],
            Change::Withdraw {
                reason: WithdrawReason::ProtocolChanged,
                protocol: Protocol::Layer2,
                ..
            }
        ));
        assert_eq!(a.with_protocol(Protocol::Bgp).count(), 1);

        let gone = a.apply("ns/s", &Verdict::Withdraw(Reason::NoEndpoints));
        assert_eq!(gone.len(), 1);
        assert_eq!(
            match &gone[0] {
                Change::Withdraw { reason, .. } => reason.as_str(),
                _ => "",
            },
            "noEndpoints"
        );
        assert!(
            a.apply("ns/s", &Verdict::Withdraw(Reason::NoEndpoints))
                .is_empty()
        );
        assert!(a.is_empty());
    }
}
