//! A bound on how fast gratuitous rounds leave (docs/layer2.md#pacing): a token bucket, kept
//! as the generic cell rate algorithm's one timestamp, with the time passed in.
//!
//! A speaker that takes over thousands of addresses at once (start-up, a failover of a big
//! node) would otherwise broadcast every first round in the same millisecond: tens of
//! thousands of frames that every host on the segment must process and that switches punting
//! ARP to their CPU police and drop. Paced, a small takeover still leaves at once (up to
//! [`Pace::burst`] rounds back to back) and a big one at a steady [`Pace::rate`].

use std::time::{Duration, Instant};

/// Gratuitous rounds per second by default: on each interface at most ~1 000 frames a second
/// (an IPv4 round is two frames), the order of the ARP rate switches let reach their CPU.
pub const DEFAULT_RATE: u32 = 500;
/// Rounds that may leave back to back by default: a failover of up to this many addresses is
/// announced at once, as without pacing.
pub const DEFAULT_BURST: u32 = 100;
/// While throttled the shell is woken for this much worth of rounds at a time, not for each
/// one (at the default rate: 5 rounds every 10 ms).
pub const BATCH: Duration = Duration::from_millis(10);

/// How fast rounds may leave.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pace {
    /// Rounds per second, sustained.
    pub rate: u32,
    /// Rounds that may leave back to back after a quiet spell (at least 1).
    pub burst: u32,
}

impl Default for Pace {
    fn default() -> Pace {
        Pace {
            rate: DEFAULT_RATE,
            burst: DEFAULT_BURST,
        }
    }
}

/// The bucket. Unlimited when built from `None` (every round leaves when due, as upstream).
#[derive(Debug, Clone)]
pub struct Pacer {
    limit: Option<Limit>,
}

#[derive(Debug, Clone)]
struct Limit {
    /// Time one round uses up.
    cost: Duration,
    /// How far ahead of now the bucket may run: `(burst - 1) × cost`.
    tolerance: Duration,
    /// When the bucket is next empty of debt (GCRA's theoretical arrival time); `None`
    /// until the first round.
    tat: Option<Instant>,
}

impl Pacer {
    /// `None`, or a zero rate, paces nothing.
    pub fn new(pace: Option<Pace>) -> Pacer {
        let limit = pace.filter(|p| p.rate > 0).map(|p| {
            let cost = Duration::from_secs(1) / p.rate;
            Limit {
                cost,
                tolerance: cost.saturating_mul(p.burst.max(1) - 1),
                tat: None,
            }
        });
        Pacer { limit }
    }

    /// Takes one round's token if one is available at `now`.
    pub fn try_take(&mut self, now: Instant) -> bool {
        let Some(l) = &mut self.limit else {
            return true;
        };
        let tat = l.tat.map_or(now, |t| t.max(now));
        if tat > now + l.tolerance {
            return false;
        }
        l.tat = Some(tat + l.cost);
        true
    }

    /// The earliest time `n` rounds (at least one) can leave back to back; `None` means
    /// at once, whatever the time.
    pub fn ready_at(&self, n: usize) -> Option<Instant> {
        let l = self.limit.as_ref()?;
        let tat = l.tat?;
        let extra = u32::try_from(n.max(1) - 1).unwrap_or(u32::MAX);
        // Round k (0-based) leaves once tat + k·cost ≤ t + tolerance.
        let need = tat + l.cost.saturating_mul(extra);
        Some(need.checked_sub(l.tolerance).unwrap_or(need))
    }

    /// How many rounds [`BATCH`] is worth (at least one).
    pub fn batch(&self) -> usize {
        match &self.limit {
            Some(l) => {
                let per = BATCH.as_nanos() / l.cost.as_nanos().max(1);
                usize::try_from(per).unwrap_or(usize::MAX).max(1)
            }
            None => usize::MAX,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn unlimited_takes_everything() {
        let t0 = Instant::now();
        let mut p = Pacer::new(None);
        assert!((0..100_000).all(|_| p.try_take(t0)));
        assert_eq!(p.ready_at(1_000), None);
        let mut zero = Pacer::new(Some(Pace { rate: 0, burst: 1 }));
        assert!((0..1000).all(|_| zero.try_take(t0)));
    }

    #[test]
    fn a_burst_leaves_at_once_then_the_rate_holds() {
        let t0 = Instant::now();
        let mut p = Pacer::new(Some(Pace {
            rate: 100,
            burst: 10,
        }));
        let taken = (0..50).filter(|_| p.try_take(t0)).count();
        assert_eq!(taken, 10, "the burst, no more");
        // Then one every 10 ms.
        assert_eq!(p.ready_at(1), Some(t0 + ms(10)));
        assert!(!p.try_take(t0 + ms(9)));
        assert!(p.try_take(t0 + ms(10)));
        assert!(!p.try_take(t0 + ms(10)));
        assert_eq!(p.ready_at(3), Some(t0 + ms(40)));
    }

    #[test]
    fn a_quiet_spell_refills_the_burst_and_no_more() {
        let t0 = Instant::now();
        let mut p = Pacer::new(Some(Pace {
            rate: 100,
            burst: 4,
        }));
        assert_eq!((0..10).filter(|_| p.try_take(t0)).count(), 4);
        let later = t0 + Duration::from_secs(60);
        assert_eq!((0..10).filter(|_| p.try_take(later)).count(), 4);
    }

    #[test]
    fn batch_is_ten_milliseconds_of_rounds() {
        assert_eq!(Pacer::new(Some(Pace::default())).batch(), 5);
        let slow = Pacer::new(Some(Pace { rate: 10, burst: 1 }));
        assert_eq!(slow.batch(), 1);
        assert_eq!(Pacer::new(None).batch(), usize::MAX);
    }

    proptest! {
        /// However the takes are spread, no window from one round to a later one holds more
        /// than burst + (its length) × rate rounds.
        #[test]
        fn no_window_exceeds_burst_plus_rate(
            rate in 1u32..2000,
            burst in 1u32..50,
            gaps in proptest::collection::vec(0u64..5_000, 1..400),
        ) {
            let t0 = Instant::now();
            let mut p = Pacer::new(Some(Pace { rate, burst }));
            let mut now = t0;
            let mut sent = Vec::new();
            for gap in gaps {
                now += Duration::from_micros(gap);
                while p.try_take(now) {
                    sent.push(now);
                }
            }
            // rounds(i..=j) ≤ burst + rate·(t_j − t_i)  ⇔  f(j) − f(i) ≤ burst − 1 for
            // f(k) = k − rate·t_k: checked against the smallest f seen so far.
            let per_sec = 1.0 / (Duration::from_secs(1) / rate).as_secs_f64();
            let f = |k: usize, t: Instant| k as f64 - per_sec * t.duration_since(t0).as_secs_f64();
            let mut lowest = f64::INFINITY;
            for (k, t) in sent.iter().enumerate() {
                lowest = lowest.min(f(k, *t));
                prop_assert!(f(k, *t) - lowest <= f64::from(burst - 1) + 1e-6, "round {k}");
            }
        }
    }
}
