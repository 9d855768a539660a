//! A group's selection frozen at one picture of its members' health: choosing
//! takes `&self` and no lock (an atomic cursor), so every worker of a
//! process can select from one shared view while the prober and the admin
//! API change health on the [`GatewayGroup`](crate::GatewayGroup) and publish
//! a new view (`GatewayGroup::view`).
//!
//! The choices are the group's: rendezvous hashing is a pure function of the
//! key and the members up; `round_robin` walks the members up in order; and
//! `weighted` walks the smooth weighted round-robin order of the members up,
//! computed once per view (over one period of `sum(weights) / gcd` choices,
//! at most [`MAX_SEQUENCE`]).

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::weighted::SmoothWeighted;
use super::{in_best_tier, rendezvous, Candidate, Destination};
use crate::config::{Algorithm, HashKey};
use crate::hash::stable_hash;

/// The longest weighted order a view keeps. Past it (weights summing to
/// more, after division by their gcd) the order is its first
/// `MAX_SEQUENCE` choices, repeated: shares then deviate from the weights by
/// at most one choice in `MAX_SEQUENCE` per member.
pub const MAX_SEQUENCE: usize = 1 << 16;

/// How often each member was chosen, and when last: shared by a group and
/// all its views.
#[derive(Debug)]
pub(crate) struct Usage {
    epoch: Instant,
    selections: Vec<AtomicU64>,
    /// Nanoseconds after `epoch` of the last choice, plus one; 0 = never.
    last: Vec<AtomicU64>,
}

impl Usage {
    pub(crate) fn new(members: usize, epoch: Instant) -> Self {
        Usage {
            epoch,
            selections: (0..members).map(|_| AtomicU64::new(0)).collect(),
            last: (0..members).map(|_| AtomicU64::new(0)).collect(),
        }
    }

    pub(crate) fn record(&self, i: usize, now: Instant) {
        if let Some(n) = self.selections.get(i) {
            n.fetch_add(1, Ordering::Relaxed);
        }
        if let Some(l) = self.last.get(i) {
            self.record_last(l, now);
        }
    }

    /// Times member `i` was chosen.
    pub(crate) fn selections(&self, i: usize) -> u64 {
        self.selections
            .get(i)
            .map_or(0, |n| n.load(Ordering::Relaxed))
    }

    /// When member `i` was last chosen.
    pub(crate) fn last(&self, i: usize) -> Option<Instant> {
        let v = self.last.get(i)?.load(Ordering::Relaxed);
        (v > 0).then(|| self.epoch + Duration::from_nanos(v - 1))
    }

    /// Sets member `i`'s counts (carried over a reload).
    pub(crate) fn set(&self, i: usize, selections: u64, last: Option<Instant>) {
        if let Some(n) = self.selections.get(i) {
            n.store(selections, Ordering::Relaxed);
        }
        if let (Some(l), Some(t)) = (self.last.get(i), last) {
            self.record_last(l, t);
        }
    }

    fn record_last(&self, l: &AtomicU64, t: Instant) {
        let nanos = t.saturating_duration_since(self.epoch).as_nanos();
        l.store(
            u64::try_from(nanos).unwrap_or(u64::MAX - 1) + 1,
            Ordering::Relaxed,
        );
    }
}

/// One group's members and health at one moment, ready to choose from.
#[derive(Debug)]
pub struct GroupView {
    name: String,
    algorithm: Algorithm,
    hash_key: HashKey,
    dests: Vec<Destination>,
    candidates: Vec<Candidate>,
    up: Vec<bool>,
    /// The members up in the best tier: those chosen from.
    eligible: Vec<bool>,
    uniform: bool,
    /// `weighted` (and `hash` without a key): the smooth weighted order of
    /// the members up; `round_robin`: the members up, in order.
    sequence: Vec<u32>,
    cursor: AtomicUsize,
    usage: Arc<Usage>,
}

