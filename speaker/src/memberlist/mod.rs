//! Tokio shell around the sans-IO memberlist core (`common::memberlist`).
//!
//! One task owns the state machine, one UDP socket and one TCP listener on the memberlist port
//! (7946). It moves bytes between sockets and the machine, sleeps until the machine's next
//! deadline, and forwards membership events. Each TCP connection gets a small task that reads
//! until the machine has a complete message; the bytes go through the owner task, so the
//! machine is never shared. No protocol decision is taken here.
//!
//! The one policy of MetalLB's own that lives here is the re-join: the speaker hands over the
//! addresses of every listed speaker pod ([`Handle::set_peers`]) and those that are not
//! members are joined again every [`REJOIN_INTERVAL`]. memberlist never probes or
//! push/pulls a node it holds dead and stops gossiping to it after `gossip_to_the_dead_time`
//! (30 s), so after a partition longer than that both sides stay split until someone joins
//! across: upstream re-joins once a minute, which makes a healed partition last up to a
//! minute more; here it lasts about one interval.

use common::memberlist::{
    self as ml, Event, JoinError, Member, Output, StreamId, StreamProgress, StreamReply,
};
use std::collections::{BTreeSet, HashMap};
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::{sleep_until, timeout_at};

/// Largest datagram we accept (memberlist's UDP buffers are 65536 bytes as well).
const MAX_DATAGRAM: usize = 65_536;
const READ_CHUNK: usize = 64 * 1024;
/// How often peers given to [`Handle::set_peers`] that are not members are joined again.
/// Costs nothing while every peer is a member; a peer that is really gone costs one TCP
/// connection attempt per interval.
pub const REJOIN_INTERVAL: Duration = Duration::from_secs(2);

/// What the cluster tells the speaker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notification {
    /// Membership changed (MetalLB: "node event - forcing sync").
    Event(Event),
    /// Outcome of one address given to [`Handle::join`].
    JoinFinished(SocketAddr, Result<(), JoinError>),
}

enum Command {
    Join(Vec<SocketAddr>),
    SetPeers(Vec<SocketAddr>),
    Leave(Duration, oneshot::Sender<()>),
}

/// Bytes from a connection task for the owner task.
enum StreamIo {
    Inbound {
        data: Vec<u8>,
        reply: oneshot::Sender<StreamReply>,
    },
    Reply {
        id: StreamId,
        data: Vec<u8>,
        done: oneshot::Sender<bool>,
    },
    Failed {
        id: StreamId,
    },
    /// The peer's host refused the connection: nothing listens on its memberlist port.
    Refused {
        id: StreamId,
    },
}

/// Control of a running memberlist node.
#[derive(Debug, Clone)]
pub struct Handle {
    commands: mpsc::Sender<Command>,
    members: watch::Receiver<Vec<Member>>,
    fast: watch::Receiver<bool>,
}

impl Handle {
    /// Exchanges state with these peers; results arrive as notifications.
    pub async fn join(&self, peers: Vec<SocketAddr>) {
        let _ = self.commands.send(Command::Join(peers)).await;
    }

    /// The speakers that should be members (the listed pods' addresses): those that are not
    /// are joined now, with results as notifications, and again every [`REJOIN_INTERVAL`]
    /// while they are still missing, quietly (failures are only logged at debug level).
    pub async fn set_peers(&self, peers: Vec<SocketAddr>) {
        let _ = self.commands.send(Command::SetPeers(peers)).await;
    }

    /// Alive and suspect members, ourselves included.
    pub fn members(&self) -> Vec<Member> {
        self.members.borrow().clone()
    }

    /// Whether the fast timers are in force (docs/memberlist.md#timers).
    pub fn fast_timers(&self) -> bool {
        *self.fast.borrow()
    }

