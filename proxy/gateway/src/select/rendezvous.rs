//! Rendezvous (highest random weight) hashing, weighted by the logarithmic
//! method when weights differ. See [`crate::hash`] for the exact functions.
//!
//! The winner for a key is the eligible member with the highest score, and a
//! member's score depends only on the key and that member's identity, never
//! on the other members: taking a member out moves exactly the keys it won
//! (each to its runner-up), and putting it back moves exactly those keys back.

use std::cmp::Ordering;

use super::Candidate;
use crate::hash::{score, weighted_score};

/// Compares the scores of `a` and `b` for `key_hash`; `Greater` = `a` wins.
fn compare(key_hash: u64, a: &Candidate, b: &Candidate, uniform: bool) -> Ordering {
    let (sa, sb) = (score(key_hash, a.hash), score(key_hash, b.hash));
    let primary = if uniform {
        sa.cmp(&sb)
    } else {
        weighted_score(sa, a.weight).total_cmp(&weighted_score(sb, b.weight))
    };
    // Ties (astronomically rare) go to the higher identity hash, so that the
    // result does not depend on the order of the members.
    primary.then(a.hash.cmp(&b.hash))
}

/// The eligible member with the highest score.
pub(crate) fn best(
    key_hash: u64,
    candidates: &[Candidate],
    uniform: bool,
    eligible: impl Fn(usize) -> bool,
) -> Option<usize> {
    let mut best: Option<usize> = None;
    for (i, c) in candidates.iter().enumerate() {
        if !eligible(i) {
            continue;
        }
        match best {
            Some(b) if compare(key_hash, c, &candidates[b], uniform) != Ordering::Greater => {}
            _ => best = Some(i),
        }
    }
    best
}
