//! Table tests of `classify` over built frames, for IPv4 and IPv6.
#![allow(clippy::unwrap_used)]

mod support;

use anysip_ebpf_common::config::{SHED_NEW_REQUESTS, SHED_STRICT};
use anysip_ebpf_common::sip::STUN_MAGIC_COOKIE;
use anysip_ebpf_common::{classify, Config, Verdict};
use support::{config, config_any, ctx, pad60, Frag, Pkt, TestCtx, OUR_V4, OUR_V6};

/// Addresses used for one address family.
struct Fam {
    name: &'static str,
    ours: &'static str,
    other_dst: &'static str,
    good: &'static str,
    good_same_64: &'static str,
    good_other_64: &'static str,
    blocked: &'static str,
}

const V4: Fam = Fam {
    name: "v4",
    ours: OUR_V4,
    other_dst: "192.0.2.99",
    good: "198.51.100.7",
    good_same_64: "198.51.100.8",
    good_other_64: "198.51.100.8",
    blocked: "203.0.113.5",
};

const V6: Fam = Fam {
    name: "v6",
    ours: OUR_V6,
    other_dst: "2001:db8::99",
    good: "2001:db8:1::7",
    good_same_64: "2001:db8:1::8:8",
    good_other_64: "2001:db8:2::7",
    blocked: "2001:db8:bad::5",
};

const INVITE: &[u8] = b"INVITE sip:bob@example.com SIP/2.0\r\nVia: SIP/2.0/UDP x\r\n\r\n";
const REGISTER: &[u8] = b"REGISTER sip:example.com SIP/2.0\r\n\r\n";
const OPTIONS: &[u8] = b"OPTIONS sip:example.com SIP/2.0\r\n\r\n";
const BYE: &[u8] = b"BYE sip:bob@example.com SIP/2.0\r\n\r\n";
const ACK: &[u8] = b"ACK sip:bob@example.com SIP/2.0\r\n\r\n";
const CANCEL: &[u8] = b"CANCEL sip:bob@example.com SIP/2.0\r\n\r\n";
const NOTIFY: &[u8] = b"NOTIFY sip:bob@example.com SIP/2.0\r\n\r\n";
const RESPONSE: &[u8] = b"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP x\r\n\r\n";
const JUNK: &[u8] = b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03 hello there";

fn stun() -> Vec<u8> {
    let mut s = vec![0u8; 28];
    s[1] = 1; // Binding request
    s[3] = 8;
    s[4..8].copy_from_slice(&STUN_MAGIC_COOKIE.to_be_bytes());
    s
}

fn run(frame: &[u8], cfg: &Config, ctx: &mut TestCtx) -> Verdict {
    classify(frame, cfg, ctx)
}

