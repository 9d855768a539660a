//! Property tests: the classifier never panics, whatever the bytes.
#![allow(clippy::unwrap_used)]

mod support;

use anysip_ebpf_common::{classify, classify_udp, IpAddrBytes};
use proptest::prelude::*;
use support::{config, config_any, ctx, Pkt, OUR_V4, OUR_V6};

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        let mut c = ctx();
        let _ = classify(&bytes, &config(), &mut c);
        let _ = classify(&bytes, &config_any(), &mut c);
        let _ = classify_udp(&IpAddrBytes::V4([1, 2, 3, 4]), &bytes, false, &config(), &mut c);
    }

    #[test]
    fn mutated_frames_never_panic(
        v6 in any::<bool>(),
        vlan in any::<bool>(),
        payload in proptest::collection::vec(any::<u8>(), 0..64),
        flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..8),
        cut in any::<prop::sample::Index>(),
    ) {
        let (src, dst) = if v6 { ("2001:db8:1::7", OUR_V6) } else { ("198.51.100.7", OUR_V4) };
        let mut p = Pkt::udp(src, dst, 5060, &payload);
        if vlan {
            p = p.vlan(3);
        }
        let mut frame = p.build();
        for (i, b) in flips {
            let i = i.index(frame.len());
            frame[i] = b;
        }
        let n = cut.index(frame.len() + 1);
        let mut c = ctx();
        let _ = classify(&frame[..n], &config_any(), &mut c);
        let _ = classify(&frame, &config(), &mut c);
    }
}
