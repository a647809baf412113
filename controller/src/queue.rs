//! Per-key retry back-off, as client-go's default rate limiter: 5 ms doubling to 1000 s per
//! key, reset when the key succeeds. Time is passed in.

use std::collections::{BTreeSet, HashMap};
use std::time::{Duration, Instant};

const BASE: Duration = Duration::from_millis(5);
const CAP: Duration = Duration::from_secs(1000);

#[derive(Debug, Default)]
pub struct RetryQueue {
    failures: HashMap<String, u32>,
    due: BTreeSet<(Instant, String)>,
}

impl RetryQueue {
    /// Schedules `key` after its next back-off step.
    pub fn retry(&mut self, key: &str, now: Instant) {
        let n = self.failures.entry(key.to_owned()).or_insert(0);
        let delay = BASE
            .checked_mul(1u32.checked_shl(*n).unwrap_or(u32::MAX))
            .unwrap_or(CAP)
            .min(CAP);
        *n = n.saturating_add(1);
        self.due.insert((now + delay, key.to_owned()));
    }

    /// The key settled: its next failure starts from the base delay again.
    pub fn forget(&mut self, key: &str) {
        self.failures.remove(key);
    }

    pub fn next_deadline(&self) -> Option<Instant> {
        self.due.first().map(|(t, _)| *t)
    }

    /// Keys due at `now` (each once).
    pub fn pop_due(&mut self, now: Instant) -> Vec<String> {
        let mut out = Vec::new();
        while let Some((t, _)) = self.due.first() {
            if *t > now {
                break;
            }
            if let Some((_, k)) = self.due.pop_first()
                && !out.contains(&k)
            {
                out.push(k);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn back_off_doubles_per_key_and_caps() {
        let mut q = RetryQueue::default();
        let t0 = Instant::now();
        q.retry("a", t0);
        assert_eq!(q.next_deadline(), Some(t0 + Duration::from_millis(5)));
        assert!(q.pop_due(t0).is_empty());
        assert_eq!(q.pop_due(t0 + Duration::from_millis(5)), ["a"]);
        q.retry("a", t0);
        assert_eq!(q.next_deadline(), Some(t0 + Duration::from_millis(10)));
        for _ in 0..40 {
            q.retry("a", t0);
        }
        let last = q.due.last().map(|(t, _)| *t).expect("scheduled");
        assert_eq!(last, t0 + CAP);
        q.forget("a");
        q.pop_due(t0 + CAP);
        q.retry("a", t0);
        assert_eq!(q.next_deadline(), Some(t0 + BASE));
    }
}
