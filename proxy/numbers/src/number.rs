//! One telephone number: read from any dialled shape, written in any of
//! the four wire shapes.
//!
//! The number is kept as its international digits (country code followed
//! by the national significant number, no `+`, no prefix). Only the home
//! country of the [`Locale`] is known by its code: a number of another
//! country has no `cc` and its national form is the international access
//! form, which is how a national dial plan reaches it.

use std::fmt;
use std::str::FromStr;

use serde::Deserialize;

/// Longest E.164 number, in digits (ITU-T E.164 §6).
const MAX_DIGITS: usize = 15;

/// The shape a number is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NumberFormat {
    /// `+` and the international digits: `+31612345678`.
    E164,
    /// The international digits alone: `31612345678`.
    Plain,
    /// The international access prefix and the digits: `0031612345678`.
    International,
    /// The trunk prefix and the national significant number: `0612345678`
    /// (the international form for a number of another country).
    National,
}

impl NumberFormat {
    /// The token scripts and the configuration use.
    pub fn as_str(self) -> &'static str {
        match self {
            NumberFormat::E164 => "e164",
            NumberFormat::Plain => "plain",
            NumberFormat::International => "international",
            NumberFormat::National => "national",
        }
    }
}

impl FromStr for NumberFormat {
    type Err = NumberError;

    /// The four tokens in any case, and SIPhon's aliases (`e.164`, `+e164`,
    /// `e164_plain`, `bare`, `intl`, `intl_00`, `00`, `0x`).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let token = s.trim().to_ascii_lowercase();
        Ok(match token.as_str() {
            "e164" | "e.164" | "+e164" => NumberFormat::E164,
            "plain" | "e164_plain" | "bare" => NumberFormat::Plain,
            "international" | "intl" | "intl_00" | "00" => NumberFormat::International,
            "national" | "0x" => NumberFormat::National,
            _ => return Err(NumberError::UnknownFormat(token)),
        })
    }
}

impl fmt::Display for NumberFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What digits without `+`, access prefix or trunk prefix are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AssumeForm {
    /// A national significant number: the home country code goes first.
    #[default]
    National,
    /// Already international digits that lack only the `+`.
    International,
}

/// The home numbering plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Locale {
    /// The home country calling code, digits only (`31`); may be empty.
    pub country_code: String,
    /// The national trunk prefix (`0`).
    pub trunk_prefix: String,
    /// The international access prefix (`00`).
    pub international_prefix: String,
    /// How bare digits are read.
    pub assume: AssumeForm,
    /// Fewest national significant digits a nationally written number
    /// must have; shorter ones are service or emergency codes (`112`) and
    /// are not numbers.
    pub min_national_digits: usize,
}

impl Default for Locale {
    fn default() -> Self {
        Locale {
            country_code: String::new(),
            trunk_prefix: "0".into(),
            international_prefix: "00".into(),
            assume: AssumeForm::National,
            min_national_digits: 5,
        }
    }
}

impl Locale {
    /// The plan of the country `country_code` with the usual `0` and `00`
    /// prefixes.
    pub fn new(country_code: &str) -> Locale {
        Locale {
            country_code: country_code.to_owned(),
            ..Locale::default()
        }
    }

    /// This plan with another home country (`"+44"` and `"44"` alike).
    pub fn with_home(&self, country_code: &str) -> Locale {
        Locale {
            country_code: strip_plus(country_code).to_owned(),
            ..self.clone()
        }
    }
}

/// A country code as written, without spaces and a leading `+`.
pub(crate) fn strip_plus(code: &str) -> &str {
    let code = code.trim();
    code.strip_prefix('+').unwrap_or(code)
}

/// Why a text is not a number (or a format token is unknown).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NumberError {
    /// Nothing but spaces.
    #[error("empty number")]
    Empty,
    /// Letters or other characters, no digits, or a short code.
    #[error("not a dialable number: {0:?}")]
    NotANumber(String),
    /// More digits than E.164 allows.
    #[error("number exceeds E.164 15-digit maximum: {0:?}")]
    TooLong(String),
    /// Not one of the format tokens.
    #[error("unknown number format: {0:?}")]
    UnknownFormat(String),
}

