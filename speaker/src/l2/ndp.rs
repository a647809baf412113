//! The NDP responder of one interface: a raw ICMPv6 socket that sees only Neighbor
//! Solicitations, joined to the solicited-node group of every owned IPv6 address.

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, Ipv6Addr, SocketAddrV6};
use std::sync::Arc;

use common::l2::MacAddr;
use common::l2::ndp::{self, NdpMessage};
use socket2::{Domain, Protocol, SockAddr, Socket, Type};
use tokio::io::Interest;
use tokio::io::unix::AsyncFd;
use tokio::task::JoinHandle;

use super::{Layer2Stats, OwnedSet};
use crate::sys;

pub(crate) struct NdpResponder {
    socket: Arc<AsyncFd<Socket>>,
    ifindex: u32,
    mac: MacAddr,
    /// Owned IPs per solicited-node group: several IPs can share a group.
    groups: HashMap<Ipv6Addr, usize>,
    reader: JoinHandle<()>,
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
        sock.set_nonblocking(true)?;
        let socket = Arc::new(sys::register(sock)?);
        let reader = tokio::spawn(answer_solicitations(
            Arc::clone(&socket),
            ifindex,
            name.to_owned(),
            mac,
            owned,
            stats,
        ));
        Ok(NdpResponder {
            socket,
            ifindex,
            mac,
            groups: HashMap::new(),
            reader,
        })
    }

    /// Starts listening for solicitations of `ip`.
    pub(crate) fn watch(&mut self, ip: Ipv6Addr) -> io::Result<()> {
        let group = ndp::solicited_node(ip);
        let count = self.groups.entry(group).or_insert(0);
        if *count == 0 {
            self.socket
                .get_ref()
                .join_multicast_v6(&group, self.ifindex)?;
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
            self.socket
                .get_ref()
                .leave_multicast_v6(&group, self.ifindex)?;
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
        if let Err(err) = sys::icmp6_pass_only(self.socket.get_ref(), &types) {
            tracing::warn!(interface = %name, error = %err, "cannot listen for the new owner's advertisements");
        }
    }

    /// One gratuitous round: an unsolicited, overriding advertisement of `ip` to all nodes.
    pub(crate) async fn gratuitous(&self, ip: Ipv6Addr, stats: &dyn Layer2Stats) -> io::Result<()> {
        let message = NdpMessage::Advertisement(ndp::unsolicited(ip, self.mac)).to_bytes();
        send(&self.socket, &message, ndp::ALL_NODES, self.ifindex).await?;
        stats.gratuitous_sent(IpAddr::V6(ip));
        Ok(())
    }
}

impl Drop for NdpResponder {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

async fn send(
    socket: &AsyncFd<Socket>,
    message: &[u8],
    dst: Ipv6Addr,
    ifindex: u32,
) -> io::Result<()> {
    // The scope is only used by the kernel for link-local and multicast destinations.
    let addr = SockAddr::from(SocketAddrV6::new(dst, 0, 0, ifindex));
    socket
        .async_io(Interest::WRITABLE, |s| s.send_to(message, &addr))
        .await
        .map(drop)
}

async fn answer_solicitations(
    socket: Arc<AsyncFd<Socket>>,
    ifindex: u32,
    name: String,
    mac: MacAddr,
    owned: OwnedSet,
    stats: Arc<dyn Layer2Stats>,
) {
    let mut buf = [0u8; 1500];
    loop {
        let (n, from) = match socket
            .async_io(Interest::READABLE, |s| sys::recv_from(s, &mut buf))
            .await
        {
            Ok(received) => received,
            Err(err) => {
                tracing::error!(interface = %name, error = %err, "reading ICMPv6 socket failed, responder stopped");
                return;
            }
        };
        let (Some(message), Some(src)) = (buf.get(..n), from.as_socket_ipv6()) else {
            continue;
        };
        if let Some((ip, by)) = ndp::claim(message)
            && owned.claimed(IpAddr::V6(ip), by)
        {
            tracing::info!(interface = %name, %ip, new_owner = %by, "taken over, no longer answering");
        }
        let now = super::now();
        let reply = ndp::respond(*src.ip(), message, mac, |ip| {
            owned.answers(IpAddr::V6(ip), now)
        });
        let Some(reply) = reply else { continue };
        stats.request_received(IpAddr::V6(reply.target));
        let bytes = NdpMessage::Advertisement(reply.advert).to_bytes();
        match send(&socket, &bytes, reply.dst, ifindex).await {
            Ok(()) => stats.response_sent(IpAddr::V6(reply.target)),
            Err(err) => {
                tracing::warn!(interface = %name, ip = %reply.target, error = %err, "sending NA failed")
            }
        }
    }
}
