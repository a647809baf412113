//! NOTIFICATION messages (RFC 4271 §4.5) and the texts upstream logs for them.

use std::fmt;

/// A NOTIFICATION: error code, subcode and diagnostic data.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Notification {
    pub code: u8,
    pub subcode: u8,
    pub data: Vec<u8>,
}

/// Error codes of RFC 4271 §4.5.
pub mod code {
    pub const MESSAGE_HEADER: u8 = 1;
    pub const OPEN_MESSAGE: u8 = 2;
    pub const UPDATE_MESSAGE: u8 = 3;
    pub const HOLD_TIMER_EXPIRED: u8 = 4;
    pub const FSM: u8 = 5;
    pub const CEASE: u8 = 6;
}

impl Notification {
    pub fn new(code: u8, subcode: u8, data: impl Into<Vec<u8>>) -> Self {
        Self {
            code,
            subcode,
            data: data.into(),
        }
    }

    /// What we send when the peer has been silent for the negotiated hold time.
    pub fn hold_timer_expired() -> Self {
        Self::new(code::HOLD_TIMER_EXPIRED, 0, [])
    }

    /// RFC 6608: a message that the state machine did not expect in `state_subcode`
    /// (1 OpenSent, 2 OpenConfirm, 3 Established).
    pub fn fsm_error(state_subcode: u8) -> Self {
        Self::new(code::FSM, state_subcode, [])
    }

    /// RFC 4486 Cease / Administrative Shutdown, sent when the peer is deconfigured.
    pub fn admin_shutdown() -> Self {
        Self::new(code::CEASE, 2, [])
    }

    /// `code << 8 | subcode`, the number upstream prints.
    pub fn code16(&self) -> u16 {
        u16::from(self.code) << 8 | u16::from(self.subcode)
    }

    /// Upstream's description of the code (`"unknown code"` for anything else).
    pub fn description(&self) -> &'static str {
        describe(self.code16())
    }

    pub(crate) fn encode_body(&self, out: &mut Vec<u8>) {
        out.push(self.code);
        out.push(self.subcode);
        out.extend_from_slice(&self.data);
    }

    /// The body is code, subcode and data; the header length already bounds it, and any
    /// code is accepted because a NOTIFICATION is only ever reported, never acted upon.
    pub(crate) fn decode_body(body: &[u8]) -> Option<Self> {
        match body {
            [code, subcode, data @ ..] => Some(Self::new(*code, *subcode, data)),
            _ => None,
        }
    }
}

/// Formats as upstream's log text: `got BGP notification code 0x0206 (Unacceptable hold time)`.
impl fmt::Display for Notification {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "got BGP notification code 0x{:04x} ({})",
            self.code16(),
            self.description()
        )
    }
}

/// The code table of upstream's native speaker (`internal/bgp/native/messages.go`), kept
/// verbatim for log parity (docs/bgp.md#notifications).
fn describe(code16: u16) -> &'static str {
    match code16 {
        0x0100 => "Message header error (unspecific)",
        0x0101 => "Connection not synchronized",
        0x0102 => "Bad message length",
        0x0103 => "Bad message type",
        0x0200 => "OPEN message error (unspecific)",
        0x0201 => "Unsupported version number",
        0x0202 => "Bad peer AS",
        0x0203 => "Bad BGP identifier",
        0x0204 => "Unsupported optional parameter",
        0x0206 => "Unacceptable hold time",
        0x0207 => "Unsupported capability",
        0x0300 => "UPDATE message error (unspecific)",
        0x0301 => "Malformed Attribute List",
        0x0302 => "Unrecognized Well-known Attribute",
        0x0303 => "Missing Well-known Attribute",
        0x0304 => "Attribute Flags Error",
        0x0305 => "Attribute Length Error",
        0x0306 => "Invalid ORIGIN Attribute",
        0x0308 => "Invalid NEXT_HOP Attribute",
        0x0309 => "Optional Attribute Error",
        0x030a => "Invalid Network Field",
        0x030b => "Malformed AS_PATH",
        0x0400 => "Hold Timer Expired (unspecific)",
        0x0500 => "BGP FSM state error (unspecific)",
        0x0501 => "Receive Unexpected Message in OpenSent State",
        0x0502 => "Receive Unexpected Message in OpenConfirm State",
        0x0503 => "Receive Unexpected Message in Established State",
        0x0601 => "Maximum Number of Prefixes Reached",
        0x0602 => "Administrative Shutdown",
        0x0603 => "Peer De-configured",
        0x0604 => "Administrative Reset",
        0x0605 => "Connection Rejected",
        0x0606 => "Other Configuration Change",
        0x0607 => "Connection Collision Resolution",
        0x0608 => "Out of Resources",
        _ => "unknown code",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_text_matches_upstream() {
        let n = Notification::new(2, 6, []);
        assert_eq!(
            n.to_string(),
            "got BGP notification code 0x0206 (Unacceptable hold time)"
        );
        assert_eq!(
            Notification::hold_timer_expired().to_string(),
            "got BGP notification code 0x0400 (Hold Timer Expired (unspecific))"
        );
        assert_eq!(
            Notification::new(2, 5, []).to_string(),
            "got BGP notification code 0x0205 (unknown code)"
        );
        assert_eq!(
            Notification::new(6, 3, [1]).description(),
            "Peer De-configured"
        );
    }
}