fn table(f: &Fam) -> Vec<(&'static str, Vec<u8>, Verdict)> {
    use Verdict::*;
    let u = |p: &[u8]| Pkt::udp(f.good, f.ours, 5060, p);
    let big_invite = {
        let mut v = INVITE.to_vec();
        v.resize(3000, b'x');
        v
    };
    vec![
        ("invite", u(INVITE).build(), Pass),
        (
            "invite on second port",
            Pkt::udp(f.good, f.ours, 5080, INVITE).build(),
            Pass,
        ),
        ("invite vlan", u(INVITE).vlan(42).build(), Pass),
        ("response", u(RESPONSE).build(), Pass),
        ("bye", u(BYE).build(), Pass),
        ("crlfcrlf padded", pad60(u(b"\r\n\r\n").build()), Pass),
        ("crlf padded", pad60(u(b"\r\n").build()), Pass),
        ("stun", u(&stun()).build(), Pass),
        (
            "extension method",
            u(b"FOO sip:x SIP/2.0\r\n\r\n").build(),
            Pass,
        ),
        ("junk", u(JUNK).build(), DropNotSip),
        ("junk vlan", u(JUNK).vlan(7).build(), DropNotSip),
        ("empty udp padded", pad60(u(b"").build()), DropNotSip),
        (
            "lowercase sip/2.0",
            u(b"sip/2.0 200 OK").build(),
            DropNotSip,
        ),
        ("six crlf", u(b"\r\n\r\n\r\n").build(), DropNotSip),
        (
            "blocked invite",
            Pkt::udp(f.blocked, f.ours, 5060, INVITE).build(),
            DropBlocklisted,
        ),
        (
            "blocked response",
            Pkt::udp(f.blocked, f.ours, 5060, RESPONSE).build(),
            DropBlocklisted,
        ),
        (
            "blocked junk",
            Pkt::udp(f.blocked, f.ours, 5060, JUNK).build(),
            DropBlocklisted,
        ),
        (
            "tcp blocked",
            Pkt::tcp(f.blocked, f.ours, 5061).build(),
            DropBlocklisted,
        ),
        ("tcp good", Pkt::tcp(f.good, f.ours, 5061).build(), Pass),
        (
            "tcp other port blocked src",
            Pkt::tcp(f.blocked, f.ours, 443).build(),
            PassNotOurs,
        ),
        (
            "tcp to udp-only port",
            Pkt::tcp(f.blocked, f.ours, 5080).build(),
            PassNotOurs,
        ),
        (
            "udp to tcp-only port",
            Pkt::udp(f.good, f.ours, 5061, JUNK).build(),
            PassNotOurs,
        ),
        (
            "junk to other port",
            Pkt::udp(f.good, f.ours, 53, JUNK).build(),
            PassNotOurs,
        ),
        (
            "junk to other address",
            Pkt::udp(f.good, f.other_dst, 5060, JUNK).build(),
            PassNotOurs,
        ),
        (
            "blocked to other address",
            Pkt::udp(f.blocked, f.other_dst, 5060, JUNK).build(),
            PassNotOurs,
        ),
        (
            "later fragment junk",
            u(JUNK).frag(Frag::Later).build(),
            PassNotOurs,
        ),
        (
            "later fragment blocked",
            Pkt::udp(f.blocked, f.ours, 5060, JUNK)
                .frag(Frag::Later)
                .build(),
            PassNotOurs,
        ),
        (
            "first fragment invite",
            Pkt::udp(f.good, f.ours, 5060, &big_invite)
                .frag(Frag::First { keep: 1400 })
                .build(),
            Pass,
        ),
        (
            "first fragment cut token",
            u(INVITE).frag(Frag::First { keep: 3 }).build(),
            Pass,
        ),
        (
            "first fragment no payload",
            u(INVITE).frag(Frag::First { keep: 0 }).build(),
            Pass,
        ),
        (
            "first fragment junk",
            u(JUNK).frag(Frag::First { keep: 16 }).build(),
            DropNotSip,
        ),
        (
            "first fragment blocked",
            Pkt::udp(f.blocked, f.ours, 5060, INVITE)
                .frag(Frag::First { keep: 3 })
                .build(),
            DropBlocklisted,
        ),
    ]
}

fn check_table(f: &Fam) {
    let cfg = config();
    for (name, frame, want) in table(f) {
        let mut c = ctx();
        assert_eq!(run(&frame, &cfg, &mut c), want, "{} {name}", f.name);
    }
}

#[test]
fn table_v4() {
    check_table(&V4);
}

#[test]
fn table_v6() {
    check_table(&V6);
}

#[test]
fn v6_extension_headers() {
    let cfg = config();
    let base = Pkt::udp(V6.good, V6.ours, 5060, JUNK);
    for ext in [&[0u8][..], &[0, 43], &[0, 43, 60], &[60, 60, 60, 60]] {
        let mut c = ctx();
        let v = run(&base.clone().ext(ext).build(), &cfg, &mut c);
        assert_eq!(v, Verdict::DropNotSip, "ext {ext:?}");
        let p = Pkt::udp(V6.good, V6.ours, 5060, INVITE).ext(ext);
        assert_eq!(run(&p.build(), &cfg, &mut c), Verdict::Pass, "ext {ext:?}");
    }
    // More than MAX_EXT_HEADERS: not walked, passed untouched.
    let mut c = ctx();
    let v = run(
        &base.clone().ext(&[0, 60, 60, 60, 60]).build(),
        &cfg,
        &mut c,
    );
    assert_eq!(v, Verdict::PassNotOurs);
    // Extension headers plus fragment header.
    let p = base.clone().ext(&[0, 60]).frag(Frag::First { keep: 16 });
    assert_eq!(run(&p.build(), &cfg, &mut c), Verdict::DropNotSip);
    let p = base.clone().ext(&[0, 60]).frag(Frag::Later);
    assert_eq!(run(&p.build(), &cfg, &mut c), Verdict::PassNotOurs);
    let p = Pkt::udp(V6.good, V6.ours, 5060, INVITE)
        .ext(&[0])
        .frag(Frag::First { keep: 3 });
    assert_eq!(run(&p.build(), &cfg, &mut c), Verdict::Pass);
}

#[test]
fn any_address() {
    let cfg = config_any();
    for f in [&V4, &V6] {
        let mut c = ctx();
        let p = Pkt::udp(f.good, f.other_dst, 5060, JUNK).build();
        assert_eq!(run(&p, &cfg, &mut c), Verdict::DropNotSip, "{}", f.name);
        let p = Pkt::udp(f.good, f.other_dst, 5060, INVITE).build();
        assert_eq!(run(&p, &cfg, &mut c), Verdict::Pass, "{}", f.name);
        let p = Pkt::udp(f.good, f.other_dst, 53, JUNK).build();
        assert_eq!(run(&p, &cfg, &mut c), Verdict::PassNotOurs, "{}", f.name);
    }
}

