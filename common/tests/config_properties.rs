//! Properties of range summarisation and overlap detection, checked against naive models.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use common::config::{Mode, parse, summarize};
use ipnet::IpNet;
use proptest::prelude::*;

fn first_last(n: &IpNet) -> (u128, u128) {
    match n {
        IpNet::V4(n) => (
            u32::from(n.network()).into(),
            u32::from(n.broadcast()).into(),
        ),
        IpNet::V6(n) => (n.network().into(), n.broadcast().into()),
    }
}

/// The CIDRs are aligned, ascending, adjacent, cover exactly [a, b], and are minimal
/// (no two neighbours could merge into one aligned block).
fn check_cover(nets: &[IpNet], a: u128, b: u128, bits: u32) -> Result<(), TestCaseError> {
    prop_assert!(!nets.is_empty());
    let mut next = a;
    for (i, n) in nets.iter().enumerate() {
        let (lo, hi) = first_last(n);
        prop_assert_eq!(lo, next, "gap or overlap at {}", n);
        let size_bits = bits - u32::from(n.prefix_len());
        if size_bits < 128 {
            prop_assert_eq!(lo % (1u128 << size_bits), 0, "unaligned {}", n);
        }
        if i + 1 < nets.len() {
            next = hi + 1;
            // Two equal-sized neighbours whose union is an aligned block would be one CIDR.
            let other = nets[i + 1];
            if other.prefix_len() == n.prefix_len() && size_bits < bits {
                prop_assert!(
                    lo % (1u128 << (size_bits + 1)) != 0,
                    "{} and {} should merge",
                    n,
                    other
                );
            }
        } else {
            prop_assert_eq!(hi, b);
        }
    }
    Ok(())
}

proptest! {
    #[test]
    fn v4_summary_covers_exactly(a in any::<u32>(), b in any::<u32>()) {
        let (a, b) = (a.min(b), a.max(b));
        let nets = summarize(IpAddr::V4(Ipv4Addr::from(a)), IpAddr::V4(Ipv4Addr::from(b)));
        check_cover(&nets, a.into(), b.into(), 32)?;
        prop_assert!(nets.len() <= 62);
    }

    #[test]
    fn v6_summary_covers_exactly(a in any::<u128>(), b in any::<u128>()) {
        let (a, b) = (a.min(b), a.max(b));
        let nets = summarize(IpAddr::V6(Ipv6Addr::from(a)), IpAddr::V6(Ipv6Addr::from(b)));
        check_cover(&nets, a, b, 128)?;
    }

    #[test]
    fn reversed_ranges_summarise_to_nothing(a in any::<u32>(), b in any::<u32>()) {
        prop_assume!(a > b);
        prop_assert!(summarize(IpAddr::V4(a.into()), IpAddr::V4(b.into())).is_empty());
    }

    /// The sorted overlap index reports an overlap iff upstream's pairwise loop would, and
    /// names the same pair.
    #[test]
    fn overlap_check_matches_pairwise(cidrs in prop::collection::vec((0u32..64, 26u8..=32), 1..12)) {
        let nets: Vec<IpNet> = cidrs
            .iter()
            .map(|(host, len)| IpNet::new(IpAddr::V4(Ipv4Addr::new(10, 0, 0, (*host * 4) as u8)), *len).expect("valid length").trunc())
            .collect();
        let mut expected = None;
        'outer: for (i, n) in nets.iter().enumerate() {
            for m in &nets[..i] {
                if n.contains(&m.network()) || m.contains(&n.network()) {
                    expected = Some(format!("CIDR \"{n}\" in pool \"p{i}\" overlaps with already defined CIDR \"{m}\""));
                    break 'outer;
                }
            }
        }
        let mut text = String::from("address-pools:\n");
        for (i, n) in nets.iter().enumerate() {
            text.push_str(&format!("- name: p{i}\n  protocol: layer2\n  addresses: [{n}]\n"));
        }
        let got = parse(&text, Mode::Controller).err().map(|e| e.to_string());
        prop_assert_eq!(got, expected);
    }
}
