//! Typed ids of the proxy's state, and the tables that hand them out.
//!
//! Every kind of state (transactions, contexts, branches, router calls,
//! resolutions) lives in its own [`Table`], which numbers its entries
//! itself: an id of one kind cannot be used to look up another kind, and
//! an id is not reused within a table (a late answer for an entry that is
//! gone finds nothing rather than a newer entry).
//!
//! A table is a slab: entries in one vector, a freed slot reused first
//! (last freed, first reused), and the id is the slot's index with the
//! slot's generation. Memory follows the most entries ever held at once,
//! not the number ever created: a hash map keyed by ever-growing ids
//! spreads them over all its buckets, and one whose deleted entries fill it
//! up rebuilds itself at twice the size under load (the soak's RSS step).

use std::hash::Hash;
use std::marker::PhantomData;

/// An id a [`Table`] hands out.
pub trait Id: Copy + Eq + Hash {
    /// The id numbered `n`.
    #[doc(hidden)]
    fn from_raw(n: u64) -> Self;
    /// Its number.
    fn raw(self) -> u64;
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

            fn raw(self) -> u64 {
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

/// Generations are 31 bits, so a raw id stays below `1 << 63`
/// (`SendRef` keeps the top bit for itself).
const GENERATIONS: u32 = 1 << 31;

/// A slot: its value while held, and how many times it has been reused.
#[derive(Debug)]
struct Slot<V> {
    generation: u32,
    value: Option<V>,
}

/// Entries numbered by the table itself (see the module's text).
#[derive(Debug)]
pub(super) struct Table<K, V> {
    slots: Vec<Slot<V>>,
    /// The empty slots, the one freed last on top.
    free: Vec<u32>,
    _ids: PhantomData<fn() -> K>,
}

impl<K, V> Default for Table<K, V> {
    fn default() -> Self {
        Table::with_capacity(0)
    }
}

impl<K, V> Table<K, V> {
    /// An empty table with room reserved for `n` entries: address space,
    /// not memory, until that many are held at once.
    pub(super) fn with_capacity(n: usize) -> Self {
        Table {
            slots: Vec::with_capacity(n),
            free: Vec::new(),
            _ids: PhantomData,
        }
    }
}

impl<K: Id, V> Table<K, V> {
    /// Stores `value` under a new id.
    pub(super) fn insert(&mut self, value: V) -> K {
        if let Some(index) = self.free.pop() {
            let slot = &mut self.slots[index as usize];
            slot.generation = (slot.generation + 1) % GENERATIONS;
            slot.value = Some(value);
            return K::from_raw(raw(index, slot.generation));
        }
        // Memory runs out long before a table holds 2^32 entries.
        let index = u32::try_from(self.slots.len()).expect("fewer than 2^32 entries at once");
        self.slots.push(Slot {
            generation: 0,
            value: Some(value),
        });
        K::from_raw(raw(index, 0))
    }

    /// The index of the slot `id` names, while it holds `id`'s generation.
    fn live(&self, id: K) -> Option<usize> {
        let (index, generation) = split(id.raw());
        (self.slots.get(index)?.generation == generation).then_some(index)
    }

    pub(super) fn get(&self, id: K) -> Option<&V> {
        self.slots[self.live(id)?].value.as_ref()
    }

    pub(super) fn get_mut(&mut self, id: K) -> Option<&mut V> {
        let index = self.live(id)?;
        self.slots[index].value.as_mut()
    }

    pub(super) fn remove(&mut self, id: K) -> Option<V> {
        let index = self.live(id)?;
        let value = self.slots[index].value.take()?;
        // Below 2^32: `insert` numbers slots with a u32.
        self.free.push(index as u32);
        Some(value)
    }

    pub(super) fn len(&self) -> usize {
        self.slots.len() - self.free.len()
    }

    pub(super) fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Slot `index` in its `generation`, as a raw id.
fn raw(index: u32, generation: u32) -> u64 {
    (u64::from(generation) << 32) | u64::from(index)
}

/// A raw id's slot index and generation.
fn split(raw: u64) -> (usize, u32) {
    ((raw & u64::from(u32::MAX)) as usize, (raw >> 32) as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_per_table_and_a_reused_slot_gets_a_new_id() {
        let mut a: Table<TxId, &str> = Table::default();
        let mut b: Table<CtxId, &str> = Table::default();
        let x = a.insert("x");
        let y = b.insert("y");
        assert_eq!(x, TxId(0));
        assert_eq!(y, CtxId(0));
        assert_eq!(a.remove(x), Some("x"));
        assert_eq!(a.remove(x), None);
        let z = a.insert("z");
        assert_ne!(z, x);
        assert_eq!(a.get(x), None);
        assert_eq!(a.get_mut(x), None);
        assert_eq!(a.get(z), Some(&"z"));
        assert_eq!(a.len(), 1);
        // The freed slot was reused: memory follows the entries held.
        assert_eq!(a.slots.len(), 1);
        let w = a.insert("w");
        assert_eq!(a.slots.len(), 2);
        assert_eq!(a.remove(z), Some("z"));
        assert_eq!(a.remove(w), Some("w"));
        assert!(a.is_empty());
        // Last freed, first reused.
        assert_eq!(split(a.insert("v").raw()).0, split(w.raw()).0);
        assert!(a.get(w).is_none());
    }

    #[test]
    fn ids_stay_below_the_top_bit() {
        let mut a: Table<TxId, ()> = Table::default();
        let id = a.insert(());
        a.slots[0].generation = GENERATIONS - 1;
        a.remove(TxId(raw(0, GENERATIONS - 1)));
        let next = a.insert(());
        // The generation wrapped within its 31 bits.
        assert_eq!(next.raw() >> 63, 0);
        assert_eq!(next, id);
        assert_eq!(a.get(next), Some(&()));
    }
}