#[test]
fn non_ip_and_truncated_headers_pass() {
    let cfg = config();
    let mut c = ctx();
    // ARP.
    let mut arp = vec![0xffu8; 12];
    arp.extend_from_slice(&[0x08, 0x06]);
    arp.resize(60, 0);
    assert_eq!(run(&arp, &cfg, &mut c), Verdict::PassNotOurs);
    assert_eq!(run(&[], &cfg, &mut c), Verdict::PassNotOurs);
    for f in [&V4, &V6] {
        for payload in [INVITE, JUNK] {
            for vlan in [None, Some(5)] {
                let mut p = Pkt::udp(f.good, f.ours, 5060, payload);
                p.vlan = vlan;
                let frame = p.build();
                let hdr = frame.len() - payload.len();
                for cut in 0..frame.len() {
                    let v = run(&frame[..cut], &cfg, &mut ctx());
                    if cut < hdr {
                        assert_eq!(v, Verdict::PassNotOurs, "{} cut {cut}", f.name);
                    } else if payload == INVITE {
                        // A cut datagram is judged on what is present.
                        assert_eq!(v, Verdict::Pass, "{} cut {cut}", f.name);
                    } else {
                        assert!(
                            matches!(v, Verdict::Pass | Verdict::DropNotSip),
                            "{} cut {cut}: {v:?}",
                            f.name
                        );
                    }
                }
            }
        }
    }
}

/// Sends `payload` from `src` at the current time.
fn send(c: &mut TestCtx, cfg: &Config, src: &str, dst: &str, payload: &[u8]) -> Verdict {
    run(&Pkt::udp(src, dst, 5060, payload).build(), cfg, c)
}

fn rate_limit(f: &Fam) {
    let cfg = config(); // 10/s, burst 3
    let mut c = ctx();
    c.now = 1_000_000_000;
    for _ in 0..3 {
        assert_eq!(send(&mut c, &cfg, f.good, f.ours, INVITE), Verdict::Pass);
    }
    assert_eq!(
        send(&mut c, &cfg, f.good, f.ours, INVITE),
        Verdict::DropRateLimited
    );
    assert_eq!(
        send(&mut c, &cfg, f.good, f.ours, OPTIONS),
        Verdict::DropRateLimited
    );
    assert_eq!(
        send(&mut c, &cfg, f.good, f.ours, REGISTER),
        Verdict::DropRateLimited
    );
    assert_eq!(
        send(&mut c, &cfg, f.good, f.ours, b"FOO sip:x SIP/2.0\r\n\r\n"),
        Verdict::DropRateLimited
    );
    // Never limited: responses, in-dialog requests, keepalives, STUN.
    for p in [BYE, ACK, CANCEL, NOTIFY, RESPONSE, b"\r\n\r\n"] {
        for _ in 0..5 {
            assert_eq!(
                send(&mut c, &cfg, f.good, f.ours, p),
                Verdict::Pass,
                "{}",
                f.name
            );
        }
    }
    assert_eq!(send(&mut c, &cfg, f.good, f.ours, &stun()), Verdict::Pass);
    // Another source (another /64 for IPv6) has its own bucket.
    assert_eq!(
        send(&mut c, &cfg, f.good_other_64, f.ours, INVITE),
        Verdict::Pass
    );
    // 10/s: one token back after 100 ms.
    c.now += 99_000_000;
    assert_eq!(
        send(&mut c, &cfg, f.good, f.ours, INVITE),
        Verdict::DropRateLimited
    );
    c.now += 1_000_000;
    assert_eq!(send(&mut c, &cfg, f.good, f.ours, INVITE), Verdict::Pass);
    assert_eq!(
        send(&mut c, &cfg, f.good, f.ours, INVITE),
        Verdict::DropRateLimited
    );
    // Long idle: a full burst again, no more.
    c.now += 3_600_000_000_000;
    for _ in 0..3 {
        assert_eq!(send(&mut c, &cfg, f.good, f.ours, INVITE), Verdict::Pass);
    }
    assert_eq!(
        send(&mut c, &cfg, f.good, f.ours, INVITE),
        Verdict::DropRateLimited
    );
}

#[test]
fn rate_limit_v4() {
    rate_limit(&V4);
}

#[test]
fn rate_limit_v6() {
    rate_limit(&V6);
}

