//! A HashiCorp-memberlist-compatible membership protocol (SWIM with Lifeguard), sans I/O.
//!
//! MetalLB v0.9–v0.12 speakers run hashicorp/memberlist (v0.1.x, protocol version 2,
//! `DefaultLANConfig`) on port 7946 TCP+UDP, and the layer 2 election counts the members it
//! reports (docs/layer2.md#candidates, docs/memberlist.md). A speaker that replaces an upstream
//! one during a rolling upgrade must join *the same* cluster and be counted by the Go speakers,
//! or both generations announce the same IPs. So this module speaks memberlist's wire protocol
//! byte for byte (checked against vectors produced by the Go code, `testdata/memberlist/`) and
//! follows its state rules (`state.go`): alive/suspect/dead with incarnation numbers,
//! refutation, Lifeguard's suspicion timeouts and health-aware probing.
//!
//! Layers, bottom up: `msgpack` (go-msgpack's dialect), [`compress`] (Go's LZW),
//! [`crypto`] (AES-GCM keyring), [`wire`] (messages), [`packet`] and [`stream`] (framing),
//! `state` (the member table), and [`Memberlist`], the state machine: datagrams, stream
//! bytes and timer ticks go in with the current time, datagrams to send, streams to open
//! and membership events come out. The speaker's socket shell feeds it.
//!
//! # Compatibility
//!
//! The byte-level reference is Debian's `golang-github-hashicorp-memberlist-dev` 0.2.2 (with
//! go-msgpack 0.5.5); MetalLB v0.9–v0.12 vendor v0.1.x (v0.1.7 in v0.12). On the wire the two
//! differ only in additions that v0.1.x ignores, checked against v0.1.x sources:
//!
//! * Both understand protocols 1–5 and speak 2: `Vsn` = `[1, 5, 2, 0, 0, 0]`, ours too, so
//!   `verifyProtocol` passes both ways. Both send CRC-prefixed datagrams (protocol 5) to
//!   nodes that understand them, nacks (4) and TCP fallback pings (3); we accept and send all.
//! * v0.2 added `SourceAddr`/`SourcePort`/`SourceNode` to pings and indirect pings. We send
//!   them; v0.1.x skips unknown map keys and answers to the datagram's source, which is our
//!   bound socket, i.e. the same address.
//! * v0.2 added the `errMsg` stream reply (v0.1.x just closes) and the `Left` state (3) in
//!   push/pull. v0.1.x has no `Left`: its `mergeState` ignores such entries, and it records a
//!   graceful leave as dead. Either way the node is no longer a member.
//! * v0.2 lets a node that left rejoin from another address; v0.1.x keeps the old address
//!   until the entry is reaped. Labels (v0.5) are not used by either.
//! * Go ≥ 1.17's LZW writer starts with a clear code, older ones (and so some MetalLB images)
//!   do not; both forms decode.
//!
//! Where we deliberately differ from Go: inputs that make Go panic (an empty compound part,
//! a 1–5-byte `Vsn`, bad PKCS#7 padding) are errors here; decompression is capped (1 MiB per
//! datagram, 20 MiB per stream); joins to several addresses run in parallel; a TCP fallback
//! ping answering after the probe deadline is ignored; our refutations replace queued gossip
//! about us (Go keys them by address and keeps both). Our nodes announce [`FAST_MARKER`] as
//! node metadata (MetalLB's Go speakers announce none) and, unless told otherwise, run faster
//! timers while every member does ([`Profile`], docs/memberlist.md#which-timers-run); with a
//! Go member present they run Go's `DefaultLANConfig` rules exactly.

mod broadcast;
pub mod compress;
pub mod config;
pub mod crypto;
mod machine;
mod msgpack;
pub mod packet;
mod state;
pub mod stream;
pub mod wire;

pub use compress::LzwError;
pub use config::{Config, FAST_MARKER, Profile, Timers};
pub use crypto::{CryptoError, EncryptionVersion, Keyring, SecretKey};
pub use machine::{
    ConfigError, Event, JoinError, Memberlist, Output, StreamId, StreamProgress, StreamReply,
};
pub use msgpack::MsgpackError;
pub use state::Member;
pub use wire::{MemberState, WireError};
