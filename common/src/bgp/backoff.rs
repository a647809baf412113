//! Reconnect back-off: 0 s, 1 s, 2 s, 4 s … capped at 2 min, as upstream.

use std::time::Duration;

/// Longest wait between two connection attempts.
pub const MAX_BACKOFF: Duration = Duration::from_secs(120);

/// Counts consecutive failed attempts. Only [`Backoff::reset`] brings the delay back to
/// zero; the session calls it once a session has proven stable, not merely after an OPEN
/// exchange (upstream did the latter, so a peer that accepts the OPEN and then rejects us
/// with a NOTIFICATION was redialled in a tight loop — upstream issues #84 and #1114).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Backoff {
    failures: u32,
}

impl Backoff {
    /// The wait before the next attempt, counting the failure that just happened.
    pub fn next_delay(&mut self) -> Duration {
        let delay = match self.failures {
            0 => Duration::ZERO,
            n => 1u64
                .checked_shl(n - 1)
                .map_or(MAX_BACKOFF, Duration::from_secs)
                .min(MAX_BACKOFF),
        };
        self.failures = self.failures.saturating_add(1);
        delay
    }

    pub fn reset(&mut self) {
        self.failures = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_from_zero_and_caps_at_two_minutes() {
        let mut b = Backoff::default();
        let secs: Vec<u64> = (0..12).map(|_| b.next_delay().as_secs()).collect();
        assert_eq!(secs, [0, 1, 2, 4, 8, 16, 32, 64, 120, 120, 120, 120]);
        b.reset();
        assert_eq!(b.next_delay(), Duration::ZERO);
    }

    #[test]
    fn never_overflows() {
        let mut b = Backoff {
            failures: u32::MAX - 1,
        };
        assert_eq!(b.next_delay(), MAX_BACKOFF);
        assert_eq!(b.next_delay(), MAX_BACKOFF);
    }
}
