#![allow(clippy::unwrap_used)]

use super::*;

/// The Dutch plan: +31, trunk 0, access 00.
fn nl() -> Locale {
    Locale::new("31")
}

/// `(input, e164, plain, international, national)` under [`nl`].
const SHAPES: &[(&str, &str, &str, &str, &str)] = &[
    (
        "+31612345678",
        "+31612345678",
        "31612345678",
        "0031612345678",
        "0612345678",
    ),
    (
        "0031612345678",
        "+31612345678",
        "31612345678",
        "0031612345678",
        "0612345678",
    ),
    (
        "0201234567",
        "+31201234567",
        "31201234567",
        "0031201234567",
        "0201234567",
    ),
    (
        "612345678",
        "+31612345678",
        "31612345678",
        "0031612345678",
        "0612345678",
    ),
    // Another country: no national form in this plan.
    (
        "+14155550123",
        "+14155550123",
        "14155550123",
        "0014155550123",
        "0014155550123",
    ),
    // Visual separators are skipped.
    (
        "+31-6-1234.5678",
        "+31612345678",
        "31612345678",
        "0031612345678",
        "0612345678",
    ),
    (
        "(020) 123 4567",
        "+31201234567",
        "31201234567",
        "0031201234567",
        "0201234567",
    ),
];

#[test]
fn every_input_shape_formats_into_the_four_shapes() {
    for (input, e164, plain, intl, national) in SHAPES {
        let n = Number::parse(input, &nl()).unwrap();
        assert_eq!(n.format(NumberFormat::E164), *e164, "{input}");
        assert_eq!(n.format(NumberFormat::Plain), *plain, "{input}");
        assert_eq!(n.format(NumberFormat::International), *intl, "{input}");
        assert_eq!(n.format(NumberFormat::National), *national, "{input}");
        assert_eq!(n.to_string(), *e164);
    }
}

#[test]
fn home_number_splits_into_country_code_and_nsn() {
    let n = Number::parse("0031612345678", &nl()).unwrap();
    assert_eq!(n.country_code(), Some("31"));
    assert_eq!(n.nsn(), "612345678");
    assert_eq!(n.digits(), "31612345678");
}

#[test]
fn foreign_number_has_no_country_code_and_keeps_all_digits() {
    let n = Number::parse("+14155550123", &nl()).unwrap();
    assert_eq!(n.country_code(), None);
    assert_eq!(n.nsn(), "14155550123");
}

#[test]
fn another_home_reads_its_national_numbers() {
    let uk = nl().with_home("+44");
    let n = Number::parse("01614960000", &uk).unwrap();
    assert_eq!(n.format(NumberFormat::E164), "+441614960000");
    assert_eq!(n.format(NumberFormat::National), "01614960000");
}

#[test]
fn assume_international_reads_bare_digits_as_international() {
    let locale = Locale {
        assume: AssumeForm::International,
        ..nl()
    };
    let n = Number::parse("31612345678", &locale).unwrap();
    assert_eq!(n.format(NumberFormat::E164), "+31612345678");
    assert_eq!(n.country_code(), Some("31"));
}

#[test]
fn letters_and_symbols_are_not_numbers() {
    for raw in ["alice", "anonymous", "06123x5678", "*21#", "+", "--", "1+2"] {
        assert_eq!(
            Number::parse(raw, &nl()),
            Err(NumberError::NotANumber(raw.to_owned())),
            "{raw}"
        );
    }
}

#[test]
fn empty_input_is_empty() {
    assert_eq!(Number::parse("", &nl()), Err(NumberError::Empty));
    assert_eq!(Number::parse("  ", &nl()), Err(NumberError::Empty));
}

#[test]
fn short_codes_are_not_numbers() {
    for raw in ["112", "911", "0800", "1234"] {
        assert!(
            matches!(Number::parse(raw, &nl()), Err(NumberError::NotANumber(_))),
            "{raw}"
        );
    }
    // Five national digits is enough.
    assert!(Number::parse("12345", &nl()).is_ok());
}

#[test]
fn an_explicit_plus_is_trusted_however_short() {
    let n = Number::parse("+3112345", &nl()).unwrap();
    assert_eq!(n.format(NumberFormat::E164), "+3112345");
}

#[test]
fn the_bare_access_prefix_is_not_a_number() {
    assert!(matches!(
        Number::parse("00", &nl()),
        Err(NumberError::NotANumber(_))
    ));
}

#[test]
fn more_than_fifteen_digits_is_too_long() {
    assert!(matches!(
        Number::parse("+1234567890123456", &nl()),
        Err(NumberError::TooLong(_))
    ));
    assert!(Number::parse("+123456789012345", &nl()).is_ok());
}

#[test]
fn no_home_country_keeps_national_digits_without_code() {
    let n = Number::parse("0612345678", &Locale::default()).unwrap();
    assert_eq!(n.format(NumberFormat::E164), "+612345678");
    assert_eq!(n.country_code(), None);
}

#[test]
fn format_tokens_and_aliases() {
    let cases = [
        ("e164", NumberFormat::E164),
        ("E.164", NumberFormat::E164),
        ("+e164", NumberFormat::E164),
        (" PLAIN ", NumberFormat::Plain),
        ("bare", NumberFormat::Plain),
        ("e164_plain", NumberFormat::Plain),
        ("intl", NumberFormat::International),
        ("00", NumberFormat::International),
        ("international", NumberFormat::International),
        ("0X", NumberFormat::National),
        ("national", NumberFormat::National),
    ];
    for (token, want) in cases {
        assert_eq!(token.parse::<NumberFormat>(), Ok(want), "{token}");
    }
    assert_eq!(
        "octal".parse::<NumberFormat>(),
        Err(NumberError::UnknownFormat("octal".into()))
    );
    for f in [
        NumberFormat::E164,
        NumberFormat::Plain,
        NumberFormat::International,
        NumberFormat::National,
    ] {
        assert_eq!(f.as_str().parse::<NumberFormat>(), Ok(f));
    }
}
