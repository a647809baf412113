//! Listeners bound the way Go binds `:7472`: every address of both families, so probes and
//! scrapes work on IPv4-only, dual-stack and IPv6-only clusters alike.

use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};

use socket2::{Domain, Protocol, Socket, Type};
use tokio::net::TcpListener;

/// Binds `[::]:port` with `IPV6_V6ONLY` off (IPv4 clients arrive as `::ffff:a.b.c.d`); where
/// the kernel has no IPv6 at all, `0.0.0.0:port`, as Go falls back.
pub fn bind_dual_stack(port: u16) -> io::Result<TcpListener> {
    match bind(SocketAddr::from((Ipv6Addr::UNSPECIFIED, port)), true) {
        Ok(l) => Ok(l),
        Err(e) if e.raw_os_error() == Some(libc_eafnosupport()) => {
            bind(SocketAddr::from((Ipv4Addr::UNSPECIFIED, port)), false)
        }
        Err(e) => Err(e),
    }
}

/// `EAFNOSUPPORT` on Linux: the address family is not available (IPv6 disabled at boot).
const fn libc_eafnosupport() -> i32 {
    97
}

fn bind(addr: SocketAddr, dual: bool) -> io::Result<TcpListener> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    if dual {
        socket.set_only_v6(false)?;
    }
    socket.set_reuse_address(true)?;
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    socket.listen(1024)?;
    TcpListener::from_std(socket.into())
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

    use super::*;

    async fn round_trip(listener: &TcpListener, to: SocketAddr) -> Vec<u8> {
        let mut client = tokio::net::TcpStream::connect(to).await.expect("connect");
        let (mut server, _) = listener.accept().await.expect("accept");
        client.write_all(b"ping").await.expect("write");
        let mut buf = [0u8; 4];
        server.read_exact(&mut buf).await.expect("read");
        buf.to_vec()
    }

    #[tokio::test]
    async fn answers_on_ipv4_and_ipv6_loopback() {
        // Port 0: the kernel picks one; both families share it.
        let listener = bind_dual_stack(0).expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let v4 = round_trip(&listener, SocketAddr::from((Ipv4Addr::LOCALHOST, port))).await;
        assert_eq!(v4, b"ping");
        if std::net::TcpListener::bind((Ipv6Addr::LOCALHOST, 0)).is_ok() {
            let v6 = round_trip(&listener, SocketAddr::from((Ipv6Addr::LOCALHOST, port))).await;
            assert_eq!(v6, b"ping");
        }
    }
}