    /// Leaves gracefully, waiting at most `timeout` for the departure to be gossiped, then
    /// stops the node (MetalLB: `Leave(1s)` then `Shutdown`).
    pub async fn leave(self, timeout: Duration) {
        let (tx, rx) = oneshot::channel();
        if self
            .commands
            .send(Command::Leave(timeout, tx))
            .await
            .is_ok()
        {
            let _ = rx.await;
        }
    }
}

/// Binds UDP and TCP on `bind` and starts the node with `config`. The CSPRNG seed for the
/// machine (probe order, nonces) comes from the OS.
pub async fn start(
    config: ml::Config,
    bind: SocketAddr,
) -> io::Result<(Handle, mpsc::UnboundedReceiver<Notification>)> {
    let udp = UdpSocket::bind(bind).await?;
    let tcp = TcpListener::bind(bind).await?;
    let mut seed = [0u8; 32];
    rand::Rng::fill_bytes(&mut rand::rng(), &mut seed);
    let machine = ml::Memberlist::new(config, seed, Instant::now())
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
    let (commands, command_rx) = mpsc::channel(16);
    let (notify_tx, notify_rx) = mpsc::unbounded_channel();
    let (members_tx, members) = watch::channel(machine.members());
    let (fast_tx, fast) = watch::channel(machine.fast_timers_active());
    let (io_tx, io_rx) = mpsc::channel(64);
    let owner = Owner {
        machine,
        udp,
        io_tx,
        notify: notify_tx,
        members: members_tx,
        fast: fast_tx,
        leaving: None,
        peers: Vec::new(),
        background: HashMap::new(),
        next_rejoin: None,
    };
    tokio::spawn(owner.run(tcp, command_rx, io_rx));
    Ok((
        Handle {
            commands,
            members,
            fast,
        },
        notify_rx,
    ))
}

struct Owner {
    machine: ml::Memberlist,
    udp: UdpSocket,
    io_tx: mpsc::Sender<StreamIo>,
    notify: mpsc::UnboundedSender<Notification>,
    members: watch::Sender<Vec<Member>>,
    fast: watch::Sender<bool>,
    leaving: Option<(tokio::time::Instant, oneshot::Sender<()>)>,
    /// From [`Handle::set_peers`].
    peers: Vec<SocketAddr>,
    /// Periodic re-joins not finished yet, per peer: their outcome is not notified.
    background: HashMap<SocketAddr, usize>,
    next_rejoin: Option<tokio::time::Instant>,
}

impl Owner {
    async fn run(
        mut self,
        tcp: TcpListener,
        mut commands: mpsc::Receiver<Command>,
        mut io: mpsc::Receiver<StreamIo>,
    ) {
        let mut buf = vec![0u8; MAX_DATAGRAM];
        loop {
            self.flush().await;
            let leave_over = self.leaving.as_ref().is_some_and(|(deadline, _)| {
                self.machine.leave_finished() || tokio::time::Instant::now() >= *deadline
            });
            if leave_over {
                if let Some((_, done)) = self.leaving.take() {
                    let _ = done.send(());
                }
                return;
            }
            let wake = self
                .machine
                .poll_timeout()
                .map(tokio::time::Instant::from_std);
            let leave_deadline = self.leaving.as_ref().map(|(d, _)| *d);
            if self.leaving.is_none()
                && self
                    .next_rejoin
                    .is_some_and(|at| tokio::time::Instant::now() >= at)
            {
                self.rejoin(false);
                self.flush().await;
            }
            let rejoin = self.next_rejoin.filter(|_| self.leaving.is_none());
            let next = [wake, leave_deadline, rejoin].into_iter().flatten().min();
            tokio::select! {
                r = self.udp.recv_from(&mut buf) => match r {
                    Ok((n, from)) => {
                        let data = buf.get(..n).unwrap_or_default();
                        if let Err(e) = self.machine.handle_packet(from, data, Instant::now()) {
                            tracing::debug!(%from, error = %e, "memberlist: bad datagram");
                        }
                    }
                    Err(e) => tracing::warn!(error = %e, "memberlist: UDP receive failed"),
                },
                r = tcp.accept() => match r {
                    Ok((conn, _)) => {
                        let timeout = self.machine.config().tcp_timeout;
                        tokio::spawn(serve_inbound(conn, self.io_tx.clone(), timeout));
                    }
                    Err(e) => tracing::warn!(error = %e, "memberlist: TCP accept failed"),
                },
                Some(msg) = io.recv() => self.stream_io(msg),
                Some(cmd) = commands.recv() => match cmd {
                    Command::Join(peers) => self.machine.join(&peers, Instant::now()),
                    Command::SetPeers(peers) => {
                        self.peers = peers;
                        self.rejoin(true);
                    }
                    Command::Leave(timeout, done) => {
                        self.machine.leave(Instant::now());
                        self.leaving = Some((tokio::time::Instant::now() + timeout, done));
                    }
                },
                () = sleep_or_forever(next) => {
                    // Datagrams that arrived while this task waited for a CPU are read
                    // first: a starved node must not fail a probe whose ack is already in
                    // its socket buffer, nor accuse a peer whose refutation is.
                    self.read_ready_datagrams(&mut buf);
                    self.machine.handle_timeout(Instant::now());
                }
            }
        }
    }