/// A telephone number in international form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Number {
    /// Country code and national significant number.
    digits: String,
    /// Length of the home country code at the start of `digits`, when the
    /// number is of the home country.
    home_cc_len: Option<usize>,
    /// The plan it was read under (for the prefixes it is written with).
    locale: Locale,
}

impl Number {
    /// Reads a userpart or a dialled string.
    ///
    /// A leading `+` or the international access prefix makes it
    /// international; the trunk prefix makes it national; other digits are
    /// read as [`Locale::assume`] says. The RFC 3966 visual separators
    /// (`-`, `.`, `(`, `)`) and spaces are skipped; any other character
    /// makes it [`NumberError::NotANumber`]. A nationally read number with
    /// fewer than [`Locale::min_national_digits`] significant digits is a
    /// short code, not a number; an explicitly international one is taken
    /// as written.
    pub fn parse(raw: &str, locale: &Locale) -> Result<Number, NumberError> {
        let text = raw.trim();
        if text.is_empty() {
            return Err(NumberError::Empty);
        }
        let not_a_number = || NumberError::NotANumber(text.to_owned());
        let (plus, rest) = match text.strip_prefix('+') {
            Some(rest) => (true, rest),
            None => (false, text),
        };
        let mut dialled = String::with_capacity(rest.len());
        for c in rest.chars() {
            match c {
                '0'..='9' => dialled.push(c),
                '-' | '.' | '(' | ')' | ' ' => {}
                _ => return Err(not_a_number()),
            }
        }
        if dialled.is_empty() {
            return Err(not_a_number());
        }
        let access = locale.international_prefix.as_str();
        let trunk = locale.trunk_prefix.as_str();
        let cc = locale.country_code.as_str();
        // The access prefix is tried before the trunk prefix: `00` begins
        // with `0`.
        let (digits, national) = if plus {
            (dialled, false)
        } else if !access.is_empty() && dialled.starts_with(access) {
            (dialled[access.len()..].to_owned(), false)
        } else if !trunk.is_empty() && dialled.starts_with(trunk) {
            (format!("{cc}{}", &dialled[trunk.len()..]), true)
        } else if locale.assume == AssumeForm::International {
            (dialled, true)
        } else {
            (format!("{cc}{dialled}"), true)
        };
        if digits.is_empty() {
            return Err(not_a_number());
        }
        if digits.len() > MAX_DIGITS {
            return Err(NumberError::TooLong(text.to_owned()));
        }
        if national && digits.len().saturating_sub(cc.len()) < locale.min_national_digits {
            return Err(not_a_number());
        }
        let home_cc_len = (!cc.is_empty() && digits.starts_with(cc)).then_some(cc.len());
        Ok(Number {
            digits,
            home_cc_len,
            locale: locale.clone(),
        })
    }

    /// The number written in `format`.
    pub fn format(&self, format: NumberFormat) -> String {
        let l = &self.locale;
        match (format, self.home_cc_len) {
            (NumberFormat::E164, _) => format!("+{}", self.digits),
            (NumberFormat::Plain, _) => self.digits.clone(),
            (NumberFormat::National, Some(n)) => format!("{}{}", l.trunk_prefix, &self.digits[n..]),
            (NumberFormat::International | NumberFormat::National, _) => {
                format!("{}{}", l.international_prefix, self.digits)
            }
        }
    }

    /// The home country code, when the number is of the home country.
    pub fn country_code(&self) -> Option<&str> {
        self.home_cc_len.map(|n| &self.digits[..n])
    }

    /// The national significant number of a home number; all the digits
    /// of another country's.
    pub fn nsn(&self) -> &str {
        &self.digits[self.home_cc_len.unwrap_or(0)..]
    }

    /// The international digits (country code and national number).
    pub fn digits(&self) -> &str {
        &self.digits
    }
}

impl fmt::Display for Number {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "+{}", self.digits)
    }
}

#[cfg(test)]
#[path = "number/tests.rs"]
mod tests;
