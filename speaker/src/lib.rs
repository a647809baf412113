//! The MetalLB speaker: announces service IPs by Layer 2 (ARP/NDP) or BGP.
//!
//! Library part, so that the binary and the lab examples share the same code.

pub mod bgp;
pub mod l2;
mod sys;
