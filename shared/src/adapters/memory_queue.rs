//! An in-process queue for the local runner, with the delivery rules of SQS that matter here: a
//! received message is hidden until deleted or released, comes back if neither happens within its
//! visibility timeout, and goes to a dead-letter list after too many receives.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::Notify;

use crate::ports::queue::{MESSAGE_BODY_LEN_MAX, QueueError, QueueSend, check_body_lengths};

/// Messages held at once; past this a send fails (as a full disk would) rather than grow unbounded.
pub const QUEUE_DEPTH_MAX: usize = 100_000;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    pub receipt: u64,
    pub body: String,
    /// 1 on the first delivery.
    pub receive_count: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadLetter {
    pub body: String,
    pub receive_count: u32,
}

#[derive(Debug)]
struct Stored {
    receipt: u64,
    body: String,
    receive_count: u32,
}

#[derive(Debug, Default)]
struct State {
    ready: VecDeque<Stored>,
    in_flight: HashMap<u64, (Stored, Instant)>,
    dead: Vec<DeadLetter>,
    next_receipt: u64,
}

#[derive(Debug, Clone)]
pub struct MemoryQueue {
    state: Arc<Mutex<State>>,
    arrived: Arc<Notify>,
    receives_max: u32,
    visibility: Duration,
}

impl MemoryQueue {
    /// `receives_max` deliveries before a message is dead-lettered (SQS's `maxReceiveCount`).
    pub fn new(receives_max: u32, visibility: Duration) -> Self {
        assert!(receives_max >= 1);
        Self {
            state: Arc::default(),
            arrived: Arc::default(),
            receives_max,
            visibility,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding the lock leaves plain data behind; keep going with it.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Up to `max` messages, each hidden until deleted, released or its visibility times out.
    pub fn receive(&self, max: usize) -> Vec<Delivery> {
        let mut state = self.lock();
        let now = Instant::now();
        let expired: Vec<u64> = state
            .in_flight
            .iter()
            .filter(|(_, (_, hidden_until))| *hidden_until <= now)
            .map(|(receipt, _)| *receipt)
            .collect();
        for receipt in expired {
            if let Some((stored, _)) = state.in_flight.remove(&receipt) {
                state.ready.push_back(stored);
            }
        }
        let mut deliveries = Vec::new();
        while deliveries.len() < max {
            let Some(mut stored) = state.ready.pop_front() else {
                break;
            };
            if stored.receive_count >= self.receives_max {
                state.dead.push(DeadLetter {
                    body: stored.body,
                    receive_count: stored.receive_count,
                });
                continue;
            }
            stored.receive_count += 1;
            deliveries.push(Delivery {
                receipt: stored.receipt,
                body: stored.body.clone(),
                receive_count: stored.receive_count,
            });
            state
                .in_flight
                .insert(stored.receipt, (stored, now + self.visibility));
        }
        deliveries
    }

    /// Handled: gone for good.
    pub fn delete(&self, receipt: u64) {
        self.lock().in_flight.remove(&receipt);
    }

    /// Not handled: visible again at once (SQS would wait for the visibility timeout).
    pub fn release(&self, receipt: u64) {
        let mut state = self.lock();
        if let Some((stored, _)) = state.in_flight.remove(&receipt) {
            state.ready.push_back(stored);
            drop(state);
            self.arrived.notify_one();
        }
    }

    pub fn dead_letters(&self) -> Vec<DeadLetter> {
        self.lock().dead.clone()
    }

    /// Messages waiting or in flight.
    pub fn depth(&self) -> usize {
        let state = self.lock();
        state.ready.len() + state.in_flight.len()
    }

    /// Waits until a message may have arrived (or `timeout` passed).
    pub async fn wait(&self, timeout: Duration) {
        let _ = tokio::time::timeout(timeout, self.arrived.notified()).await;
    }
}

impl QueueSend for MemoryQueue {
    async fn send_all(&self, bodies: &[String]) -> Result<(), QueueError> {
        check_body_lengths(bodies)?;
        {
            let mut state = self.lock();
            if state.ready.len() + state.in_flight.len() + bodies.len() > QUEUE_DEPTH_MAX {
                return Err(QueueError::Unavailable("the local queue is full".into()));
            }
            for body in bodies {
                let receipt = state.next_receipt;
                state.next_receipt += 1;
                state.ready.push_back(Stored {
                    receipt,
                    body: body.clone(),
                    receive_count: 0,
                });
            }
        }
        self.arrived.notify_one();
        Ok(())
    }
}

impl crate::ports::notices::QueueSendDelayed for MemoryQueue {
    /// Held in flight until `delay` passes, then delivered like any other message (the runner's
    /// notifications loop polls, so a delayed message arrives within its poll interval).
    async fn send_delayed(&self, body: String, delay: Duration) -> Result<(), QueueError> {
        if body.len() > MESSAGE_BODY_LEN_MAX {
            return Err(QueueError::TooLarge {
                index: 0,
                len: body.len(),
            });
        }
        let mut state = self.lock();
        if state.ready.len() + state.in_flight.len() >= QUEUE_DEPTH_MAX {
            return Err(QueueError::Unavailable("the local queue is full".into()));
        }
        let receipt = state.next_receipt;
        state.next_receipt += 1;
        let stored = Stored {
            receipt,
            body,
            receive_count: 0,
        };
        state
            .in_flight
            .insert(receipt, (stored, Instant::now() + delay));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn unhandled_messages_come_back_and_then_go_to_the_dead_letters() {
        let queue = MemoryQueue::new(3, Duration::from_secs(60));
        queue.send_all(&["a".into(), "b".into()]).await.unwrap();
        let first = queue.receive(10);
        assert_eq!(
            first.iter().map(|d| d.body.as_str()).collect::<Vec<_>>(),
            ["a", "b"]
        );
        assert!(
            queue.receive(10).is_empty(),
            "in-flight messages are hidden"
        );
        queue.delete(first[0].receipt);
        queue.release(first[1].receipt);
        for expected_count in [2, 3] {
            let again = queue.receive(10);
            assert_eq!(again.len(), 1);
            assert_eq!(
                (again[0].body.as_str(), again[0].receive_count),
                ("b", expected_count)
            );
            queue.release(again[0].receipt);
        }
        assert!(queue.receive(10).is_empty());
        assert_eq!(
            queue.dead_letters(),
            [DeadLetter {
                body: "b".into(),
                receive_count: 3
            }]
        );
        assert_eq!(queue.depth(), 0);
    }

    #[tokio::test]
    async fn a_message_not_deleted_in_time_is_delivered_again() {
        let queue = MemoryQueue::new(5, Duration::from_millis(1));
        queue.send_all(&["crash".into()]).await.unwrap();
        let first = queue.receive(1);
        tokio::time::sleep(Duration::from_millis(5)).await;
        let again = queue.receive(1);
        assert_eq!(again.len(), 1);
        assert_eq!(
            (again[0].receipt, again[0].receive_count),
            (first[0].receipt, 2)
        );
    }
}
