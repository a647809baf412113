//! The gossip queue (memberlist's `TransmitLimitedQueue`).
//!
//! Each state change about a node is queued once and piggybacked on outgoing datagrams until
//! it has been sent `retransmit_mult × ⌈log10(n+1)⌉` times. A newer message about a node
//! replaces any queued one about the same node. Messages sent fewer times go first; among
//! equals, larger and then newer ones — the order Go's B-tree yields.

use super::state::retransmit_limit;

#[derive(Debug, Clone)]
struct Item {
    node: String,
    msg: Vec<u8>,
    transmits: usize,
    id: u64,
    /// Our own leave announcement: `Memberlist::leave` waits for it to be fully sent.
    leave: bool,
}

/// Pending broadcasts.
#[derive(Debug, Default)]
pub(crate) struct BroadcastQueue {
    items: Vec<Item>,
    next_id: u64,
    /// Set once our leave announcement has been sent out (or superseded).
    leave_done: bool,
}

impl BroadcastQueue {
    /// Queues `msg` about `node`, dropping any older message about it.
    pub(crate) fn queue(&mut self, node: &str, msg: Vec<u8>, leave: bool) {
        if let Some(pos) = self.items.iter().position(|i| i.node == node) {
            let old = self.items.swap_remove(pos);
            self.leave_done |= old.leave;
        }
        self.next_id += 1;
        self.items.push(Item {
            node: node.to_owned(),
            msg,
            transmits: 0,
            id: self.next_id,
            leave,
        });
    }

    pub(crate) fn len(&self) -> usize {
        self.items.len()
    }

    /// Whether our leave announcement has been transmitted its full count.
    pub(crate) fn leave_done(&self) -> bool {
        self.leave_done
    }

    /// Takes messages fitting in `limit` bytes, counting `overhead` per message, and counts
    /// one transmission for each (Go's `GetBroadcasts`). Taking the best-ordered message that
    /// fits, repeatedly, equals one greedy pass over the sorted queue: space only shrinks,
    /// so a message that did not fit never fits later in the same call.
    pub(crate) fn take(
        &mut self,
        overhead: usize,
        limit: usize,
        num_nodes: usize,
        retransmit_mult: usize,
    ) -> Vec<Vec<u8>> {
        let max_transmits = retransmit_limit(retransmit_mult, num_nodes);
        self.items.sort_by(|a, b| {
            (
                a.transmits,
                std::cmp::Reverse(a.msg.len()),
                std::cmp::Reverse(a.id),
            )
                .cmp(&(
                    b.transmits,
                    std::cmp::Reverse(b.msg.len()),
                    std::cmp::Reverse(b.id),
                ))
        });
        let mut used = 0;
        let mut out = Vec::new();
        for item in &mut self.items {
            let free = limit.saturating_sub(used + overhead);
            if free == 0 {
                break;
            }
            if item.msg.len() > free {
                continue;
            }
            used += overhead + item.msg.len();
            out.push(item.msg.clone());
            item.transmits += 1;
        }
        let mut leave_done = false;
        self.items.retain(|i| {
            let keep = i.transmits < max_transmits;
            leave_done |= !keep && i.leave;
            keep
        });
        self.leave_done |= leave_done;
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn newer_message_about_a_node_replaces_the_older() {
        let mut q = BroadcastQueue::default();
        q.queue("a", b"suspect-a".to_vec(), false);
        q.queue("b", b"alive-b".to_vec(), false);
        q.queue("a", b"alive-a".to_vec(), false);
        assert_eq!(q.len(), 2);
        let mut got = q.take(2, 1400, 3, 4);
        got.sort();
        assert_eq!(got, [b"alive-a".to_vec(), b"alive-b".to_vec()]);
    }

    #[test]
    fn messages_retire_after_the_retransmit_limit() {
        let mut q = BroadcastQueue::default();
        q.queue("a", vec![1; 10], false);
        // 3 nodes: 4 × ⌈log10 4⌉ = 4 transmissions.
        for round in 0..4 {
            assert_eq!(q.take(2, 1400, 3, 4).len(), 1, "round {round}");
        }
        assert_eq!(q.take(2, 1400, 3, 4), Vec::<Vec<u8>>::new());
        assert_eq!(q.len(), 0);
    }

    #[test]
    fn least_sent_then_largest_then_newest_first_within_the_budget() {
        let mut q = BroadcastQueue::default();
        q.queue("old", vec![1; 100], false);
        q.take(2, 1400, 3, 4); // "old" now has one transmission
        q.queue("small", vec![2; 10], false);
        q.queue("big", vec![3; 50], false);
        q.queue("big2", vec![4; 50], false);
        // Budget for two 50-byte messages only: the fresh large ones, newest first.
        assert_eq!(q.take(2, 104, 3, 4), [vec![4; 50], vec![3; 50]]);
        // Then "small" (never sent), then the once-sent ones: largest first, newest first.
        assert_eq!(
            q.take(2, 1400, 3, 4),
            [vec![2; 10], vec![1; 100], vec![4; 50], vec![3; 50]]
        );
    }

    #[test]
    fn leave_is_done_when_fully_sent_or_superseded() {
        let mut q = BroadcastQueue::default();
        q.queue("me", b"dead-me".to_vec(), true);
        for _ in 0..3 {
            q.take(2, 1400, 3, 4);
            assert!(!q.leave_done());
        }
        q.take(2, 1400, 3, 4);
        assert!(q.leave_done());

        let mut q = BroadcastQueue::default();
        q.queue("me", b"dead-me".to_vec(), true);
        q.queue("me", b"dead-me-again".to_vec(), false);
        assert!(q.leave_done());
    }
}