    /// Hands every datagram already received to the machine, without waiting.
    fn read_ready_datagrams(&mut self, buf: &mut [u8]) {
        while let Ok((n, from)) = self.udp.try_recv_from(buf) {
            let data = buf.get(..n).unwrap_or_default();
            if let Err(e) = self.machine.handle_packet(from, data, Instant::now()) {
                tracing::debug!(%from, error = %e, "memberlist: bad datagram");
            }
        }
    }

    /// Joins the peers that are not members; `notify` says whether the outcomes are reported.
    fn rejoin(&mut self, notify: bool) {
        let now = tokio::time::Instant::now();
        let missing = missing(&self.peers, &self.machine.members());
        self.next_rejoin = (!self.peers.is_empty()).then_some(now + REJOIN_INTERVAL);
        if missing.is_empty() {
            return;
        }
        if !notify {
            for peer in &missing {
                *self.background.entry(*peer).or_insert(0) += 1;
            }
            tracing::debug!(peers = ?missing, "memberlist: re-joining peers that are not members");
        }
        self.machine.join(&missing, now.into_std());
    }

    fn stream_io(&mut self, msg: StreamIo) {
        let now = Instant::now();
        match msg {
            StreamIo::Inbound { data, reply } => {
                let _ = reply.send(self.machine.handle_stream(&data, now));
            }
            StreamIo::Reply { id, data, done } => {
                let progress = self.machine.handle_stream_reply(id, &data, now);
                if let Err(e) = &progress {
                    tracing::debug!(error = %e, "memberlist: bad stream reply");
                }
                let _ = done.send(!matches!(progress, Ok(StreamProgress::NeedMore)));
            }
            StreamIo::Failed { id } => self.machine.stream_failed(id),
            StreamIo::Refused { id } => self.machine.stream_refused(id, now),
        }
    }

