//! Seal and open of route tokens (IPv4 and IPv6), and the Via branch.
//!
//! `cargo bench -p anysip-tokencodec -- --warm-up-time 1 --measurement-time 3`

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use tokencodec::{
    Backend, BranchInputs, Flow, KeyId, KeyRing, Limits, Route, Secret, TokenCodec, Transport,
    TOKEN_EPOCH,
};

fn codec() -> TokenCodec {
    let mut ring =
        KeyRing::new(KeyId(1), [(KeyId(1), Secret::from_bytes([1; 32]))]).expect("valid ring");
    ring.insert(KeyId(2), Secret::from_bytes([2; 32]))
        .expect("insert");
    ring.set_current(KeyId(2)).expect("current");
    TokenCodec::new(ring, Limits::default())
}

fn route(ue: &str, local: &str, backend: &str) -> Route {
    Route {
        flow: Flow {
            transport: Transport::Tls,
            ue: ue.parse().expect("addr"),
            local: local.parse().expect("addr"),
            instance: 17,
            connection: 123_456,
        },
        backend: Backend {
            transport: Transport::Udp,
            addr: backend.parse().expect("addr"),
        },
    }
}

fn bench_routes(c: &mut Criterion) {
    let codec = codec();
    let now = TOKEN_EPOCH + 60_000_000;
    let cases = [
        (
            "ipv4",
            route("198.51.100.23:49152", "203.0.113.1:5061", "10.1.2.3:5060"),
        ),
        (
            "ipv6",
            route(
                "[2001:db8:1234:5678:9abc:def0:1234:5678]:49152",
                "[2001:db8::1]:5061",
                "[fd00::10:1:2:3]:5060",
            ),
        ),
    ];
    for (name, route) in cases {
        let sealed = codec.seal_route(&route, now).expect("seals");
        c.bench_function(&format!("seal_route/{name}"), |b| {
            b.iter(|| codec.seal_route(black_box(&route), black_box(now)))
        });
        c.bench_function(&format!("open_route/{name}"), |b| {
            b.iter(|| codec.open_route(black_box(sealed.as_str()), black_box(now)))
        });
    }
}

fn bench_branch(c: &mut Criterion) {
    let codec = codec();
    let inputs = BranchInputs {
        via_sent_by: b"198.51.100.23:49152",
        via_branch: b"z9hG4bK-524287-1---4f1c6b0ad1d2a3e1",
        from_tag: b"9fxced76sl",
        call_id: b"3848276298220188511@atlanta.example.com",
        cseq_number: 2,
        request_uri: b"sip:bob@biloxi.example.com",
        ..BranchInputs::default()
    };
    let branch = codec.branch(&inputs);
    c.bench_function("branch/make", |b| {
        b.iter(|| codec.branch(black_box(&inputs)))
    });
    c.bench_function("branch/verify", |b| {
        b.iter(|| codec.verify_branch(black_box(branch.as_str())))
    });
}

criterion_group!(benches, bench_routes, bench_branch);
criterion_main!(benches);
