//! Aliases of an AoR (SIPhon's `aliases=` / `set_associated_uris`; the
//! implicit registration set of 3GPP TS 23.228): every URI of the set
//! names the AoR it was declared for, its primary, so that a lookup of any
//! of them finds the primary's bindings. One hop only: a primary is never
//! itself looked up as an alias of another.

use serde::{Deserialize, Serialize};

/// The alias set of one primary AoR.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AliasSet {
    /// The URIs as the script gave them (what `associated_uris` returns).
    pub uris: Vec<String>,
    /// Their canonical forms, the keys a lookup resolves (the primary
    /// itself left out).
    pub keys: Vec<String>,
    /// When the set ends (unix seconds): with the primary's latest binding
    /// when it had any as the set was written; `None`: kept until replaced
    /// or the primary is removed.
    #[serde(default)]
    pub expire_at: Option<u64>,
}

impl AliasSet {
    /// Whether the set still holds at `now`.
    pub fn is_live(&self, now: u64) -> bool {
        self.expire_at.is_none_or(|t| t > now)
    }
}
