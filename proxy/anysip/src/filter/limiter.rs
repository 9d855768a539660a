//! The classifier's [`Context`] in user space: the blocklist, a bounded
//! table of per-source token buckets sharded by source (a worker locks one
//! shard of [`SHARDS`], never a lock every worker shares), and the
//! monotonic clock.

use std::collections::HashMap;
use std::hash::BuildHasher;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::{Mutex, MutexGuard};
use std::time::Instant;

use anysip_ebpf_common::{Context, SourceKey, TokenBucket};

use super::blocklist::Blocklist;

/// Buckets not touched for this long are forgotten first when the table is
/// full (a full bucket refills long before).
const STALE_NS: u64 = 60_000_000_000;

/// Shards of the bucket table: sources hash to one.
pub(crate) const SHARDS: usize = 64;

/// The per-source buckets, at most `max_sources` of them in all.
#[derive(Debug)]
pub(crate) struct Buckets {
    shards: Box<[Mutex<Shard>]>,
    /// Most buckets per shard.
    per_shard: usize,
    hasher: std::collections::hash_map::RandomState,
}

impl Buckets {
    pub(crate) fn new(max_sources: usize) -> Self {
        Buckets {
            shards: (0..SHARDS).map(|_| Mutex::new(Shard::default())).collect(),
            per_shard: max_sources.div_ceil(SHARDS).max(1),
            hasher: std::collections::hash_map::RandomState::new(),
        }
    }

    /// The shard of `key`, locked.
    fn shard(&self, key: &SourceKey) -> Option<MutexGuard<'_, Shard>> {
        let i = (self.hasher.hash_one(key) as usize) % self.shards.len();
        self.shards
            .get(i)
            .map(|s| s.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// Sources tracked, over all shards.
    pub(crate) fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.lock().unwrap_or_else(|e| e.into_inner()).len())
            .sum()
    }
}

/// One shard of the bucket table.
#[derive(Debug, Default)]
pub(crate) struct Shard {
    map: HashMap<SourceKey, TokenBucket>,
}

impl Shard {
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
    pub(crate) buckets: &'a Buckets,
    pub(crate) guard: Option<MutexGuard<'a, Shard>>,
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
        // One packet asks for one source's bucket.
        let (max, now_ns) = (self.buckets.per_shard, self.now_ns);
        if self.guard.is_none() {
            self.guard = self.buckets.shard(key);
        }
        self.guard.as_mut()?.get_or_insert(key, fresh, max, now_ns)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use anysip_ebpf_common::IpAddrBytes;

    #[test]
    fn table_is_bounded_and_forgets_stale_sources() {
        let mut b = Shard::default();
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

    #[test]
    fn a_source_always_finds_its_shard_and_the_total_is_bounded() {
        let buckets = Buckets::new(SHARDS * 2);
        let key = |n: u16| SourceKey::new(&IpAddrBytes::V4([10, 0, (n >> 8) as u8, n as u8]));
        let fresh = TokenBucket::full(5, 0);
        for n in 0..1000u16 {
            let mut shard = buckets.shard(&key(n)).unwrap();
            let _ = shard.get_or_insert(&key(n), fresh, buckets.per_shard, 0);
        }
        assert!(buckets.len() <= SHARDS * 2, "{}", buckets.len());
        // The same source maps to the same shard (its bucket is kept).
        let s = buckets.shard(&key(1)).unwrap();
        let had = s.map.contains_key(&key(1));
        drop(s);
        let s = buckets.shard(&key(1)).unwrap();
        assert_eq!(s.map.contains_key(&key(1)), had);
    }
}
