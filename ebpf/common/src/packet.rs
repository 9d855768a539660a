//! Header parsing: Ethernet (with up to [`MAX_VLAN_TAGS`] 802.1Q/802.1ad
//! tags), IPv4, IPv6 (walking up to [`MAX_EXT_HEADERS`] extension headers),
//! then the UDP or TCP destination port.
//!
//! [`parse`] returns `None` for everything the classifier passes untouched:
//! non-IP, other transports, non-first fragments, and headers that are
//! truncated or malformed.

/// Ethernet header length (without VLAN tags).
pub const ETH_HLEN: usize = 14;
/// VLAN tags skipped at most.
pub const MAX_VLAN_TAGS: usize = 2;
/// IPv6 extension headers walked at most; more means "not ours".
pub const MAX_EXT_HEADERS: usize = 4;

const ETH_P_IPV4: u16 = 0x0800;
const ETH_P_IPV6: u16 = 0x86DD;
const ETH_P_8021Q: u16 = 0x8100;
const ETH_P_8021AD: u16 = 0x88A8;
const VLAN_HLEN: usize = 4;

const IPPROTO_HOPOPTS: u8 = 0;
const IPPROTO_TCP: u8 = 6;
const IPPROTO_UDP: u8 = 17;
const IPPROTO_ROUTING: u8 = 43;
const IPPROTO_FRAGMENT: u8 = 44;
const IPPROTO_AH: u8 = 51;
const IPPROTO_DSTOPTS: u8 = 60;

const IPV4_MIN_HLEN: usize = 20;
const IPV6_HLEN: usize = 40;
const UDP_HLEN: usize = 8;

use crate::bytes::{array, be16, PacketBytes};

/// An IP address as wire bytes (network order).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum IpAddrBytes {
    /// IPv4.
    V4([u8; 4]),
    /// IPv6.
    V6([u8; 16]),
}

/// The transport part of a parsed packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport<'a> {
    /// UDP.
    Udp {
        /// Destination port, host order.
        dst_port: u16,
        /// The UDP payload present in this frame, trimmed to the UDP length
        /// (so Ethernet padding is excluded).
        payload: &'a [u8],
        /// False for a first fragment, or when the UDP length runs past the
        /// IP packet or the frame: `payload` may be only a prefix.
        complete: bool,
    },
    /// TCP (only the destination port matters: blocklist only).
    Tcp {
        /// Destination port, host order.
        dst_port: u16,
    },
}

/// A parsed UDP or TCP over IP packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Packet<'a> {
    /// Source address.
    pub src: IpAddrBytes,
    /// Destination address.
    pub dst: IpAddrBytes,
    /// UDP or TCP.
    pub transport: Transport<'a>,
}

/// Where the transport part of a frame is, as offsets (the form the XDP
/// program uses: no slice is ever built from packet pointers).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum L4 {
    /// UDP.
    Udp {
        /// Destination port, host order.
        dst_port: u16,
        /// Offset of the first payload byte.
        start: usize,
        /// Offset just past the payload present in the frame, trimmed to
        /// the UDP length.
        end: usize,
        /// As [`Transport::Udp::complete`].
        complete: bool,
    },
    /// TCP.
    Tcp {
        /// Destination port, host order.
        dst_port: u16,
    },
}

/// A parsed UDP or TCP over IP frame, with the payload as offsets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Headers {
    /// Source address.
    pub src: IpAddrBytes,
    /// Destination address.
    pub dst: IpAddrBytes,
    /// UDP or TCP.
    pub l4: L4,
}

/// Parses a frame starting at the Ethernet header.
pub fn parse(pkt: &[u8]) -> Option<Packet<'_>> {
    let h = parse_headers(pkt)?;
    let transport = match h.l4 {
        L4::Udp {
            dst_port,
            start,
            end,
            complete,
        } => Transport::Udp {
            dst_port,
            payload: pkt.get(start..end)?,
            complete,
        },
        L4::Tcp { dst_port } => Transport::Tcp { dst_port },
    };
    Some(Packet {
        src: h.src,
        dst: h.dst,
        transport,
    })
}

