//! The ARP responder of one interface: an AF_PACKET socket whose kernel filter passes only
//! ARP requests (answered from the shared owned set) and broadcast replies (the other half
//! of a new owner's gratuitous round, which ends our answers during a graceful stop).

use std::io::{self, Read as _};
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;

use common::l2::{MacAddr, arp};
use socket2::Socket;
use tokio::io::Interest;
use tokio::io::unix::AsyncFd;
use tokio::task::JoinHandle;

use super::{Layer2Stats, OwnedSet};
use crate::sys;

pub(crate) struct ArpResponder {
    socket: Arc<AsyncFd<Socket>>,
    mac: MacAddr,
    reader: JoinHandle<()>,
}

impl ArpResponder {
    pub(crate) fn start(
        ifindex: u32,
        name: &str,
        mac: MacAddr,
        owned: OwnedSet,
        stats: Arc<dyn Layer2Stats>,
    ) -> io::Result<ArpResponder> {
        let socket = Arc::new(sys::register(sys::arp_socket(ifindex)?)?);
        let reader = tokio::spawn(answer_requests(
            Arc::clone(&socket),
            name.to_owned(),
            mac,
            owned,
            stats,
        ));
        Ok(ArpResponder {
            socket,
            mac,
            reader,
        })
    }

    /// One gratuitous round: the broadcast ARP request and reply claiming `ip`.
    pub(crate) async fn gratuitous(&self, ip: Ipv4Addr, stats: &dyn Layer2Stats) -> io::Result<()> {
        for frame in arp::gratuitous(ip, self.mac) {
            send(&self.socket, &frame).await?;
            stats.gratuitous_sent(IpAddr::V4(ip));
        }
        Ok(())
    }
}

impl Drop for ArpResponder {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

async fn send(socket: &AsyncFd<Socket>, frame: &[u8]) -> io::Result<()> {
    socket
        .async_io(Interest::WRITABLE, |s| s.send(frame))
        .await
        .map(drop)
}

async fn answer_requests(
    socket: Arc<AsyncFd<Socket>>,
    name: String,
    mac: MacAddr,
    owned: OwnedSet,
    stats: Arc<dyn Layer2Stats>,
) {
    // The kernel filter truncates to 64 bytes; a larger buffer only guards against a
    // filter that failed to attach.
    let mut buf = [0u8; 1514];
    loop {
        let n = match socket
            .async_io(Interest::READABLE, |mut s| s.read(&mut buf))
            .await
        {
            Ok(n) => n,
            Err(err) => {
                tracing::error!(interface = %name, error = %err, "reading ARP socket failed, responder stopped");
                return;
            }
        };
        let Some(frame) = buf.get(..n) else { continue };
        if let Some((ip, by)) = arp::claim(frame)
            && owned.claimed(IpAddr::V4(ip), by)
        {
            tracing::info!(interface = %name, %ip, new_owner = %by, "taken over, no longer answering");
        }
        let now = super::now();
        let reply = arp::respond(frame, mac, |ip| owned.answers(IpAddr::V4(ip), now));
        let Some(reply) = reply else { continue };
        stats.request_received(IpAddr::V4(reply.ip));
        match send(&socket, &reply.frame).await {
            Ok(()) => stats.response_sent(IpAddr::V4(reply.ip)),
            Err(err) => {
                tracing::warn!(interface = %name, ip = %reply.ip, error = %err, "sending ARP reply failed")
            }
        }
    }
}
