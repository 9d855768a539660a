//! The fixture table shared by the parity test: frames with their expected
//! verdicts, in order, with configuration changes between sections.
#![allow(dead_code)]

use anysip_ebpf_common::config::{SHED_NEW_REQUESTS, SHED_STRICT};
use anysip_ebpf_common::sip::STUN_MAGIC_COOKIE;
use anysip_ebpf_common::{Config, Verdict};

use super::frames::{self, pad60, Frag, Pkt, OUR_V4, OUR_V6};

pub const INVITE: &[u8] = b"INVITE sip:bob@example.com SIP/2.0\r\nVia: SIP/2.0/UDP x\r\n\r\n";
pub const REGISTER: &[u8] = b"REGISTER sip:example.com SIP/2.0\r\n\r\n";
pub const OPTIONS: &[u8] = b"OPTIONS sip:example.com SIP/2.0\r\n\r\n";
pub const BYE: &[u8] = b"BYE sip:bob@example.com SIP/2.0\r\n\r\n";
pub const ACK: &[u8] = b"ACK sip:bob@example.com SIP/2.0\r\n\r\n";
pub const CANCEL: &[u8] = b"CANCEL sip:bob@example.com SIP/2.0\r\n\r\n";
pub const NOTIFY: &[u8] = b"NOTIFY sip:bob@example.com SIP/2.0\r\n\r\n";
pub const RESPONSE: &[u8] = b"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP x\r\n\r\n";
pub const JUNK: &[u8] = b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03 hello there";

/// Every method, by class.
pub const NEW_METHODS: &[&str] = &[
    "INVITE",
    "REGISTER",
    "OPTIONS",
    "SUBSCRIBE",
    "MESSAGE",
    "PUBLISH",
    "REFER",
    "FOO-BAR.x",
];
pub const IN_DIALOG_METHODS: &[&str] =
    &["ACK", "BYE", "CANCEL", "PRACK", "UPDATE", "INFO", "NOTIFY"];

/// One frame and the verdict both sides must give.
#[derive(Clone, Debug)]
pub struct Row {
    pub name: String,
    pub frame: Vec<u8>,
    pub want: Verdict,
}

/// A table step.
#[derive(Clone, Debug)]
pub enum Step {
    /// Both sides switch to this configuration.
    Config(Config),
    /// Both sides classify this frame.
    Row(Row),
}

pub fn stun() -> Vec<u8> {
    let mut s = vec![0u8; 28];
    s[1] = 1;
    s[3] = 8;
    s[4..8].copy_from_slice(&STUN_MAGIC_COOKIE.to_be_bytes());
    s
}

fn request(method: &str) -> Vec<u8> {
    format!("{method} sip:bob@example.com SIP/2.0\r\n\r\n").into_bytes()
}

/// The fixture configuration with 1 new request/s (so that the real clock
/// of the program refills nothing during a test), burst 3, shed factor 3.
pub fn config() -> Config {
    let mut c = frames::config();
    c.rate_per_sec = 1;
    c.burst = 3;
    c
}

/// Addresses of one family. `src(n)` gives a fresh source (its own bucket,
/// its own IPv6 /64) for each `n`.
struct Fam {
    name: &'static str,
    ours: &'static str,
    other_dst: &'static str,
    blocked: &'static str,
    v6: bool,
}

const V4: Fam = Fam {
    name: "v4",
    ours: OUR_V4,
    other_dst: "192.0.2.99",
    blocked: "203.0.113.5",
    v6: false,
};

const V6: Fam = Fam {
    name: "v6",
    ours: OUR_V6,
    other_dst: "2001:db8::99",
    blocked: "2001:db8:bad::5",
    v6: true,
};

impl Fam {
    fn src(&self, n: u32) -> String {
        if self.v6 {
            format!("2001:db8:1:{n:x}::7")
        } else {
            format!("198.51.{}.{}", 100 + n / 250, 1 + n % 250)
        }
    }
}

struct Builder {
    steps: Vec<Step>,
    next_src: u32,
}

impl Builder {
    fn row(&mut self, f: &Fam, name: &str, frame: Vec<u8>, want: Verdict) {
        self.steps.push(Step::Row(Row {
            name: format!("{} {name}", f.name),
            frame,
            want,
        }));
    }

    fn fresh(&mut self, f: &Fam) -> String {
        self.next_src += 1;
        f.src(self.next_src)
    }

