//! The NDP responder of one interface: a raw ICMPv6 socket that sees only Neighbor
//! Solicitations, joined to the solicited-node group of every owned IPv6 address.

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, Ipv6Addr, SocketAddrV6};
use std::sync::Arc;

use super::reader::{Reader, send_now};
use super::{Layer2Stats, OwnedSet};
use crate::sys;
use common::l2::MacAddr;
use common::l2::ndp::{self, NdpMessage};
use socket2::{Domain, Protocol, SockAddr, Socket, Type};

pub(crate) struct NdpResponder {
    socket: Arc<Socket>,
    ifindex: u32,
    mac: MacAddr,
    /// Owned IPs per solicited-node group: several IPs can share a group.
    groups: HashMap<Ipv6Addr, usize>,
    _reader: Reader,
}

impl NdpResponder {
    pub(crate) fn start(
        ifindex: u32,
        name: &str,
        mac: MacAddr,
        owned: OwnedSet,
        stats: Arc<dyn Layer2Stats>,
    ) -> io::Result<NdpResponder> {
        let sock = Socket::new(Domain::IPV6, Type::RAW, Some(Protocol::ICMPV6))?;
        sock.bind_device(Some(name.as_bytes()))?;
        // RFC 4861 §7.1: receivers drop ND messages whose hop limit is not 255.
        sock.set_multicast_hops_v6(u32::from(ndp::HOP_LIMIT))?;
        sock.set_unicast_hops_v6(u32::from(ndp::HOP_LIMIT))?;
        sock.set_multicast_if_v6(ifindex)?;
        sock.set_multicast_loop_v6(false)?;
        sys::icmp6_pass_only(&sock, &[ndp::TYPE_NEIGHBOR_SOLICITATION])?;
        let socket = Arc::new(sock);
        let interface = name.to_owned();
        let reader = Reader::spawn("ndp", name, Arc::clone(&socket), move |s, message, from| {
            if let Some(src) = from.as_socket_ipv6() {
                answer(
                    s,
                    message,
                    *src.ip(),
                    ifindex,
                    &interface,
                    mac,
                    &owned,
                    &*stats,
                );
            }
        })?;
        Ok(NdpResponder {
            socket,
            ifindex,
            mac,
            groups: HashMap::new(),
            _reader: reader,
        })
    }

    /// Starts listening for solicitations of `ip`.
    pub(crate) fn watch(&mut self, ip: Ipv6Addr) -> io::Result<()> {
        let group = ndp::solicited_node(ip);
        let count = self.groups.entry(group).or_insert(0);
        if *count == 0 {
            self.socket.join_multicast_v6(&group, self.ifindex)?;
        }
        *count += 1;
        Ok(())
    }

    /// Stops listening for `ip`; the group is left when no owned IP needs it any more.
    pub(crate) fn unwatch(&mut self, ip: Ipv6Addr) -> io::Result<()> {
        let group = ndp::solicited_node(ip);
        let Some(count) = self.groups.get_mut(&group) else {
            return Ok(());
        };
        *count -= 1;
        if *count == 0 {
            self.groups.remove(&group);
            self.socket.leave_multicast_v6(&group, self.ifindex)?;
        }
        Ok(())
    }

    /// Lets Neighbor Advertisements through as well, for a graceful stop: the new owner's
    /// unsolicited NA is what ends our answers. Off otherwise, so that the NAs of ordinary
    /// neighbour resolution do not wake the responder.
    pub(crate) fn hear_advertisements(&self, name: &str) {
        let types = [
            ndp::TYPE_NEIGHBOR_SOLICITATION,
            ndp::TYPE_NEIGHBOR_ADVERTISEMENT,
        ];
        if let Err(err) = sys::icmp6_pass_only(&self.socket, &types) {
            tracing::warn!(interface = %name, error = %err, "cannot listen for the new owner's advertisements");
        }
    }

    /// One gratuitous round: an unsolicited, overriding advertisement of `ip` to all nodes.
    pub(crate) fn gratuitous(&self, ip: Ipv6Addr, stats: &dyn Layer2Stats) -> io::Result<()> {
        let message = NdpMessage::Advertisement(ndp::unsolicited(ip, self.mac)).to_bytes();
        send_now(
            &self.socket,
            &message,
            Some(&to(ndp::ALL_NODES, self.ifindex)),
        )?;
        stats.gratuitous_sent(IpAddr::V6(ip));
        Ok(())
    }
}

/// A destination on this link: the scope is only used by the kernel for link-local and
/// multicast addresses.
fn to(dst: Ipv6Addr, ifindex: u32) -> SockAddr {
    SockAddr::from(SocketAddrV6::new(dst, 0, 0, ifindex))
}

#[allow(clippy::too_many_arguments)]
fn answer(
    socket: &Socket,
    message: &[u8],
    src: Ipv6Addr,
    ifindex: u32,
    interface: &str,
    mac: MacAddr,
    owned: &OwnedSet,
    stats: &dyn Layer2Stats,
) {
    if let Some((ip, by)) = ndp::claim(message)
        && owned.claimed(IpAddr::V6(ip), by)
    {
        tracing::info!(interface = %interface, %ip, new_owner = %by, "taken over, no longer answering");
    }
    let now = super::now();
    let Some(reply) = ndp::respond(src, message, mac, |ip| owned.answers(IpAddr::V6(ip), now))
    else {
        return;
    };
    stats.request_received(IpAddr::V6(reply.target));
    let bytes = NdpMessage::Advertisement(reply.advert).to_bytes();
    match socket.send_to(&bytes, &to(reply.dst, ifindex)) {
        Ok(_) => stats.response_sent(IpAddr::V6(reply.target)),
        Err(err) => {
            tracing::warn!(interface = %interface, ip = %reply.target, error = %err, "sending NA failed")
        }
    }
}
