//! Node self-checks: the misconfigurations that make a correct speaker look broken, found
//! from facts the shell gathers (interfaces, sysctls, a bind attempt).
//!
//! * `strictARP`: kube-proxy in IPVS mode puts every service IP on the dummy `kube-ipvs0`;
//!   unless `arp_ignore=1` and `arp_announce=2` (kube-proxy's `strictARP: true`), the kernel
//!   of *every* node answers ARP for every LoadBalancer IP and traffic goes anywhere. The
//!   kernel applies the larger of `conf/all` and `conf/<interface>` for both, so the check
//!   is per interface that answers ARP.
//! * `memberlistPort`: memberlist cannot bind its port (7946 by default): the speaker cannot
//!   join the others and fast failover is gone.
//! * `layer2Interface`: no interface can answer ARP or NDP (up, not enslaved, not NOARP, has
//!   a MAC — docs/layer2.md#interfaces): Layer 2 announcements reach nobody.

use std::net::IpAddr;

use serde::Serialize;

/// The interface kube-proxy's IPVS mode creates for service IPs.
pub const IPVS_INTERFACE: &str = "kube-ipvs0";

/// One network interface.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct InterfaceFacts {
    pub name: String,
    pub addresses: Vec<IpAddr>,
    /// Would get an ARP or NDP responder (`common::l2::iface::responders`).
    pub usable_for_layer2: bool,
    /// `/proc/sys/net/ipv4/conf/<name>/arp_ignore` as read (`None`: unreadable).
    pub arp_ignore: Option<String>,
    pub arp_announce: Option<String>,
}

/// What the shell found on the node.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NodeFacts {
    pub interfaces: Vec<InterfaceFacts>,
    /// `/proc/sys/net/ipv4/conf/all/arp_ignore` as read.
    pub arp_ignore_all: Option<String>,
    pub arp_announce_all: Option<String>,
    /// memberlist's port and whether binding it (TCP and UDP) worked; `None` when
    /// memberlist is disabled.
    pub memberlist_bind: Option<(u16, Result<(), String>)>,
    /// Some Layer 2 pool is configured: only then do Layer 2 problems deserve an Event.
    pub layer2_in_use: bool,
}

/// Which check a finding belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum Check {
    #[serde(rename = "strictARP")]
    StrictArp,
    #[serde(rename = "memberlistPort")]
    MemberlistPort,
    #[serde(rename = "layer2Interface")]
    Layer2Interface,
}

impl Check {
    pub const ALL: [Check; 3] = [
        Check::StrictArp,
        Check::MemberlistPort,
        Check::Layer2Interface,
    ];

    /// The `check` label of `metallb_speaker_node_check`.
    pub fn as_str(self) -> &'static str {
        match self {
            Check::StrictArp => "strictARP",
            Check::MemberlistPort => "memberlistPort",
            Check::Layer2Interface => "layer2Interface",
        }
    }

    /// The reason of the Warning Event on the Node when the check fails.
    pub fn event_reason(self) -> &'static str {
        match self {
            Check::StrictArp => "ipvsWithoutStrictARP",
            Check::MemberlistPort => "memberlistPortUnavailable",
            Check::Layer2Interface => "noLayer2Interface",
        }
    }
}

/// The result of one check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Finding {
    pub check: Check,
    pub ok: bool,
    /// A failure that breaks something configured: logged as an error and posted as a
    /// Warning Event on the Node. Failures that do not matter (a Layer 2 problem on a
    /// BGP-only cluster) are only shown and exported.
    pub matters: bool,
    pub message: String,
}

/// Runs every check that applies (memberlistPort only when memberlist is enabled).
pub fn self_check(facts: &NodeFacts) -> Vec<Finding> {
    let mut out = vec![strict_arp(facts)];
    if let Some((port, result)) = &facts.memberlist_bind {
        out.push(match result {
            Ok(()) => Finding {
                check: Check::MemberlistPort,
                ok: true,
                matters: false,
                message: format!("memberlist port {port} (TCP and UDP) can be bound"),
            },
            Err(e) => Finding {
                check: Check::MemberlistPort,
                ok: false,
                matters: true,
                message: format!(
                    "memberlist port {port} cannot be bound ({e}): this speaker cannot join the others, failover is slow"
                ),
            },
        });
    }
    out.push(layer2_interface(facts));
    out
}

/// A sysctl value as the kernel would use it; unreadable or garbled counts as 0, the
/// kernel's default.
fn level(v: Option<&str>) -> u32 {
    v.and_then(|s| s.trim().parse().ok()).unwrap_or(0)
}

fn strict_arp(facts: &NodeFacts) -> Finding {
    let ipvs_v4 = facts
        .interfaces
        .iter()
        .find(|i| i.name == IPVS_INTERFACE)
        .map_or(0, |i| i.addresses.iter().filter(|a| a.is_ipv4()).count());
    if ipvs_v4 == 0 {
        return Finding {
            check: Check::StrictArp,
            ok: true,
            matters: false,
            message: format!(
                "kube-proxy IPVS mode not detected (no IPv4 address on {IPVS_INTERFACE})"
            ),
        };
    }
    let all = (
        level(facts.arp_ignore_all.as_deref()),
        level(facts.arp_announce_all.as_deref()),
    );
    let loose: Vec<String> = facts
        .interfaces
        .iter()
        .filter(|i| i.usable_for_layer2 && i.name != IPVS_INTERFACE)
        .filter_map(|i| {
            let ignore = all.0.max(level(i.arp_ignore.as_deref()));
            let announce = all.1.max(level(i.arp_announce.as_deref()));
            (ignore < 1 || announce < 2)
                .then(|| format!("{} (arp_ignore={ignore}, arp_announce={announce})", i.name))
        })
        .collect();
    if loose.is_empty() {
        return Finding {
            check: Check::StrictArp,
            ok: true,
            matters: false,
            message: format!(
                "kube-proxy IPVS mode with strict ARP ({ipvs_v4} IPv4 addresses on {IPVS_INTERFACE}, arp_ignore>=1 and arp_announce=2)"
            ),
        };
    }
    Finding {
        check: Check::StrictArp,
        ok: false,
        matters: facts.layer2_in_use,
        message: format!(
            "kube-proxy IPVS mode without strictARP: {IPVS_INTERFACE} holds {ipvs_v4} IPv4 service addresses and {} answer ARP for them, so every node answers for every LoadBalancer IP; set strictARP: true in kube-proxy's config (net.ipv4.conf.all.arp_ignore=1, arp_announce=2)",
            loose.join(", ")
        ),
    }
}