impl GroupView {
    pub(crate) fn new(
        name: &str,
        algorithm: Algorithm,
        hash_key: HashKey,
        dests: Vec<Destination>,
        candidates: &[Candidate],
        up: Vec<bool>,
        usage: Arc<Usage>,
    ) -> Self {
        let uniform = candidates.windows(2).all(|w| w[0].weight == w[1].weight);
        let best = in_best_tier(candidates, |i| up.get(i).copied().unwrap_or(false));
        let eligible: Vec<bool> = (0..up.len()).map(best).collect();
        let sequence = match algorithm {
            Algorithm::RoundRobin => (0..eligible.len())
                .filter(|&i| eligible[i])
                .filter_map(|i| u32::try_from(i).ok())
                .collect(),
            Algorithm::Weighted | Algorithm::Hash => weighted_order(candidates, &eligible),
        };
        GroupView {
            name: name.to_owned(),
            algorithm,
            hash_key,
            dests,
            candidates: candidates.to_vec(),
            up,
            eligible,
            uniform,
            sequence,
            cursor: AtomicUsize::new(0),
            usage,
        }
    }

    /// The group's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The group's algorithm.
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// What the group hashes for `hash`.
    pub fn hash_key(&self) -> HashKey {
        self.hash_key
    }

    /// Members up in this view.
    pub fn healthy_count(&self) -> usize {
        self.up.iter().filter(|u| **u).count()
    }

    /// Every member, up or not, in configuration order.
    pub fn destinations(&self) -> impl Iterator<Item = &Destination> + '_ {
        self.dests.iter()
    }

    /// Chooses a member up by the group's algorithm (as
    /// [`GatewayGroup::select`](crate::GatewayGroup::select)), or `None`
    /// when none is up. Counts the choice.
    pub fn select(&self, key: Option<&[u8]>, now: Instant) -> Option<&Destination> {
        let i = match (self.algorithm, key) {
            (Algorithm::Hash, Some(key)) => {
                rendezvous::best(stable_hash(key), &self.candidates, self.uniform, |i| {
                    self.eligible[i]
                })?
            }
            _ => self.next_in_sequence()?,
        };
        self.chosen(i, now)
    }

    /// Chooses by rendezvous hashing on `key` whatever the algorithm (as
    /// [`GatewayGroup::select_sticky`](crate::GatewayGroup::select_sticky)).
    pub fn select_sticky(&self, key: &[u8], now: Instant) -> Option<&Destination> {
        let i = super::sticky(key, &self.candidates, self.uniform, |i| self.eligible[i])?;
        self.chosen(i, now)
    }

    fn next_in_sequence(&self) -> Option<usize> {
        if self.sequence.is_empty() {
            return None;
        }
        let n = self.cursor.fetch_add(1, Ordering::Relaxed);
        self.sequence
            .get(n % self.sequence.len())
            .map(|&i| i as usize)
    }

    fn chosen(&self, i: usize, now: Instant) -> Option<&Destination> {
        self.usage.record(i, now);
        self.dests.get(i)
    }
}

/// One period of the smooth weighted round-robin order over the members up.
fn weighted_order(candidates: &[Candidate], up: &[bool]) -> Vec<u32> {
    let weights: Vec<u64> = candidates
        .iter()
        .zip(up)
        .filter(|(_, up)| **up)
        .map(|(c, _)| u64::from(c.weight))
        .collect();
    let g = weights.iter().copied().fold(0, gcd).max(1);
    let period = usize::try_from(weights.iter().sum::<u64>() / g)
        .unwrap_or(MAX_SEQUENCE)
        .min(MAX_SEQUENCE);
    let reduced: Vec<Candidate> = candidates
        .iter()
        .map(|c| Candidate {
            weight: u32::try_from(u64::from(c.weight) / g).unwrap_or(c.weight),
            hash: c.hash,
            priority: c.priority,
        })
        .collect();
    let mut smooth = SmoothWeighted::new(candidates.len());
    (0..period)
        .filter_map(|_| smooth.next(&reduced, |i| up[i]))
        .filter_map(|i| u32::try_from(i).ok())
        .collect()
}

fn gcd(a: u64, b: u64) -> u64 {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}
