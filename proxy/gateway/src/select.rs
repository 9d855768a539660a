//! Choosing a destination: the three algorithms over the eligible members.

mod rendezvous;
mod round_robin;
mod view;
mod weighted;

pub(crate) use view::Usage;
pub use view::{GroupView, MAX_SEQUENCE};

use std::collections::BTreeMap;
use std::net::SocketAddr;

use serde::Serialize;

use crate::config::{Algorithm, Transport};
use crate::hash::stable_hash;

/// A destination's index within its group (the order of `destinations:`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct DestId(pub u32);

impl DestId {
    /// The index into the group's destinations.
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// A member of a gateway group, as configured.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Destination {
    /// Its index within the group.
    pub id: DestId,
    /// The configured SIP URI; also its identity for rendezvous hashing.
    pub uri: String,
    /// Where to send.
    pub address: SocketAddr,
    /// How to send.
    pub transport: Transport,
    /// Relative share, at least 1.
    pub weight: u32,
    /// Tier: the lowest with a healthy member is chosen from.
    pub priority: u32,
    /// Free-form attributes.
    pub attrs: BTreeMap<String, String>,
}

/// What the algorithms need to know of a member.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Candidate {
    pub(crate) weight: u32,
    /// `stable_hash(uri)`.
    pub(crate) hash: u64,
    /// The member's tier.
    pub(crate) priority: u32,
}

/// `ok` narrowed to the best tier: the members for which `ok` holds and
/// whose priority is the lowest among them.
pub(crate) fn in_best_tier<'a>(
    candidates: &'a [Candidate],
    ok: impl Fn(usize) -> bool + 'a,
) -> impl Fn(usize) -> bool + 'a {
    let tier = (0..candidates.len())
        .filter(|&i| ok(i))
        .map(|i| candidates[i].priority)
        .min();
    move |i| ok(i) && candidates.get(i).map(|c| c.priority) == tier
}

/// Rendezvous choice on `key` whatever the configured algorithm.
pub(crate) fn sticky(
    key: &[u8],
    candidates: &[Candidate],
    uniform: bool,
    eligible: impl Fn(usize) -> bool,
) -> Option<usize> {
    rendezvous::best(stable_hash(key), candidates, uniform, eligible)
}

/// The per-group selection state.
#[derive(Debug, Clone)]
pub(crate) enum Selector {
    Weighted(weighted::SmoothWeighted),
    RoundRobin(round_robin::RoundRobin),
    Hash {
        /// Used when no key is given.
        fallback: weighted::SmoothWeighted,
        /// All configured weights are equal: compare raw scores.
        uniform: bool,
    },
}

impl Selector {
    pub(crate) fn new(algorithm: Algorithm, candidates: &[Candidate]) -> Self {
        let n = candidates.len();
        match algorithm {
            Algorithm::Weighted => Selector::Weighted(weighted::SmoothWeighted::new(n)),
            Algorithm::RoundRobin => Selector::RoundRobin(round_robin::RoundRobin::default()),
            Algorithm::Hash => Selector::Hash {
                fallback: weighted::SmoothWeighted::new(n),
                uniform: candidates.windows(2).all(|w| w[0].weight == w[1].weight),
            },
        }
    }

    /// Picks an eligible member, or `None` when none is eligible.
    pub(crate) fn pick(
        &mut self,
        key: Option<&[u8]>,
        candidates: &[Candidate],
        eligible: impl Fn(usize) -> bool,
    ) -> Option<usize> {
        match self {
            Selector::Weighted(w) => w.next(candidates, eligible),
            Selector::RoundRobin(rr) => rr.next(candidates.len(), eligible),
            Selector::Hash { fallback, uniform } => match key {
                Some(key) => rendezvous::best(stable_hash(key), candidates, *uniform, eligible),
                None => fallback.next(candidates, eligible),
            },
        }
    }
}
