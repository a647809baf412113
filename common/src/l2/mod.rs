//! Layer 2 mode: who answers for a service IP, and the ARP/NDP frames that say so.
//!
//! Everything here is pure: the speaker's socket shell feeds received bytes in and sends
//! the bytes that come out, and passes the time in when the gratuitous schedule needs it.

pub mod announcer;
pub mod arp;
pub mod drain;
pub mod election;
pub mod election_key;
pub mod iface;
pub mod ndp;
pub mod pace;
mod wire;

use std::fmt;

/// An Ethernet (EUI-48) hardware address.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct MacAddr(pub [u8; 6]);

impl MacAddr {
    /// `ff:ff:ff:ff:ff:ff`: Ethernet broadcast, also the target hardware address of gratuitous ARP.
    pub const BROADCAST: MacAddr = MacAddr([0xff; 6]);

    /// The address from a byte slice of exactly six bytes (netlink hands MACs over this way).
    pub fn from_slice(bytes: &[u8]) -> Option<MacAddr> {
        bytes.try_into().ok().map(MacAddr)
    }

    pub const fn octets(self) -> [u8; 6] {
        self.0
    }
}

impl fmt::Display for MacAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [a, b, c, d, e, g] = self.0;
        write!(f, "{a:02x}:{b:02x}:{c:02x}:{d:02x}:{e:02x}:{g:02x}")
    }
}

impl fmt::Debug for MacAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mac_text_form_is_lower_case_colon_separated() {
        let mac = MacAddr([0x02, 0xAB, 0, 0x10, 0xfe, 1]);
        assert_eq!(mac.to_string(), "02:ab:00:10:fe:01");
        assert_eq!(MacAddr::BROADCAST.to_string(), "ff:ff:ff:ff:ff:ff");
    }

    #[test]
    fn mac_from_slice_needs_six_bytes() {
        assert_eq!(
            MacAddr::from_slice(&[1, 2, 3, 4, 5, 6]),
            Some(MacAddr([1, 2, 3, 4, 5, 6]))
        );
        assert_eq!(MacAddr::from_slice(&[1, 2, 3, 4, 5]), None);
        assert_eq!(MacAddr::from_slice(&[0; 8]), None);
    }
}
