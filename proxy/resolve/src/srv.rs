//! SRV ordering (RFC 2782): ascending priority, and within a priority a
//! weighted random order.

use crate::rng::Rng;

/// The part of an SRV record the ordering looks at, with what it carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Weighted<T> {
    /// Lower is tried first.
    pub(crate) priority: u16,
    /// Relative share among records of the same priority; 0 allowed.
    pub(crate) weight: u16,
    /// The record's target and port.
    pub(crate) item: T,
}

/// Orders `records` as RFC 2782 says: by ascending priority; within one
/// priority, repeatedly pick a record with probability proportional to its
/// weight (records of weight 0 placed first in the list, so that they have
/// a small chance of being picked, and are picked in turn once all
/// remaining weights are 0).
pub(crate) fn order<T>(mut records: Vec<Weighted<T>>, rng: &mut Rng) -> Vec<T> {
    // Stable: records keep the server's order within a priority before the
    // weight-0 ones are moved to the front.
    records.sort_by_key(|r| (r.priority, r.weight != 0));
    let mut out = Vec::with_capacity(records.len());
    let mut rest = records.into_iter().peekable();
    while let Some(first) = rest.next() {
        let mut group = vec![first];
        while let Some(next) = rest.next_if(|r| r.priority == group[0].priority) {
            group.push(next);
        }
        weighted_shuffle(group, rng, &mut out);
    }
    out
}

/// The RFC 2782 selection loop over one priority group.
fn weighted_shuffle<T>(mut group: Vec<Weighted<T>>, rng: &mut Rng, out: &mut Vec<T>) {
    while !group.is_empty() {
        let total: u64 = group.iter().map(|r| u64::from(r.weight)).sum();
        let pick = rng.up_to(total);
        let mut running = 0;
        let mut chosen = group.len() - 1;
        for (i, r) in group.iter().enumerate() {
            running += u64::from(r.weight);
            if running >= pick {
                chosen = i;
                break;
            }
        }
        out.push(group.remove(chosen).item);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(priority: u16, weight: u16, item: &'static str) -> Weighted<&'static str> {
        Weighted {
            priority,
            weight,
            item,
        }
    }

    #[test]
    fn priority_first() {
        let mut rng = Rng::seeded(3);
        for _ in 0..50 {
            let got = order(
                vec![w(20, 100, "c"), w(10, 1, "a"), w(10, 1, "b")],
                &mut rng,
            );
            assert_eq!(got.len(), 3);
            assert_eq!(got[2], "c");
        }
    }

    #[test]
    fn weights_share_first_place() {
        let mut rng = Rng::seeded(42);
        let mut heavy_first = 0;
        for _ in 0..1000 {
            let got = order(vec![w(0, 10, "light"), w(0, 30, "heavy")], &mut rng);
            if got[0] == "heavy" {
                heavy_first += 1;
            }
        }
        // Expected 750 (30 of 40, plus the weight-0 edge of the draw).
        assert!((680..=820).contains(&heavy_first), "{heavy_first}");
    }

    #[test]
    fn zero_weights_are_kept_and_rarely_first() {
        let mut rng = Rng::seeded(9);
        let mut zero_first = 0;
        for _ in 0..1000 {
            let got = order(vec![w(0, 100, "a"), w(0, 0, "z")], &mut rng);
            assert_eq!(got.len(), 2);
            if got[0] == "z" {
                zero_first += 1;
            }
        }
        // Picked first only when the draw is 0: 1 in 101.
        assert!(zero_first < 40, "{zero_first}");
        let got = order(vec![w(0, 0, "x"), w(0, 0, "y")], &mut rng);
        assert_eq!(got, vec!["x", "y"]);
    }

    #[test]
    fn same_seed_same_order() {
        let records = || (0..8).map(|i| w(0, 10, ["a", "b", "c", "d", "e", "f", "g", "h"][i]));
        let a = order(records().collect(), &mut Rng::seeded(5));
        let b = order(records().collect(), &mut Rng::seeded(5));
        assert_eq!(a, b);
    }
}
