//! An RFC 5626 UA over TCP (sipp holds one connection to one address; an
//! outbound UA keeps one flow per edge): one `+sip.instance`, one thread
//! per flow. Each flow connects to its edge, REGISTERs with digest,
//! `Supported: path, outbound` and its `reg-id`, keeps the connection and
//! answers what arrives on it: INVITE (180, 200 with the Record-Route
//! copied), BYE (200); ACK is taken. Each flow counts the INVITEs it
//! answered, so a test sees which flow a call took.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use sip::digest::{Challenge, ClientRequest, NonceCount, Secret};
use sip::framer::{Frame, StreamFramer};
use sip::{Framing, Limits, Message};

/// One flow of a UA: its thread and what it answered.
pub struct Flow {
    pub reg_id: u32,
    /// INVITEs answered on this flow.
    pub invites: Arc<AtomicU32>,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// A UA instance with its flows; stops them when dropped.
pub struct Ua {
    pub flows: Vec<Flow>,
    stop: Arc<AtomicBool>,
}

impl Ua {
    /// `user` (password = user name) as instance `instance`, one flow per
    /// `(reg_id, edge)`, registered in that order, each once the one
    /// before it is registered, `gap` apart (the registrar orders an AoR's
    /// bindings most recent first, to the second).
    pub fn start(user: &str, instance: &str, flows: &[(u32, &str)], gap: Duration) -> Ua {
        let stop = Arc::new(AtomicBool::new(false));
        let mut out = Vec::new();
        for (i, (reg_id, edge)) in flows.iter().enumerate() {
            if i > 0 {
                std::thread::sleep(gap);
            }
            let invites = Arc::new(AtomicU32::new(0));
            let registered = Arc::new(AtomicBool::new(false));
            let t = {
                let (user, instance, edge) =
                    (user.to_owned(), instance.to_owned(), (*edge).to_owned());
                let (invites, registered, stop, reg_id) =
                    (invites.clone(), registered.clone(), stop.clone(), *reg_id);
                std::thread::spawn(move || {
                    run(
                        &user,
                        &instance,
                        reg_id,
                        &edge,
                        &invites,
                        &registered,
                        &stop,
                    )
                })
            };
            let t0 = Instant::now();
            while !registered.load(Ordering::SeqCst) && t0.elapsed() < Duration::from_secs(10) {
                std::thread::sleep(Duration::from_millis(20));
            }
            assert!(
                registered.load(Ordering::SeqCst),
                "{user} flow {reg_id} did not register through {edge}"
            );
            out.push(Flow {
                reg_id: *reg_id,
                invites,
                thread: Some(t),
            });
        }
        Ua { flows: out, stop }
    }

    /// INVITEs answered on the flow with `reg_id`.
    pub fn invites(&self, reg_id: u32) -> u32 {
        self.flows
            .iter()
            .find(|f| f.reg_id == reg_id)
            .map_or(0, |f| f.invites.load(Ordering::SeqCst))
    }
}

impl Drop for Ua {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        for f in &mut self.flows {
            if let Some(t) = f.thread.take() {
                let _ = t.join();
            }
        }
    }
}

/// The next message on `conn`, or None when it ended, `stop` is set or
/// `limit` passed.
fn next(
    conn: &mut TcpStream,
    framer: &mut StreamFramer,
    stop: &AtomicBool,
    limit: Duration,
) -> Option<Message> {
    let t0 = Instant::now();
    let mut buf = [0u8; 16384];
    loop {
        match framer.next_frame() {
            Ok(Some(Frame::Message(b))) => {
                return Message::parse(b, Framing::Stream, &Limits::default()).ok();
            }
            Ok(Some(_)) => continue,
            Ok(None) => {}
            Err(_) => return None,
        }
        if stop.load(Ordering::SeqCst) || t0.elapsed() > limit {
            return None;
        }
        match conn.read(&mut buf) {
            Ok(0) => return None,
            Ok(n) => framer.push(&buf[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => return None,
        }
    }
}

fn register(user: &str, instance: &str, reg_id: u32, local: &str, cseq: u32, auth: &str) -> String {
    format!(
        "REGISTER sip:domain.local SIP/2.0\r\n\
         Via: SIP/2.0/TCP {local};branch=z9hG4bK-{user}-{reg_id}-{cseq};rport\r\n\
         From: <sip:{user}@domain.local>;tag={user}{reg_id}\r\nTo: <sip:{user}@domain.local>\r\n\
         Call-ID: {user}-flow-{reg_id}@test\r\nCSeq: {cseq} REGISTER\r\n\
         Supported: path, outbound\r\n\
         Contact: <sip:{user}@{local};transport=tcp;ob>;+sip.instance=\"{instance}\";reg-id={reg_id}\r\n\
         {auth}Expires: 600\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
    )
}

fn run(
    user: &str,
    instance: &str,
    reg_id: u32,
    edge: &str,
    invites: &AtomicU32,
    registered: &AtomicBool,
    stop: &AtomicBool,
) {
    let mut conn = TcpStream::connect(edge).unwrap();
    conn.set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let local = conn.local_addr().unwrap().to_string();
    let mut framer = StreamFramer::new(Limits::default());
    let wait = Duration::from_secs(10);
    conn.write_all(register(user, instance, reg_id, &local, 1, "").as_bytes())
        .unwrap();
    let challenge = next(&mut conn, &mut framer, stop, wait).expect("401 to REGISTER");
    assert_eq!(challenge.status(), Some(401), "{challenge:?}");
    let c = Challenge::parse(challenge.header_by_name("WWW-Authenticate").unwrap()).unwrap();
    let creds = c
        .respond(
            user,
            Secret::Password(user),
            &ClientRequest {
                method: "REGISTER",
                uri: "sip:domain.local",
                cnonce: "5f0e1d2c",
                nc: NonceCount::FIRST,
            },
        )
        .unwrap();
    let auth = format!("Authorization: {creds}\r\n");
    conn.write_all(register(user, instance, reg_id, &local, 2, &auth).as_bytes())
        .unwrap();
    let ok = next(&mut conn, &mut framer, stop, wait).expect("200 to REGISTER");
    assert_eq!(ok.status(), Some(200), "{ok:?}");
    // RFC 5626 §6: the registrar applied outbound to this flow.
    assert!(
        ok.header_by_name("Require")
            .is_some_and(|r| r.contains("outbound")),
        "{ok:?}"
    );
    registered.store(true, Ordering::SeqCst);
    let contact = format!("<sip:{user}@{local};transport=tcp;ob>");
    while let Some(m) = next(&mut conn, &mut framer, stop, Duration::from_secs(600)) {
        let mut tag = String::new();
        if m.method().is_some_and(|x| x.as_str() == "INVITE") {
            let n = invites.fetch_add(1, Ordering::SeqCst) + 1;
            tag = format!("{user}{reg_id}x{n}");
        }
        let out = super::uas::answer(&m, &tag, &contact);
        for b in out {
            if conn.write_all(&b).is_err() {
                return;
            }
        }
    }
}