/// Parses a frame starting at the Ethernet header, from any
/// [`PacketBytes`]: the generic form of [`parse`].
#[inline(always)]
pub fn parse_headers<P: PacketBytes + ?Sized>(pkt: &P) -> Option<Headers> {
    let mut ethertype = be16(pkt, 12)?;
    let mut off = ETH_HLEN;
    for _ in 0..MAX_VLAN_TAGS {
        if ethertype != ETH_P_8021Q && ethertype != ETH_P_8021AD {
            break;
        }
        ethertype = be16(pkt, off + 2)?;
        off += VLAN_HLEN;
    }
    // One verifier state for the IP header, whatever the number of tags.
    let off = pkt.opaque(off);
    match ethertype {
        ETH_P_IPV4 => parse_ipv4(pkt, off),
        ETH_P_IPV6 => parse_ipv6(pkt, off),
        _ => None,
    }
}

#[inline(always)]
fn parse_ipv4<P: PacketBytes + ?Sized>(p: &P, off: usize) -> Option<Headers> {
    let vihl = p.byte(off)?;
    if vihl >> 4 != 4 {
        return None;
    }
    let ihl = usize::from(vihl & 0x0F) * 4;
    let total = usize::from(be16(p, off + 2)?);
    if ihl < IPV4_MIN_HLEN || total < ihl {
        return None;
    }
    let frag = be16(p, off + 6)?;
    if frag & 0x1FFF != 0 {
        // Non-first fragment: no transport header to look at.
        return None;
    }
    let more_fragments = frag & 0x2000 != 0;
    let proto = p.byte(off + 9)?;
    let src = IpAddrBytes::V4(array(p, off + 12)?);
    let dst = IpAddrBytes::V4(array(p, off + 16)?);
    let l3_end = (off + total).min(p.len());
    let l4 = parse_transport(p, off + ihl, l3_end, proto, more_fragments)?;
    Some(Headers { src, dst, l4 })
}

#[inline(always)]
fn parse_ipv6<P: PacketBytes + ?Sized>(p: &P, off: usize) -> Option<Headers> {
    if p.byte(off)? >> 4 != 6 {
        return None;
    }
    let plen = usize::from(be16(p, off + 4)?);
    let mut next = p.byte(off + 6)?;
    let src = IpAddrBytes::V6(array(p, off + 8)?);
    let dst = IpAddrBytes::V6(array(p, off + 24)?);
    let mut l4 = off + IPV6_HLEN;
    let l3_end = if plen == 0 {
        // Jumbogram (or bogus): bounded by the frame.
        p.len()
    } else {
        (l4 + plen).min(p.len())
    };
    let mut fragmented = false;
    for _ in 0..MAX_EXT_HEADERS {
        let len = match next {
            IPPROTO_HOPOPTS | IPPROTO_ROUTING | IPPROTO_DSTOPTS => {
                (usize::from(p.byte(l4 + 1)?) + 1) * 8
            }
            IPPROTO_AH => (usize::from(p.byte(l4 + 1)?) + 2) * 4,
            IPPROTO_FRAGMENT => {
                let fo = be16(p, l4 + 2)?;
                if fo & 0xFFF8 != 0 {
                    // Non-first fragment.
                    return None;
                }
                // M flag set: first fragment. Offset 0 and M clear is an
                // atomic fragment, i.e. a whole datagram.
                fragmented |= fo & 1 != 0;
                8
            }
            _ => break,
        };
        next = p.byte(l4)?;
        // One verifier state per iteration, whatever the header kinds.
        l4 = p.opaque(l4 + len);
    }
    let l4 = parse_transport(p, l4, l3_end, next, fragmented)?;
    Some(Headers { src, dst, l4 })
}

