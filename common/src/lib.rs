//! Pure logic shared by the controller and the speaker.
//!
//! Nothing in this crate opens a socket, talks to Kubernetes or reads the clock: inputs come
//! in as values (and `now` as an argument), decisions and messages go out as values. The
//! binaries are thin shells that move bytes and objects between the world and these modules,
//! which keeps every rule testable without a cluster or a network.
#![forbid(unsafe_code)]

pub mod allocator;
pub mod bgp;
pub mod config;
pub mod crd;
mod goprint;
pub mod gotext;
pub mod l2;
pub mod memberlist;
pub mod relist;
pub mod speaker;
