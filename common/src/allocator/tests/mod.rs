//! Allocator unit tests, one file per group of rules of docs/allocation.md.

mod allocate;
mod assign;
mod converge;
mod pools;
mod sharing_index;

use std::net::IpAddr;

use crate::config::{Mode, Pool, Protocol, parse};

use super::{Port, Usage};

pub(super) fn ip(s: &str) -> IpAddr {
    s.parse().expect("test address")
}

pub(super) fn ips(v: &[&str]) -> Vec<IpAddr> {
    v.iter().map(|s| ip(s)).collect()
}

/// A layer2 pool, auto-assign, without avoid-buggy-ips.
pub(super) fn pool(name: &str, cidrs: &[&str]) -> Pool {
    Pool {
        name: name.to_owned(),
        protocol: Protocol::Layer2,
        cidrs: cidrs
            .iter()
            .map(|c| c.parse().expect("test CIDR"))
            .collect(),
        avoid_buggy_ips: false,
        auto_assign: true,
        bgp_advertisements: Vec::new(),
    }
}

pub(super) fn avoid_buggy(mut p: Pool) -> Pool {
    p.avoid_buggy_ips = true;
    p
}

pub(super) fn manual(mut p: Pool) -> Pool {
    p.auto_assign = false;
    p
}

/// Pools as the config parser produces them (ranges summarised, order kept).
pub(super) fn parsed_pools(doc: &str) -> Vec<Pool> {
    parse(doc, Mode::Controller).expect("test config").pools
}

/// TCP ports, no sharing.
pub(super) fn tcp(ports: &[i32]) -> Usage {
    Usage {
        ports: ports.iter().map(|p| Port::new("TCP", *p)).collect(),
        ..Usage::default()
    }
}

pub(super) fn shared(key: &str, backend: &str, ports: &[(&str, i32)]) -> Usage {
    Usage {
        ports: ports
            .iter()
            .map(|(proto, p)| Port::new(proto, *p))
            .collect(),
        sharing_key: key.to_owned(),
        backend_key: backend.to_owned(),
    }
}
