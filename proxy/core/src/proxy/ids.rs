//! Typed ids of the proxy's state, and the tables that hand them out.
//!
//! Every kind of state (transactions, contexts, branches, router calls,
//! resolutions) lives in its own [`Table`], which numbers its entries
//! itself: an id of one kind cannot be used to look up another kind, and
//! ids are never reused within a table (a late answer for an entry that
//! is gone finds nothing rather than a newer entry).

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hash, Hasher};

/// An id a [`Table`] hands out.
pub trait Id: Copy + Eq + Hash {
    /// The id numbered `n`.
    #[doc(hidden)]
    fn from_raw(n: u64) -> Self;
}

macro_rules! ids {
    ($($(#[$doc:meta])* $vis:vis struct $name:ident;)*) => {$(
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        $vis struct $name(u64);

        impl Id for $name {
            fn from_raw(n: u64) -> Self {
                $name(n)
            }
        }

        #[allow(dead_code)]
        impl $name {
            /// Its number.
            pub(crate) fn raw(self) -> u64 {
                self.0
            }
        }
    )*};
}

ids! {
    /// A transaction (server or client) of the proxy.
    pub(crate) struct TxId;
    /// A context: one request being routed (the response context of §16.7).
    pub(crate) struct CtxId;
    /// A branch of a context: one target, tried at its destinations in turn.
    pub(crate) struct BranchId;
    /// A reliable provisional response record (RFC 3262): one per INVITE
    /// the proxy answered reliably.
    pub(crate) struct RelId;
    /// A router call, to answer with [`crate::Proxy::handle_decision`] or
    /// [`crate::Proxy::handle_reply_decision`].
    pub struct RouterCallId;
    /// A resolution, to answer with [`crate::Proxy::handle_resolved`].
    pub struct ResolveId;
}

/// Hashes the proxy's own ids (numbers it chose, never network input, so
/// no protection against chosen collisions is needed): one multiplication
/// (as FxHash), instead of SipHash.
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.write_u64(u64::from(*b));
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(0x517c_c1b7_2722_0a95);
    }
}

/// Entries numbered by the table itself, from 1 up.
#[derive(Debug)]
pub(super) struct Table<K, V> {
    last: u64,
    entries: HashMap<K, V, BuildHasherDefault<IdHasher>>,
}

impl<K, V> Default for Table<K, V> {
    fn default() -> Self {
        Table {
            last: 0,
            entries: HashMap::default(),
        }
    }
}

impl<K, V> Table<K, V> {
    /// An empty table with room for `n` entries before it grows.
    pub(super) fn with_capacity(n: usize) -> Self {
        Table {
            last: 0,
            entries: HashMap::with_capacity_and_hasher(n, BuildHasherDefault::default()),
        }
    }
}

impl<K: Id, V> Table<K, V> {
    /// Stores `value` under a new id.
    pub(super) fn insert(&mut self, value: V) -> K {
        self.last += 1;
        let id = K::from_raw(self.last);
        self.entries.insert(id, value);
        id
    }

    pub(super) fn get(&self, id: K) -> Option<&V> {
        self.entries.get(&id)
    }

    pub(super) fn get_mut(&mut self, id: K) -> Option<&mut V> {
        self.entries.get_mut(&id)
    }

    pub(super) fn remove(&mut self, id: K) -> Option<V> {
        self.entries.remove(&id)
    }

    pub(super) fn len(&self) -> usize {
        self.entries.len()
    }

    pub(super) fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_count_per_table_and_are_not_reused() {
        let mut a: Table<TxId, &str> = Table::default();
        let mut b: Table<CtxId, &str> = Table::default();
        let x = a.insert("x");
        let y = b.insert("y");
        assert_eq!(x, TxId(1));
        assert_eq!(y, CtxId(1));
        assert_eq!(a.remove(x), Some("x"));
        let z = a.insert("z");
        assert_ne!(z, x);
        assert_eq!(a.get(x), None);
        assert_eq!(a.get(z), Some(&"z"));
        assert_eq!(a.len(), 1);
    }
}
