//! The walk over a message's identities: each dialable userpart is
//! rewritten where it stands, every other byte of the header stays.

use sip::header::NameAddr;
use sip::Uri;

use crate::number::{Number, NumberFormat};
use crate::policy::{DiversionPolicy, NumberPolicy, UnparseableAction};

/// A request as the walk reads and changes it. Header values are the
/// elements of the header's comma-separated list, across all its lines.
pub trait Identities {
    /// The Request-URI.
    fn request_uri(&self) -> String;
    /// Replaces the Request-URI.
    fn set_request_uri(&mut self, uri: String);
    /// Every value of the header `name`.
    fn header_values(&self, name: &str) -> Vec<String>;
    /// Replaces every value of `name` (no value: the header is removed).
    fn set_header_values(&mut self, name: &str, values: Vec<String>);
}

/// What one walk did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RewriteReport {
    /// Userparts written in another shape.
    pub rewritten: usize,
    /// Identities left as they were (preserved, not a number, private, or
    /// already in the shape asked for).
    pub skipped: usize,
    /// Entries removed (`on_unparseable: strip`).
    pub stripped: usize,
}

impl RewriteReport {
    /// Userparts rewritten plus entries removed.
    pub fn changed(&self) -> usize {
        self.rewritten + self.stripped
    }
}

/// What became of one identity.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Outcome {
    /// It is now this text.
    Rewritten(String),
    /// Left alone: preserved, already in shape, or nothing to rewrite.
    Kept,
    /// Its userpart is not a number.
    NotANumber,
}

/// Applies `policy` to `ids`: the walked headers (Request-URI included),
/// then the diversion family when the policy enables it.
pub fn apply(ids: &mut dyn Identities, policy: &NumberPolicy) -> RewriteReport {
    let mut report = RewriteReport::default();
    for &header in &policy.headers {
        let target = policy.format_for(header);
        match header.header_name() {
            None => {
                let uri = ids.request_uri();
                match rewrite_uri(&uri, target, policy) {
                    Outcome::Rewritten(new) => {
                        ids.set_request_uri(new);
                        report.rewritten += 1;
                    }
                    Outcome::Kept | Outcome::NotANumber => report.skipped += 1,
                }
            }
            Some(name) => walk_header(ids, name, &mut report, |value| {
                match rewrite_entry(value, target, policy) {
                    Outcome::NotANumber
                        if header.strippable()
                            && policy.on_unparseable == UnparseableAction::Strip =>
                    {
                        None
                    }
                    other => Some(other),
                }
            }),
        }
    }
    if let Some(diversion) = &policy.diversion {
        for header in &diversion.apply_to {
            walk_header(ids, header.header_name(), &mut report, |value| {
                Some(rewrite_diverting(value, diversion, policy))
            });
        }
    }
    report
}

/// Rewrites every value of `name` with `each` (`None`: the value is
/// removed); writes the header back only when something changed.
fn walk_header(
    ids: &mut dyn Identities,
    name: &str,
    report: &mut RewriteReport,
    mut each: impl FnMut(&str) -> Option<Outcome>,
) {
    let values = ids.header_values(name);
    if values.is_empty() {
        return;
    }
    let mut changed = false;
    let mut out = Vec::with_capacity(values.len());
    for value in values {
        match each(&value) {
            None => {
                report.stripped += 1;
                changed = true;
            }
            Some(Outcome::Rewritten(new)) => {
                report.rewritten += 1;
                changed = true;
                out.push(new);
            }
            Some(Outcome::Kept | Outcome::NotANumber) => {
                report.skipped += 1;
                out.push(value);
            }
        }
    }
    if changed {
        ids.set_header_values(name, out);
    }
}

/// Where `inner` (a slice of `outer`) starts in it.
fn offset_in(outer: &str, inner: &str) -> usize {
    (inner.as_ptr() as usize).saturating_sub(outer.as_ptr() as usize)
}

