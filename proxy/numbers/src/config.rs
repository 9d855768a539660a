//! `numbering:` (the home plan) and `number_policies:` (named policies)
//! of the configuration file, as SIPhon's schema has them, and their
//! resolution into a [`Registry`].
//!
//! ```
//! use numbers::config::{NumberingConfig, NumberPolicyConfig};
//! use std::collections::BTreeMap;
//!
//! let numbering: NumberingConfig = serde_yaml::from_str("country_code: \"31\"").unwrap();
//! let policies: BTreeMap<String, NumberPolicyConfig> =
//!     serde_yaml::from_str("\"ims-e164@2026\":\n  default: e164\n").unwrap();
//! numbering.validate("numbering").unwrap();
//! let registry = numbers::config::registry(&numbering, &policies);
//! assert_eq!(registry.names(), ["ims-e164@2026"]);
//! ```

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use serde::{de, Deserialize, Deserializer};

use crate::number::{strip_plus, AssumeForm, Locale, NumberFormat};
use crate::policy::{
    DiversionHeader, DiversionPolicy, IdentityHeader, NumberPolicy, Registry, UnparseableAction,
    DEFAULT_IDENTITY_HEADERS,
};

/// Most national significant digits a number can have (E.164: 15 with
/// the country code).
const MAX_NATIONAL_DIGITS: usize = 15;

/// `numbering:`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NumberingConfig {
    /// The home country calling code: 1 to 3 digits (`"31"`), an optional
    /// `+`; empty for none. A string or an integer.
    #[serde(default, deserialize_with = "code")]
    pub country_code: String,
    /// The national trunk prefix: digits, may be empty.
    #[serde(default = "trunk")]
    pub trunk_prefix: String,
    /// The international access prefix: digits, may be empty.
    #[serde(default = "access")]
    pub international_prefix: String,
    /// How bare digits are read: `national` or `international`.
    #[serde(default)]
    pub assume: AssumeForm,
    /// Fewest national significant digits of a nationally written number
    /// (0–15); shorter ones are short codes.
    #[serde(default = "min_national")]
    pub min_national_digits: usize,
}

fn trunk() -> String {
    "0".into()
}
fn access() -> String {
    "00".into()
}
fn min_national() -> usize {
    5
}

impl Default for NumberingConfig {
    fn default() -> Self {
        NumberingConfig {
            country_code: String::new(),
            trunk_prefix: trunk(),
            international_prefix: access(),
            assume: AssumeForm::default(),
            min_national_digits: min_national(),
        }
    }
}

/// A country code written as a string or an integer.
fn code<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    Ok(optional_code(d)?.unwrap_or_default())
}

/// An optional country code written as a string or an integer.
fn optional_code<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Code {
        Text(String),
        Number(u64),
    }
    Ok(Option::<Code>::deserialize(d)
        .map_err(|_| de::Error::custom("expected a country calling code such as \"31\""))?
        .map(|c| match c {
            Code::Text(t) => t,
            Code::Number(n) => n.to_string(),
        }))
}

impl NumberingConfig {
    /// The home plan.
    pub fn locale(&self) -> Locale {
        Locale {
            country_code: strip_plus(&self.country_code).to_owned(),
            trunk_prefix: self.trunk_prefix.clone(),
            international_prefix: self.international_prefix.clone(),
            assume: self.assume,
            min_national_digits: self.min_national_digits,
        }
    }

    /// Checks what the types cannot; `at` is the section's key path.
    pub fn validate(&self, at: &str) -> Result<(), Problem> {
        check_code(&format!("{at}.country_code"), &self.country_code)?;
        check_prefix(&format!("{at}.trunk_prefix"), &self.trunk_prefix)?;
        check_prefix(
            &format!("{at}.international_prefix"),
            &self.international_prefix,
        )?;
        if self.min_national_digits > MAX_NATIONAL_DIGITS {
            return Err(Problem::new(
                format!("{at}.min_national_digits"),
                format!(
                    "{} is out of range 0..={MAX_NATIONAL_DIGITS}",
                    self.min_national_digits
                ),
            ));
        }
        Ok(())
    }
}

/// One entry of `number_policies:`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NumberPolicyConfig {
    /// The shape of every walked header without its own (`e164`).
    #[serde(default = "e164")]
    pub default: NumberFormat,
    /// Shapes of particular headers (`request-uri`, `From`, `pai`, ...).
    #[serde(default)]
    pub headers: HashMap<IdentityHeader, NumberFormat>,
    /// The headers walked, in order; absent: From, To,
    /// P-Asserted-Identity, P-Preferred-Identity and the Request-URI. The
    /// headers of `headers` are walked too.
    #[serde(default)]
    pub walk: Option<Vec<IdentityHeader>>,
    /// What happens to identities that are not numbers: `keep` or `strip`.
    #[serde(default)]
    pub on_unparseable: UnparseableAction,
    /// Userparts never touched (`"112"`, `"0800*"`, `"*"`).
    #[serde(default)]
    pub preserve_users: Vec<String>,
    /// The diversion family's rewrite; absent: off.
    #[serde(default)]
    pub diversion: Option<DiversionConfig>,
    /// Another home country code for this policy.
    #[serde(default, deserialize_with = "optional_code")]
    pub country_code: Option<String>,
    /// Another trunk prefix for this policy.
    #[serde(default)]
    pub trunk_prefix: Option<String>,
    /// Another international access prefix for this policy.
    #[serde(default)]
    pub international_prefix: Option<String>,
    /// Another reading of bare digits for this policy.
    #[serde(default)]
    pub assume: Option<AssumeForm>,
}

