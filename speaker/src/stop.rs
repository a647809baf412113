//! Graceful stop (SIGTERM) without a gap in Layer 2 answers.
//!
//! Order matters: the Layer 2 drain starts first (so the new owner's claim cannot be missed),
//! then we leave memberlist (so peers elect new owners at once instead of after failure
//! detection), then we keep answering each IP until its new owner claims it or the deadline
//! passes, and only then stop. Upstream stops answering on SIGTERM and leaves afterwards,
//! leaving clients unanswered until the new owner's first gratuitous ARP.

use std::time::{Duration, Instant};

use crate::l2::{DrainReport, Layer2};
use crate::memberlist;

/// From SIGTERM to the last answer. The upstream manifests give the speaker a termination
/// grace period of 2 s (the chart's 0 is raised to the kubelet's 2 s minimum), so SIGKILL
/// comes at 2 s: the drain must be over before that. A new owner claims within one gossip
/// round of our leave (200 ms with upstream's timers, 50 ms with the fast ones).
pub const DRAIN_GRACE: Duration = Duration::from_millis(1500);
/// memberlist's own bound on gossiping the leave (MetalLB: `Leave(1s)`).
const LEAVE_TIMEOUT: Duration = Duration::from_secs(1);

/// Leaves memberlist and stops Layer 2 once its IPs are taken over (or `grace` passed).
/// Without memberlist nobody learns of the departure before the pod disappears, so a drain
/// would only delay the exit: Layer 2 stops at once, as upstream.
pub async fn leave_and_drain(
    membership: Option<memberlist::Handle>,
    layer2: Layer2,
    grace: Duration,
) -> DrainReport {
    let Some(handle) = membership else {
        layer2.shutdown().await;
        return DrainReport::default();
    };
    let started = Instant::now();
    let deadline = started + grace;
    if let Err(e) = layer2.start_drain(deadline).await {
        tracing::warn!(op = "shutdown", error = %e, "layer 2 drain could not start");
    }
    handle.leave(LEAVE_TIMEOUT.min(grace)).await;
    let report = layer2.finish_drain().await;
    tracing::info!(
        op = "shutdown",
        handed_over = report.handed_over.len(),
        unclaimed = report.unclaimed.len(),
        elapsed_ms = started.elapsed().as_millis() as u64,
        "layer 2 handed over"
    );
    report
}
