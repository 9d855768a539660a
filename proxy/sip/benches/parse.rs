//! Parse an ~850-byte INVITE with SDP and read the routing fields.

use bytes::Bytes;
use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use sip::{Framing, Limits, Message};

const INVITE: &[u8] = b"INVITE sip:bob@biloxi.example.com SIP/2.0\r\n\
Via: SIP/2.0/UDP pc33.atlanta.example.com:5060;branch=z9hG4bK776asdhds;rport\r\n\
Max-Forwards: 70\r\n\
Route: <sip:edge1.example.net;lr>\r\n\
To: Bob <sip:bob@biloxi.example.com>\r\n\
From: Alice <sip:alice@atlanta.example.com>;tag=1928301774\r\n\
Call-ID: a84b4c76e66710@pc33.atlanta.example.com\r\n\
CSeq: 314159 INVITE\r\n\
Contact: <sip:alice@pc33.atlanta.example.com;transport=udp>\r\n\
Allow: INVITE, ACK, CANCEL, OPTIONS, BYE, REFER, NOTIFY, UPDATE\r\n\
Supported: replaces, timer, 100rel\r\n\
Content-Type: application/sdp\r\n\
Content-Length: 289\r\n\
\r\n\
v=0\r\n\
o=alice 2890844526 2890844526 IN IP4 pc33.atlanta.example.com\r\n\
s=Session SDP\r\n\
c=IN IP4 192.0.2.101\r\n\
t=0 0\r\n\
m=audio 49172 RTP/AVP 0 8 18 101\r\n\
a=rtpmap:0 PCMU/8000\r\n\
a=rtpmap:8 PCMA/8000\r\n\
a=rtpmap:18 G729/8000\r\n\
a=rtpmap:101 telephone-event/8000\r\n\
a=fmtp:101 0-16\r\n\
a=ptime:20\r\n\
a=sendrecv\r\n\
";

fn read_fields(m: &Message) -> usize {
    let via = m.top_via().expect("via");
    let branch = via.branch().expect("branch");
    let route = m.routes().next().expect("route").expect("route parses");
    let from_tag = m.from().expect("from").tag().expect("from tag");
    let to_tag = m.to().expect("to").tag();
    let call_id = m.call_id().expect("call-id");
    let cseq = m.cseq().expect("cseq");
    branch.len()
        + route.as_str().len()
        + from_tag.len()
        + to_tag.map_or(0, str::len)
        + call_id.len()
        + cseq.seq as usize
}

fn bench(c: &mut Criterion) {
    let bytes = Bytes::from_static(INVITE);
    let limits = Limits::default();
    assert!(
        (800..=900).contains(&INVITE.len()),
        "{} bytes",
        INVITE.len()
    );
    let mut g = c.benchmark_group("sip");
    g.throughput(Throughput::Bytes(INVITE.len() as u64));
    g.bench_function("parse_invite_read_routing_fields", |b| {
        b.iter(|| {
            let m = Message::parse(black_box(bytes.clone()), Framing::Datagram, &limits)
                .expect("parses");
            black_box(read_fields(&m))
        })
    });
    g.bench_function("parse_invite_only", |b| {
        b.iter(|| {
            Message::parse(black_box(bytes.clone()), Framing::Datagram, &limits).expect("parses")
        })
    });
    g.bench_function("parse_invite_full_check", |b| {
        b.iter(|| {
            let m = Message::parse(black_box(bytes.clone()), Framing::Datagram, &limits)
                .expect("parses");
            sip::validate::check_request(&m).expect("valid");
            black_box(read_fields(&m))
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