#[inline(always)]
fn parse_transport<P: PacketBytes + ?Sized>(
    p: &P,
    l4: usize,
    l3_end: usize,
    proto: u8,
    fragmented: bool,
) -> Option<L4> {
    match proto {
        IPPROTO_UDP => {
            let start = l4 + UDP_HLEN;
            if start > l3_end {
                return None;
            }
            let dst_port = be16(p, l4 + 2)?;
            let ulen = usize::from(be16(p, l4 + 4)?);
            if ulen < UDP_HLEN {
                return None;
            }
            let udp_end = l4 + ulen;
            // A first fragment, or a UDP length past the IP packet or the
            // frame: what is present may be only a prefix.
            let (end, complete) = if fragmented || udp_end > l3_end {
                (l3_end, false)
            } else {
                (udp_end, true)
            };
            Some(L4::Udp {
                dst_port,
                start,
                end,
                complete,
            })
        }
        IPPROTO_TCP => {
            if l4 + 4 > l3_end {
                return None;
            }
            Some(L4::Tcp {
                dst_port: be16(p, l4 + 2)?,
            })
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eth(ethertype: u16) -> [u8; 14] {
        let mut e = [0u8; 14];
        e[12..14].copy_from_slice(&ethertype.to_be_bytes());
        e
    }

    /// IPv4 with a 4-byte option (IHL 6), UDP with a 2-byte payload, padded
    /// to 60 bytes.
    #[test]
    fn ipv4_options_and_padding() {
        let mut f = [0u8; 60];
        f[..14].copy_from_slice(&eth(ETH_P_IPV4));
        let ip = &mut f[14..];
        ip[0] = 0x46;
        ip[2..4].copy_from_slice(&34u16.to_be_bytes()); // 24 + 8 + 2
        ip[9] = IPPROTO_UDP;
        ip[12..16].copy_from_slice(&[10, 0, 0, 1]);
        ip[16..20].copy_from_slice(&[10, 0, 0, 2]);
        let udp = &mut ip[24..];
        udp[2..4].copy_from_slice(&5060u16.to_be_bytes());
        udp[4..6].copy_from_slice(&10u16.to_be_bytes());
        udp[8..10].copy_from_slice(b"\r\n");
        let p = parse(&f).unwrap_or_else(|| panic!("parse"));
        assert_eq!(p.src, IpAddrBytes::V4([10, 0, 0, 1]));
        assert_eq!(p.dst, IpAddrBytes::V4([10, 0, 0, 2]));
        assert_eq!(
            p.transport,
            Transport::Udp {
                dst_port: 5060,
                payload: b"\r\n",
                complete: true
            }
        );
        // IHL below 5 is malformed.
        f[14] = 0x44;
        assert_eq!(parse(&f), None);
    }

    /// An IPv6 atomic fragment (offset 0, M clear) is a whole datagram.
    #[test]
    fn ipv6_atomic_fragment() {
        let mut f = [0u8; 14 + 40 + 8 + 8 + 3];
        f[..14].copy_from_slice(&eth(ETH_P_IPV6));
        let ip = &mut f[14..];
        ip[0] = 0x60;
        ip[4..6].copy_from_slice(&19u16.to_be_bytes());
        ip[6] = IPPROTO_FRAGMENT;
        ip[40] = IPPROTO_UDP;
        let udp = &mut ip[48..];
        udp[2..4].copy_from_slice(&5060u16.to_be_bytes());
        udp[4..6].copy_from_slice(&11u16.to_be_bytes());
        udp[8..11].copy_from_slice(b"abc");
        let p = parse(&f).unwrap_or_else(|| panic!("parse"));
        assert!(matches!(
            p.transport,
            Transport::Udp {
                complete: true,
                payload: b"abc",
                ..
            }
        ));
        // M set: first fragment, not complete.
        f[14 + 43] = 1;
        let p = parse(&f).unwrap_or_else(|| panic!("parse"));
        assert!(matches!(
            p.transport,
            Transport::Udp {
                complete: false,
                ..
            }
        ));
        // Non-zero offset: later fragment, not parsed.
        f[14 + 43] = 8;
        assert_eq!(parse(&f), None);
    }
}
