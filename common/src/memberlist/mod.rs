//! A HashiCorp-memberlist-compatible membership protocol (SWIM with Lifeguard), sans I/O.
//!
//! MetalLB v0.9–v0.12 speakers run hashicorp/memberlist (v0.1.x, protocol version 2,
//! `DefaultLANConfig`) on port 7946 TCP+UDP, and the layer 2 election counts the members it
//! reports (spec §4.3–§4.4). A speaker that replaces an upstream one during a rolling upgrade
//! must join *the same* cluster and be counted by the Go speakers, or both generations announce
//! the same IPs. So this module speaks memberlist's wire protocol byte for byte (checked
//! against vectors produced by the Go code, `testdata/memberlist/`) and follows its state
//! rules (`state.go`): alive/suspect/dead with incarnation numbers, refutation, Lifeguard's
//! suspicion timeouts and health-aware probing.
//!
//! Layers, bottom up: [`msgpack`](self) (go-msgpack's dialect), [`compress`] (Go's LZW),
//! [`crypto`] (AES-GCM keyring), [`wire`] (messages), [`packet`] and [`stream`] (framing),
//! [`state`] (the member table), and [`Memberlist`], the state machine: datagrams, stream
//! bytes and timer ticks go in with the current time, datagrams to send, streams to open
//! and membership events come out. The speaker's socket shell feeds it.

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
pub use config::Config;
pub use crypto::{CryptoError, EncryptionVersion, Keyring, SecretKey};
pub use machine::{
    ConfigError, Event, JoinError, Memberlist, Output, StreamId, StreamProgress, StreamReply,
};
pub use msgpack::MsgpackError;
pub use state::Member;
pub use wire::{MemberState, WireError};
