//! Test fixtures: a frame builder (Ethernet, optional 802.1Q, IPv4/IPv6 with
//! extension headers and fragments, UDP/TCP) and a table-backed [`Context`].
#![allow(dead_code, clippy::unwrap_used)]

use std::collections::HashMap;
use std::net::IpAddr;

use anysip_ebpf_common::config::{FLAG_ANY_V4, FLAG_ANY_V6};
use anysip_ebpf_common::{Config, Context, SourceKey, TokenBucket};

/// Which fragment, if any, the frame is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Frag {
    /// A whole datagram.
    None,
    /// First fragment carrying only the first `keep` payload bytes (the UDP
    /// length still covers the whole payload).
    First { keep: usize },
    /// A later fragment (offset 1480) carrying payload bytes, no UDP header.
    Later,
}

/// A frame to build.
#[derive(Clone, Debug)]
pub struct Pkt {
    pub vlan: Option<u16>,
    pub src: IpAddr,
    pub dst: IpAddr,
    pub tcp: bool,
    pub dport: u16,
    pub payload: Vec<u8>,
    pub frag: Frag,
    /// IPv6 extension header types (0, 43, 60) placed before the transport
    /// (and before the fragment header, if any).
    pub ext: Vec<u8>,
}

pub fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

impl Pkt {
    pub fn udp(src: &str, dst: &str, dport: u16, payload: &[u8]) -> Pkt {
        Pkt {
            vlan: None,
            src: ip(src),
            dst: ip(dst),
            tcp: false,
            dport,
            payload: payload.to_vec(),
            frag: Frag::None,
            ext: Vec::new(),
        }
    }

    pub fn tcp(src: &str, dst: &str, dport: u16) -> Pkt {
        Pkt {
            tcp: true,
            ..Pkt::udp(src, dst, dport, b"")
        }
    }

    pub fn vlan(mut self, id: u16) -> Pkt {
        self.vlan = Some(id);
        self
    }

    pub fn frag(mut self, frag: Frag) -> Pkt {
        self.frag = frag;
        self
    }

    pub fn ext(mut self, types: &[u8]) -> Pkt {
        self.ext = types.to_vec();
        self
    }

    fn l4(&self) -> Vec<u8> {
        if let Frag::Later = self.frag {
            return self.payload.clone();
        }
        let mut l4 = Vec::new();
        if self.tcp {
            l4.extend_from_slice(&40000u16.to_be_bytes());
            l4.extend_from_slice(&self.dport.to_be_bytes());
            l4.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x02, 0xff, 0xff, 0, 0, 0, 0]);
            return l4;
        }
        let ulen = u16::try_from(8 + self.payload.len()).unwrap();
        l4.extend_from_slice(&5060u16.to_be_bytes());
        l4.extend_from_slice(&self.dport.to_be_bytes());
        l4.extend_from_slice(&ulen.to_be_bytes());
        l4.extend_from_slice(&[0, 0]);
        let keep = match self.frag {
            Frag::First { keep } => keep.min(self.payload.len()),
            _ => self.payload.len(),
        };
        l4.extend_from_slice(&self.payload[..keep]);
        l4
    }

    fn proto(&self) -> u8 {
        if self.tcp {
            6
        } else {
            17
        }
    }

    pub fn build(&self) -> Vec<u8> {
        let mut f = vec![0x02, 0, 0, 0, 0, 1, 0x02, 0, 0, 0, 0, 2];
        if let Some(id) = self.vlan {
            f.extend_from_slice(&0x8100u16.to_be_bytes());
            f.extend_from_slice(&id.to_be_bytes());
        }
        let l4 = self.l4();
        match (self.src, self.dst) {
            (IpAddr::V4(s), IpAddr::V4(d)) => {
                f.extend_from_slice(&0x0800u16.to_be_bytes());
                let total = u16::try_from(20 + l4.len()).unwrap();
                let frag: u16 = match self.frag {
                    Frag::None => 0x4000, // DF
                    Frag::First { .. } => 0x2000,
                    Frag::Later => 185,
                };
                f.extend_from_slice(&[0x45, 0]);
                f.extend_from_slice(&total.to_be_bytes());
                f.extend_from_slice(&[0x12, 0x34]);
                f.extend_from_slice(&frag.to_be_bytes());
                f.extend_from_slice(&[64, self.proto(), 0, 0]);
                f.extend_from_slice(&s.octets());
                f.extend_from_slice(&d.octets());
            }
            (IpAddr::V6(s), IpAddr::V6(d)) => {
                f.extend_from_slice(&0x86DDu16.to_be_bytes());
                // Chain: ext..., [fragment], transport.
                let mut chain: Vec<u8> = self.ext.clone();
                if self.frag != Frag::None {
                    chain.push(44);
                }
                let mut hdrs = Vec::new();
                for (i, &t) in chain.iter().enumerate() {
                    let next = chain.get(i + 1).copied().unwrap_or(self.proto());
                    if t == 44 {
                        let fo: u16 = match self.frag {
                            Frag::Later => 185 << 3,
                            _ => 1,
                        };
                        hdrs.extend_from_slice(&[next, 0]);
                        hdrs.extend_from_slice(&fo.to_be_bytes());
                        hdrs.extend_from_slice(&[0, 0, 0, 7]);
                    } else {
                        // 16-byte options header (hdr ext len 1) with PadN.
                        hdrs.extend_from_slice(&[next, 1, 1, 12]);
                        hdrs.extend_from_slice(&[0; 12]);
                    }
                }
                let first = chain.first().copied().unwrap_or(self.proto());
                let plen = u16::try_from(hdrs.len() + l4.len()).unwrap();
                f.extend_from_slice(&[0x60, 0, 0, 0]);
                f.extend_from_slice(&plen.to_be_bytes());
                f.extend_from_slice(&[first, 64]);
                f.extend_from_slice(&s.octets());
                f.extend_from_slice(&d.octets());
                f.extend_from_slice(&hdrs);
            }
            _ => panic!("mixed address families"),
        }
        f.extend_from_slice(&l4);
        f
    }
}

