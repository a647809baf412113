//! One task per active peer: owns the [`Session`], its socket and its timer, and carries out
//! what the session asks for.
//!
//! Writes go through a separate writer task so that a peer that stops reading (frozen, or
//! its receive window full) can never block the loop: reads, the hold timer and commands are
//! still served, and the hold timer is what ends such a session.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::bgp::{
    Connection, DesiredRoutes, DownReason, Input, Output, PeerConfig, RouteChange, Session,
};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use super::dial::{DialError, dial};
use super::stats::PeerSeries;

/// How long queued bytes (a final NOTIFICATION) may take to leave when a connection closes.
const FLUSH_GRACE: Duration = Duration::from_secs(1);
const READ_BUFFER: usize = 64 * 1024;

type Dialing = Pin<Box<dyn Future<Output = Result<(TcpStream, Connection), DialError>> + Send>>;

/// The manager's handle on a running driver.
pub(crate) struct DriverHandle {
    stop: oneshot::Sender<()>,
    task: JoinHandle<()>,
}

impl DriverHandle {
    /// Asks the driver to close the session; returns its task to await if wanted.
    pub fn stop(self) -> JoinHandle<()> {
        let _ = self.stop.send(());
        self.task
    }
}

/// Starts a driver. Must be called inside a tokio runtime.
pub(crate) fn spawn(
    config: PeerConfig,
    password: Vec<u8>,
    routes: DesiredRoutes,
    changes: mpsc::UnboundedReceiver<Arc<[RouteChange]>>,
    series: PeerSeries,
) -> DriverHandle {
    let (stop, stopped) = oneshot::channel();
    let driver = Driver {
        label: peer_label(config.peer),
        local_asn: config.local_asn.0,
        peer_asn: config.peer_asn.0,
        session: Session::new(config),
        password: Arc::new(password),
        series,
        dialing: None,
        link: None,
        flushing: None,
    };
    DriverHandle {
        stop,
        task: tokio::spawn(driver.run(stopped, routes, changes)),
    }
}

/// An open connection: our read half, and the writer task holding the other.
struct Link {
    reader: OwnedReadHalf,
    writes: mpsc::UnboundedSender<Vec<u8>>,
    write_failed: oneshot::Receiver<io::Error>,
    writer: JoinHandle<()>,
}

struct Driver {
    session: Session,
    password: Arc<Vec<u8>>,
    /// `ip:port`, the `peer` key of logs and metrics.
    label: String,
    /// Context of every session log line, as upstream's session logger has it.
    local_asn: u32,
    peer_asn: u32,
    series: PeerSeries,
    dialing: Option<Dialing>,
    link: Option<Link>,
    /// The last closed connection still flushing; awaited before the task ends so that a
    /// final NOTIFICATION is not lost when the runtime shuts down right after.
    flushing: Option<JoinHandle<()>>,
}

enum Event {
    Stop,
    Routes(Arc<[RouteChange]>),
    Dialed(Result<(TcpStream, Connection), DialError>),
    Read(io::Result<usize>),
    WriteFailed(io::Error),
    Tick,
}

fn now() -> Instant {
    tokio::time::Instant::now().into_std()
}

impl Driver {
    async fn run(
        mut self,
        mut stopped: oneshot::Receiver<()>,
        routes: DesiredRoutes,
        mut changes: mpsc::UnboundedReceiver<Arc<[RouteChange]>>,
    ) {
        self.feed(Input::DesiredRoutes(routes));
        self.feed(Input::Start);
        let mut buf = vec![0u8; READ_BUFFER];
        loop {
            let deadline = self.session.next_deadline();
            let event = tokio::select! {
                biased;
                _ = &mut stopped => Event::Stop,
                changed = changes.recv() => match changed {
                    Some(changed) => Event::Routes(changed),
                    None => Event::Stop,
                },
                dialed = dialing(&mut self.dialing) => Event::Dialed(dialed),
                event = link_event(&mut self.link, &mut buf) => event,
                () = sleep(deadline) => Event::Tick,
            };
            match event {
                Event::Stop => break,
                Event::Routes(first) => {
                    // Hand-offs queued meanwhile go out with this one: fewer, fuller UPDATEs.
                    let mut more = Vec::new();
                    while let Ok(next) = changes.try_recv() {
                        more.push(next);
                    }
                    if more.is_empty() {
                        self.feed(Input::RouteChanges(&first));
                    } else {
                        let all: Vec<RouteChange> = std::iter::once(&first)
                            .chain(&more)
                            .flat_map(|c| c.iter().cloned())
                            .collect();
                        self.feed(Input::RouteChanges(&all));
                    }
                }
                Event::Dialed(Ok((stream, conn))) => {
                    self.dialing = None;
                    self.link = Some(open_link(stream));
                    self.feed(Input::TcpConnected(conn));
                }
                Event::Dialed(Err(e)) => {
                    self.dialing = None;
                    self.feed(Input::TcpFailed(e.to_string()));
                }
                Event::Read(Ok(0)) => self.lost("EOF".to_owned()),
                Event::Read(Ok(n)) => {
                    let bytes = buf.get(..n).unwrap_or_default();
                    let outputs = self.session.handle(Input::Received(bytes), now());
                    self.series.state(self.session.state());
                    self.carry_out(outputs);
                }
                Event::Read(Err(e)) | Event::WriteFailed(e) => self.lost(e.to_string()),
                Event::Tick => self.feed(Input::Tick),
            }
        }
        let outputs = self.session.handle(Input::Stop, now());
        self.carry_out(outputs);
        self.close();
        if let Some(flushing) = self.flushing.take() {
            let _ = flushing.await;
        }
    }

