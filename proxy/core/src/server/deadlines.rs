//! Deadlines of the router calls in flight. Every call gets the same
//! timeout, so the deadlines come in order: a queue, not a heap.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use crate::proxy::RouterCallId;

/// Router calls in flight and when each is given up.
#[derive(Debug)]
pub(super) struct Deadlines {
    timeout: Duration,
    /// In order of submission (and so of deadline); answered calls stay
    /// until they reach the front.
    queue: VecDeque<(Instant, RouterCallId)>,
    /// The calls not answered yet: whether each is an `on_reply` call.
    open: HashMap<RouterCallId, bool>,
}

impl Deadlines {
    pub(super) fn new(timeout: Duration) -> Self {
        Deadlines {
            timeout,
            queue: VecDeque::new(),
            open: HashMap::new(),
        }
    }

    /// When a call going out at `now` is given up.
    pub(super) fn deadline(&self, now: Instant) -> Instant {
        now + self.timeout
    }

    /// A call went out at `now`.
    pub(super) fn start(&mut self, id: RouterCallId, reply: bool, now: Instant) {
        self.queue.push_back((self.deadline(now), id));
        self.open.insert(id, reply);
        self.prune();
    }

    /// A call was answered: false when it had been given up already (the
    /// late answer is then dropped).
    pub(super) fn answered(&mut self, id: RouterCallId) -> bool {
        let open = self.open.remove(&id).is_some();
        self.prune();
        open
    }

    /// When the oldest open call is due.
    pub(super) fn next(&self) -> Option<Instant> {
        self.queue.front().map(|(at, _)| *at)
    }

    /// The open calls due at `now` (whether each is an `on_reply` call),
    /// given up.
    pub(super) fn expire(&mut self, now: Instant) -> Vec<(RouterCallId, bool)> {
        let mut due = Vec::new();
        while let Some(&(at, id)) = self.queue.front() {
            if at > now {
                break;
            }
            self.queue.pop_front();
            if let Some(reply) = self.open.remove(&id) {
                due.push((id, reply));
            }
        }
        self.prune();
        due
    }

    /// Drops answered calls from the front.
    fn prune(&mut self) {
        while let Some((_, id)) = self.queue.front() {
            if self.open.contains_key(id) {
                break;
            }
            self.queue.pop_front();
        }
    }
}