/// Pads a frame to the 60-byte Ethernet minimum with zeros, as a NIC does.
pub fn pad60(mut f: Vec<u8>) -> Vec<u8> {
    if f.len() < 60 {
        f.resize(60, 0);
    }
    f
}

/// A [`Context`] backed by prefix lists and a `HashMap`.
#[derive(Debug, Default)]
pub struct TestCtx {
    pub now: u64,
    pub block4: Vec<([u8; 4], u32)>,
    pub block6: Vec<([u8; 16], u32)>,
    pub buckets: HashMap<SourceKey, TokenBucket>,
}

fn prefix_match(addr: &[u8], net: &[u8], bits: u32) -> bool {
    let a = addr
        .iter()
        .fold(0u128, |acc, &b| (acc << 8) | u128::from(b));
    let n = net.iter().fold(0u128, |acc, &b| (acc << 8) | u128::from(b));
    let width = u32::try_from(addr.len() * 8).unwrap();
    if bits == 0 {
        return true;
    }
    let shift = width - bits;
    (a >> shift) == (n >> shift)
}

impl Context for TestCtx {
    fn blocked_v4(&self, addr: [u8; 4]) -> bool {
        self.block4.iter().any(|(n, b)| prefix_match(&addr, n, *b))
    }
    fn blocked_v6(&self, addr: [u8; 16]) -> bool {
        self.block6.iter().any(|(n, b)| prefix_match(&addr, n, *b))
    }
    fn now_ns(&self) -> u64 {
        self.now
    }
    fn bucket(&mut self, key: &SourceKey, fresh: TokenBucket) -> Option<&mut TokenBucket> {
        Some(self.buckets.entry(*key).or_insert(fresh))
    }
}

pub const OUR_V4: &str = "192.0.2.10";
pub const OUR_V6: &str = "2001:db8::10";

/// UDP 5060/5080, TCP 5060/5061 on 192.0.2.10 and 2001:db8::10; 10 new
/// requests/s, burst 3, shed factor 3.
pub fn config() -> Config {
    let mut c = Config::EMPTY;
    c.udp_ports[0] = 5060;
    c.udp_ports[1] = 5080;
    c.tcp_ports[0] = 5060;
    c.tcp_ports[1] = 5061;
    c.v4_addrs[0] = [192, 0, 2, 10];
    c.v4_count = 1;
    let IpAddr::V6(v6) = ip(OUR_V6) else {
        unreachable!()
    };
    c.v6_addrs[0] = v6.octets();
    c.v6_count = 1;
    c.rate_per_sec = 10;
    c.burst = 3;
    c.shed_factor = 3;
    c
}

/// Any-address variant of [`config`].
pub fn config_any() -> Config {
    let mut c = config();
    c.v4_count = 0;
    c.v6_count = 0;
    c.flags = FLAG_ANY_V4 | FLAG_ANY_V6;
    c
}

/// Blocks 203.0.113.0/24 and 2001:db8:bad::/48.
pub fn ctx() -> TestCtx {
    let IpAddr::V6(v6) = ip("2001:db8:bad::") else {
        unreachable!()
    };
    TestCtx {
        block4: vec![([203, 0, 113, 0], 24)],
        block6: vec![(v6.octets(), 48)],
        ..TestCtx::default()
    }
}
