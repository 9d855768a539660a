//! What to rewrite and into which shape: the identity headers, a policy
//! over them, and the registry of named policies scripts pick from.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::Arc;

use crate::number::{strip_plus, Locale, NumberError, NumberFormat};

/// A header (or the Request-URI) that carries one identity in a userpart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum IdentityHeader {
    /// The Request-URI of the start line.
    RequestUri,
    /// `To`.
    To,
    /// `From`.
    From,
    /// `P-Asserted-Identity` (RFC 3325).
    PAssertedIdentity,
    /// `P-Preferred-Identity` (RFC 3325).
    PPreferredIdentity,
    /// `Referred-By` (RFC 3892).
    ReferredBy,
    /// `Remote-Party-ID` (the draft before RFC 3325).
    RemotePartyId,
}

/// The headers walked when a policy names none: From, To, the two
/// RFC 3325 identities and the Request-URI, in this order.
pub const DEFAULT_IDENTITY_HEADERS: &[IdentityHeader] = &[
    IdentityHeader::From,
    IdentityHeader::To,
    IdentityHeader::PAssertedIdentity,
    IdentityHeader::PPreferredIdentity,
    IdentityHeader::RequestUri,
];

impl IdentityHeader {
    /// Reads a token: `request-uri` (`ruri`, `r-uri`, `uri`), a header
    /// name in any case (`_` or a space for `-`), `pai`, `ppi`, `rpid`.
    pub fn from_token(token: &str) -> Option<IdentityHeader> {
        let t = token.trim().to_ascii_lowercase().replace(['_', ' '], "-");
        Some(match t.as_str() {
            "request-uri" | "ruri" | "r-uri" | "uri" => IdentityHeader::RequestUri,
            "to" => IdentityHeader::To,
            "from" => IdentityHeader::From,
            "p-asserted-identity" | "pai" => IdentityHeader::PAssertedIdentity,
            "p-preferred-identity" | "ppi" => IdentityHeader::PPreferredIdentity,
            "referred-by" => IdentityHeader::ReferredBy,
            "remote-party-id" | "rpid" => IdentityHeader::RemotePartyId,
            _ => return None,
        })
    }

    /// The header's name; `None` for the Request-URI.
    pub fn header_name(self) -> Option<&'static str> {
        Some(match self {
            IdentityHeader::RequestUri => return None,
            IdentityHeader::To => "To",
            IdentityHeader::From => "From",
            IdentityHeader::PAssertedIdentity => "P-Asserted-Identity",
            IdentityHeader::PPreferredIdentity => "P-Preferred-Identity",
            IdentityHeader::ReferredBy => "Referred-By",
            IdentityHeader::RemotePartyId => "Remote-Party-ID",
        })
    }

    /// Whether `on_unparseable: strip` may remove it: never From, To or
    /// the Request-URI, which a request must have.
    pub fn strippable(self) -> bool {
        !matches!(
            self,
            IdentityHeader::RequestUri | IdentityHeader::To | IdentityHeader::From
        )
    }
}

impl fmt::Display for IdentityHeader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.header_name().unwrap_or("request-uri"))
    }
}

/// A header of the diversion family: entries that say who diverted the
/// call, in order, with their own parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DiversionHeader {
    /// `Diversion` (RFC 5806).
    Diversion,
    /// `History-Info` (RFC 7044).
    HistoryInfo,
}

impl DiversionHeader {
    /// Reads `Diversion` or `History-Info` (any case, `_` for `-`).
    pub fn from_token(token: &str) -> Option<DiversionHeader> {
        match token.trim().to_ascii_lowercase().replace('_', "-").as_str() {
            "diversion" => Some(DiversionHeader::Diversion),
            "history-info" | "historyinfo" => Some(DiversionHeader::HistoryInfo),
            _ => None,
        }
    }

    /// The header's name.
    pub fn header_name(self) -> &'static str {
        match self {
            DiversionHeader::Diversion => "Diversion",
            DiversionHeader::HistoryInfo => "History-Info",
        }
    }
}

/// What happens to an identity that is not a number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UnparseableAction {
    /// It stays as it came.
    #[default]
    Keep,
    /// The entry is removed (only from the headers that may be stripped).
    Strip,
}

/// The rewrite of the diversion family, when a policy asks for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiversionPolicy {
    /// The shape of the diverting numbers.
    pub format: NumberFormat,
    /// The headers to rewrite.
    pub apply_to: Vec<DiversionHeader>,
    /// Leave the entries marked private (`privacy=` other than `off` or
    /// `none`) as they are.
    pub respect_privacy: bool,
}

/// A policy ready to apply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NumberPolicy {
    /// Its name in `number_policies:`, or `(inline)`.
    pub name: String,
    /// The plan numbers are read and written under.
    pub locale: Locale,
    /// The shape of every walked header without its own.
    pub default_format: NumberFormat,
    /// Shapes of particular headers.
    pub header_formats: HashMap<IdentityHeader, NumberFormat>,
    /// The headers walked, in order.
    pub headers: Vec<IdentityHeader>,
    /// What happens to identities that are not numbers.
    pub on_unparseable: UnparseableAction,
    /// Userparts never touched: `112`, `0800*` (a prefix), `*123` (a
    /// suffix), `*` (all).
    pub preserve_users: Vec<String>,
    /// The diversion family's rewrite, when enabled.
    pub diversion: Option<DiversionPolicy>,
}

