//! The receive loop of a responder, on an OS thread of its own that blocks in `recv`.
//!
//! Why not the tokio reactor: a request has to wake the responder, and how it is woken is
//! most of the reply latency. Measured on this project's VM (BENCHMARKS.md, Layer 2), a
//! thread blocked in `recv` on the packet socket answers `arping` in about the time the
//! kernel takes to answer for its own address, while the same loop behind `epoll_wait` —
//! which is how the reactor waits — adds some 30 µs per request. One thread per responder,
//! blocked in the kernel and woken only by frames its socket filter passes, costs no CPU
//! while idle and a small stack.

use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use socket2::Socket;

/// How often a blocked reader looks at its stop flag. Bounds how long a removed
/// responder's thread (and socket) outlive it; answers stop at once regardless (the flag
/// is checked before every answer). Long enough that hundreds of idle interfaces cost no
/// measurable CPU.
const STOP_POLL: Duration = Duration::from_secs(2);
const STACK: usize = 64 * 1024;

/// Frames longer than this are not ARP or NDP requests we answer.
pub(crate) const FRAME: usize = 1514;

/// A running reader thread; dropping it stops the thread within [`STOP_POLL`].
pub(crate) struct Reader {
    stop: Arc<AtomicBool>,
    _thread: JoinHandle<()>,
}

impl Reader {
    /// Starts `handle` on every datagram `socket` receives. `socket` is switched to blocking
    /// mode with a receive timeout; senders that must not block (the async driver's
    /// gratuitous rounds) pass `MSG_DONTWAIT` instead, see [`send_now`].
    pub(crate) fn spawn<F>(
        kind: &str,
        interface: &str,
        socket: Arc<Socket>,
        mut handle: F,
    ) -> io::Result<Reader>
    where
        F: FnMut(&Socket, &[u8], &socket2::SockAddr) + Send + 'static,
    {
        socket.set_nonblocking(false)?;
        socket.set_read_timeout(Some(STOP_POLL))?;
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = Arc::clone(&stop);
        let name = interface.to_owned();
        let what = kind.to_owned();
        let thread = std::thread::Builder::new()
            .name(format!("{kind}-{interface}"))
            .stack_size(STACK)
            .spawn(move || {
                let mut buf = [0u8; FRAME];
                while !stopped.load(Ordering::Acquire) {
                    match crate::sys::recv_from(&socket, &mut buf) {
                        Ok((n, from)) => {
                            if stopped.load(Ordering::Acquire) {
                                break;
                            }
                            if let Some(frame) = buf.get(..n) {
                                handle(&socket, frame, &from);
                            }
                        }
                        Err(e)
                            if matches!(
                                e.kind(),
                                io::ErrorKind::WouldBlock
                                    | io::ErrorKind::TimedOut
                                    | io::ErrorKind::Interrupted
                            ) => {}
                        // A removed interface ends the read with ENETDOWN: expected then.
                        Err(_) if stopped.load(Ordering::Acquire) => break,
                        Err(err) => {
                            tracing::error!(interface = %name, error = %err, "reading {what} socket failed, responder stopped");
                            break;
                        }
                    }
                }
            })?;
        Ok(Reader {
            stop,
            _thread: thread,
        })
    }
}

impl Drop for Reader {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
    }
}

/// Sends without blocking even though the socket blocks for its reader: a full send
/// buffer is an error for the caller (a gratuitous round is retried by the next one),
/// never a stalled async task.
pub(crate) fn send_now(
    socket: &Socket,
    frame: &[u8],
    to: Option<&socket2::SockAddr>,
) -> io::Result<()> {
    match to {
        Some(addr) => socket.send_to_with_flags(frame, addr, libc::MSG_DONTWAIT),
        None => socket.send_with_flags(frame, libc::MSG_DONTWAIT),
    }
    .map(drop)
}
