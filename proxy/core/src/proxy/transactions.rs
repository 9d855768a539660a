//! The proxy's transactions: creating them, draining their output and
//! events after each input, their timers, and removing them.

use std::cmp::Reverse;
use std::time::Instant;

use sip::transaction::Event;

use super::ids::TxId;
use super::state::{TimerKey, Tx, TxKind};
use super::{Proxy, SendRef, Transmit};

impl Proxy {
    pub(super) fn insert_tx(&mut self, tx: Tx) -> TxId {
        let key = match &tx.kind {
            TxKind::Server { key, .. } => Ok(key.clone()),
            TxKind::Client { key, .. } => Err(key.clone()),
        };
        let id = self.txs.insert(tx);
        match key {
            Ok(k) => {
                self.server_txs += 1;
                self.server_keys.insert(k, id)
            }
            Err(k) => self.client_keys.insert(k, id),
        };
        id
    }

    /// A transaction's timer, armed for `at`, is due at `now`.
    pub(super) fn tx_timeout(&mut self, id: TxId, at: Instant, now: Instant) {
        if let Some(tx) = self.txs.get_mut(id) {
            if tx.armed == Some(at) {
                tx.armed = None;
            }
            if tx.machine.poll_timeout().is_some_and(|d| d <= now) {
                tx.machine.handle_timeout(now);
            }
        }
        self.drive(id, now);
    }

    /// Drains a transaction's output and events after an input.
    pub(super) fn drive(&mut self, id: TxId, now: Instant) {
        let Some(tx) = self.txs.get_mut(id) else {
            return;
        };
        let _e = tx.span.clone().entered();
        while let Some(bytes) = tx.machine.poll_transmit() {
            self.transmits.push_back(Transmit {
                flow: tx.flow,
                bytes,
                on_error: Some(SendRef(id)),
                tls_name: tx.tls_name.clone(),
            });
        }
        let mut events = Vec::new();
        while let Some(e) = tx.machine.poll_event() {
            events.push(e);
        }
        if let Some(n) = tx.machine.poll_timeout() {
            if tx.rearm(n) {
                self.timers.push(Reverse((n, TimerKey::Tx(id))));
            }
        }
        let terminated = tx.machine.is_terminated();
        self.compact_timers();
        for e in events {
            self.tx_event(id, e, terminated, now);
        }
    }

    fn tx_event(&mut self, id: TxId, event: Event, terminated: bool, now: Instant) {
        let Some(tx) = self.txs.get(id) else {
            return;
        };
        let branch = tx.branch();
        match event {
            Event::Timeout(timer) => {
                tracing::debug!(%timer, "transaction timed out");
                if let Some(b) = branch {
                    self.branch_failed(b, id, 408, now);
                }
            }
            Event::TransportError => {
                tracing::debug!("transport error");
                if let (Some(b), true) = (branch, terminated) {
                    self.branch_failed(b, id, 503, now);
                }
            }
            Event::Terminated => self.remove_tx(id),
        }
    }

    pub(super) fn remove_tx(&mut self, id: TxId) {
        let Some(tx) = self.txs.remove(id) else {
            return;
        };
        match tx.kind {
            TxKind::Server { key, ctx } => {
                self.server_txs = self.server_txs.saturating_sub(1);
                if self.server_keys.get(&key) == Some(&id) {
                    self.server_keys.remove(&key);
                }
                if let Some(c) = ctx {
                    if let Some(context) = self.contexts.get_mut(c) {
                        context.server = None;
                    }
                    self.maybe_cleanup(c);
                }
            }
            TxKind::Client { key, branch, .. } => {
                if self.client_keys.get(&key) == Some(&id) {
                    self.client_keys.remove(&key);
                }
                if let Some(b) = branch {
                    let ctx = self.branches.get_mut(b).and_then(|br| {
                        if br.client == Some(id) {
                            br.client = None;
                        }
                        br.is_done().then_some(br.ctx)
                    });
                    if let Some(c) = ctx {
                        self.maybe_cleanup(c);
                    }
                }
            }
        }
    }
}