    /// Single frames, each from a fresh source.
    fn singles(&mut self, f: &Fam) {
        use Verdict::*;
        let big_invite = {
            let mut v = INVITE.to_vec();
            v.resize(3000, b'x');
            v
        };
        let udp = |s: &mut Self, p: &[u8]| Pkt::udp(&s.fresh(f), f.ours, 5060, p);
        for m in NEW_METHODS.iter().chain(IN_DIALOG_METHODS) {
            let frame = udp(self, &request(m)).build();
            self.row(f, &format!("{m} fresh source"), frame, Pass);
        }
        let frame = Pkt::udp(&self.fresh(f), f.ours, 5080, INVITE).build();
        self.row(f, "invite on second port", frame, Pass);
        let frame = udp(self, INVITE).vlan(42).build();
        self.row(f, "invite vlan", frame, Pass);
        let frame = udp(self, RESPONSE).build();
        self.row(f, "response", frame, Pass);
        let frame = udp(self, b"SIP/2.0 180 Ringing\r\n\r\n").vlan(3).build();
        self.row(f, "response vlan", frame, Pass);
        let frame = pad60(udp(self, b"\r\n\r\n").build());
        self.row(f, "crlfcrlf padded", frame, Pass);
        let frame = pad60(udp(self, b"\r\n").build());
        self.row(f, "crlf padded", frame, Pass);
        let frame = udp(self, &stun()).build();
        self.row(f, "stun", frame, Pass);
        for (name, payload) in [
            ("junk", JUNK),
            ("lowercase sip/2.0", b"sip/2.0 200 OK"),
            ("six crlf", b"\r\n\r\n\r\n"),
            ("leading space", b" INVITE sip:x SIP/2.0"),
            (
                "stun without cookie",
                &[0, 1, 0, 0, 1, 2, 3, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
            ),
        ] {
            let frame = udp(self, payload).build();
            self.row(f, name, frame, DropNotSip);
        }
        // Tokens longer than the window are extension methods (RFC 4475
        // TC_INTMETH), and `!`... start tokens, not STUN.
        for (name, payload) in [
            ("17-char token", &b"AAAAAAAAAAAAAAAAA x"[..]),
            (
                "TC_INTMETH",
                b"!interesting-Method0123456789_*+`.%indeed'~ sip:1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*:&it+has=1,weird!*pas$wo~d_too.(doesn't-it)@example.com SIP/2.0\r\n\r\n",
            ),
        ] {
            let frame = Pkt::udp(&self.fresh(f), f.ours, 5060, payload).build();
            self.row(f, name, frame, Pass);
        }
        let frame = udp(self, JUNK).vlan(7).build();
        self.row(f, "junk vlan", frame, DropNotSip);
        let frame = pad60(udp(self, b"").build());
        self.row(f, "empty udp padded", frame, DropNotSip);
        let b = f.blocked;
        for (name, payload) in [
            ("invite", INVITE),
            ("response", RESPONSE),
            ("junk", JUNK),
            ("crlf", b"\r\n"),
        ] {
            let frame = Pkt::udp(b, f.ours, 5060, payload).build();
            self.row(f, &format!("blocked {name}"), frame, DropBlocklisted);
        }
        let rows = [
            (
                "tcp blocked 5061",
                Pkt::tcp(b, f.ours, 5061),
                DropBlocklisted,
            ),
            (
                "tcp blocked 5060",
                Pkt::tcp(b, f.ours, 5060),
                DropBlocklisted,
            ),
            (
                "tcp good 5061",
                Pkt::tcp(&self.fresh(f), f.ours, 5061),
                Pass,
            ),
            (
                "tcp blocked other port",
                Pkt::tcp(b, f.ours, 443),
                PassNotOurs,
            ),
            (
                "tcp to udp-only port",
                Pkt::tcp(b, f.ours, 5080),
                PassNotOurs,
            ),
            (
                "udp to tcp-only port",
                Pkt::udp(b, f.ours, 5061, JUNK),
                PassNotOurs,
            ),
            (
                "junk to other port",
                Pkt::udp(&self.fresh(f), f.ours, 53, JUNK),
                PassNotOurs,
            ),
            (
                "junk to other address",
                Pkt::udp(&self.fresh(f), f.other_dst, 5060, JUNK),
                PassNotOurs,
            ),
            (
                "blocked to other address",
                Pkt::udp(b, f.other_dst, 5060, JUNK),
                PassNotOurs,
            ),
            (
                "later fragment junk",
                udp(self, JUNK).frag(Frag::Later),
                PassNotOurs,
            ),
            (
                "later fragment blocked",
                Pkt::udp(b, f.ours, 5060, JUNK).frag(Frag::Later),
                PassNotOurs,
            ),
            (
                "first fragment invite",
                Pkt::udp(&self.fresh(f), f.ours, 5060, &big_invite)
                    .frag(Frag::First { keep: 1400 }),
                Pass,
            ),
            (
                "first fragment cut token",
                udp(self, INVITE).frag(Frag::First { keep: 3 }),
                Pass,
            ),
            (
                "first fragment no payload",
                udp(self, INVITE).frag(Frag::First { keep: 0 }),
                Pass,
            ),
            (
                "first fragment junk",
                udp(self, JUNK).frag(Frag::First { keep: 16 }),
                DropNotSip,
            ),
            (
                "first fragment blocked",
                Pkt::udp(b, f.ours, 5060, INVITE).frag(Frag::First { keep: 3 }),
                DropBlocklisted,
            ),
        ];
        for (name, pkt, want) in rows {
            self.row(f, name, pkt.build(), want);
        }
    }

    /// Frames cut short: inside the headers nothing is judged; inside the
    /// payload, what is present is.
    fn truncated(&mut self, f: &Fam) {
        for (payload, cut_want) in [(INVITE, Verdict::Pass), (JUNK, Verdict::DropNotSip)] {
            for vlan in [None, Some(5)] {
                let mut p = Pkt::udp(&self.fresh(f), f.ours, 5060, payload);
                p.vlan = vlan;
                let len = p.build().len();
                let hdr = len - payload.len();
                for cut in (14..len).step_by(3) {
                    // A fresh source each time: the cut INVITEs are new
                    // requests, which the rate limiter counts.
                    p.src = frames::ip(&self.fresh(f));
                    let want = if cut < hdr {
                        Verdict::PassNotOurs
                    } else if cut == hdr {
                        // Nothing of the payload: an incomplete prefix.
                        Verdict::Pass
                    } else if payload == JUNK && cut - hdr < 8 {
                        // JUNK starts like STUN (top bits clear); without
                        // the cookie bytes it is an incomplete prefix.
                        Verdict::Pass
                    } else {
                        cut_want
                    };
                    let name = format!("cut {cut} of {len} vlan {vlan:?}");
                    self.row(f, &name, p.build()[..cut].to_vec(), want);
                }
            }
        }
    }

    fn v6_extension_headers(&mut self) {
        let f = &V6;
        for ext in [&[0u8][..], &[0, 43], &[0, 43, 60], &[60, 60, 60, 60]] {
            let frame = Pkt::udp(&self.fresh(f), f.ours, 5060, JUNK)
                .ext(ext)
                .build();
            self.row(f, &format!("ext {ext:?} junk"), frame, Verdict::DropNotSip);
            let frame = Pkt::udp(&self.fresh(f), f.ours, 5060, INVITE)
                .ext(ext)
                .build();
            self.row(f, &format!("ext {ext:?} invite"), frame, Verdict::Pass);
        }
        let frame = Pkt::udp(&self.fresh(f), f.ours, 5060, JUNK)
            .ext(&[0, 60, 60, 60, 60])
            .build();
        self.row(f, "five extension headers", frame, Verdict::PassNotOurs);
        let p = Pkt::udp(&self.fresh(f), f.ours, 5060, JUNK).ext(&[0, 60]);
        self.row(
            f,
            "ext + first fragment junk",
            p.clone().frag(Frag::First { keep: 16 }).build(),
            Verdict::DropNotSip,
        );
        self.row(
            f,
            "ext + later fragment",
            p.frag(Frag::Later).build(),
            Verdict::PassNotOurs,
        );
    }

    /// One source over its burst (3), in both families.
    fn rate_limit(&mut self, f: &Fam) {
        use Verdict::*;
        let s = self.fresh(f);
        let send = |p: &[u8]| Pkt::udp(&s, f.ours, 5060, p).build();
        for i in 0..3 {
            self.row(f, &format!("burst invite {i}"), send(INVITE), Pass);
        }
        self.row(f, "over burst invite", send(INVITE), DropRateLimited);
        self.row(f, "over burst options", send(OPTIONS), DropRateLimited);
        self.row(f, "over burst register", send(REGISTER), DropRateLimited);
        self.row(
            f,
            "over burst extension",
            send(b"FOO sip:x SIP/2.0\r\n\r\n"),
            DropRateLimited,
        );
        for (name, p) in [
            ("bye", BYE),
            ("ack", ACK),
            ("cancel", CANCEL),
            ("notify", NOTIFY),
            ("response", RESPONSE),
            ("crlf", b"\r\n\r\n"),
        ] {
            for i in 0..2 {
                self.row(f, &format!("over burst {name} {i}"), send(p), Pass);
            }
        }
        self.row(f, "over burst stun", send(&stun()), Pass);
        let other = Pkt::udp(&self.fresh(f), f.ours, 5060, INVITE).build();
        self.row(f, "other source invite", other, Pass);
        if f.v6 {
            // Same /64 as `s` (which ends in ::7): same bucket.
            let same = s.replace("::7", "::8:8");
            let frame = Pkt::udp(&same, f.ours, 5060, INVITE).build();
            self.row(f, "same /64 invite", frame, DropRateLimited);
        }
    }

    fn shed_strict(&mut self, f: &Fam) {
        use Verdict::*;
        let s = self.fresh(f);
        let send = |p: &[u8]| Pkt::udp(&s, f.ours, 5060, p).build();
        self.row(f, "shed 1 invite", send(INVITE), Pass);
        self.row(f, "shed 1 register", send(REGISTER), Pass);
        self.row(f, "shed 1 invite over", send(INVITE), DropShed);
        self.row(f, "shed 1 register over", send(REGISTER), DropShed);
        self.row(f, "shed 1 bye", send(BYE), Pass);
        self.row(f, "shed 1 response", send(RESPONSE), Pass);
        let o = self.fresh(f);
        for i in 0..6 {
            let frame = Pkt::udp(&o, f.ours, 5060, OPTIONS).build();
            self.row(f, &format!("shed 1 options {i}"), frame, Pass);
        }
        let frame = Pkt::udp(&o, f.ours, 5060, OPTIONS).build();
        self.row(f, "shed 1 options over", frame, DropRateLimited);
    }

    fn shed_all_new(&mut self, f: &Fam) {
        use Verdict::*;
        for m in NEW_METHODS {
            let frame = Pkt::udp(&self.fresh(f), f.ours, 5060, &request(m)).build();
            self.row(f, &format!("shed 2 {m}"), frame, DropShed);
        }
        for m in IN_DIALOG_METHODS {
            let frame = Pkt::udp(&self.fresh(f), f.ours, 5060, &request(m)).build();
            self.row(f, &format!("shed 2 {m}"), frame, Pass);
        }
        for (name, p, want) in [
            ("response", RESPONSE.to_vec(), Pass),
            ("crlf", b"\r\n".to_vec(), Pass),
            ("stun", stun(), Pass),
            ("junk", JUNK.to_vec(), DropNotSip),
        ] {
            let frame = Pkt::udp(&self.fresh(f), f.ours, 5060, &p).build();
            self.row(f, &format!("shed 2 {name}"), frame, want);
        }
        let frame = Pkt::udp(f.blocked, f.ours, 5060, BYE).build();
        self.row(f, "shed 2 blocked bye", frame, DropBlocklisted);
    }
}

/// The whole table: sections at shed level 0, then 1, then 2.
pub fn steps() -> Vec<Step> {
    let mut b = Builder {
        steps: vec![Step::Config(config())],
        next_src: 0,
    };
    let mut arp = vec![0xffu8; 12];
    arp.extend_from_slice(&[0x08, 0x06]);
    arp.resize(60, 0);
    b.row(&V4, "arp", arp, Verdict::PassNotOurs);
    for f in [&V4, &V6] {
        b.singles(f);
        b.truncated(f);
        b.rate_limit(f);
    }
    b.v6_extension_headers();
    let mut strict = config();
    strict.burst = 6;
    strict.shed_level = SHED_STRICT;
    b.steps.push(Step::Config(strict));
    for f in [&V4, &V6] {
        b.shed_strict(f);
    }
    let mut all = config();
    all.shed_level = SHED_NEW_REQUESTS;
    b.steps.push(Step::Config(all));
    for f in [&V4, &V6] {
        b.shed_all_new(f);
    }
    b.steps
}
