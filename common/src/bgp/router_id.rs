//! Router ID selection (docs/bgp.md#router-id), identical to upstream so that a node keeps its BGP
//! identifier across the image swap.

use std::net::{IpAddr, Ipv4Addr};

/// First match of: the configured `router-id` if IPv4 (an IPv6 value is ignored, as
/// upstream does); the local TCP address if IPv4; an IPv4 address of the interface owning
/// the local address; the CRC-32 (IEEE) of the node name read little-endian.
pub fn router_id(
    configured: Option<IpAddr>,
    local: IpAddr,
    interface_ipv4: Option<Ipv4Addr>,
    node_name: &str,
) -> Ipv4Addr {
    let v4 = |ip: IpAddr| match ip {
        IpAddr::V4(v4) => Some(v4),
        IpAddr::V6(v6) => v6.to_ipv4_mapped(),
    };
    configured
        .and_then(v4)
        .or_else(|| v4(local))
        .or(interface_ipv4)
        .unwrap_or_else(|| from_node_name(node_name))
}

/// Upstream writes the checksum with `binary.LittleEndian.PutUint32` into the 4 bytes of
/// a `net.IP`, so the least significant byte becomes the first octet.
pub fn from_node_name(node_name: &str) -> Ipv4Addr {
    Ipv4Addr::from(crc32fast::hash(node_name.as_bytes()).to_le_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    const V4: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2));
    const V6: IpAddr = IpAddr::V6(std::net::Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1));

    #[test]
    fn node_name_hash_matches_upstream_example() {
        // docs/bgp.md#router-id: crc32("node1") = 0x85ef2540 → 64.37.239.133
        assert_eq!(crc32fast::hash(b"node1"), 0x85ef_2540);
        assert_eq!(from_node_name("node1"), Ipv4Addr::new(64, 37, 239, 133));
    }

    #[test]
    fn precedence() {
        let cfg = Some(IpAddr::V4(Ipv4Addr::new(1, 2, 3, 4)));
        let iface = Some(Ipv4Addr::new(192, 0, 2, 9));
        assert_eq!(router_id(cfg, V4, iface, "n"), Ipv4Addr::new(1, 2, 3, 4));
        assert_eq!(
            router_id(Some(V6), V4, iface, "n"),
            Ipv4Addr::new(10, 0, 0, 2)
        );
        assert_eq!(router_id(None, V6, iface, "n"), Ipv4Addr::new(192, 0, 2, 9));
        assert_eq!(
            router_id(None, V6, None, "node1"),
            Ipv4Addr::new(64, 37, 239, 133)
        );
    }
}
