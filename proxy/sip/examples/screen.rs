//! Prints what an element does with a message file: `cargo run -p anysip-sip --example screen FILE`.
fn main() {
    for path in std::env::args().skip(1) {
        let bytes = std::fs::read(&path).expect("readable file");
        let s = sip::validate::screen(
            bytes.into(),
            sip::Framing::Datagram,
            &sip::Limits::default(),
        );
        match s {
            sip::validate::Screened::Request(m) => println!("{path}: request {:?}", m.method()),
            sip::validate::Screened::Response(m) => println!("{path}: response {:?}", m.status()),
            sip::validate::Screened::Reject { rejection, .. } => {
                println!("{path}: reject {rejection}")
            }
            sip::validate::Screened::Drop(r) => println!("{path}: drop {r:?}"),
        }
    }
}
