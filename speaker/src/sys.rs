//! Every `unsafe` block of the speaker, kept in one place so it can be audited at once.
//!
//! Each function wraps one system call whose arguments the safe crates cannot express
//! (a `sockaddr_ll`, an `icmp6_filter`) and checks its result; callers see only `io::Result`.

#![allow(unsafe_code)] // the one audited module: see its doc comment

use std::io;
use std::mem::{MaybeUninit, size_of};
use std::os::fd::AsRawFd;

use socket2::{SockAddr, SockFilter, Socket, Type};

/// Sets glibc's allocator up for a daemon whose big allocations are transient: a `/metrics`
/// or `/status` body for thousands of services (hundreds of KB, built on whichever runtime
/// thread serves the request), a page of the initial lists. By default glibc raises its mmap
/// threshold after the first such buffer is freed and gives every thread its own arena, so
/// each of those peaks stays resident afterwards in some arena: with 1 000 services, three
/// scrapes left 1.2 MB more RSS. With a fixed 128 KiB threshold the big buffers are mapped
/// and unmapped, and two arenas serve the few threads (BENCHMARKS.md, "Speaker at scale").
/// Must run before any thread is spawned.
#[cfg(target_env = "gnu")]
pub fn tune_allocator() {
    // SAFETY: mallopt only changes allocator parameters; it takes no pointers, and called
    // before other threads exist it races with no allocation. A refused value (return 0)
    // leaves glibc's default, which is correct, only larger.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 2);
        libc::mallopt(libc::M_MMAP_THRESHOLD, 128 * 1024);
    }
}

/// Other C libraries keep their own policy.
#[cfg(not(target_env = "gnu"))]
pub fn tune_allocator() {}

/// `ETH_P_ARP` as the kernel defines it (host order).
const ETH_P_ARP: u16 = 0x0806;
/// `PACKET_OUTGOING`: a frame this host sent, looped back to packet sockets.
const PACKET_OUTGOING: u32 = 4;
/// Level and name of the ICMPv6 type filter (`<netinet/icmp6.h>`); libc does not export them.
const SOL_ICMPV6: libc::c_int = 58;
const ICMP6_FILTER: libc::c_int = 1;

/// `PACKET_BROADCAST`: a frame sent to the link-layer broadcast address.
const PACKET_BROADCAST: u32 = 1;

/// Classic BPF run by the kernel on every ARP frame: keep requests, and replies sent to
/// broadcast (the reply half of a gratuitous round; requests already cover its request half),
/// that did not come from this host, truncated to 64 bytes; drop everything else before it
/// wakes the speaker. Unicast replies (ordinary resolution by this host's kernel) stay out.
/// Instructions as `(code, jt, jf, k)`; a jump skips `jt`/`jf` instructions.
const ARP_REQUEST_FILTER: [(u16, u8, u8, u32); 11] = {
    // Negative ancillary offsets are how classic BPF reads skb metadata; the wrap is intended.
    const PKTTYPE: u32 = (libc::SKF_AD_OFF + libc::SKF_AD_PKTTYPE) as u32;
    const LDH_ABS: u16 = 0x28; // BPF_LD | BPF_H | BPF_ABS
    const LDB_ABS: u16 = 0x30; // BPF_LD | BPF_B | BPF_ABS
    const JEQ_K: u16 = 0x15; // BPF_JMP | BPF_JEQ | BPF_K
    const RET_K: u16 = 0x06; // BPF_RET | BPF_K
    [
        (LDH_ABS, 0, 0, 12),             // 0: EtherType
        (JEQ_K, 0, 8, ETH_P_ARP as u32), // 1: not ARP → 10
        (LDB_ABS, 0, 0, PKTTYPE),        // 2: packet type
        (JEQ_K, 6, 0, PACKET_OUTGOING),  // 3: sent by us → 10
        (LDH_ABS, 0, 0, 20),             // 4: ARP opcode
        (JEQ_K, 3, 0, 1),                // 5: request → 9
        (JEQ_K, 0, 3, 2),                // 6: not a reply either → 10
        (LDB_ABS, 0, 0, PKTTYPE),        // 7: packet type
        (JEQ_K, 0, 1, PACKET_BROADCAST), // 8: reply not broadcast → 10
        (RET_K, 0, 0, 64),               // 9: accept 64 bytes
        (RET_K, 0, 0, 0),                // 10: drop
    ]
};

