//! Which interfaces get an ARP and/or NDP responder (docs/layer2.md#interfaces), kept as a
//! table that the speaker feeds from netlink link/address messages and reconciles its sockets
//! against.

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, Ipv6Addr};

use super::MacAddr;

/// What netlink tells about one interface.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    pub index: u32,
    pub name: String,
    /// `None` for interfaces without an Ethernet address (tunnels, loopback).
    pub mac: Option<MacAddr>,
    pub up: bool,
    pub broadcast: bool,
    pub noarp: bool,
    /// Enslaved to a bridge or bond (IFLA_MASTER present); the master answers instead.
    pub has_master: bool,
}

/// The responders one interface should have.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Responders {
    pub name: String,
    pub mac: MacAddr,
    pub arp: bool,
    /// The link-local address the NDP socket binds to; `None` means no NDP responder.
    pub ndp: Option<Ipv6Addr>,
}

/// Interfaces and their IPv6 link-local addresses, as last reported by the kernel.
#[derive(Debug, Clone, Default)]
pub struct InterfaceTable {
    links: BTreeMap<u32, Link>,
    link_locals: BTreeMap<u32, BTreeSet<Ipv6Addr>>,
}

impl InterfaceTable {
    pub fn upsert_link(&mut self, link: Link) {
        self.links.insert(link.index, link);
    }

    pub fn remove_link(&mut self, index: u32) {
        self.links.remove(&index);
        self.link_locals.remove(&index);
    }

    /// Records an address; only IPv6 link-locals matter to the decision.
    pub fn add_address(&mut self, index: u32, ip: IpAddr) {
        if let IpAddr::V6(v6) = ip
            && v6.is_unicast_link_local()
        {
            self.link_locals.entry(index).or_default().insert(v6);
        }
    }

    pub fn remove_address(&mut self, index: u32, ip: IpAddr) {
        if let IpAddr::V6(v6) = ip
            && let Some(set) = self.link_locals.get_mut(&index)
        {
            set.remove(&v6);
            if set.is_empty() {
                self.link_locals.remove(&index);
            }
        }
    }

    /// The responders wanted on each usable interface, by interface index.
    pub fn desired(&self) -> BTreeMap<u32, Responders> {
        self.links
            .values()
            .filter_map(|link| {
                let ll = self
                    .link_locals
                    .get(&link.index)
                    .and_then(|s| s.first().copied());
                responders(link, ll).map(|r| (link.index, r))
            })
            .collect()
    }
}

/// The rule for one interface (docs/layer2.md#interfaces): it must be up, not enslaved and not
/// NOARP, and have a MAC; it then answers ARP if it is a broadcast medium and NDP if it has a
/// link-local.
pub fn responders(link: &Link, link_local: Option<Ipv6Addr>) -> Option<Responders> {
    if !link.up || link.has_master || link.noarp {
        return None;
    }
    let mac = link.mac?;
    let r = Responders {
        name: link.name.clone(),
        mac,
        arp: link.broadcast,
        ndp: link_local,
    };
    (r.arp || r.ndp.is_some()).then_some(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eth0() -> Link {
        Link {
            index: 2,
            name: "eth0".into(),
            mac: Some(MacAddr([2, 0, 0, 0, 0, 1])),
            up: true,
            broadcast: true,
            noarp: false,
            has_master: false,
        }
    }

    const LL: Ipv6Addr = Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 1);

    #[test]
    fn usable_broadcast_interface_gets_both_responders() {
        let r = responders(&eth0(), Some(LL)).expect("usable");
        assert_eq!(
            r,
            Responders {
                name: "eth0".into(),
                mac: MacAddr([2, 0, 0, 0, 0, 1]),
                arp: true,
                ndp: Some(LL)
            }
        );
        assert_eq!(
            responders(&eth0(), None).map(|r| (r.arp, r.ndp)),
            Some((true, None))
        );
    }

    #[test]
    fn down_enslaved_noarp_or_macless_interfaces_are_skipped() {
        for link in [
            Link {
                up: false,
                ..eth0()
            },
            Link {
                has_master: true,
                ..eth0()
            },
            Link {
                noarp: true,
                ..eth0()
            },
            Link {
                mac: None,
                ..eth0()
            },
        ] {
            assert_eq!(responders(&link, Some(LL)), None, "{link:?}");
        }
    }

    #[test]
    fn non_broadcast_interface_only_answers_ndp() {
        let p2p = Link {
            broadcast: false,
            ..eth0()
        };
        assert_eq!(responders(&p2p, None), None);
        assert_eq!(
            responders(&p2p, Some(LL)).map(|r| (r.arp, r.ndp)),
            Some((false, Some(LL)))
        );
    }

    #[test]
    fn table_follows_link_and_address_events() {
        let mut t = InterfaceTable::default();
        t.upsert_link(eth0());
        t.upsert_link(Link {
            index: 1,
            name: "lo".into(),
            noarp: true,
            ..eth0()
        });
        assert_eq!(t.desired().keys().copied().collect::<Vec<_>>(), vec![2]);
        assert_eq!(t.desired()[&2].ndp, None);

        // A global IPv6 address does not enable NDP; a link-local does.
        t.add_address(2, "fd00::1".parse().unwrap());
        assert_eq!(t.desired()[&2].ndp, None);
        t.add_address(2, IpAddr::V6(LL));
        assert_eq!(t.desired()[&2].ndp, Some(LL));
        t.remove_address(2, IpAddr::V6(LL));
        assert_eq!(t.desired()[&2].ndp, None);

        t.upsert_link(Link {
            up: false,
            ..eth0()
        });
        assert!(t.desired().is_empty());
        t.upsert_link(eth0());
        t.add_address(2, IpAddr::V6(LL));
        t.remove_link(2);
        assert!(t.desired().is_empty());
        t.upsert_link(eth0());
        assert_eq!(
            t.desired()[&2].ndp,
            None,
            "addresses are forgotten with the link"
        );
    }
}