    /// The connection ended under us; it is gone whatever the session makes of it.
    fn lost(&mut self, why: String) {
        self.feed(Input::TcpClosed(why));
        self.close();
    }

    fn feed(&mut self, input: Input<'_>) {
        let outputs = self.session.handle(input, now());
        self.series.state(self.session.state());
        self.carry_out(outputs);
    }

    fn carry_out(&mut self, outputs: Vec<Output>) {
        for output in outputs {
            match output {
                Output::Connect { peer, source } => {
                    self.close();
                    let password = Arc::clone(&self.password);
                    self.dialing =
                        Some(Box::pin(async move { dial(peer, source, &password).await }));
                }
                Output::Send(bytes) => {
                    if let Some(link) = &self.link {
                        // A send error means the writer already failed; that is reported
                        // through `write_failed`.
                        let _ = link.writes.send(bytes);
                    }
                }
                Output::CloseTcp => self.close(),
                Output::SessionUp { hold_time } => {
                    self.series.session_up(true);
                    tracing::info!(peer = %self.label, localASN = self.local_asn, peerASN = self.peer_asn, event = "sessionUp", hold_time = hold_time.secs(), "BGP session established");
                }
                Output::SessionDown { reason, retry_in } => {
                    self.series.session_up(false);
                    self.series.failed(reason.to_string());
                    self.log_down(&reason, retry_in);
                }
                Output::AttemptFailed { reason, retry_in } => {
                    if reason != DownReason::Stopped {
                        self.series.failed(reason.to_string());
                        tracing::error!(peer = %self.label, localASN = self.local_asn, peerASN = self.peer_asn, op = "connect", error = %reason, retry_in = %retry_text(retry_in), "failed to connect to peer");
                    }
                }
                Output::Metrics {
                    updates_sent,
                    announced_prefixes,
                    pending_prefixes,
                } => self
                    .series
                    .report(updates_sent, announced_prefixes, pending_prefixes),
            }
        }
    }

    fn log_down(&self, reason: &DownReason, retry_in: Option<Duration>) {
        let (peer, local, remote) = (&self.label, self.local_asn, self.peer_asn);
        if *reason == DownReason::Stopped {
            tracing::info!(peer, localASN = local, peerASN = remote, event = "sessionDown", reason = %reason, "BGP session down");
        } else {
            tracing::error!(peer, localASN = local, peerASN = remote, event = "sessionDown", reason = %reason, retry_in = %retry_text(retry_in), "BGP session down");
        }
    }

    /// Abandons a dial in progress and closes the connection, letting queued bytes leave
    /// in the background for at most [`FLUSH_GRACE`].
    fn close(&mut self) {
        self.dialing = None;
        if let Some(link) = self.link.take() {
            self.flushing = Some(tokio::spawn(flush_and_close(link)));
        }
    }
}

/// `1s`, `500ms`; `never` once stopped.
fn retry_text(retry_in: Option<Duration>) -> String {
    retry_in.map_or_else(|| "never".to_owned(), |d| format!("{d:?}"))
}

fn open_link(stream: TcpStream) -> Link {
    let (reader, writer) = stream.into_split();
    let (writes, queue) = mpsc::unbounded_channel();
    let (failed_tx, write_failed) = oneshot::channel();
    let writer = tokio::spawn(write_loop(writer, queue, failed_tx));
    Link {
        reader,
        writes,
        write_failed,
        writer,
    }
}

/// Writes queued messages in order; on error reports it once and stops. When the queue is
/// closed and drained, shuts the connection down (FIN after the last byte).
async fn write_loop(
    mut writer: OwnedWriteHalf,
    mut queue: mpsc::UnboundedReceiver<Vec<u8>>,
    failed: oneshot::Sender<io::Error>,
) {
    while let Some(bytes) = queue.recv().await {
        if let Err(e) = writer.write_all(&bytes).await {
            let _ = failed.send(e);
            return;
        }
    }
    let _ = writer.shutdown().await;
}

async fn flush_and_close(link: Link) {
    let Link {
        reader,
        writes,
        mut writer,
        ..
    } = link;
    drop(writes);
    if tokio::time::timeout(FLUSH_GRACE, &mut writer)
        .await
        .is_err()
    {
        writer.abort();
    }
    drop(reader);
}

async fn dialing(d: &mut Option<Dialing>) -> Result<(TcpStream, Connection), DialError> {
    match d {
        Some(f) => f.await,
        None => std::future::pending().await,
    }
}

/// The next thing that happens on the connection: bytes, EOF, or a failed write.
async fn link_event(link: &mut Option<Link>, buf: &mut [u8]) -> Event {
    let Some(l) = link else {
        return std::future::pending().await;
    };
    tokio::select! {
        failed = &mut l.write_failed => Event::WriteFailed(
            // Without an error the writer only ends once the link is dropped.
            failed.unwrap_or_else(|_| io::Error::other("writer stopped")),
        ),
        read = l.reader.read(buf) => Event::Read(read),
    }
}

async fn sleep(deadline: Option<Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at.into()).await,
        None => std::future::pending().await,
    }
}

/// The metrics and log key of a peer: `ip:port`, IPv6 in brackets as Go's `JoinHostPort`.
pub(crate) fn peer_label(addr: SocketAddr) -> String {
    addr.to_string()
}
