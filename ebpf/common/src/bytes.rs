//! [`PacketBytes`]: checked random access to the bytes the classifier reads.
//!
//! The classifier never indexes a slice directly: it asks for one byte at an
//! offset and gets `None` past the end. On the host a `[u8]` answers; in the
//! XDP program a view over `ctx.data()..ctx.data_end()` answers with a
//! pointer comparison against `data_end` before every load, which is the
//! form the eBPF verifier accepts (a slice length computed from packet
//! pointers is a plain scalar to the verifier and proves nothing).

/// Offsets at or above this are never read. The verifier needs every
/// packet offset bounded, with room below its own limit (0xFFFF) for the
/// constant part; the deepest header chain the parser walks (two VLAN tags,
/// IPv6 with four 2 KiB extension headers) ends well below, and an XDP
/// frame's linear part is at most a page. All ones, so it also serves as a
/// mask.
pub const MAX_OFFSET: usize = 0x3FFF;

/// Bytes read one at a time, each access checked.
pub trait PacketBytes {
    /// Number of bytes (for logic only: every read is checked by
    /// [`PacketBytes::byte`] anyway).
    fn len(&self) -> usize;

    /// The byte at `off`, or `None` at or past the end.
    fn byte(&self, off: usize) -> Option<u8>;

    /// True when there are no bytes.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Returns `off` (an offset below [`MAX_OFFSET`]) unchanged. The XDP
    /// implementation hides the value from the verifier's range tracking
    /// (then bounds it again), so that the many header paths (VLAN tags,
    /// IPv6 extension headers) reach the payload code in one state, which
    /// the verifier checks once instead of once per path. Nothing to hide
    /// on the host.
    #[inline(always)]
    fn opaque(&self, off: usize) -> usize {
        off
    }
}

impl PacketBytes for [u8] {
    #[inline(always)]
    fn len(&self) -> usize {
        <[u8]>::len(self)
    }

    #[inline(always)]
    fn byte(&self, off: usize) -> Option<u8> {
        self.get(off).copied()
    }
}

impl<const N: usize> PacketBytes for [u8; N] {
    #[inline(always)]
    fn len(&self) -> usize {
        N
    }

    #[inline(always)]
    fn byte(&self, off: usize) -> Option<u8> {
        self.get(off).copied()
    }
}

impl<T: PacketBytes + ?Sized> PacketBytes for &T {
    #[inline(always)]
    fn len(&self) -> usize {
        (**self).len()
    }

    #[inline(always)]
    fn opaque(&self, off: usize) -> usize {
        (**self).opaque(off)
    }

    #[inline(always)]
    fn byte(&self, off: usize) -> Option<u8> {
        (**self).byte(off)
    }
}

/// The bytes `start..start + len` of another [`PacketBytes`] (a UDP payload
/// inside a frame).
#[derive(Clone, Copy, Debug)]
pub struct Window<'a, P: ?Sized> {
    pkt: &'a P,
    start: usize,
    len: usize,
}

impl<'a, P: PacketBytes + ?Sized> Window<'a, P> {
    /// The window `start..end` of `pkt` (empty when `end <= start`).
    #[inline(always)]
    pub fn new(pkt: &'a P, start: usize, end: usize) -> Self {
        Window {
            pkt,
            start,
            len: end.saturating_sub(start),
        }
    }
}

impl<P: PacketBytes + ?Sized> PacketBytes for Window<'_, P> {
    #[inline(always)]
    fn len(&self) -> usize {
        self.len
    }

    #[inline(always)]
    fn byte(&self, off: usize) -> Option<u8> {
        if off >= self.len || off >= MAX_OFFSET {
            return None;
        }
        self.pkt.byte(self.start.checked_add(off)?)
    }
}

/// A big-endian `u16` at `off`.
#[inline(always)]
pub fn be16<P: PacketBytes + ?Sized>(p: &P, off: usize) -> Option<u16> {
    let a = p.byte(off)?;
    let b = p.byte(off.checked_add(1)?)?;
    Some(u16::from_be_bytes([a, b]))
}

/// `N` bytes at `off`.
#[inline(always)]
pub fn array<P: PacketBytes + ?Sized, const N: usize>(p: &P, off: usize) -> Option<[u8; N]> {
    let mut out = [0u8; N];
    let mut i = 0;
    while i < N {
        out[i] = p.byte(off.checked_add(i)?)?;
        i += 1;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_and_loads() {
        let b: &[u8] = &[1, 2, 3, 4, 5];
        assert_eq!(be16(b, 3), Some(0x0405));
        assert_eq!(be16(b, 4), None);
        assert_eq!(array::<_, 2>(b, 1), Some([2, 3]));
        assert_eq!(array::<_, 2>(b, usize::MAX), None);
        let w = Window::new(b, 1, 4);
        assert_eq!(w.len(), 3);
        assert_eq!(w.byte(2), Some(4));
        assert_eq!(w.byte(3), None, "the window ends before the slice");
        let w = Window::new(b, 4, 9);
        assert_eq!((w.byte(0), w.byte(1)), (Some(5), None));
        assert!(Window::new(b, 4, 2).is_empty());
        assert_eq!(b.opaque(41), 41);
        let big = [7u8; MAX_OFFSET + 2];
        assert_eq!(big.byte(MAX_OFFSET), Some(7), "slices read anywhere");
        let w = Window::new(&big[..], 0, big.len());
        assert_eq!(w.byte(MAX_OFFSET - 1), Some(7));
        assert_eq!(w.byte(MAX_OFFSET), None, "windows stop at MAX_OFFSET");
    }
}
