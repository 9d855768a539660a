//! Two and three relays on loopback: messages cross and are answered; a
//! peer outside the fleet, or naming another instance, is refused; a dead
//! peer is answered at once; garbage from a fleet peer closes its
//! connection.
#![allow(clippy::unwrap_used)]

use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use relay::{
    tls, Ack, Deliver, Failure, FlowTransport, Header, Kind, Message, Observer, Relay, Settings,
};

#[derive(Default)]
struct Seen {
    failures: Mutex<HashMap<&'static str, u64>>,
    ins: Mutex<Vec<u16>>,
}

impl Observer for Seen {
    fn relayed_in(&self, peer: u16) {
        self.ins.lock().unwrap().push(peer);
    }
    fn failure(&self, reason: Failure) {
        *self
            .failures
            .lock()
            .unwrap()
            .entry(reason.as_str())
            .or_default() += 1;
    }
}

impl Seen {
    fn failures(&self, reason: &str) -> u64 {
        self.failures
            .lock()
            .unwrap()
            .get(reason)
            .copied()
            .unwrap_or(0)
    }
}

/// Delivers to connection 1 only; records what it got.
#[derive(Default)]
struct Owner {
    got: Mutex<Vec<(Header, Bytes)>>,
    /// Whether each sender waited for the answer.
    answered: Mutex<Vec<bool>>,
}

impl Deliver for Owner {
    fn deliver(
        &self,
        header: Header,
        sip: Bytes,
        answered: bool,
    ) -> Pin<Box<dyn Future<Output = Ack> + Send + '_>> {
        Box::pin(async move {
            self.answered.lock().unwrap().push(answered);
            // Connection 99: a slow write (the in-flight window stays taken).
            if header.connection == 99 {
                tokio::time::sleep(Duration::from_millis(300)).await;
            }
            let ack = if header.connection == 1 {
                Ack::Delivered
            } else {
                Ack::FlowGone
            };
            self.got.lock().unwrap().push((header, sip));
            ack
        })
    }
}

