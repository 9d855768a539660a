//! Smooth weighted round robin, as nginx's upstream module.
//!
//! On each selection every eligible member's `current` grows by its weight,
//! the member with the highest `current` wins (the first one on ties) and its
//! `current` drops by the sum of the eligible weights. Over any run of
//! `sum(weights)` selections on a fixed set each member is chosen exactly
//! `weight` times, spread out rather than in bursts. Deterministic.

use super::Candidate;

#[derive(Debug, Clone)]
pub(crate) struct SmoothWeighted {
    current: Vec<i64>,
}

impl SmoothWeighted {
    pub(crate) fn new(n: usize) -> Self {
        SmoothWeighted {
            current: vec![0; n],
        }
    }

    pub(crate) fn next(
        &mut self,
        candidates: &[Candidate],
        eligible: impl Fn(usize) -> bool,
    ) -> Option<usize> {
        let mut total: i64 = 0;
        let mut best: Option<usize> = None;
        for (i, c) in candidates.iter().enumerate() {
            if !eligible(i) {
                continue;
            }
            let Some(cur) = self.current.get_mut(i) else {
                continue;
            };
            *cur += i64::from(c.weight);
            total += i64::from(c.weight);
            let cur = *cur;
            match best {
                Some(b) if self.current[b] >= cur => {}
                _ => best = Some(i),
            }
        }
        let b = best?;
        self.current[b] -= total;
        Some(b)
    }
}
