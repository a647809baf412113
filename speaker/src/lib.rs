//! The MetalLB speaker: announces service IPs by Layer 2 (ARP/NDP) or BGP.
//!
//! Library part, so that the binary and the lab examples share the same code.

pub mod bgp;
pub mod http;
pub mod k8s;
pub mod l2;
pub mod memberlist;
pub mod run;
pub mod selfcheck;
pub mod status;
pub mod stop;
mod sys;

pub use sys::tune_allocator;
