//! Interface discovery through rtnetlink: one dump of links and IPv6 addresses at start, then
//! the kernel's link/address notifications. Nothing is polled.

use std::net::IpAddr;

use common::l2::MacAddr;
use common::l2::iface::Link;
use futures::StreamExt as _;
use futures::TryStreamExt as _;
use netlink_packet_route::address::{AddressAttribute, AddressHeaderFlags, AddressMessage};
use netlink_packet_route::link::{LinkAttribute, LinkFlags, LinkMessage};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};
use rtnetlink::{MulticastGroup, new_multicast_connection};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// A change of the kernel's interface state, in [`common::l2::iface::InterfaceTable`] terms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum LinkEvent {
    Link(Link),
    LinkGone(u32),
    Address(u32, IpAddr),
    AddressGone(u32, IpAddr),
}

#[derive(Debug, thiserror::Error)]
pub enum LinksError {
    #[error("opening the netlink socket failed: {0}")]
    Socket(#[source] std::io::Error),
    #[error("dumping interfaces failed: {0}")]
    Dump(#[source] rtnetlink::Error),
}

/// Starts watching; events arrive on the returned channel, the initial dump first.
/// Subscribing before dumping means no change can fall between the two.
pub(crate) async fn watch()
-> Result<(mpsc::UnboundedReceiver<LinkEvent>, JoinHandle<()>), LinksError> {
    let (conn, handle, mut notifications) =
        new_multicast_connection(&[MulticastGroup::Link, MulticastGroup::Ipv6Ifaddr])
            .map_err(LinksError::Socket)?;
    let conn = tokio::spawn(conn);
    let (tx, rx) = mpsc::unbounded_channel();

    let mut links = handle.link().get().execute();
    while let Some(msg) = links.try_next().await.map_err(LinksError::Dump)? {
        let _ = tx.send(LinkEvent::Link(link_from(&msg)));
    }
    let mut addrs = handle.address().get().execute();
    while let Some(msg) = addrs.try_next().await.map_err(LinksError::Dump)? {
        if let Some(ev) = address_event(&msg, true) {
            let _ = tx.send(ev);
        }
    }

    let task = tokio::spawn(async move {
        while let Some((msg, _)) = notifications.next().await {
            let event = match msg.payload {
                rtnetlink::packet_core::NetlinkPayload::InnerMessage(inner) => match inner {
                    RouteNetlinkMessage::NewLink(m) => Some(LinkEvent::Link(link_from(&m))),
                    RouteNetlinkMessage::DelLink(m) => Some(LinkEvent::LinkGone(m.header.index)),
                    RouteNetlinkMessage::NewAddress(m) => address_event(&m, true),
                    RouteNetlinkMessage::DelAddress(m) => address_event(&m, false),
                    _ => None,
                },
                _ => None,
            };
            if let Some(ev) = event
                && tx.send(ev).is_err()
            {
                break;
            }
        }
        tracing::warn!("netlink notifications ended; interface changes are no longer seen");
        conn.abort();
    });
    Ok((rx, task))
}

pub(crate) fn link_from(msg: &LinkMessage) -> Link {
    let mut link = Link {
        index: msg.header.index,
        name: String::new(),
        mac: None,
        up: msg.header.flags.contains(LinkFlags::Up),
        broadcast: msg.header.flags.contains(LinkFlags::Broadcast),
        noarp: msg.header.flags.contains(LinkFlags::Noarp),
        has_master: false,
    };
    for attr in &msg.attributes {
        match attr {
            LinkAttribute::IfName(name) => link.name.clone_from(name),
            LinkAttribute::Address(bytes) => link.mac = MacAddr::from_slice(bytes),
            LinkAttribute::Controller(_) => link.has_master = true,
            _ => {}
        }
    }
    link
}

/// An IPv6 address that can be used (DAD finished) is an `Address`; one still tentative,
/// failed or deleted is `AddressGone`.
fn address_event(msg: &AddressMessage, added: bool) -> Option<LinkEvent> {
    if msg.header.family != AddressFamily::Inet6 {
        return None;
    }
    let ip = msg.attributes.iter().find_map(|a| match a {
        AddressAttribute::Address(ip) => Some(*ip),
        _ => None,
    })?;
    let unusable = msg
        .header
        .flags
        .intersects(AddressHeaderFlags::Tentative | AddressHeaderFlags::Dadfailed);
    Some(if added && !unusable {
        LinkEvent::Address(msg.header.index, ip)
    } else {
        LinkEvent::AddressGone(msg.header.index, ip)
    })
}