    /// Carries out everything the machine asked for.
    ///
    /// The member list is published before any notification is sent: the speaker re-reads
    /// [`Handle::members`] when an event arrives, and re-elects only if the list changed. Were
    /// the list published after the events (as it once was, with UDP sends awaited in
    /// between), a speaker woken by "node X failed" on another worker thread could read the
    /// list from before the failure, see no change, and keep the dead node as a layer 2
    /// owner until the next membership event — which in a quiet cluster never comes.
    async fn flush(&mut self) {
        let mut notifications = Vec::new();
        while let Some(out) = self.machine.poll_output() {
            match out {
                Output::Packet { to, payload } => {
                    if let Err(e) = self.udp.send_to(&payload, to).await {
                        tracing::debug!(%to, error = %e, "memberlist: UDP send failed");
                    }
                }
                Output::Connect {
                    id,
                    to,
                    payload,
                    deadline,
                } => {
                    let deadline = tokio::time::Instant::from_std(deadline);
                    tokio::spawn(open_stream(id, to, payload, deadline, self.io_tx.clone()));
                }
                Output::Event(e) => notifications.push(Notification::Event(e)),
                Output::JoinFinished { peer, result } => {
                    if let Some(count) = self.background.get_mut(&peer) {
                        *count -= 1;
                        if *count == 0 {
                            self.background.remove(&peer);
                        }
                        if let Err(e) = &result {
                            tracing::debug!(%peer, error = %e, "memberlist: re-join failed");
                        }
                        continue;
                    }
                    notifications.push(Notification::JoinFinished(peer, result));
                }
            }
        }
        publish_members(&self.members, self.machine.members());
        let fast = self.machine.fast_timers_active();
        if self
            .fast
            .send_if_modified(|f| std::mem::replace(f, fast) != fast)
        {
            let timers = self.machine.timers();
            tracing::info!(
                fast,
                probe_interval = ?timers.probe_interval,
                gossip_interval = ?timers.gossip_interval,
                "memberlist: {}",
                if fast {
                    "every member runs metallb-rs: fast timers"
                } else {
                    "a member without the metallb-rs marker (a Go speaker?): upstream's timers"
                }
            );
        }
        for n in notifications {
            let _ = self.notify.send(n);
        }
    }
}

/// Replaces the published member list when it changed.
fn publish_members(tx: &watch::Sender<Vec<Member>>, members: Vec<Member>) {
    tx.send_if_modified(|m| {
        let changed = *m != members;
        if changed {
            *m = members;
        }
        changed
    });
}

/// The peers whose address is no member's (by IP: a speaker's port is the same everywhere).
fn missing(peers: &[SocketAddr], members: &[Member]) -> Vec<SocketAddr> {
    let known: BTreeSet<IpAddr> = members.iter().map(|m| m.addr.ip()).collect();
    peers
        .iter()
        .copied()
        .filter(|p| !known.contains(&p.ip()))
        .collect()
}

async fn sleep_or_forever(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(d) => sleep_until(d).await,
        None => std::future::pending().await,
    }
}

/// Reads an inbound stream until the machine has a whole message, then writes its answer.
async fn serve_inbound(mut conn: TcpStream, io: mpsc::Sender<StreamIo>, limit: Duration) {
    let deadline = tokio::time::Instant::now() + limit;
    let _ = timeout_at(deadline, async {
        let mut data = Vec::new();
        let mut chunk = vec![0u8; READ_CHUNK];
        loop {
            let n = conn.read(&mut chunk).await?;
            if n == 0 {
                return Ok::<_, io::Error>(());
            }
            data.extend_from_slice(chunk.get(..n).unwrap_or_default());
            let (tx, rx) = oneshot::channel();
            if io
                .send(StreamIo::Inbound {
                    data: data.clone(),
                    reply: tx,
                })
                .await
                .is_err()
            {
                return Ok(());
            }
            match rx.await {
                Ok(StreamReply::NeedMore) => continue,
                Ok(StreamReply::Reply(bytes)) | Ok(StreamReply::Refuse { reply: bytes, .. }) => {
                    conn.write_all(&bytes).await?;
                    conn.shutdown().await?;
                    return Ok(());
                }
                Ok(StreamReply::Close) | Err(_) => return Ok(()),
            }
        }
    })
    .await;
}

