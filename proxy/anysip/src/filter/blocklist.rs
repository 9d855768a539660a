//! The user-space blocklist: CIDRs with an optional expiry and where they
//! came from. Lookups cost one hash probe per distinct prefix length.

use std::collections::{BTreeSet, HashMap};
use std::net::IpAddr;
use std::time::Instant;

use serde::Serialize;

/// Who put an entry on the list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Origin {
    /// `xdp.blocklist` in the config file.
    Config,
    /// `POST /admin/blocklist`.
    Admin,
    /// A scanner's User-Agent (`xdp.auto_block`).
    Auto,
}

/// One entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Entry {
    pub(crate) net: IpAddr,
    pub(crate) len: u8,
    pub(crate) expires: Option<Instant>,
    pub(crate) origin: Origin,
}

/// The list.
#[derive(Debug, Default, Clone)]
pub(crate) struct Blocklist {
    entries: HashMap<(IpAddr, u8), Entry>,
    /// Prefix lengths in use, per family (v4, v6).
    lens_v4: BTreeSet<u8>,
    lens_v6: BTreeSet<u8>,
}

impl Blocklist {
    /// Adds or replaces `net/len` (already masked).
    pub(crate) fn insert(&mut self, e: Entry) {
        self.entries.insert((e.net, e.len), e);
        self.lens(e.net).insert(e.len);
    }

    /// Removes `net/len`; whether it was there.
    pub(crate) fn remove(&mut self, net: IpAddr, len: u8) -> Option<Entry> {
        let e = self.entries.remove(&(net, len))?;
        if !self
            .entries
            .keys()
            .any(|(n, l)| *l == len && n.is_ipv4() == net.is_ipv4())
        {
            self.lens(net).remove(&len);
        }
        Some(e)
    }

    fn lens(&mut self, net: IpAddr) -> &mut BTreeSet<u8> {
        if net.is_ipv4() {
            &mut self.lens_v4
        } else {
            &mut self.lens_v6
        }
    }

    /// Whether `ip` falls in a live entry.
    pub(crate) fn contains(&self, ip: IpAddr, now: Instant) -> bool {
        let lens = if ip.is_ipv4() {
            &self.lens_v4
        } else {
            &self.lens_v6
        };
        lens.iter().any(|&len| {
            self.entries
                .get(&(anysip_config::mask(ip, len), len))
                .is_some_and(|e| e.expires.is_none_or(|t| t > now))
        })
    }

    /// Whether an entry has expired by `now` (cheap: no copy).
    pub(crate) fn has_expired(&self, now: Instant) -> bool {
        self.entries
            .values()
            .any(|e| e.expires.is_some_and(|t| t <= now))
    }

    /// Removes and returns the entries expired by `now`.
    pub(crate) fn expire(&mut self, now: Instant) -> Vec<Entry> {
        let gone: Vec<(IpAddr, u8)> = self
            .entries
            .iter()
            .filter(|(_, e)| e.expires.is_some_and(|t| t <= now))
            .map(|(k, _)| *k)
            .collect();
        gone.into_iter()
            .filter_map(|(n, l)| self.remove(n, l))
            .collect()
    }

    /// Every entry, most specific first.
    pub(crate) fn entries(&self) -> Vec<Entry> {
        let mut v: Vec<Entry> = self.entries.values().copied().collect();
        v.sort_by(|a, b| b.len.cmp(&a.len).then(a.net.cmp(&b.net)));
        v
    }

    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    /// What makes the config's entries exactly `wanted` (a reload of
    /// `xdp.blocklist`): the prefixes to add (or to make the config's:
    /// permanent), and the config entries to remove. Entries from the
    /// admin API and scanners are left alone.
    pub(crate) fn config_changes(
        &self,
        wanted: &[(IpAddr, u8)],
    ) -> (Vec<Entry>, Vec<(IpAddr, u8)>) {
        let add = wanted
            .iter()
            .filter(|k| {
                self.entries
                    .get(k)
                    .is_none_or(|e| e.origin != Origin::Config)
            })
            .map(|&(net, len)| Entry {
                net,
                len,
                expires: None,
                origin: Origin::Config,
            })
            .collect();
        let remove = self
            .entries
            .iter()
            .filter(|(k, e)| e.origin == Origin::Config && !wanted.contains(k))
            .map(|(k, _)| *k)
            .collect();
        (add, remove)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn entry(cidr: &str, expires: Option<Instant>) -> Entry {
        let (net, len) = anysip_config::parse_cidr(cidr).unwrap_or((IpAddr::from([0; 4]), 0));
        Entry {
            net,
            len,
            expires,
            origin: Origin::Admin,
        }
    }

    #[test]
    fn prefixes_and_expiry() {
        let now = Instant::now();
        let mut b = Blocklist::default();
        b.insert(entry("192.0.2.0/24", None));
        b.insert(entry("2001:db8::/32", Some(now + Duration::from_secs(5))));
        b.insert(entry("198.51.100.7", Some(now + Duration::from_secs(1))));
        let ip = |s: &str| s.parse::<IpAddr>().unwrap_or(IpAddr::from([0; 4]));
        assert!(b.contains(ip("192.0.2.200"), now));
        assert!(!b.contains(ip("192.0.3.1"), now));
        assert!(b.contains(ip("2001:db8:1::9"), now));
        assert!(!b.contains(ip("2001:db9::1"), now));
        assert!(b.contains(ip("198.51.100.7"), now));
        let later = now + Duration::from_secs(2);
        assert!(
            !b.contains(ip("198.51.100.7"), later),
            "expired reads as absent"
        );
        assert_eq!(b.expire(later).len(), 1);
        assert_eq!(b.len(), 2);
        assert!(b.remove(ip("192.0.2.0"), 24).is_some());
        assert!(!b.contains(ip("192.0.2.200"), now));
    }

    #[test]
    fn config_changes_leave_admin_and_scanner_entries() {
        let cidr = |s: &str| anysip_config::parse_cidr(s).unwrap_or((IpAddr::from([0; 4]), 0));
        let mut b = Blocklist::default();
        let mut config = entry("192.0.2.0/24", None);
        config.origin = Origin::Config;
        b.insert(config);
        let mut stays = entry("198.51.100.0/24", None);
        stays.origin = Origin::Config;
        b.insert(stays);
        b.insert(entry("203.0.113.7", None)); // admin
        let (add, remove) = b.config_changes(&[cidr("198.51.100.0/24"), cidr("203.0.113.7")]);
        assert_eq!(remove, vec![cidr("192.0.2.0/24")]);
        // The admin's entry becomes the config's (permanent).
        assert_eq!(add.len(), 1);
        assert_eq!((add[0].net, add[0].len), cidr("203.0.113.7"));
        assert_eq!(add[0].origin, Origin::Config);
        let (add, remove) = b.config_changes(&[]);
        assert!(add.is_empty());
        assert_eq!(remove.len(), 2, "both config entries go, the admin's stays");
    }
}