fn free_udp() -> SocketAddr {
    std::net::UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

fn settings(instance: u16, listen: SocketAddr, peers: Vec<(u16, SocketAddr)>) -> Settings {
    Settings {
        instance,
        listen,
        peers,
        connect_timeout: Duration::from_millis(300),
        answer_timeout: Duration::from_millis(600),
        keep_alive: Duration::from_millis(200),
        idle_timeout: Duration::from_millis(1000),
        max_in_flight: 64,
        max_peers: 16,
        max_message: 65_535,
    }
}

/// A relay for `instance` on `listen` with `peers`, its certificate issued
/// by `ca` (certificate, key).
fn relay(
    ca: &(String, String),
    instance: u16,
    listen: SocketAddr,
    peers: Vec<(u16, SocketAddr)>,
    observer: Arc<Seen>,
) -> Relay {
    let (cert, key) = tls::issue(&ca.0, &ca.1, instance).unwrap();
    Relay::bind(
        settings(instance, listen, peers),
        &ca.0,
        &cert,
        &key,
        observer,
    )
    .unwrap()
}

async fn send(r: &Relay, target: u16, connection: u32, sip: &'static [u8]) -> Result<Ack, Failure> {
    send_as(r, target, connection, sip, true).await
}

/// Sends a message that waits for its owner's answer (`answer`), or one
/// that goes one way.
async fn send_as(
    r: &Relay,
    target: u16,
    connection: u32,
    sip: &'static [u8],
    answer: bool,
) -> Result<Ack, Failure> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    r.send(
        Message {
            kind: Kind::Request,
            target,
            transport: FlowTransport::Tcp,
            connection,
            ue: "192.0.2.1:5060".parse().unwrap(),
            sip: Bytes::from_static(sip),
            answer,
        },
        Box::new(move |o| {
            let _ = tx.send(o);
        }),
    )?;
    tokio::time::timeout(Duration::from_secs(3), rx)
        .await
        .expect("outcome within 3 s")
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_cross_and_strangers_are_refused() {
    let ca = tls::new_ca().unwrap();
    let (a_addr, b_addr, c_addr) = (free_udp(), free_udp(), free_udp());
    let seen_a = Arc::new(Seen::default());
    let seen_b = Arc::new(Seen::default());
    let a = relay(
        &ca,
        1,
        a_addr,
        vec![(2, b_addr), (3, c_addr), (9, free_udp())],
        seen_a.clone(),
    );
    let b = relay(&ca, 2, b_addr, vec![(1, a_addr)], seen_b.clone());
    let owner = Arc::new(Owner::default());
    tokio::spawn(b.clone().serve(owner.clone()));
    tokio::spawn(a.clone().serve(Arc::new(Owner::default())));

    // Delivered, and a flow gone.
    assert_eq!(
        send(&a, 2, 1, b"OPTIONS sip:x SIP/2.0\r\n\r\n").await,
        Ok(Ack::Delivered)
    );
    assert_eq!(
        send(&a, 2, 7, b"BYE sip:x SIP/2.0\r\n\r\n").await,
        Ok(Ack::FlowGone)
    );
    {
        let got = owner.got.lock().unwrap();
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].0.source, 1);
        assert_eq!(got[0].0.target, 2);
        assert_eq!(&got[0].1[..], b"OPTIONS sip:x SIP/2.0\r\n\r\n");
    }
    assert_eq!(seen_b.ins.lock().unwrap().as_slice(), &[1, 1]);
    // One way (a unidirectional stream, no answer): done once written,
    // delivered by the owner all the same; to a gone flow too (the owner
    // counts it, the sender does not learn it).
    assert_eq!(
        send_as(&a, 2, 1, b"ACK sip:x SIP/2.0\r\n\r\n", false).await,
        Ok(Ack::Delivered)
    );
    assert_eq!(
        send_as(&a, 2, 7, b"ACK sip:y SIP/2.0\r\n\r\n", false).await,
        Ok(Ack::Delivered)
    );
    let t0 = Instant::now();
    while owner.got.lock().unwrap().len() < 4 && t0.elapsed() < Duration::from_secs(2) {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    {
        let got = owner.got.lock().unwrap();
        assert_eq!(got.len(), 4, "both one-way messages reached the owner");
        assert_eq!(
            owner.answered.lock().unwrap().as_slice(),
            &[true, true, false, false],
            "the owner knows which senders wait for an answer"
        );
        // Two streams: either may arrive first.
        let mut one_way: Vec<(u32, &[u8])> = got[2..]
            .iter()
            .map(|(h, b)| (h.connection, &b[..]))
            .collect();
        one_way.sort();
        assert_eq!(
            one_way,
            [
                (1, &b"ACK sip:x SIP/2.0\r\n\r\n"[..]),
                (7, &b"ACK sip:y SIP/2.0\r\n\r\n"[..])
            ]
        );
    }
    let peers = a.peers();
    assert_eq!(peers.iter().find(|p| p.instance == 2).unwrap().state, "up");

    // Unknown instance: refused at once.
    assert_eq!(send(&a, 42, 1, b"x").await, Err(Failure::UnknownPeer));

    // Instance 9 listed but nobody there: unreachable within the connect
    // timeout, then at once while backing off.
    let t0 = Instant::now();
    assert_eq!(send(&a, 9, 1, b"x").await, Err(Failure::Unreachable));
    assert!(
        t0.elapsed() < Duration::from_millis(900),
        "{:?}",
        t0.elapsed()
    );
    let t0 = Instant::now();
    assert_eq!(send(&a, 9, 1, b"x").await, Err(Failure::Unreachable));
    assert!(t0.elapsed() < Duration::from_millis(100));

    // Instance 3's address is served by a relay whose certificate names
    // instance 4: dialling it as 3 is refused.
    let seen_c = Arc::new(Seen::default());
    let c = relay(&ca, 4, c_addr, vec![], seen_c.clone());
    let c_owner = Arc::new(Owner::default());
    tokio::spawn(c.clone().serve(c_owner.clone()));
    assert_eq!(send(&a, 3, 1, b"x").await, Err(Failure::Handshake));
    assert!(c_owner.got.lock().unwrap().is_empty());

    // A relay with another CA's certificate naming instance 1 cannot reach
    // instance 2: refused at both ends, nothing delivered.
    let (other, other_key) = tls::new_ca().unwrap();
    let (f_cert, f_key) = tls::issue(&other, &other_key, 1).unwrap();
    let f = Relay::bind(
        settings(1, free_udp(), vec![(2, b_addr)]),
        &other,
        &f_cert,
        &f_key,
        Arc::new(Seen::default()),
    )
    .unwrap();
    let before = owner.got.lock().unwrap().len();
    assert_eq!(
        send(&f, 2, 1, b"INVITE sip:x SIP/2.0\r\n\r\n").await,
        Err(Failure::Handshake)
    );
    // The foreign relay trusting our CA does not help: its certificate
    // still does not chain to it.
    let f2 = Relay::bind(
        settings(1, free_udp(), vec![(2, b_addr)]),
        &ca.0,
        &f_cert,
        &f_key,
        Arc::new(Seen::default()),
    );
    assert!(
        f2.is_err(),
        "own certificate from another CA is refused at start"
    );
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(owner.got.lock().unwrap().len(), before);
    assert!(seen_b.failures("handshake") >= 1);

    a.close();
    b.close();
    c.close();
    f.close();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_from_a_fleet_peer_closes_its_connection() {
    let ca = tls::new_ca().unwrap();
    let b_addr = free_udp();
    let (a_cert, a_key) = tls::issue(&ca.0, &ca.1, 1).unwrap();
    let seen_b = Arc::new(Seen::default());
    let b = relay(&ca, 2, b_addr, vec![], seen_b.clone());
    let owner = Arc::new(Owner::default());
    tokio::spawn(b.clone().serve(owner.clone()));

    // A raw quinn client with a fleet certificate writes garbage.
    let fleet = tls::FleetTls::new(&ca.0, &a_cert, &a_key).unwrap();
    let crypto = quinn::crypto::rustls::QuicClientConfig::try_from(fleet.client).unwrap();
    let mut ep = quinn::Endpoint::client("127.0.0.1:0".parse().unwrap()).unwrap();
    ep.set_default_client_config(quinn::ClientConfig::new(Arc::new(crypto)));
    let conn = ep
        .connect(b_addr, &tls::instance_name(2))
        .unwrap()
        .await
        .unwrap();
    let (mut s, mut r) = conn.open_bi().await.unwrap();
    s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\nnot a relay header at all....")
        .await
        .unwrap();
    s.finish().unwrap();
    let mut buf = [0u8; 1];
    assert!(
        r.read_exact(&mut buf).await.is_err(),
        "no answer to garbage"
    );
    let closed = tokio::time::timeout(Duration::from_secs(2), conn.closed()).await;
    assert!(closed.is_ok(), "connection closed by the owner");
    assert_eq!(seen_b.failures("bad_header"), 1);

    // A header whose source is not the instance the certificate names.
    let conn = ep
        .connect(b_addr, &tls::instance_name(2))
        .unwrap()
        .await
        .unwrap();
    let (mut s, mut r) = conn.open_bi().await.unwrap();
    let sip = b"OPTIONS sip:x SIP/2.0\r\n\r\n";
    let h = Header {
        kind: Kind::Request,
        hops: 1,
        transport: FlowTransport::Tcp,
        target: 2,
        source: 5,
        connection: 1,
        ue: "192.0.2.1:5060".parse().unwrap(),
        body_len: sip.len() as u32,
    };
    s.write_all(&h.encode()).await.unwrap();
    s.write_all(sip).await.unwrap();
    s.finish().unwrap();
    assert!(r.read_exact(&mut buf).await.is_err());
    assert_eq!(seen_b.failures("not_fleet"), 1);
    assert!(owner.got.lock().unwrap().is_empty(), "nothing delivered");

    // The service goes on: a well-formed message from the same peer.
    let a = Relay::bind(
        settings(1, free_udp(), vec![(2, b_addr)]),
        &ca.0,
        &a_cert,
        &a_key,
        Arc::new(Seen::default()),
    )
    .unwrap();
    assert_eq!(send(&a, 2, 1, sip).await, Ok(Ack::Delivered));
    assert_eq!(owner.got.lock().unwrap().len(), 1);
    a.close();
    b.close();
    ep.close(0u32.into(), b"");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discovered_addresses_become_peers_by_their_certificate() {
    let ca = tls::new_ca().unwrap();
    let (a_addr, b_addr, f_addr) = (free_udp(), free_udp(), free_udp());
    let a = relay(&ca, 1, a_addr, vec![], Arc::new(Seen::default()));
    let b = relay(&ca, 2, b_addr, vec![], Arc::new(Seen::default()));
    let owner = Arc::new(Owner::default());
    tokio::spawn(b.clone().serve(owner.clone()));
    // A relay of another CA at a listed address is not taken.
    let (other, other_key) = tls::new_ca().unwrap();
    let (f_cert, f_key) = tls::issue(&other, &other_key, 3).unwrap();
    let f = Relay::bind(
        settings(3, f_addr, vec![]),
        &other,
        &f_cert,
        &f_key,
        Arc::new(Seen::default()),
    )
    .unwrap();
    tokio::spawn(f.clone().serve(Arc::new(Owner::default())));

    assert_eq!(send(&a, 2, 1, b"x").await, Err(Failure::UnknownPeer));
    a.discover(vec![a_addr, b_addr, f_addr]);
    let t0 = Instant::now();
    while !a.peers().iter().any(|p| p.instance == 2 && p.state == "up") {
        assert!(t0.elapsed() < Duration::from_secs(3), "{:?}", a.peers());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(a.peers().len(), 1, "only instance 2: {:?}", a.peers());
    assert_eq!(
        send(&a, 2, 1, b"OPTIONS sip:x SIP/2.0\r\n\r\n").await,
        Ok(Ack::Delivered)
    );
    assert_eq!(owner.got.lock().unwrap().len(), 1);
    // No longer listed: forgotten.
    a.discover(vec![f_addr]);
    assert!(a.peers().is_empty(), "{:?}", a.peers());
    a.close();
    b.close();
    f.close();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_window_and_an_oversized_message_are_refused_at_once() {
    let ca = tls::new_ca().unwrap();
    let (a_addr, b_addr) = (free_udp(), free_udp());
    let (a_cert, a_key) = tls::issue(&ca.0, &ca.1, 1).unwrap();
    let mut s = settings(1, a_addr, vec![(2, b_addr)]);
    s.max_in_flight = 1;
    s.max_message = 64;
    let seen = Arc::new(Seen::default());
    let a = Relay::bind(s, &ca.0, &a_cert, &a_key, seen.clone()).unwrap();
    let b = relay(&ca, 2, b_addr, vec![], Arc::new(Seen::default()));
    tokio::spawn(b.clone().serve(Arc::new(Owner::default())));
    assert_eq!(
        send(&a, 2, 1, b"OPTIONS sip:x SIP/2.0\r\n\r\n").await,
        Ok(Ack::Delivered)
    );
    let a2 = a.clone();
    let slow =
        tokio::spawn(async move { send(&a2, 2, 99, b"OPTIONS sip:slow SIP/2.0\r\n\r\n").await });
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(
        !slow.is_finished(),
        "the slow message is in flight: {:?}",
        slow.await
    );
    assert_eq!(send(&a, 2, 1, b"x").await, Err(Failure::Full));
    assert_eq!(slow.await.unwrap(), Ok(Ack::FlowGone));
    let big: &'static [u8] = Box::leak(vec![b'x'; 65].into_boxed_slice());
    assert_eq!(send(&a, 2, 1, big).await, Err(Failure::TooLarge));
    assert_eq!(seen.failures("full"), 1);
    assert_eq!(seen.failures("too_large"), 1);
    a.close();
    b.close();
}

/// Each thread that runs its own (current-thread) runtime — an edge's
/// worker — dials the peers from its own endpoint (a lane), so its
/// messages are sent and acknowledged on it: two such threads make two
/// connections to the owner. A multi-threaded runtime's tasks share the
/// listening endpoint's connection, a third. The peer is up throughout and
/// its datagrams are those of every lane.
#[test]
fn each_worker_thread_dials_from_its_own_lane() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let ca = tls::new_ca().unwrap();
    let (a_addr, b_addr) = (free_udp(), free_udp());
    let owner = Arc::new(Owner::default());
    let (a, b) = rt.block_on(async {
        let a = relay(&ca, 1, a_addr, vec![(2, b_addr)], Arc::new(Seen::default()));
        let b = relay(&ca, 2, b_addr, vec![], Arc::new(Seen::default()));
        tokio::spawn(b.clone().serve(owner.clone()));
        (a, b)
    });
    let workers: Vec<_> = (0..2)
        .map(|_| {
            let a = a.clone();
            std::thread::spawn(move || {
                let local = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap();
                local.block_on(async {
                    let first = send_as(&a, 2, 1, b"OPTIONS sip:x SIP/2.0\r\n\r\n", false).await;
                    let again = send_as(&a, 2, 1, b"OPTIONS sip:y SIP/2.0\r\n\r\n", false).await;
                    (first, again)
                })
            })
        })
        .collect();
    for w in workers {
        assert_eq!(w.join().unwrap(), (Ok(Ack::Delivered), Ok(Ack::Delivered)));
    }
    assert_eq!(b.inbound(), 2, "one connection per worker thread");
    rt.block_on(async {
        assert_eq!(
            send(&a, 2, 1, b"OPTIONS sip:z SIP/2.0\r\n\r\n").await,
            Ok(Ack::Delivered)
        );
    });
    assert_eq!(b.inbound(), 3, "the shared lane: the listening endpoint");
    assert_eq!(owner.got.lock().unwrap().len(), 5);
    let peer = a.peers().into_iter().find(|p| p.instance == 2).unwrap();
    assert_eq!(peer.state, "up");
    assert_eq!(peer.sent, 5);
    let (out, _) = peer.datagrams.unwrap();
    assert!(out >= 5, "datagrams of every lane: {peer:?}");
    a.close();
    b.close();
}