fn layer2_interface(facts: &NodeFacts) -> Finding {
    let usable: Vec<&str> = facts
        .interfaces
        .iter()
        .filter(|i| i.usable_for_layer2)
        .map(|i| i.name.as_str())
        .collect();
    if usable.is_empty() {
        return Finding {
            check: Check::Layer2Interface,
            ok: false,
            matters: facts.layer2_in_use,
            message: "no interface can answer ARP or NDP (none is up, with a MAC, not NOARP and not enslaved to a bridge or bond)".to_owned(),
        };
    }
    Finding {
        check: Check::Layer2Interface,
        ok: true,
        matters: false,
        message: format!("Layer 2 answers on: {}", usable.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn iface(name: &str, addrs: &[&str], usable: bool) -> InterfaceFacts {
        InterfaceFacts {
            name: name.into(),
            addresses: addrs.iter().map(|a| a.parse().expect("ip")).collect(),
            usable_for_layer2: usable,
            arp_ignore: Some("0\n".into()),
            arp_announce: Some("0\n".into()),
        }
    }

    fn ipvs_node(ignore: &str, announce: &str) -> NodeFacts {
        NodeFacts {
            interfaces: vec![
                iface("lo", &["127.0.0.1"], false),
                iface("eth0", &["192.168.1.10"], true),
                iface(IPVS_INTERFACE, &["10.96.0.1", "192.168.1.240"], false),
            ],
            arp_ignore_all: Some(format!("{ignore}\n")),
            arp_announce_all: Some(format!("{announce}\n")),
            memberlist_bind: None,
            layer2_in_use: true,
        }
    }

    fn find(f: &[Finding], c: Check) -> &Finding {
        f.iter().find(|x| x.check == c).expect("check present")
    }

    #[test]
    fn ipvs_without_strict_arp_fails_and_names_the_interface() {
        let f = self_check(&ipvs_node("0", "0"));
        let s = find(&f, Check::StrictArp);
        assert!(!s.ok && s.matters);
        assert!(
            s.message.contains("eth0 (arp_ignore=0, arp_announce=0)"),
            "{}",
            s.message
        );
        assert!(s.message.contains("2 IPv4 service addresses"));
        // Only arp_ignore set: still loose.
        assert!(!find(&self_check(&ipvs_node("1", "0")), Check::StrictArp).ok);
    }

    #[test]
    fn strict_arp_from_all_or_from_the_interface_passes() {
        assert!(find(&self_check(&ipvs_node("1", "2")), Check::StrictArp).ok);
        let mut n = ipvs_node("0", "0");
        for i in &mut n.interfaces {
            i.arp_ignore = Some("1".into());
            i.arp_announce = Some("2".into());
        }
        assert!(
            find(&self_check(&n), Check::StrictArp).ok,
            "kernel takes max(all, iface)"
        );
    }

    #[test]
    fn no_ipvs_interface_or_an_empty_one_is_no_finding() {
        let mut n = ipvs_node("0", "0");
        n.interfaces.retain(|i| i.name != IPVS_INTERFACE);
        let s = self_check(&n);
        assert!(find(&s, Check::StrictArp).ok);
        let mut n = ipvs_node("0", "0");
        n.interfaces[2].addresses = vec!["fd00::1".parse().expect("ip")];
        assert!(
            find(&self_check(&n), Check::StrictArp).ok,
            "IPv6 only: ARP is not involved"
        );
    }

    #[test]
    fn loose_arp_on_a_bgp_only_cluster_is_reported_but_does_not_matter() {
        let mut n = ipvs_node("0", "0");
        n.layer2_in_use = false;
        let s = find(&self_check(&n), Check::StrictArp).clone();
        assert!(!s.ok && !s.matters);
    }

    #[test]
    fn memberlist_port_checked_only_when_enabled() {
        let mut n = ipvs_node("1", "2");
        assert!(
            self_check(&n)
                .iter()
                .all(|f| f.check != Check::MemberlistPort)
        );
        n.memberlist_bind = Some((7946, Err("Address in use (os error 98)".into())));
        let f = self_check(&n);
        let m = find(&f, Check::MemberlistPort);
        assert!(!m.ok && m.matters);
        assert!(m.message.contains("7946") && m.message.contains("Address in use"));
        n.memberlist_bind = Some((7946, Ok(())));
        assert!(find(&self_check(&n), Check::MemberlistPort).ok);
    }

    #[test]
    fn no_usable_interface_fails_layer2() {
        let mut n = ipvs_node("1", "2");
        assert!(
            find(&self_check(&n), Check::Layer2Interface)
                .message
                .contains("eth0")
        );
        for i in &mut n.interfaces {
            i.usable_for_layer2 = false;
        }
        let f = self_check(&n);
        let l = find(&f, Check::Layer2Interface);
        assert!(!l.ok && l.matters);
        assert_eq!(Check::Layer2Interface.event_reason(), "noLayer2Interface");
    }
}