fn e164() -> NumberFormat {
    NumberFormat::E164
}

/// The `diversion:` block of a policy.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DiversionConfig {
    /// The shape of the diverting numbers (`e164`).
    #[serde(default = "e164")]
    pub format: NumberFormat,
    /// The headers rewritten; absent: Diversion and History-Info.
    #[serde(default)]
    pub apply_to: Option<Vec<DiversionHeader>>,
    /// Leave private entries alone (`true`).
    #[serde(default = "yes")]
    pub respect_privacy: bool,
}

fn yes() -> bool {
    true
}

impl NumberPolicyConfig {
    /// Checks what the types cannot; `at` is the policy's key path.
    pub fn validate(&self, at: &str) -> Result<(), Problem> {
        if let Some(code) = &self.country_code {
            check_code(&format!("{at}.country_code"), code)?;
        }
        if let Some(p) = &self.trunk_prefix {
            check_prefix(&format!("{at}.trunk_prefix"), p)?;
        }
        if let Some(p) = &self.international_prefix {
            check_prefix(&format!("{at}.international_prefix"), p)?;
        }
        for (i, pattern) in self.preserve_users.iter().enumerate() {
            if pattern.trim().is_empty() {
                return Err(Problem::new(
                    format!("{at}.preserve_users[{i}]"),
                    "an empty pattern matches nothing: give a userpart, a prefix* or *",
                ));
            }
        }
        Ok(())
    }

    /// The runtime policy called `name`, under the home plan `home`.
    pub fn resolve(&self, name: &str, home: &Locale) -> NumberPolicy {
        let mut locale = home.clone();
        if let Some(code) = &self.country_code {
            locale.country_code = strip_plus(code).to_owned();
        }
        if let Some(p) = &self.trunk_prefix {
            locale.trunk_prefix.clone_from(p);
        }
        if let Some(p) = &self.international_prefix {
            locale.international_prefix.clone_from(p);
        }
        if let Some(a) = self.assume {
            locale.assume = a;
        }
        let mut headers = Vec::new();
        let walk = self.walk.as_deref().unwrap_or(DEFAULT_IDENTITY_HEADERS);
        // The formatted headers join the walk, in a stable order.
        let mut formatted: Vec<IdentityHeader> = self.headers.keys().copied().collect();
        formatted.sort();
        for h in walk.iter().chain(&formatted) {
            if !headers.contains(h) {
                headers.push(*h);
            }
        }
        NumberPolicy {
            name: name.to_owned(),
            locale,
            default_format: self.default,
            header_formats: self.headers.clone(),
            headers,
            on_unparseable: self.on_unparseable,
            preserve_users: self.preserve_users.clone(),
            diversion: self.diversion.as_ref().map(|d| DiversionPolicy {
                format: d.format,
                apply_to: d.apply_to.clone().unwrap_or_else(|| {
                    vec![DiversionHeader::Diversion, DiversionHeader::HistoryInfo]
                }),
                respect_privacy: d.respect_privacy,
            }),
        }
    }
}

/// The registry of a configuration: the home plan and every policy.
pub fn registry(
    numbering: &NumberingConfig,
    policies: &BTreeMap<String, NumberPolicyConfig>,
) -> Registry {
    let locale = numbering.locale();
    let policies = policies
        .iter()
        .map(|(name, p)| (name.clone(), Arc::new(p.resolve(name, &locale))))
        .collect();
    Registry { locale, policies }
}

/// A value the types accept but that is not usable, at its key path.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {message}")]
pub struct Problem {
    /// Where, e.g. `numbering.country_code`.
    pub path: String,
    /// What is wrong.
    pub message: String,
}

impl Problem {
    fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        Problem {
            path: path.into(),
            message: message.into(),
        }
    }
}

fn check_code(path: &str, code: &str) -> Result<(), Problem> {
    let digits = strip_plus(code);
    if digits.len() > 3 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Problem::new(
            path,
            format!(
                "{code:?} is not a country calling code: 1 to 3 digits (\"31\", \"+44\", \"1\")"
            ),
        ));
    }
    Ok(())
}

fn check_prefix(path: &str, prefix: &str) -> Result<(), Problem> {
    if prefix.len() > 8 || !prefix.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Problem::new(
            path,
            format!("{prefix:?} is not a dialling prefix: up to 8 digits, or empty"),
        ));
    }
    Ok(())
}

impl<'de> Deserialize<'de> for IdentityHeader {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let token = String::deserialize(d)?;
        IdentityHeader::from_token(&token).ok_or_else(|| {
            de::Error::custom(format!(
                "unknown identity header `{token}`, expected one of request-uri (ruri), From, To, \
                 P-Asserted-Identity (pai), P-Preferred-Identity (ppi), Referred-By, \
                 Remote-Party-ID (rpid)"
            ))
        })
    }
}

impl<'de> Deserialize<'de> for DiversionHeader {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let token = String::deserialize(d)?;
        DiversionHeader::from_token(&token).ok_or_else(|| {
            de::Error::custom(format!(
                "unknown diversion header `{token}`, expected Diversion or History-Info"
            ))
        })
    }
}

#[cfg(test)]
#[path = "config/tests.rs"]
mod tests;
