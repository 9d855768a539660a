//! The classifier's [`Context`] in user space: the blocklist, a bounded
//! table of per-source token buckets, and the monotonic clock.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::MutexGuard;
use std::time::Instant;

use anysip_ebpf_common::{Context, SourceKey, TokenBucket};

use super::blocklist::Blocklist;

/// Buckets not touched for this long are forgotten first when the table is
/// full (a full bucket refills long before).
const STALE_NS: u64 = 60_000_000_000;

/// The per-source buckets, at most `max` of them.
#[derive(Debug, Default)]
pub(crate) struct Buckets {
    map: HashMap<SourceKey, TokenBucket>,
}

impl Buckets {
    fn get_or_insert(
        &mut self,
        key: &SourceKey,
        fresh: TokenBucket,
        max: usize,
        now_ns: u64,
    ) -> Option<&mut TokenBucket> {
        if !self.map.contains_key(key) && self.map.len() >= max {
            self.map
                .retain(|_, b| now_ns.saturating_sub(b.last_ns) < STALE_NS);
            if self.map.len() >= max {
                // Full of active sources: fail open, as the kernel's LRU
                // insert failure does.
                return None;
            }
        }
        Some(self.map.entry(*key).or_insert(fresh))
    }

    pub(crate) fn len(&self) -> usize {
        self.map.len()
    }
}

/// One packet's view of the tables.
pub(crate) struct UserContext<'a> {
    pub(crate) blocklist: &'a Blocklist,
    pub(crate) now: Instant,
    pub(crate) now_ns: u64,
    pub(crate) buckets: &'a std::sync::Mutex<Buckets>,
    pub(crate) guard: Option<MutexGuard<'a, Buckets>>,
    pub(crate) max_sources: usize,
}

impl Context for UserContext<'_> {
    fn blocked_v4(&self, addr: [u8; 4]) -> bool {
        self.blocklist
            .contains(IpAddr::V4(Ipv4Addr::from(addr)), self.now)
    }

    fn blocked_v6(&self, addr: [u8; 16]) -> bool {
        self.blocklist
            .contains(IpAddr::V6(Ipv6Addr::from(addr)), self.now)
    }

    fn now_ns(&self) -> u64 {
        self.now_ns
    }

    fn bucket(&mut self, key: &SourceKey, fresh: TokenBucket) -> Option<&mut TokenBucket> {
        let (max, now_ns) = (self.max_sources, self.now_ns);
        let buckets = self.buckets;
        self.guard
            .get_or_insert_with(|| buckets.lock().unwrap_or_else(|e| e.into_inner()))
            .get_or_insert(key, fresh, max, now_ns)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use anysip_ebpf_common::IpAddrBytes;

    #[test]
    fn table_is_bounded_and_forgets_stale_sources() {
        let mut b = Buckets::default();
        let key = |n: u8| SourceKey::new(&IpAddrBytes::V4([10, 0, 0, n]));
        let fresh = TokenBucket::full(5, 0);
        assert!(b.get_or_insert(&key(1), fresh, 2, 0).is_some());
        assert!(b.get_or_insert(&key(2), fresh, 2, 0).is_some());
        assert!(
            b.get_or_insert(&key(3), fresh, 2, 1).is_none(),
            "full: fail open"
        );
        assert!(
            b.get_or_insert(&key(1), fresh, 2, 1).is_some(),
            "known source"
        );
        assert!(b.get_or_insert(&key(3), fresh, 2, STALE_NS + 1).is_some());
        assert!(b.len() <= 2);
    }
}
