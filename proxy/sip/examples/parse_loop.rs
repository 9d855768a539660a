//! A parse loop for profilers: `cargo run --release -p anysip-sip --example parse_loop FILE [N] [full]`.
use bytes::Bytes;

fn main() {
    let mut args = std::env::args().skip(1);
    let path = args.next().expect("usage: parse_loop FILE [N]");
    let n: usize = args
        .next()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000_000);
    let bytes = Bytes::from(std::fs::read(path).expect("readable file"));
    let full = args.next().is_some_and(|a| a == "full");
    let limits = sip::Limits::default();
    let mut total = 0usize;
    for _ in 0..n {
        let m =
            sip::Message::parse(bytes.clone(), sip::Framing::Datagram, &limits).expect("parses");
        if full {
            total += sip::validate::check_request(&m).is_ok() as usize;
        }
        total += m
            .top_via()
            .ok()
            .and_then(|v| v.branch())
            .map_or(0, str::len);
        total += m
            .routes()
            .next()
            .and_then(Result::ok)
            .map_or(0, |r| r.as_str().len());
        total += m.from().ok().and_then(|f| f.tag()).map_or(0, str::len);
        total += m.to().ok().and_then(|f| f.tag()).map_or(0, str::len);
        total += m.call_id().map_or(0, str::len);
        total += m.cseq().map_or(0, |c| c.seq as usize);
    }
    println!("{total}");
}
