//! Parses a large generated config once (for profiling the parser with callgrind).
use std::fmt::Write as _;

fn main() {
    let mut s = String::from("peers:\n");
    for i in 0..500u32 {
        let _ = write!(
            s,
            "- my-asn: 64500\n  peer-asn: {}\n  peer-address: 172.16.{}.{}\n",
            64501 + i,
            i >> 8,
            i & 255
        );
    }
    s.push_str("address-pools:\n");
    for p in 0..1000u32 {
        let _ = write!(s, "- name: pool-{p}\n  protocol: bgp\n  addresses:\n");
        for r in 0..10u32 {
            let _ = writeln!(
                s,
                "  - 10.{}.{}.{}-10.{}.{}.{}",
                p >> 8,
                p & 255,
                r * 25 + 1,
                p >> 8,
                p & 255,
                r * 25 + 20
            );
        }
    }
    let cfg = common::config::parse(&s, common::config::Mode::Controller);
    println!("{} bytes, ok={}", s.len(), cfg.is_ok());
}
