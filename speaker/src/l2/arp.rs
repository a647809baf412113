//! The ARP responder of one interface: an AF_PACKET socket whose kernel filter passes only
//! ARP requests (answered from the shared owned set) and broadcast replies (the other half
//! of a new owner's gratuitous round, which ends our answers during a graceful stop).
//! Requests are answered on the reader's own thread (see [`super::reader`] for why).

use std::io;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;

use common::l2::{MacAddr, arp};
use socket2::Socket;

use super::reader::{Reader, send_now};
use super::{Layer2Stats, OwnedSet};
use crate::sys;

pub(crate) struct ArpResponder {
    socket: Arc<Socket>,
    mac: MacAddr,
    _reader: Reader,
}

impl ArpResponder {
    pub(crate) fn start(
        ifindex: u32,
        name: &str,
        mac: MacAddr,
        owned: OwnedSet,
        stats: Arc<dyn Layer2Stats>,
    ) -> io::Result<ArpResponder> {
        let socket = Arc::new(sys::arp_socket(ifindex)?);
        let interface = name.to_owned();
        let reader = Reader::spawn("arp", name, Arc::clone(&socket), move |s, frame, _| {
            answer(s, frame, &interface, mac, &owned, &*stats);
        })?;
        Ok(ArpResponder {
            socket,
            mac,
            _reader: reader,
        })
    }

    /// One gratuitous round: the broadcast ARP request and reply claiming `ip`.
    pub(crate) fn gratuitous(&self, ip: Ipv4Addr, stats: &dyn Layer2Stats) -> io::Result<()> {
        for frame in arp::gratuitous(ip, self.mac) {
            send_now(&self.socket, &frame, None)?;
            stats.gratuitous_sent(IpAddr::V4(ip));
        }
        Ok(())
    }
}

fn answer(
    socket: &Socket,
    frame: &[u8],
    interface: &str,
    mac: MacAddr,
    owned: &OwnedSet,
    stats: &dyn Layer2Stats,
) {
    if let Some((ip, by)) = arp::claim(frame)
        && owned.claimed(IpAddr::V4(ip), by)
    {
        tracing::info!(interface = %interface, %ip, new_owner = %by, "taken over, no longer answering");
    }
    let now = super::now();
    let Some(reply) = arp::respond(frame, mac, |ip| owned.answers(IpAddr::V4(ip), now)) else {
        return;
    };
    stats.request_received(IpAddr::V4(reply.ip));
    match socket.send(&reply.frame) {
        Ok(_) => stats.response_sent(IpAddr::V4(reply.ip)),
        Err(err) => {
            tracing::warn!(interface = %interface, ip = %reply.ip, error = %err, "sending ARP reply failed")
        }
    }
}
