//! The key ring: one current sealing key plus older keys that still open.

mod file;
mod load;

use std::fmt;

use crate::error::Error;
use crate::key::{DerivedKeys, KeyId, Secret};

pub use file::KeyFileFormat;
pub use load::DEFAULT_KEYS_ENV;

/// The keys an edge seals and opens with.
///
/// New tokens and branches are made with the **current** key; tokens and
/// branches made with any key still in the ring open. Rotation: add the new
/// key everywhere, make it current everywhere, and remove the old key only
/// after the maximum token age has passed (see `docs/tokens.md`).
///
/// `Debug` shows the key ids only, never a secret.
#[derive(Clone)]
pub struct KeyRing {
    /// The sealing key.
    current: Entry,
    /// Keys that open but do not seal.
    older: Vec<Entry>,
}

#[derive(Clone)]
struct Entry {
    id: KeyId,
    secret: Secret,
    derived: DerivedKeys,
}

impl Entry {
    fn new(id: KeyId, secret: Secret) -> Result<Self, Error> {
        let derived = DerivedKeys::new(&secret)?;
        Ok(Entry {
            id,
            secret,
            derived,
        })
    }
}

impl KeyRing {
    /// A ring holding `keys`, sealing with `current`.
    ///
    /// Fails when `keys` is empty, holds an id twice, or lacks `current`.
    pub fn new(
        current: KeyId,
        keys: impl IntoIterator<Item = (KeyId, Secret)>,
    ) -> Result<Self, Error> {
        let mut older: Vec<Entry> = Vec::new();
        for (id, secret) in keys {
            if older.iter().any(|e| e.id == id) {
                return Err(Error::KeyRing(format!("key id {id} appears twice")));
            }
            older.push(Entry::new(id, secret)?);
        }
        let index = older
            .iter()
            .position(|e| e.id == current)
            .ok_or_else(|| Error::KeyRing(format!("current key {current} is not in the ring")))?;
        let current = older.remove(index);
        Ok(KeyRing { current, older })
    }

    /// A ring with one freshly generated key (for `anysip token keygen`).
    pub fn generate(id: KeyId) -> Result<Self, Error> {
        Self::new(id, [(id, Secret::generate()?)])
    }

    /// The id of the current sealing key.
    pub fn current(&self) -> KeyId {
        self.current.id
    }

    /// The ids of all keys in the ring, ascending.
    pub fn key_ids(&self) -> Vec<KeyId> {
        let mut ids: Vec<KeyId> = self.entries().map(|e| e.id).collect();
        ids.sort_unstable();
        ids
    }

    /// Whether the ring holds a key with this id.
    pub fn contains(&self, id: KeyId) -> bool {
        self.entry(id).is_some()
    }

    /// Adds a key that opens but does not seal (yet). Fails if the id is
    /// taken.
    pub fn insert(&mut self, id: KeyId, secret: Secret) -> Result<(), Error> {
        if self.contains(id) {
            return Err(Error::KeyRing(format!(
                "key id {id} is already in the ring"
            )));
        }
        self.older.push(Entry::new(id, secret)?);
        Ok(())
    }

    /// Makes the key `id`, already in the ring, the sealing key. The
    /// previous sealing key stays in the ring.
    pub fn set_current(&mut self, id: KeyId) -> Result<(), Error> {
        if id == self.current.id {
            return Ok(());
        }
        let index = self.older_index(id)?;
        let entry = self.older.remove(index);
        let previous = std::mem::replace(&mut self.current, entry);
        self.older.push(previous);
        Ok(())
    }

    /// Generates a key with id `id`, adds it and makes it current. The old
    /// current key stays in the ring so that its tokens still open.
    pub fn rotate(&mut self, id: KeyId) -> Result<(), Error> {
        self.insert(id, Secret::generate()?)?;
        self.set_current(id)
    }

    /// Removes the key `id`: tokens sealed with it no longer open. The
    /// current key cannot be removed.
    pub fn remove(&mut self, id: KeyId) -> Result<(), Error> {
        if id == self.current.id {
            return Err(Error::KeyRing(format!(
                "key id {id} is current and cannot be removed"
            )));
        }
        let index = self.older_index(id)?;
        self.older.remove(index);
        Ok(())
    }

    /// The current key's id and derived keys.
    pub(crate) fn sealing_keys(&self) -> (KeyId, &DerivedKeys) {
        (self.current.id, &self.current.derived)
    }

    /// The derived keys for `id`, if it is in the ring.
    pub(crate) fn opening_keys(&self, id: KeyId) -> Option<&DerivedKeys> {
        self.entry(id).map(|e| &e.derived)
    }

    /// `(id, secret)` pairs in ascending id order, for writing a key file.
    fn secrets(&self) -> Vec<(KeyId, &Secret)> {
        let mut all: Vec<(KeyId, &Secret)> = self.entries().map(|e| (e.id, &e.secret)).collect();
        all.sort_unstable_by_key(|(id, _)| *id);
        all
    }

    fn entries(&self) -> impl Iterator<Item = &Entry> {
        std::iter::once(&self.current).chain(&self.older)
    }

    fn entry(&self, id: KeyId) -> Option<&Entry> {
        self.entries().find(|e| e.id == id)
    }

    fn older_index(&self, id: KeyId) -> Result<usize, Error> {
        self.older
            .iter()
            .position(|e| e.id == id)
            .ok_or_else(|| Error::KeyRing(format!("key id {id} is not in the ring")))
    }
}

impl fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyRing")
            .field("current", &self.current())
            .field("keys", &self.key_ids())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret(b: u8) -> Secret {
        Secret::from_bytes([b; 32])
    }

    #[test]
    fn builds_and_mutates() {
        let mut ring = KeyRing::new(KeyId(2), [(KeyId(1), secret(1)), (KeyId(2), secret(2))])
            .expect("valid ring");
        assert_eq!(ring.current(), KeyId(2));
        assert_eq!(ring.key_ids(), vec![KeyId(1), KeyId(2)]);
        assert!(ring.insert(KeyId(1), secret(9)).is_err());
        ring.insert(KeyId(3), secret(3)).expect("new id");
        assert!(ring.remove(KeyId(2)).is_err(), "current cannot be removed");
        ring.set_current(KeyId(3)).expect("present");
        ring.remove(KeyId(1)).expect("old key");
        assert_eq!(ring.current(), KeyId(3));
        assert_eq!(ring.key_ids(), vec![KeyId(2), KeyId(3)]);
        assert!(ring.remove(KeyId(1)).is_err(), "already gone");
        assert!(ring.set_current(KeyId(1)).is_err());
        ring.rotate(KeyId(4)).expect("rotate");
        assert_eq!(ring.current(), KeyId(4));
        assert!(ring.contains(KeyId(3)));
    }

    #[test]
    fn rejects_bad_rings() {
        assert!(KeyRing::new(KeyId(1), []).is_err());
        assert!(KeyRing::new(KeyId(1), [(KeyId(2), secret(2))]).is_err());
        assert!(KeyRing::new(KeyId(1), [(KeyId(1), secret(1)), (KeyId(1), secret(2))]).is_err());
    }

    #[test]
    fn debug_shows_ids_only() {
        let ring = KeyRing::new(KeyId(7), [(KeyId(7), secret(0xcd))]).expect("valid");
        let shown = format!("{ring:?}");
        assert_eq!(shown, "KeyRing { current: KeyId(7), keys: [KeyId(7)] }");
    }
}
