//! Bounds-checked reads and the Internet checksum shared by the ARP and NDP codecs.

use std::net::Ipv6Addr;

/// `N` bytes starting at `at`, or `None` when the slice is too short.
pub(crate) fn array<const N: usize>(bytes: &[u8], at: usize) -> Option<[u8; N]> {
    bytes.get(at..at.checked_add(N)?)?.try_into().ok()
}

pub(crate) fn u16_at(bytes: &[u8], at: usize) -> Option<u16> {
    array::<2>(bytes, at).map(u16::from_be_bytes)
}

/// RFC 1071 one's-complement sum over several byte runs, treated as one concatenated run.
/// Every run but the last must have an even length (true for the headers used here).
pub(crate) fn internet_checksum(runs: &[&[u8]]) -> u16 {
    let mut sum: u32 = 0;
    for run in runs {
        let mut pairs = run.chunks_exact(2);
        for pair in &mut pairs {
            sum += u32::from(u16::from_be_bytes([pair[0], pair[1]]));
        }
        if let [last] = pairs.remainder() {
            sum += u32::from(u16::from_be_bytes([*last, 0]));
        }
        // Fold early so that even very long inputs cannot overflow the accumulator.
        sum = (sum & 0xffff) + (sum >> 16);
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// ICMPv6 checksum (RFC 4443 §2.3) over the IPv6 pseudo-header and `message`, whose own
/// checksum field must be zero (when building) or included (when verifying: the result is 0).
pub(crate) fn icmpv6_checksum(src: Ipv6Addr, dst: Ipv6Addr, message: &[u8]) -> u16 {
    let len = u32::try_from(message.len())
        .unwrap_or(u32::MAX)
        .to_be_bytes();
    let pseudo_tail = [len[0], len[1], len[2], len[3], 0, 0, 0, 58];
    internet_checksum(&[&src.octets(), &dst.octets(), &pseudo_tail, message])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn array_is_bounds_checked() {
        let b = [1u8, 2, 3];
        assert_eq!(array::<2>(&b, 1), Some([2, 3]));
        assert_eq!(array::<2>(&b, 2), None);
        assert_eq!(array::<2>(&b, usize::MAX), None);
        assert_eq!(u16_at(&b, 0), Some(0x0102));
    }

    #[test]
    fn checksum_matches_rfc1071_example() {
        // RFC 1071 §3: the bytes 00 01 f2 03 f4 f5 f6 f7 sum to ddf2, complement 220d.
        let data = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
        assert_eq!(internet_checksum(&[&data]), 0x220d);
        // Split into runs, the result is the same.
        assert_eq!(internet_checksum(&[&data[..4], &data[4..]]), 0x220d);
    }

    #[test]
    fn odd_trailing_byte_is_padded_with_zero() {
        assert_eq!(
            internet_checksum(&[&[0x12, 0x34, 0x56]]),
            !(0x1234u16 + 0x5600)
        );
    }
}
