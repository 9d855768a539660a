//! Stream framer: any bytes in any chunking never panic, chunking does not
//! change the frames, and the buffer stays bounded.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sip::framer::{Frame, StreamFramer};
use sip::Limits;

fn frames(data: &[u8], chunk: usize, limits: Limits) -> (Vec<Frame>, bool) {
    let mut f = StreamFramer::new(limits);
    let mut out = Vec::new();
    for c in data.chunks(chunk.max(1)) {
        f.push(c);
        loop {
            match f.next_frame() {
                Ok(Some(fr)) => out.push(fr),
                Ok(None) => break,
                Err(_) => return (out, true),
            }
        }
        assert!(f.buffered() <= limits.max_message_size + chunk.max(1));
    }
    (out, false)
}

fuzz_target!(|input: (u8, &[u8])| {
    let (chunk, data) = input;
    let limits = Limits { max_message_size: 4096, max_headers: 64 };
    let (whole, err_whole) = frames(data, data.len().max(1), limits);
    let (pieces, err_pieces) = frames(data, usize::from(chunk % 17) + 1, limits);
    if !err_whole && !err_pieces {
        assert_eq!(whole, pieces);
    }
    for f in whole {
        if let Frame::Message(m) = f {
            let _ = sip::Message::parse(m, sip::Framing::Stream, &limits);
        }
    }
});
