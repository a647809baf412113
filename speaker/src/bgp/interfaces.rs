//! Which local interface a BGP connection leaves through, and its other addresses.
//!
//! The session needs them for what the TCP socket cannot tell: the router ID and IPv4 next
//! hop of an IPv6 session, the IPv6 next hop (global and link-local) of an IPv4 session
//! (docs/bgp.md#ipv6-over-mp-bgp, docs/bgp.md#router-id). `source-address` must also be an
//! address of this host. One rtnetlink address dump per connection attempt answers all of it;
//! the choice itself is the pure [`interface_of`], tested without a kernel.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use futures::TryStreamExt as _;
use netlink_packet_route::address::{AddressAttribute, AddressHeaderFlags, AddressMessage};

/// One address configured on this host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct HostAddress {
    pub ifindex: u32,
    pub ip: IpAddr,
    /// Still in duplicate address detection, or failed it: the kernel will not use it.
    pub tentative: bool,
}

/// The addresses of the interface owning a connection's local address.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct InterfaceAddresses {
    pub ipv4: Option<Ipv4Addr>,
    pub ipv6: Option<Ipv6Addr>,
    pub link_local: Option<Ipv6Addr>,
}

#[derive(Debug, thiserror::Error)]
pub enum InterfacesError {
    #[error("opening a netlink socket: {0}")]
    Socket(#[source] std::io::Error),
    #[error("listing local addresses: {0}")]
    Dump(#[source] rtnetlink::Error),
}

/// Every address of every interface, in the kernel's order (primary addresses first).
pub(crate) async fn host_addresses() -> Result<Vec<HostAddress>, InterfacesError> {
    let (conn, handle, _) = rtnetlink::new_connection().map_err(InterfacesError::Socket)?;
    let conn = tokio::spawn(conn);
    let mut dump = handle.address().get().execute();
    let mut out = Vec::new();
    let result = loop {
        match dump.try_next().await {
            Ok(Some(msg)) => out.extend(host_address(&msg)),
            Ok(None) => break Ok(out),
            Err(e) => break Err(InterfacesError::Dump(e)),
        }
    };
    conn.abort();
    result
}

fn host_address(msg: &AddressMessage) -> Option<HostAddress> {
    // On point-to-point IPv4 links IFA_ADDRESS is the far end and IFA_LOCAL ours.
    let local = msg.attributes.iter().find_map(|a| match a {
        AddressAttribute::Local(ip) => Some(*ip),
        _ => None,
    });
    let ip = local.or_else(|| {
        msg.attributes.iter().find_map(|a| match a {
            AddressAttribute::Address(ip) => Some(*ip),
            _ => None,
        })
    })?;
    Some(HostAddress {
        ifindex: msg.header.index,
        ip,
        tentative: msg
            .header
            .flags
            .intersects(AddressHeaderFlags::Tentative | AddressHeaderFlags::Dadfailed),
    })
}

/// Whether `ip` is configured on this host (for `source-address`).
pub(crate) fn is_local(ip: IpAddr, addrs: &[HostAddress]) -> bool {
    let ip = ip.to_canonical();
    addrs.iter().any(|a| a.ip == ip)
}

/// The first IPv4, first usable global IPv6 and first usable link-local IPv6 address of the
/// interface that owns `local`; all `None` if no interface does (e.g. a NATed socket).
pub(crate) fn interface_of(local: IpAddr, addrs: &[HostAddress]) -> InterfaceAddresses {
    let local = local.to_canonical();
    let Some(ifindex) = addrs.iter().find(|a| a.ip == local).map(|a| a.ifindex) else {
        return InterfaceAddresses::default();
    };
    let mut found = InterfaceAddresses::default();
    for a in addrs.iter().filter(|a| a.ifindex == ifindex) {
        match a.ip {
            IpAddr::V4(v4) => {
                found.ipv4.get_or_insert(v4);
            }
            IpAddr::V6(_) if a.tentative => {}
            IpAddr::V6(v6) if v6.is_unicast_link_local() => {
                found.link_local.get_or_insert(v6);
            }
            IpAddr::V6(v6) => {
                found.ipv6.get_or_insert(v6);
            }
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(ifindex: u32, ip: &str) -> HostAddress {
        HostAddress {
            ifindex,
            ip: ip.parse().expect("test address"),
            tentative: false,
        }
    }

    fn table() -> Vec<HostAddress> {
        vec![
            addr(1, "127.0.0.1"),
            addr(1, "::1"),
            addr(2, "10.1.0.1"),
            addr(2, "10.1.0.11"),
            HostAddress {
                tentative: true,
                ..addr(2, "fd01::99")
            },
            addr(2, "fd01::1"),
            addr(2, "fe80::1"),
            addr(3, "10.2.0.1"),
            addr(3, "fd02::1"),
        ]
    }

    #[test]
    fn ipv4_session_learns_the_interface_ipv6_addresses() {
        let got = interface_of("10.1.0.11".parse().expect("ip"), &table());
        assert_eq!(
            got,
            InterfaceAddresses {
                ipv4: Some(Ipv4Addr::new(10, 1, 0, 1)),
                ipv6: Some("fd01::1".parse().expect("ip")),
                link_local: Some("fe80::1".parse().expect("ip")),
            }
        );
    }

    #[test]
    fn ipv6_session_learns_the_interface_ipv4_address_and_no_link_local_elsewhere() {
        let got = interface_of("fd02::1".parse().expect("ip"), &table());
        assert_eq!(got.ipv4, Some(Ipv4Addr::new(10, 2, 0, 1)));
        assert_eq!(got.ipv6, Some("fd02::1".parse().expect("ip")));
        assert_eq!(got.link_local, None);
    }

    #[test]
    fn unknown_local_address_gives_nothing_and_mapped_addresses_are_canonical() {
        assert_eq!(
            interface_of("192.0.2.1".parse().expect("ip"), &table()),
            InterfaceAddresses::default()
        );
        let mapped: IpAddr = "::ffff:10.2.0.1".parse().expect("ip");
        assert_eq!(
            interface_of(mapped, &table()).ipv4,
            Some(Ipv4Addr::new(10, 2, 0, 1))
        );
        assert!(is_local(mapped, &table()));
        assert!(!is_local("10.9.9.9".parse().expect("ip"), &table()));
    }

    #[tokio::test]
    async fn the_kernel_dump_lists_loopback() {
        let addrs = host_addresses().await.expect("netlink dump");
        assert!(is_local(Ipv4Addr::LOCALHOST.into(), &addrs));
        let lo = interface_of(Ipv4Addr::LOCALHOST.into(), &addrs);
        assert_eq!(lo.ipv4, Some(Ipv4Addr::LOCALHOST));
    }
}