/// The new userpart for `user`, under `policy`.
fn reformat(user: &str, target: NumberFormat, policy: &NumberPolicy) -> Outcome {
    if user.is_empty() || policy.preserves(user) {
        return Outcome::Kept;
    }
    match Number::parse(user, &policy.locale) {
        Ok(n) => {
            let new = n.format(target);
            if new == user {
                Outcome::Kept
            } else {
                Outcome::Rewritten(new)
            }
        }
        Err(_) => Outcome::NotANumber,
    }
}

/// A SIP or tel URI with its userpart (a tel URI's number) rewritten;
/// parameters and headers stay. Another scheme, or a URI without a
/// user, is kept.
fn rewrite_uri(uri: &str, target: NumberFormat, policy: &NumberPolicy) -> Outcome {
    let user = match Uri::parse(uri) {
        Ok(Uri::Sip(s)) => s.user,
        Ok(Uri::Tel(t)) => Some(t.number),
        _ => None,
    };
    let Some(user) = user else {
        return Outcome::Kept;
    };
    splice(uri, user, reformat(user, target, policy))
}

/// A name-addr value with the userpart of its URI rewritten; display
/// name, parameters and tag stay. A value that does not parse is kept.
fn rewrite_entry(value: &str, target: NumberFormat, policy: &NumberPolicy) -> Outcome {
    let Ok(na) = NameAddr::parse("identity", value) else {
        return Outcome::Kept;
    };
    splice_uri(value, na.uri_raw, target, policy)
}

/// `value` with `uri` (a slice of it) rewritten.
fn splice_uri(value: &str, uri: &str, target: NumberFormat, policy: &NumberPolicy) -> Outcome {
    splice(value, uri, rewrite_uri(uri, target, policy))
}

/// `outer` with `part` (a slice of it) replaced by what `outcome`
/// rewrote it to; any other outcome as it is.
fn splice(outer: &str, part: &str, outcome: Outcome) -> Outcome {
    match outcome {
        Outcome::Rewritten(new) => {
            let start = offset_in(outer, part);
            let end = start + part.len();
            Outcome::Rewritten(format!("{}{new}{}", &outer[..start], &outer[end..]))
        }
        other => other,
    }
}

/// A diversion-family entry with the diverting number rewritten: `index`,
/// `reason`, `counter` and the escaped `cause` of the URI stay; a private
/// entry is kept when the policy respects privacy; never removed.
fn rewrite_diverting(value: &str, diversion: &DiversionPolicy, policy: &NumberPolicy) -> Outcome {
    let Ok(na) = NameAddr::parse("diversion", value) else {
        return Outcome::Kept;
    };
    if diversion.respect_privacy && private(&na) {
        return Outcome::Kept;
    }
    match splice_uri(value, na.uri_raw, diversion.format, policy) {
        Outcome::NotANumber => Outcome::Kept,
        other => other,
    }
}

/// Whether an entry is marked private: a `privacy` parameter of the entry
/// or of its URI, or a `Privacy` header in its URI, whose value is not
/// `off` or `none` (no value counts as private).
fn private(na: &NameAddr<'_>) -> bool {
    let restricted = |value: Option<&str>| {
        value.is_none_or(|v| {
            let v = v.trim();
            !v.eq_ignore_ascii_case("off") && !v.eq_ignore_ascii_case("none")
        })
    };
    if na.params.get("privacy").is_some_and(restricted) {
        return true;
    }
    let Ok(Uri::Sip(uri)) = na.uri() else {
        return false;
    };
    if uri.params.get("privacy").is_some_and(restricted) {
        return true;
    }
    uri.headers.is_some_and(|h| {
        h.split('&').any(|item| {
            let (name, value) = match item.split_once('=') {
                Some((n, v)) => (n, Some(v)),
                None => (item, None),
            };
            name.eq_ignore_ascii_case("privacy") && restricted(value)
        })
    })
}

#[cfg(test)]
#[path = "walk/tests.rs"]
mod tests;