#[test]
fn v6_slash_64_shares_a_bucket() {
    let cfg = config();
    let mut c = ctx();
    assert_eq!(send(&mut c, &cfg, V6.good, V6.ours, INVITE), Verdict::Pass);
    assert_eq!(
        send(&mut c, &cfg, V6.good_same_64, V6.ours, INVITE),
        Verdict::Pass
    );
    assert_eq!(send(&mut c, &cfg, V6.good, V6.ours, INVITE), Verdict::Pass);
    assert_eq!(
        send(&mut c, &cfg, V6.good_same_64, V6.ours, INVITE),
        Verdict::DropRateLimited
    );
    assert_eq!(
        send(&mut c, &cfg, V6.good_other_64, V6.ours, INVITE),
        Verdict::Pass
    );
    assert_eq!(c.buckets.len(), 2);
    // IPv4 is per /32.
    let mut c = ctx();
    for _ in 0..3 {
        assert_eq!(send(&mut c, &cfg, V4.good, V4.ours, INVITE), Verdict::Pass);
    }
    assert_eq!(
        send(&mut c, &cfg, V4.good_same_64, V4.ours, INVITE),
        Verdict::Pass
    );
}

#[test]
fn rate_limit_off_when_rate_is_zero() {
    let mut cfg = config();
    cfg.rate_per_sec = 0;
    let mut c = ctx();
    for _ in 0..100 {
        assert_eq!(send(&mut c, &cfg, V4.good, V4.ours, INVITE), Verdict::Pass);
    }
    assert!(c.buckets.is_empty());
}

#[test]
fn shed_level_1_stricter_invite_and_register() {
    for f in [&V4, &V6] {
        let mut cfg = config();
        cfg.burst = 6;
        cfg.shed_level = SHED_STRICT; // factor 3: burst 2 for INVITE/REGISTER
        let mut c = ctx();
        assert_eq!(send(&mut c, &cfg, f.good, f.ours, INVITE), Verdict::Pass);
        assert_eq!(send(&mut c, &cfg, f.good, f.ours, REGISTER), Verdict::Pass);
        assert_eq!(
            send(&mut c, &cfg, f.good, f.ours, INVITE),
            Verdict::DropShed
        );
        assert_eq!(
            send(&mut c, &cfg, f.good, f.ours, REGISTER),
            Verdict::DropShed
        );
        assert_eq!(send(&mut c, &cfg, f.good, f.ours, BYE), Verdict::Pass);
        assert_eq!(send(&mut c, &cfg, f.good, f.ours, RESPONSE), Verdict::Pass);
        // A fresh source: OPTIONS keeps the normal burst of 6.
        for _ in 0..6 {
            assert_eq!(
                send(&mut c, &cfg, f.good_other_64, f.ours, OPTIONS),
                Verdict::Pass
            );
        }
        assert_eq!(
            send(&mut c, &cfg, f.good_other_64, f.ours, OPTIONS),
            Verdict::DropRateLimited
        );
        // Stricter rate: 10/3 = 3/s, so 1 token needs 333.3 ms.
        c.now += 300_000_000;
        assert_eq!(
            send(&mut c, &cfg, f.good, f.ours, INVITE),
            Verdict::DropShed
        );
        c.now += 40_000_000;
        assert_eq!(send(&mut c, &cfg, f.good, f.ours, INVITE), Verdict::Pass);
        // Shed off again: normal limits.
        cfg.shed_level = 0;
        c.now += 1_000_000_000;
        for _ in 0..6 {
            assert_eq!(send(&mut c, &cfg, f.good, f.ours, INVITE), Verdict::Pass);
        }
        assert_eq!(
            send(&mut c, &cfg, f.good, f.ours, INVITE),
            Verdict::DropRateLimited
        );
    }
}

#[test]
fn shed_level_2_drops_new_requests_only() {
    for level in [SHED_NEW_REQUESTS, 7] {
        for f in [&V4, &V6] {
            let mut cfg = config();
            cfg.shed_level = level;
            cfg.rate_per_sec = 0; // shedding does not depend on limiting
            let mut c = ctx();
            for p in [INVITE, REGISTER, OPTIONS, &b"PUBLISH sip:x SIP/2.0\r\n"[..]] {
                assert_eq!(send(&mut c, &cfg, f.good, f.ours, p), Verdict::DropShed);
            }
            for p in [BYE, ACK, CANCEL, NOTIFY, RESPONSE, b"\r\n"] {
                assert_eq!(send(&mut c, &cfg, f.good, f.ours, p), Verdict::Pass);
            }
            assert_eq!(send(&mut c, &cfg, f.good, f.ours, &stun()), Verdict::Pass);
            assert_eq!(
                send(&mut c, &cfg, f.good, f.ours, JUNK),
                Verdict::DropNotSip
            );
            assert_eq!(
                send(&mut c, &cfg, f.blocked, f.ours, BYE),
                Verdict::DropBlocklisted
            );
        }
    }
}