impl NumberPolicy {
    /// One shape for `headers`, keeping non-numbers: what
    /// `rewrite_identities(format=...)` applies.
    pub fn uniform(locale: Locale, format: NumberFormat, headers: Vec<IdentityHeader>) -> Self {
        NumberPolicy {
            name: "(inline)".into(),
            locale,
            default_format: format,
            header_formats: HashMap::new(),
            headers,
            on_unparseable: UnparseableAction::Keep,
            preserve_users: Vec::new(),
            diversion: None,
        }
    }

    /// The shape `header` is written in.
    pub fn format_for(&self, header: IdentityHeader) -> NumberFormat {
        self.header_formats
            .get(&header)
            .copied()
            .unwrap_or(self.default_format)
    }

    /// Whether `user` is one of the preserved userparts.
    pub fn preserves(&self, user: &str) -> bool {
        self.preserve_users
            .iter()
            .any(|pattern| matches_pattern(pattern, user))
    }
}

/// `*` alone matches everything; a trailing `*` a prefix, a leading one a
/// suffix; otherwise the userpart must be the pattern.
fn matches_pattern(pattern: &str, user: &str) -> bool {
    if pattern == "*" {
        return true;
    }
    if let Some(prefix) = pattern.strip_suffix('*') {
        return user.starts_with(prefix);
    }
    if let Some(suffix) = pattern.strip_prefix('*') {
        return user.ends_with(suffix);
    }
    pattern == user
}

/// Why `rewrite_identities` (or `numbers.parse`) was refused: its
/// arguments.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    /// Both a named policy and an inline format (or header list).
    #[error("rewrite_identities(): pass either policy= or format=, not both")]
    Both,
    /// Neither.
    #[error("rewrite_identities(): requires policy= (named) or format= (inline)")]
    Neither,
    /// No policy of this name in `number_policies:`.
    #[error("unknown number policy {0:?}")]
    UnknownPolicy(String),
    /// Not a header token.
    #[error("unknown identity header {0:?}")]
    UnknownHeader(String),
    /// Not a country calling code.
    #[error("home {0:?} is not a country calling code (1 to 3 digits, an optional +)")]
    BadHome(String),
    /// A bad format token.
    #[error(transparent)]
    Format(#[from] NumberError),
}

/// The home plan and the named policies, resolved from the configuration.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Registry {
    /// The home plan (`numbering:`).
    pub locale: Locale,
    /// The policies (`number_policies:`) by name.
    pub policies: BTreeMap<String, Arc<NumberPolicy>>,
}

impl Registry {
    /// The policy called `name`.
    pub fn policy(&self, name: &str) -> Option<Arc<NumberPolicy>> {
        self.policies.get(name).cloned()
    }

    /// The policy names, sorted.
    pub fn names(&self) -> Vec<String> {
        self.policies.keys().cloned().collect()
    }

    /// The home plan with the country code `home` instead, when given.
    pub fn locale_for(&self, home: Option<&str>) -> Result<Locale, PolicyError> {
        let Some(home) = home else {
            return Ok(self.locale.clone());
        };
        let code = strip_plus(home);
        if code.len() > 3 || !code.bytes().all(|b| b.is_ascii_digit()) {
            return Err(PolicyError::BadHome(home.to_owned()));
        }
        Ok(self.locale.with_home(code))
    }

    /// The policy of a `rewrite_identities(policy, format, headers, home)`
    /// call: the named one, or `format` over `headers` (the default set
    /// when `None`) under the home plan, its country code `home` when
    /// given.
    pub fn resolve(
        &self,
        policy: Option<&str>,
        format: Option<&str>,
        headers: Option<&[String]>,
        home: Option<&str>,
    ) -> Result<Arc<NumberPolicy>, PolicyError> {
        if let Some(name) = policy {
            if format.is_some() || headers.is_some() {
                return Err(PolicyError::Both);
            }
            return self
                .policy(name)
                .ok_or_else(|| PolicyError::UnknownPolicy(name.to_owned()));
        }
        let format: NumberFormat = format.ok_or(PolicyError::Neither)?.parse()?;
        let walk = match headers {
            None => DEFAULT_IDENTITY_HEADERS.to_vec(),
            Some(tokens) => {
                let mut walk = Vec::with_capacity(tokens.len());
                for token in tokens {
                    let h = IdentityHeader::from_token(token)
                        .ok_or_else(|| PolicyError::UnknownHeader(token.clone()))?;
                    if !walk.contains(&h) {
                        walk.push(h);
                    }
                }
                walk
            }
        };
        Ok(Arc::new(NumberPolicy::uniform(
            self.locale_for(home)?,
            format,
            walk,
        )))
    }
}

#[cfg(test)]
#[path = "policy/tests.rs"]
mod tests;
