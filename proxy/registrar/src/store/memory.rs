//! Bindings in this process.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

use super::AliasSet;
use crate::Binding;

/// Bindings in a map guarded by a mutex (updates are short and never
/// await).
#[derive(Debug, Default)]
pub struct MemoryStore {
    map: Mutex<HashMap<String, Vec<Binding>>>,
    aliases: Mutex<Aliases>,
}

/// Alias sets by primary, and the primary of each alias.
#[derive(Debug, Default)]
struct Aliases {
    sets: HashMap<String, AliasSet>,
    primary_of: HashMap<String, String>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> MemoryStore {
        MemoryStore::default()
    }

    fn map(&self) -> MutexGuard<'_, HashMap<String, Vec<Binding>>> {
        // A panic elsewhere while holding the lock leaves consistent data:
        // every write replaces a whole vector.
        self.map.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn load(&self, aor: &str, now: u64) -> Vec<Binding> {
        self.map()
            .get(aor)
            .map(|v| v.iter().filter(|b| b.is_live(now)).cloned().collect())
            .unwrap_or_default()
    }

    pub(crate) fn update<T, F>(&self, aor: &str, now: u64, mut f: F) -> T
    where
        F: FnMut(Vec<Binding>) -> (Option<Vec<Binding>>, T),
    {
        let mut map = self.map();
        let live = map
            .get(aor)
            .map(|v| v.iter().filter(|b| b.is_live(now)).cloned().collect())
            .unwrap_or_default();
        let (new, value) = f(live);
        if let Some(mut new) = new {
            new.retain(|b| b.is_live(now));
            if new.is_empty() {
                map.remove(aor);
            } else {
                map.insert(aor.to_string(), new);
            }
        }
        value
    }

    pub(crate) fn remove(&self, aor: &str) -> usize {
        self.map().remove(aor).map_or(0, |v| v.len())
    }

    pub(crate) fn list(&self, now: u64) -> Vec<(String, Vec<Binding>)> {
        let mut out: Vec<(String, Vec<Binding>)> = self
            .map()
            .iter()
            .map(|(aor, v)| {
                let live: Vec<Binding> = v.iter().filter(|b| b.is_live(now)).cloned().collect();
                (aor.clone(), live)
            })
            .filter(|(_, v)| !v.is_empty())
            .collect();
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }

    fn alias_map(&self) -> MutexGuard<'_, Aliases> {
        self.aliases.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn alias_of(&self, key: &str, now: u64) -> Option<String> {
        let a = self.alias_map();
        let primary = a.primary_of.get(key)?;
        a.sets
            .get(primary)
            .is_some_and(|s| s.is_live(now))
            .then(|| primary.clone())
    }

    pub(crate) fn aliases(&self, primary: &str, now: u64) -> AliasSet {
        self.alias_map()
            .sets
            .get(primary)
            .filter(|s| s.is_live(now))
            .cloned()
            .unwrap_or_default()
    }

    pub(crate) fn set_aliases(&self, primary: &str, set: AliasSet) {
        let mut a = self.alias_map();
        a.primary_of.retain(|_, p| p != primary);
        if set.uris.is_empty() {
            a.sets.remove(primary);
            return;
        }
        for k in &set.keys {
            a.primary_of.insert(k.clone(), primary.to_owned());
        }
        a.sets.insert(primary.to_owned(), set);
    }

    pub(crate) fn sweep(&self, now: u64) -> usize {
        {
            let mut a = self.alias_map();
            a.sets.retain(|_, s| s.is_live(now));
            let Aliases { sets, primary_of } = &mut *a;
            primary_of.retain(|_, p| sets.contains_key(p));
        }
        let mut map = self.map();
        let mut gone = 0;
        map.retain(|_, v| {
            let n = v.len();
            v.retain(|b| b.is_live(now));
            gone += n - v.len();
            !v.is_empty()
        });
        gone
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn binding(uri: &str, expires_at: u64) -> Binding {
        Binding {
            aor: "sip:a@b.c".into(),
            uri: uri.into(),
            q: None,
            expires_at,
            call_id: "c".into(),
            cseq: 1,
            path: vec![],
            instance: None,
            reg_id: None,
            received: None,
            user_agent: None,
            updated_at: 0,
            params: Vec::new(),
            accepted: Default::default(),
        }
    }

    #[test]
    fn expired_are_invisible_and_pruned_on_write() {
        let m = MemoryStore::new();
        let n = m.update("sip:a@b.c", 0, |cur| {
            assert!(cur.is_empty());
            (
                Some(vec![binding("sip:1@h", 10), binding("sip:2@h", 20)]),
                7,
            )
        });
        assert_eq!(n, 7);
        assert_eq!(m.load("sip:a@b.c", 15).len(), 1);
        // No change asked: nothing written.
        m.update("sip:a@b.c", 15, |cur| (None::<Vec<Binding>>, cur.len()));
        assert_eq!(m.map().get("sip:a@b.c").map(Vec::len), Some(2));
        // A write drops what has expired.
        m.update("sip:a@b.c", 15, |cur| (Some(cur), ()));
        assert_eq!(m.map().get("sip:a@b.c").map(Vec::len), Some(1));
        assert!(m.list(25).is_empty());
        assert_eq!(m.sweep(25), 1);
        assert_eq!(m.remove("sip:a@b.c"), 0);
    }
}
