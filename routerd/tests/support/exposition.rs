//! A strict reader of the Prometheus text format (0.0.4), to check what
//! `GET /metrics` serves: every sample belongs to a family declared by a
//! `# TYPE` line before it, names and label syntax are valid, label values
//! are properly escaped, values are numbers, no series appears twice.

use std::collections::{BTreeMap, BTreeSet};

/// One sample line.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub value: f64,
}

/// A parsed page.
#[derive(Debug, Default)]
pub struct Page {
    /// Family name to type, from the `# TYPE` lines.
    pub types: BTreeMap<String, String>,
    /// Families with a `# HELP` line.
    pub helped: BTreeSet<String>,
    pub samples: Vec<Sample>,
}

impl Page {
    /// The family a sample name belongs to.
    pub fn family_of(&self, name: &str) -> Option<String> {
        if self.types.contains_key(name) {
            return Some(name.to_owned());
        }
        ["_bucket", "_sum", "_count"].iter().find_map(|suffix| {
            let base = name.strip_suffix(suffix)?;
            matches!(
                self.types.get(base).map(String::as_str),
                Some("histogram" | "summary")
            )
            .then(|| base.to_owned())
        })
    }

    fn declare(&mut self, name: &str, kind: &str) -> Result<(), String> {
        let known = ["counter", "gauge", "histogram", "summary", "untyped"];
        if !is_name(name, true) || !known.contains(&kind) {
            return Err(format!("bad TYPE {name} {kind}"));
        }
        if self.types.insert(name.into(), kind.into()).is_some() {
            return Err(format!("second TYPE for {name}"));
        }
        Ok(())
    }

    fn describe(&mut self, name: &str) -> Result<(), String> {
        if !self.helped.insert(name.into()) {
            return Err(format!("second HELP for {name}"));
        }
        Ok(())
    }

    /// The samples of one family.
    pub fn family(&self, family: &str) -> Vec<&Sample> {
        self.samples
            .iter()
            .filter(|s| self.family_of(&s.name).as_deref() == Some(family))
            .collect()
    }
}

fn is_name(s: &str, colon: bool) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || (colon && c == ':'))
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || (colon && c == ':'))
}

/// Parses `{a="x",b="y"}` (without the braces); returns the labels.
fn labels(mut s: &str) -> Result<BTreeMap<String, String>, String> {
    let mut out = BTreeMap::new();
    while !s.is_empty() {
        let (name, rest) = s.split_once("=\"").ok_or(format!("no =\" in {s:?}"))?;
        if !is_name(name, false) {
            return Err(format!("bad label name {name:?}"));
        }
        let mut value = String::new();
        let mut chars = rest.char_indices();
        let end = loop {
            match chars.next() {
                None => return Err(format!("unterminated value in {s:?}")),
                Some((i, '"')) => break i,
                Some((_, '\\')) => match chars.next() {
                    Some((_, '\\')) => value.push('\\'),
                    Some((_, '"')) => value.push('"'),
                    Some((_, 'n')) => value.push('\n'),
                    other => return Err(format!("bad escape {other:?} in {s:?}")),
                },
                Some((_, '\n')) => return Err("raw newline in a label value".into()),
                Some((_, c)) => value.push(c),
            }
        };
        if out.insert(name.to_owned(), value).is_some() {
            return Err(format!("label {name} twice"));
        }
        s = &rest[end + 1..];
        s = match s.strip_prefix(',') {
            Some(more) => more,
            None if s.is_empty() => s,
            None => return Err(format!("junk after a label value: {s:?}")),
        };
    }
    Ok(out)
}

fn value(s: &str) -> Result<f64, String> {
    match s {
        "+Inf" => Ok(f64::INFINITY),
        "-Inf" => Ok(f64::NEG_INFINITY),
        "NaN" => Ok(f64::NAN),
        _ => s.parse().map_err(|_| format!("bad value {s:?}")),
    }
}

/// Parses a whole page.
pub fn parse(text: &str) -> Result<Page, String> {
    let mut page = Page::default();
    let mut seen = BTreeSet::new();
    for line in text.lines() {
        if let Some(comment) = line.strip_prefix("# ") {
            let mut parts = comment.splitn(3, ' ');
            match (parts.next(), parts.next(), parts.next()) {
                (Some("TYPE"), Some(name), Some(kind)) => page.declare(name, kind)?,
                (Some("HELP"), Some(name), Some(_)) => page.describe(name)?,
                _ => {}
            }
            continue;
        }
        if line.is_empty() {
            continue;
        }
        let (series, v) = line
            .rsplit_once(' ')
            .ok_or(format!("no value in {line:?}"))?;
        let (name, labels) = match series.split_once('{') {
            Some((name, rest)) => {
                let inner = rest
                    .strip_suffix('}')
                    .ok_or(format!("unclosed labels in {line:?}"))?;
                (name, labels(inner)?)
            }
            None => (series, BTreeMap::new()),
        };
        if !is_name(name, true) {
            return Err(format!("bad metric name {name:?}"));
        }
        if page.family_of(name).is_none() {
            return Err(format!("{name} has no TYPE before it"));
        }
        if !seen.insert((name.to_owned(), labels.clone())) {
            return Err(format!("series twice: {line:?}"));
        }
        page.samples.push(Sample {
            name: name.into(),
            labels,
            value: value(v)?,
        });
    }
    Ok(page)
}

#[test]
fn reads_a_page_and_rejects_bad_ones() {
    let page = parse(
        "# HELP a_total A.\n# TYPE a_total counter\na_total{x=\"q\\\"\\\\\"} 3\n\
         # TYPE h histogram\nh_bucket{le=\"+Inf\"} 1\nh_sum 0.5\nh_count 1\n",
    )
    .expect("valid");
    assert_eq!(page.family("a_total")[0].labels["x"], "q\"\\");
    assert_eq!(page.family("h").len(), 3);
    for bad in [
        "a 1\n",
        "# TYPE a gauge\na{x=\"1} 1\n",
        "# TYPE a gauge\na{x=\"\\q\"} 1\n",
        "# TYPE a gauge\na one\n",
        "# TYPE a gauge\na 1\na 2\n",
        "# TYPE a gauge\n# TYPE a gauge\n",
    ] {
        assert!(parse(bad).is_err(), "{bad:?}");
    }
}