/// The ICMPv6 type filter (`struct icmp6_filter`: 256 bits, a set bit blocks that type)
/// that passes only `types`.
fn icmp6_filter_bits(types: &[u8]) -> [u32; 8] {
    let mut filter = [u32::MAX; 8];
    for &t in types {
        filter[usize::from(t >> 5)] &= !(1u32 << (t & 31));
    }
    filter
}

/// A (blocking) AF_PACKET socket that receives the ARP requests (and broadcast replies)
/// arriving on interface `ifindex` and sends raw Ethernet frames out of it.
///
/// The socket is opened with protocol 0 (receives nothing), gets its filter, and only then
/// is bound to ARP on the interface, so no unfiltered frame from another interface can slip
/// into its queue in between.
pub fn arp_socket(ifindex: u32) -> io::Result<Socket> {
    let sock = Socket::new(socket2::Domain::PACKET, Type::RAW, None)?;
    sock.attach_filter(
        &ARP_REQUEST_FILTER.map(|(code, jt, jf, k)| SockFilter::new(code, jt, jf, k)),
    )?;
    let addr = libc::sockaddr_ll {
        sll_family: libc::AF_PACKET as libc::sa_family_t,
        // The protocol of a packet socket is in network byte order.
        sll_protocol: ETH_P_ARP.to_be(),
        sll_ifindex: i32::try_from(ifindex)
            .map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?,
        sll_hatype: 0,
        sll_pkttype: 0,
        sll_halen: 0,
        sll_addr: [0; 8],
    };
    // SAFETY: the descriptor belongs to `sock`, which outlives the call; `addr` is a fully
    // initialised `sockaddr_ll` on the stack and the length passed is exactly its size, so
    // the kernel reads only valid memory.
    let rc = unsafe {
        libc::bind(
            sock.as_raw_fd(),
            (&raw const addr).cast::<libc::sockaddr>(),
            size_of::<libc::sockaddr_ll>() as libc::socklen_t,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(sock)
}

/// Makes an ICMPv6 raw socket deliver only the given ICMPv6 types; the kernel drops the
/// rest (echo, router advertisements, MLD…) without waking us.
pub fn icmp6_pass_only(sock: &Socket, types: &[u8]) -> io::Result<()> {
    let filter = icmp6_filter_bits(types);
    // SAFETY: the descriptor belongs to `sock`, which outlives the call; `filter` has the
    // layout of `struct icmp6_filter` (8 × u32) and the length passed is exactly its size.
    let rc = unsafe {
        libc::setsockopt(
            sock.as_raw_fd(),
            SOL_ICMPV6,
            ICMP6_FILTER,
            filter.as_ptr().cast::<libc::c_void>(),
            size_of::<[u32; 8]>() as libc::socklen_t,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Linux `struct tcp_md5sig` (`<linux/tcp.h>`); libc has the constants but not the struct.
/// `flags`, `prefixlen` and `ifindex` stay 0: the key applies to exactly one peer address,
/// on any interface.
#[repr(C)]
struct TcpMd5Sig {
    addr: libc::sockaddr_storage,
    flags: u8,
    prefixlen: u8,
    keylen: u16,
    ifindex: libc::c_int,
    key: [u8; libc::TCP_MD5SIG_MAXKEYLEN],
}

/// Installs the RFC 2385 TCP-MD5 key for segments to and from `peer` on `fd`
/// (docs/bgp.md#connecting: before `connect`, so even the SYN is signed). An empty key removes
/// it. Keys longer than 80 bytes (`TCP_MD5SIG_MAXKEYLEN`) are refused with `InvalidInput`.
pub fn set_tcp_md5sig(fd: &impl AsRawFd, peer: std::net::IpAddr, key: &[u8]) -> io::Result<()> {
    let mut sig = TcpMd5Sig {
        // The port of the address is ignored by the kernel; socket2 zero-fills the rest.
        addr: sockaddr_storage_of(peer),
        flags: 0,
        prefixlen: 0,
        keylen: u16::try_from(key.len()).map_err(|_| key_too_long(key.len()))?,
        ifindex: 0,
        key: [0; libc::TCP_MD5SIG_MAXKEYLEN],
    };
    sig.key
        .get_mut(..key.len())
        .ok_or_else(|| key_too_long(key.len()))?
        .copy_from_slice(key);
    // SAFETY: the descriptor is borrowed from a live socket for the duration of the call;
    // `sig` is a fully initialised `#[repr(C)]` value with the kernel's `tcp_md5sig` layout,
    // and the length passed is exactly its size, so the kernel reads only valid memory.
    let rc = unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            libc::IPPROTO_TCP,
            libc::TCP_MD5SIG,
            (&raw const sig).cast::<libc::c_void>(),
            size_of::<TcpMd5Sig>() as libc::socklen_t,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

fn key_too_long(len: usize) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        format!(
            "TCP-MD5 password is {len} bytes, the kernel accepts at most {}",
            libc::TCP_MD5SIG_MAXKEYLEN
        ),
    )
}

/// The `sockaddr_storage` of `ip` with port 0.
fn sockaddr_storage_of(ip: std::net::IpAddr) -> libc::sockaddr_storage {
    let addr = SockAddr::from(std::net::SocketAddr::new(ip, 0));
    let mut storage = MaybeUninit::<libc::sockaddr_storage>::zeroed();
    let len = (addr.len() as usize).min(size_of::<libc::sockaddr_storage>());
    // SAFETY: `addr.as_ptr()` points to `addr.len()` initialised bytes of a socket address,
    // `storage` is a distinct, writable `sockaddr_storage`, and at most its size is copied.
    // An all-zero `sockaddr_storage` is a valid value, so `assume_init` after zeroing and
    // copying part of it is sound.
    unsafe {
        std::ptr::copy_nonoverlapping(
            addr.as_ptr().cast::<u8>(),
            storage.as_mut_ptr().cast::<u8>(),
            len,
        );
        storage.assume_init()
    }
}

/// `recvfrom` into an initialised buffer, returning the sender's address.
pub fn recv_from(sock: &Socket, buf: &mut [u8]) -> io::Result<(usize, SockAddr)> {
    // SAFETY: `MaybeUninit<u8>` has the same size and alignment as `u8`, and `recv_from`
    // only ever writes initialised bytes, so viewing the already initialised `buf` as
    // uninitialised memory cannot make any of its bytes uninitialised.
    let uninit = unsafe { &mut *(std::ptr::from_mut::<[u8]>(buf) as *mut [MaybeUninit<u8>]) };
    sock.recv_from(uninit)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs the classic BPF program the way the kernel does, for the instructions it uses.
    fn run_filter(frame: &[u8], pkttype: u32) -> u32 {
        let mut acc = 0u32;
        let mut pc = 0usize;
        loop {
            let (code, jt, jf, k) = ARP_REQUEST_FILTER[pc];
            pc += 1;
            match code {
                0x28 | 0x30 if k == PKTTYPE_FOR_TEST => acc = pkttype,
                0x28 => match frame.get(k as usize..k as usize + 2) {
                    Some(b) => acc = u32::from(u16::from_be_bytes([b[0], b[1]])),
                    None => return 0, // out-of-bounds load aborts with "drop"
                },
                0x30 => match frame.get(k as usize) {
                    Some(b) => acc = u32::from(*b),
                    None => return 0,
                },
                0x15 => pc += usize::from(if acc == k { jt } else { jf }),
                0x06 => return k,
                other => panic!("instruction {other:#x} not modelled"),
            }
        }
    }

    const PKTTYPE_FOR_TEST: u32 = (libc::SKF_AD_OFF + libc::SKF_AD_PKTTYPE) as u32;
    const PACKET_HOST: u32 = 0;

    fn arp(op: u8) -> [u8; 42] {
        let mut f = [0u8; 42];
        f[12..14].copy_from_slice(&[0x08, 0x06]);
        f[20..22].copy_from_slice(&[0, op]);
        f
    }

    #[test]
    fn arp_filter_keeps_received_requests_and_broadcast_replies() {
        assert_eq!(run_filter(&arp(1), PACKET_BROADCAST), 64);
        assert_eq!(run_filter(&arp(1), PACKET_HOST), 64);
        assert_eq!(
            run_filter(&arp(2), PACKET_BROADCAST),
            64,
            "gratuitous reply"
        );
        assert_eq!(run_filter(&arp(2), PACKET_HOST), 0, "unicast reply");
        assert_eq!(run_filter(&arp(1), PACKET_OUTGOING), 0, "our own request");
        assert_eq!(run_filter(&arp(2), PACKET_OUTGOING), 0, "our own reply");
        assert_eq!(run_filter(&arp(3), PACKET_BROADCAST), 0, "RARP opcode");
        let mut ipv4 = arp(1);
        ipv4[12..14].copy_from_slice(&[0x08, 0x00]);
        assert_eq!(run_filter(&ipv4, PACKET_HOST), 0, "not ARP");
        assert_eq!(run_filter(&arp(1)[..16], PACKET_HOST), 0, "truncated");
    }

    #[test]
    fn icmp6_filter_lets_only_the_given_types_through() {
        // Mirror of the kernel's icmpv6_filter(): bit set ⇒ blocked.
        let filter = icmp6_filter_bits(&[135]);
        let blocked = |ty: u8| filter[usize::from(ty >> 5)] & (1 << (ty & 31)) != 0;
        assert!(!blocked(135));
        for ty in (0..=255u8).filter(|t| *t != 135) {
            assert!(blocked(ty), "type {ty}");
        }
    }

    #[test]
    fn tcp_md5sig_is_accepted_for_both_families_and_long_keys_are_refused() -> io::Result<()> {
        let v4 = Socket::new(socket2::Domain::IPV4, Type::STREAM, None)?;
        set_tcp_md5sig(&v4, [127, 0, 0, 1].into(), b"secret")?;
        let v6 = Socket::new(socket2::Domain::IPV6, Type::STREAM, None)?;
        set_tcp_md5sig(&v6, std::net::Ipv6Addr::LOCALHOST.into(), &[b'k'; 80])?;
        let err = set_tcp_md5sig(&v4, [127, 0, 0, 1].into(), &[b'k'; 81]).expect_err("81-byte key");
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
        Ok(())
    }

    #[test]
    fn md5_sockaddr_carries_family_and_address_with_port_zero() {
        let s = sockaddr_storage_of([192, 0, 2, 7].into());
        assert_eq!(i32::from(s.ss_family), libc::AF_INET);
        // SAFETY (test): an AF_INET sockaddr_storage holds a sockaddr_in at its start.
        let sin = unsafe { &*(&raw const s).cast::<libc::sockaddr_in>() };
        assert_eq!(sin.sin_addr.s_addr.to_ne_bytes(), [192, 0, 2, 7]);
        assert_eq!(sin.sin_port, 0);
        let v6 = std::net::Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1);
        let s6 = sockaddr_storage_of(v6.into());
        assert_eq!(i32::from(s6.ss_family), libc::AF_INET6);
        // SAFETY (test): an AF_INET6 sockaddr_storage holds a sockaddr_in6 at its start.
        let sin6 = unsafe { &*(&raw const s6).cast::<libc::sockaddr_in6>() };
        assert_eq!(sin6.sin6_addr.s6_addr, v6.octets());
        assert_eq!(sin6.sin6_port, 0);
    }

    #[test]
    fn recv_from_reads_into_initialised_buffer() -> io::Result<()> {
        let local = |s: &Socket| -> io::Result<()> {
            let addr: std::net::SocketAddr = ([127, 0, 0, 1], 0).into();
            s.bind(&addr.into())
        };
        let a = Socket::new(socket2::Domain::IPV4, Type::DGRAM, None)?;
        local(&a)?;
        let b = Socket::new(socket2::Domain::IPV4, Type::DGRAM, None)?;
        local(&b)?;
        b.send_to(b"hello", &a.local_addr()?)?;
        let mut buf = [0u8; 16];
        let (n, from) = recv_from(&a, &mut buf)?;
        assert_eq!(&buf[..n], b"hello");
        assert_eq!(from.as_socket(), b.local_addr()?.as_socket());
        Ok(())
    }
}
