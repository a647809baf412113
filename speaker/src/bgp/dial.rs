//! Opening the TCP connection of a session (docs/bgp.md#connecting): a socket of the peer's
//! family, the TCP-MD5 key installed before the SYN, bound to `source-address` when set,
//! then the connect. The 10 s limit on dial plus OPEN exchange belongs to the session; it
//! cancels this future by dropping it.

use std::io;
use std::net::{IpAddr, SocketAddr};

use common::bgp::Connection;
use tokio::net::{TcpSocket, TcpStream};

use super::interfaces::{self, InterfacesError};
use crate::sys;

#[derive(Debug, thiserror::Error)]
pub enum DialError {
    /// Upstream's wording, which operators grep for.
    #[error("Address \"{0}\" doesn't exist on this host")]
    SourceMissing(IpAddr),
    #[error(transparent)]
    Interfaces(#[from] InterfacesError),
    #[error("creating socket: {0}")]
    Socket(#[source] io::Error),
    #[error("setting TCP-MD5 password: {0}")]
    Md5(#[source] io::Error),
    #[error("binding {0}: {1}")]
    Bind(IpAddr, #[source] io::Error),
    #[error("dial tcp {0}: {1}")]
    Connect(SocketAddr, #[source] io::Error),
}

/// Connects to `peer` and describes the connection for the session.
pub(crate) async fn dial(
    peer: SocketAddr,
    source: Option<IpAddr>,
    password: &[u8],
) -> Result<(TcpStream, Connection), DialError> {
    let peer = SocketAddr::new(peer.ip().to_canonical(), peer.port());
    if let Some(src) = source
        && !interfaces::is_local(src, &interfaces::host_addresses().await?)
    {
        return Err(DialError::SourceMissing(src));
    }
    let socket = match peer {
        SocketAddr::V4(_) => TcpSocket::new_v4(),
        SocketAddr::V6(_) => TcpSocket::new_v6(),
    }
    .map_err(DialError::Socket)?;
    if !password.is_empty() {
        sys::set_tcp_md5sig(&socket, peer.ip(), password).map_err(DialError::Md5)?;
    }
    if let Some(src) = source {
        let src = src.to_canonical();
        socket
            .bind(SocketAddr::new(src, 0))
            .map_err(|e| DialError::Bind(src, e))?;
    }
    // Small writes (KEEPALIVE after a large UPDATE burst) must not wait for ACKs.
    socket.set_nodelay(true).map_err(DialError::Socket)?;
    let stream = socket
        .connect(peer)
        .await
        .map_err(|e| DialError::Connect(peer, e))?;
    let local = stream
        .local_addr()
        .map_err(|e| DialError::Connect(peer, e))?;
    let remote = stream
        .peer_addr()
        .map_err(|e| DialError::Connect(peer, e))?;
    let iface = interfaces::interface_of(local.ip(), &interfaces::host_addresses().await?);
    Ok((
        stream,
        Connection {
            local,
            remote,
            interface_ipv4: iface.ipv4,
            interface_ipv6: iface.ipv6,
            link_local: iface.link_local,
        },
    ))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use tokio::net::TcpListener;

    use super::*;

    #[tokio::test]
    async fn a_source_address_not_on_this_host_is_refused_with_upstreams_text() {
        let peer: SocketAddr = ([127, 0, 0, 1], 179).into();
        let err = dial(peer, Some("192.0.2.254".parse().expect("ip")), b"")
            .await
            .expect_err("foreign source address");
        assert_eq!(
            err.to_string(),
            "Address \"192.0.2.254\" doesn't exist on this host"
        );
    }

    #[tokio::test]
    async fn loopback_connection_is_described_and_bound_to_the_source() -> io::Result<()> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let peer = listener.local_addr()?;
        let (dialed, accepted) = tokio::join!(
            dial(peer, Some("127.0.0.1".parse().expect("ip")), b""),
            listener.accept()
        );
        let (_stream, conn) = dialed.map_err(io::Error::other)?;
        let (_server, from) = accepted?;
        assert_eq!(conn.remote, peer);
        assert_eq!(conn.local, from);
        assert_eq!(conn.interface_ipv4, Some([127, 0, 0, 1].into()));
        Ok(())
    }

    /// A listener that holds an MD5 key for 127.0.0.1 accepts a client using the same key,
    /// and never sees a client that signs nothing: the kernel drops its unsigned SYN.
    #[tokio::test]
    async fn md5_protected_listener_accepts_only_the_signed_client() -> io::Result<()> {
        let socket = TcpSocket::new_v4()?;
        sys::set_tcp_md5sig(&socket, [127, 0, 0, 1].into(), b"s3cret")?;
        socket.bind("127.0.0.1:0".parse().expect("addr"))?;
        let listener = socket.listen(4)?;
        let peer = listener.local_addr()?;

        let unsigned = tokio::time::timeout(Duration::from_millis(700), dial(peer, None, b""));
        let accept = tokio::time::timeout(Duration::from_millis(700), listener.accept());
        let (unsigned, accepted) = tokio::join!(unsigned, accept);
        assert!(
            unsigned.is_err(),
            "unsigned connect must hang: {unsigned:?}"
        );
        assert!(accepted.is_err(), "nothing may be accepted");

        let (signed, accepted) = tokio::join!(dial(peer, None, b"s3cret"), listener.accept());
        let (_stream, conn) = signed.map_err(io::Error::other)?;
        assert_eq!(accepted?.1, conn.local);
        Ok(())
    }

    #[tokio::test]
    async fn overlong_password_fails_before_connecting() {
        let peer: SocketAddr = ([127, 0, 0, 1], 9).into();
        let err = dial(peer, None, &[b'x'; 81])
            .await
            .expect_err("81-byte key");
        assert!(matches!(err, DialError::Md5(ref e) if e.kind() == io::ErrorKind::InvalidInput));
    }
}
