//! Telephone numbers in SIP identities, as SIPhon's `numbers` module
//! serves them to scripts.
//!
//! A userpart arrives in whatever shape the last hop used (`+31612345678`,
//! `0031612345678`, `0612345678`, `612345678`); the next hop wants one
//! shape. [`Number::parse`] reads any of them under the home numbering plan
//! ([`Locale`]) into the international digits (country code and national
//! significant number), and [`Number::format`] writes them back in one of
//! the four [`NumberFormat`]s.
//!
//! A [`NumberPolicy`] says which identity headers to rewrite and into
//! which format; [`apply`] walks a message through the [`Identities`]
//! trait (the script's request implements it) and changes only the
//! userparts that are dialable numbers: display names, tags, hosts,
//! parameters, non-numbers, short codes and preserved users stay as they
//! are. [`config`] has the `numbering:` and `number_policies:` sections,
//! resolved once into a [`Registry`].
//!
//! ```
//! use numbers::{Locale, Number, NumberFormat};
//!
//! let nl = Locale::new("31");
//! let n = Number::parse("0612345678", &nl).unwrap();
//! assert_eq!(n.format(NumberFormat::E164), "+31612345678");
//! assert_eq!(n.format(NumberFormat::International), "0031612345678");
//! ```

pub mod config;
mod number;
mod policy;
mod walk;

pub use number::{AssumeForm, Locale, Number, NumberError, NumberFormat};
pub use policy::{
    DiversionHeader, DiversionPolicy, IdentityHeader, NumberPolicy, PolicyError, Registry,
    UnparseableAction, DEFAULT_IDENTITY_HEADERS,
};
pub use walk::{apply, Identities, RewriteReport};
