//! Route changes that arrive close together go to the sessions as one hand-off.
//!
//! Each hand-off costs every session at least one UPDATE; a burst of service changes (a
//! rollout, a re-list) handed off one by one sends as many UPDATEs of one prefix each, and
//! a router pays per UPDATE (best path, FIB programming). So a change waits a short window
//! for others ([`ROUTE_BATCH_WINDOW`]), and hand-offs are at least [`ROUTE_BATCH_GAP`] apart:
//! a lone change leaves within the window, a burst as one set of packed UPDATEs
//! (`docs/bgp.md#packing`), and sustained churn (a service every few milliseconds) in
//! UPDATEs of several prefixes each, none waiting longer than the gap.

use std::time::Duration;

use tokio::time::Instant;

/// How long a route change may wait for others when nothing was handed off lately.
pub const ROUTE_BATCH_WINDOW: Duration = Duration::from_millis(5);
/// The least time between two hand-offs: what a change waits at most under churn. At 200
/// services a second, four or five prefixes per UPDATE, each route at the router within
/// ~20 ms of its status write (BENCHMARKS.md, issue #21's budget is 50 ms).
pub const ROUTE_BATCH_GAP: Duration = Duration::from_millis(20);

/// A pending hand-off: due one window after the first change not yet handed off, and not
/// before one gap after the last hand-off.
#[derive(Debug)]
pub struct RouteBatch {
    window: Duration,
    gap: Duration,
    due: Option<Instant>,
    last: Option<Instant>,
}

impl RouteBatch {
    pub fn new(window: Duration, gap: Duration) -> Self {
        Self {
            window,
            gap,
            due: None,
            last: None,
        }
    }

    /// The routes changed: a hand-off is due (the first change since the last hand-off
    /// sets the deadline; later ones join it).
    pub fn touch(&mut self) {
        if self.due.is_none() {
            let window = Instant::now() + self.window;
            let gap = self.last.map(|at| at + self.gap);
            self.due = Some(gap.map_or(window, |g| g.max(window)));
        }
    }

    /// Whether a hand-off is pending.
    pub fn is_pending(&self) -> bool {
        self.due.is_some()
    }

    /// Settles the pending hand-off now (the caller hands the routes off); returns whether
    /// one was pending.
    pub fn take(&mut self) -> bool {
        self.last = Some(Instant::now());
        self.due.take().is_some()
    }

    /// Resolves when the pending hand-off is due, and settles it; never while none is.
    /// Cancel-safe: dropped before its deadline, the hand-off stays pending.
    pub async fn due(&mut self) {
        match self.due {
            Some(at) => {
                tokio::time::sleep_until(at).await;
                self.due = None;
                self.last = Some(Instant::now());
            }
            None => std::future::pending().await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Counts hand-offs the way the speaker loop makes them: changes arrive on a channel,
    /// each touches the batch, and each `due` is one hand-off.
    async fn hand_offs(changes_at: Vec<Duration>, until: Duration) -> Vec<Duration> {
        let start = Instant::now();
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        tokio::spawn(async move {
            for at in changes_at {
                tokio::time::sleep_until(start + at).await;
                let _ = tx.send(());
            }
            std::future::pending::<()>().await;
        });
        let mut batch = RouteBatch::new(ROUTE_BATCH_WINDOW, ROUTE_BATCH_GAP);
        let mut out = Vec::new();
        let end = tokio::time::sleep_until(start + until);
        tokio::pin!(end);
        loop {
            tokio::select! {
                Some(()) = rx.recv() => batch.touch(),
                () = batch.due() => out.push(start.elapsed()),
                () = &mut end => return out,
            }
        }
    }

    #[tokio::test(start_paused = true)]
    async fn changes_inside_the_window_are_one_hand_off() {
        let within: Vec<Duration> = (0..1000).map(|i| Duration::from_micros(i * 4)).collect();
        let out = hand_offs(within, Duration::from_secs(1)).await;
        assert_eq!(out, [ROUTE_BATCH_WINDOW]);
    }

    #[tokio::test(start_paused = true)]
    async fn a_lone_change_leaves_within_the_window() {
        let at = Duration::from_millis(100);
        let out = hand_offs(vec![at], Duration::from_secs(1)).await;
        assert_eq!(out.len(), 1, "{out:?}");
        assert!(out[0] - at <= ROUTE_BATCH_WINDOW, "{out:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_steady_stream_is_handed_off_once_per_gap_and_none_waits_longer() {
        // 200 changes a second for a second.
        let stream: Vec<Duration> = (0..200).map(|i| Duration::from_millis(i * 5)).collect();
        let out = hand_offs(stream.clone(), Duration::from_secs(2)).await;
        assert!(
            out.windows(2).all(|w| w[1] - w[0] >= ROUTE_BATCH_GAP),
            "{out:?}"
        );
        // A second of changes in gap-sized hand-offs, give or take the first and last.
        let per_gap = Duration::from_secs(1).as_millis() / ROUTE_BATCH_GAP.as_millis();
        assert!(out.len() <= per_gap as usize + 2, "{}", out.len());
        for at in stream {
            let sent = out.iter().find(|t| **t >= at).expect("handed off");
            assert!(*sent - at <= ROUTE_BATCH_GAP, "{at:?} left at {sent:?}");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn after_a_quiet_spell_a_change_waits_only_the_window() {
        let at = [Duration::from_millis(100), Duration::from_millis(130)];
        let out = hand_offs(at.to_vec(), Duration::from_secs(1)).await;
        assert_eq!(
            out,
            [at[0] + ROUTE_BATCH_WINDOW, at[1] + ROUTE_BATCH_WINDOW]
        );
    }

    #[test]
    fn take_settles_a_pending_hand_off_at_once() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .start_paused(true)
            .build()
            .expect("runtime");
        rt.block_on(async {
            let mut batch = RouteBatch::new(ROUTE_BATCH_WINDOW, ROUTE_BATCH_GAP);
            assert!(!batch.take());
            batch.touch();
            assert!(batch.is_pending());
            assert!(batch.take());
            assert!(!batch.is_pending());
        });
    }
}