/// Connects, writes the machine's request and feeds the answer back until it is complete.
async fn open_stream(
    id: StreamId,
    to: SocketAddr,
    payload: Vec<u8>,
    deadline: tokio::time::Instant,
    io: mpsc::Sender<StreamIo>,
) {
    let connect = match timeout_at(deadline, TcpStream::connect(to)).await {
        Ok(Ok(conn)) => conn,
        Ok(Err(e)) if e.kind() == io::ErrorKind::ConnectionRefused => {
            let _ = io.send(StreamIo::Refused { id }).await;
            return;
        }
        Ok(Err(_)) | Err(_) => {
            let _ = io.send(StreamIo::Failed { id }).await;
            return;
        }
    };
    let exchange = async {
        let mut conn = connect;
        conn.write_all(&payload).await?;
        let mut data = Vec::new();
        let mut chunk = vec![0u8; READ_CHUNK];
        loop {
            let n = conn.read(&mut chunk).await?;
            if n == 0 {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
            data.extend_from_slice(chunk.get(..n).unwrap_or_default());
            let (tx, rx) = oneshot::channel();
            if io
                .send(StreamIo::Reply {
                    id,
                    data: data.clone(),
                    done: tx,
                })
                .await
                .is_err()
            {
                return Ok(());
            }
            if rx.await.unwrap_or(true) {
                return Ok::<_, io::Error>(());
            }
        }
    };
    let ok = matches!(timeout_at(deadline, exchange).await, Ok(Ok(())));
    if !ok {
        let _ = io.send(StreamIo::Failed { id }).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use common::memberlist::MemberState;

    fn member(name: &str, addr: &str) -> Member {
        Member {
            name: name.into(),
            addr: addr.parse().unwrap(),
            meta: Vec::new(),
            state: MemberState::Alive,
            incarnation: 1,
            versions: common::memberlist::wire::Versions::METALLB,
        }
    }

    #[test]
    fn only_peers_without_a_member_at_their_ip_are_missing() {
        let peers: Vec<SocketAddr> = ["10.0.0.1:7946", "10.0.0.2:7946", "10.0.0.3:7946"]
            .iter()
            .map(|s| s.parse().unwrap())
            .collect();
        let members = [member("a", "10.0.0.1:7946"), member("b", "10.0.0.2:8000")];
        assert_eq!(missing(&peers, &members), vec![peers[2]]);
        assert!(missing(&[], &members).is_empty());
    }

    /// A free loopback port for UDP and TCP alike (memberlist binds both).
    fn free_port() -> SocketAddr {
        loop {
            let tcp = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
            let addr = tcp.local_addr().expect("addr");
            if std::net::UdpSocket::bind(addr).is_ok() {
                return addr;
            }
        }
    }

    /// Whenever the loop is told of a membership change, [`Handle::members`] already shows
    /// it: the loop reads the list on another thread the moment the event arrives, and a
    /// stale read there once kept a killed owner elected (no node answered its IPs).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_member_list_is_current_when_an_event_arrives() {
        let addrs = [free_port(), free_port(), free_port()];
        let mut nodes = Vec::new();
        for (i, addr) in addrs.iter().enumerate() {
            let config = ml::Config::fast(format!("n{i}"), *addr);
            nodes.push(start(config, *addr).await.expect("start"));
        }
        let (a, mut events) = nodes.remove(0);
        for (node, _) in &nodes {
            node.join(vec![addrs[0]]).await;
        }
        let mut seen = 0;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        let (mut left, mut leave_sent) = (false, false);
        while tokio::time::Instant::now() < deadline && !left {
            let Ok(Some(n)) = tokio::time::timeout(Duration::from_secs(1), events.recv()).await
            else {
                if seen >= 3 && !leave_sent {
                    // Everyone joined: one leaves.
                    let (node, _) = nodes.remove(1);
                    node.leave(Duration::from_secs(1)).await;
                    leave_sent = true;
                }
                continue;
            };
            let names: Vec<String> = a.members().into_iter().map(|m| m.name).collect();
            match n {
                Notification::Event(ml::Event::Joined(m)) => {
                    assert!(names.contains(&m.name), "{} joined, list {names:?}", m.name);
                    seen += 1;
                }
                Notification::Event(ml::Event::Left(m)) => {
                    assert!(!names.contains(&m.name), "{} left, list {names:?}", m.name);
                    left = true;
                    seen += 1;
                }
                _ => {}
            }
        }
        assert!(left && seen >= 4, "joins and a leave expected, saw {seen}");
    }
}
