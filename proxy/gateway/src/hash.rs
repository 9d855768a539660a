//! The seedless, stable hash behind `hash` (rendezvous) selection.
//!
//! Every edge instance must send a given key to the same backend, so the
//! hash is part of the fleet's contract: it has no per-process seed, it does
//! not depend on the platform (only integer arithmetic and correctly rounded
//! IEEE 754 `+ - * /`, no `libm`), and it must not change between versions
//! without a note in the release notes (changing it remaps every key).
//!
//! * key and member identities are hashed with 64-bit FNV-1a, finished with
//!   the MurmurHash3 64-bit finaliser (`fmix64`) for avalanche;
//! * the score of a (key, member) pair is `fmix64(key_hash ^ member_hash)`;
//! * equal weights: the member with the highest score wins (ties: the higher
//!   member hash);
//! * different weights: the logarithmic method of weighted rendezvous
//!   hashing: with `u` the top 52 bits of the score mapped into (0, 1), the
//!   member with the highest `weight / -ln(u)` wins. `ln` is computed here,
//!   by a fixed series, so that the result is bit-identical everywhere.
//!
//! A member's identity is its configured `uri` string, byte for byte.

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

/// 64-bit FNV-1a over `bytes`.
pub fn fnv1a64(bytes: &[u8]) -> u64 {
    let mut h = FNV_OFFSET;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(FNV_PRIME);
    }
    h
}

/// The MurmurHash3 64-bit finaliser: a bijection with full avalanche.
pub fn fmix64(mut k: u64) -> u64 {
    k ^= k >> 33;
    k = k.wrapping_mul(0xff51_afd7_ed55_8ccd);
    k ^= k >> 33;
    k = k.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    k ^= k >> 33;
    k
}

/// The hash of a selection key or of a member identity:
/// `fmix64(fnv1a64(bytes))`.
pub fn stable_hash(bytes: &[u8]) -> u64 {
    fmix64(fnv1a64(bytes))
}

/// The rendezvous score of a key (by its [`stable_hash`]) on a member (by
/// the [`stable_hash`] of its identity).
pub fn score(key_hash: u64, member_hash: u64) -> u64 {
    fmix64(key_hash ^ member_hash)
}

/// `weight / -ln(u)`, `u` being the top 52 bits of `score` mapped into the
/// open interval (0, 1). Higher wins.
pub fn weighted_score(score: u64, weight: u32) -> f64 {
    // (score >> 12) is below 2^52, so the conversion and the sum are exact
    // and u is strictly between 0 and 1.
    #[allow(clippy::cast_precision_loss)]
    let u = ((score >> 12) as f64 + 0.5) / 4_503_599_627_370_496.0; // 2^52
    f64::from(weight) / -ln(u)
}

/// Natural logarithm of `x` for `0 < x < 1` (normal numbers), using only
/// correctly rounded basic operations so that it is bit-identical on every
/// platform: `x = m * 2^e` with `m` in `[sqrt(1/2), sqrt(2))`, and
/// `ln m = 2 atanh(s)`, `s = (m - 1) / (m + 1)`, by its odd power series
/// (`|s| < 0.172`, 14 terms is well past double precision).
fn ln(x: f64) -> f64 {
    let bits = x.to_bits();
    let biased = i32::try_from((bits >> 52) & 0x7ff).unwrap_or(1023);
    let mut e = biased - 1023;
    let mut m = f64::from_bits((bits & 0x000f_ffff_ffff_ffff) | (1023_u64 << 52));
    if m > std::f64::consts::SQRT_2 {
        m /= 2.0;
        e += 1;
    }
    let s = (m - 1.0) / (m + 1.0);
    let s2 = s * s;
    let mut term = s;
    let mut sum = 0.0;
    let mut k = 1.0;
    for _ in 0..14 {
        sum += term / k;
        term *= s2;
        k += 2.0;
    }
    f64::from(e) * std::f64::consts::LN_2 + 2.0 * sum
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv_reference_vectors() {
        assert_eq!(fnv1a64(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a64(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a64(b"foobar"), 0x8594_4171_f739_67e8);
    }

    #[test]
    fn stable_values_are_pinned() {
        // These values are a fleet-wide contract: if this test fails, every
        // key moves to another backend after an upgrade.
        assert_eq!(stable_hash(b"sip:10.0.0.1:5060"), PINNED_MEMBER);
        assert_eq!(
            score(stable_hash(b"alice@example.com"), PINNED_MEMBER),
            PINNED_SCORE
        );
        assert_eq!(weighted_score(PINNED_SCORE, 100).to_bits(), PINNED_WEIGHTED);
    }

    const PINNED_MEMBER: u64 = 0xef0c_c648_fc76_f2f1;
    const PINNED_WEIGHTED: u64 = 0x40b4_2ac9_f2c6_bc48;
    const PINNED_SCORE: u64 = 0xfb16_d2bf_0057_2512;

    #[test]
    fn ln_matches_std_closely() {
        for i in 1..10_000u32 {
            let x = f64::from(i) / 10_000.0;
            let a = ln(x);
            let b = x.ln();
            assert!(
                (a - b).abs() <= 4.0 * f64::EPSILON * b.abs().max(1.0),
                "{x}: {a} vs {b}"
            );
        }
        for x in [1e-16, 2f64.powi(-54), 0.5, 0.999_999_999_999] {
            let (a, b) = (ln(x), x.ln());
            assert!(
                (a - b).abs() <= 4.0 * f64::EPSILON * b.abs().max(1.0),
                "{x}: {a} vs {b}"
            );
        }
    }

    #[test]
    fn weighted_score_orders_by_weight_for_equal_scores() {
        let s = 0x8000_0000_0000_0000;
        assert!(weighted_score(s, 2) > weighted_score(s, 1));
        assert!(weighted_score(u64::MAX, 1).is_finite());
        assert!(weighted_score(0, 1) > 0.0);
    }
}
