//! `${VAR}` / `${VAR:-default}` expansion of the raw text, before YAML.
//!
//! Rules (documented in `docs/configuration.md`):
//!
//! - `${NAME}` is replaced by the value of the environment variable `NAME`.
//!   An unset `NAME` expands to nothing, as in SIPhon, and is reported
//!   ([`expand_noting`] returns it) so that the loader can warn about it. A
//!   set but empty variable expands to nothing.
//! - `${NAME:-default}` is replaced by the value of `NAME` if it is set and
//!   not empty, otherwise by `default` (taken literally, up to the first `}`).
//! - `$$` is a literal `$`. Any other `$` is kept as it is.
//! - `NAME` is `[A-Za-z_][A-Za-z0-9_]*`, and a reference must close on its
//!   own line.
//! - Whole-line comments (the first non-blank character is `#`) are copied
//!   unchanged, so a commented-out `${VAR}` needs no variable.
//!
//! The replacement is textual: quote a reference (`"${VAR}"`) when the value
//! could contain YAML syntax.

/// A reference that could not be expanded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpandError {
    /// 1-based line of the reference.
    pub line: usize,
    /// The reference as written (up to the end of the line if unclosed).
    pub var: String,
    /// What is wrong.
    pub message: String,
}

/// A `${NAME}` without a default whose variable is not set: it expanded
/// to nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unset {
    /// 1-based line of the reference.
    pub line: usize,
    /// The variable's name.
    pub name: String,
}

/// Expands `text`, looking variables up with `env`; unset variables expand
/// to nothing.
pub fn expand<F>(text: &str, env: F) -> Result<String, ExpandError>
where
    F: Fn(&str) -> Option<String>,
{
    expand_noting(text, env).map(|(text, _)| text)
}

/// As [`expand`], also returning every reference to an unset variable
/// without a default, in the order met.
pub fn expand_noting<F>(text: &str, env: F) -> Result<(String, Vec<Unset>), ExpandError>
where
    F: Fn(&str) -> Option<String>,
{
    let mut out = String::with_capacity(text.len());
    let mut unset = Vec::new();
    for (index, line) in text.split_inclusive('\n').enumerate() {
        if line.trim_start().starts_with('#') {
            out.push_str(line);
        } else {
            expand_line(line, index + 1, &env, &mut out, &mut unset)?;
        }
    }
    Ok((out, unset))
}

fn expand_line<F>(
    line: &str,
    number: usize,
    env: &F,
    out: &mut String,
    unset: &mut Vec<Unset>,
) -> Result<(), ExpandError>
where
    F: Fn(&str) -> Option<String>,
{
    let mut rest = line;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            out.push('$');
            rest = tail;
        } else if let Some(body) = after.strip_prefix('{') {
            let Some(close) = body.find('}') else {
                return Err(ExpandError {
                    line: number,
                    var: rest[at..].trim_end().to_owned(),
                    message: "unclosed `${`: a reference must end with `}` on the same line \
                              (write `$$` for a literal `$`)"
                        .to_owned(),
                });
            };
            let reference = &rest[at..at + 3 + close];
            let inner = &body[..close];
            let (name, default) = match inner.split_once(":-") {
                Some((name, default)) => (name, Some(default)),
                None => (inner, None),
            };
            if !is_name(name) {
                return Err(ExpandError {
                    line: number,
                    var: reference.to_owned(),
                    message: "not a variable name (letters, digits and `_`, not starting \
                              with a digit; `${NAME:-default}` for a default)"
                        .to_owned(),
                });
            }
            match (env(name), default) {
                (Some(value), Some(default)) if value.is_empty() => out.push_str(default),
                (Some(value), _) => out.push_str(&value),
                (None, Some(default)) => out.push_str(default),
                (None, None) => unset.push(Unset {
                    line: number,
                    name: name.to_owned(),
                }),
            }
            rest = &body[close + 1..];
        } else {
            out.push('$');
            rest = after;
        }
    }
    out.push_str(rest);
    Ok(())
}

fn is_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c == '_' || c.is_ascii_alphabetic())
        && chars.all(|c| c == '_' || c.is_ascii_alphanumeric())
}
