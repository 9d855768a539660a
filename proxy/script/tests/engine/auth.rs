//! Digest authentication: challenges, valid answers (MD5 and SHA-256),
//! stale nonces, wrong passwords, stored HA1s.

use std::sync::Arc;

use anysip_core::{Decision, RequestContext, Router};
use script::{Credential, Engine};
use sip::digest::{Challenge, ClientRequest, Nonce, NonceCount, Secret};

use super::support::*;

const SCRIPT: &str = "from anysip import proxy, auth\n\
    @proxy.on_request('REGISTER')\n\
    def reg(request):\n\
    \x20   if auth.require_www_digest(request):\n\
    \x20       request.reply(200, request.auth_user)\n\
    @proxy.on_request('INVITE')\n\
    def inv(request):\n\
    \x20   if auth.require_proxy_digest(request, 'domain.local'):\n\
    \x20       request.reply(200, request.auth_user)\n\
    @proxy.on_request('MESSAGE')\n\
    def msg(request):\n\
    \x20   request.reply(200 if auth.verify_digest(request) else 299)\n";

fn engine() -> (Engine, Arc<TestHost>) {
    let host = TestHost::new();
    let e = Engine::load(&script_file("auth", SCRIPT), false, host.clone()).unwrap();
    (e, host)
}

fn register(extra: &str) -> RequestContext {
    request("REGISTER", "sip:domain.local", extra)
}

/// The challenges of a 401/407 decision.
fn challenges(d: &Decision, status: u16) -> Vec<Challenge> {
    match d {
        Decision::Reply(r) if r.status == status => r
            .headers
            .iter()
            .map(|(n, v)| {
                let want = if status == 401 {
                    "WWW-Authenticate"
                } else {
                    "Proxy-Authenticate"
                };
                assert_eq!(n, want);
                Challenge::parse(v).unwrap()
            })
            .collect(),
        other => panic!("expected {status}, got {other:?}"),
    }
}

fn answer(c: &Challenge, method: &str, uri: &str, user: &str, password: &str) -> String {
    let req = ClientRequest {
        method,
        uri,
        cnonce: "0a4f113b",
        nc: NonceCount::FIRST,
    };
    c.respond(user, Secret::Password(password), &req)
        .unwrap()
        .to_string()
}

#[test]
fn challenge_then_valid_answer_md5_and_sha256() {
    let (e, host) = engine();
    let cs = challenges(&e.on_request(&register("")), 401);
    let algs: Vec<&str> = cs
        .iter()
        .map(|c| c.effective_algorithm().as_str())
        .collect();
    assert_eq!(algs, ["SHA-256", "MD5"]);
    assert!(cs.iter().all(|c| c.realm == "domain.local" && !c.stale));
    for c in &cs {
        let auth = answer(c, "REGISTER", "sip:domain.local", "alice", "secret");
        let d = e.on_request(&register(&format!("Authorization: {auth}\n")));
        assert!(
            matches!(&d, Decision::Reply(r) if r.status == 200 && r.reason.as_deref() == Some("alice")),
            "{d:?}"
        );
    }
    assert!(host.called("credentials alice"));

    // Wrong password: challenged again.
    let auth = answer(&cs[0], "REGISTER", "sip:domain.local", "alice", "wrong");
    challenges(
        &e.on_request(&register(&format!("Authorization: {auth}\n"))),
        401,
    );
    // Valid credentials computed for another Request-URI (replayed from
    // another request): challenged again.
    let auth = answer(&cs[1], "REGISTER", "sip:other.example", "alice", "secret");
    challenges(
        &e.on_request(&register(&format!("Authorization: {auth}\n"))),
        401,
    );
    // Unknown user: challenged again.
    let auth = answer(&cs[1], "REGISTER", "sip:domain.local", "mallory", "secret");
    challenges(
        &e.on_request(&register(&format!("Authorization: {auth}\n"))),
        401,
    );
    // verify_digest never replies.
    let d = e.on_request(&request("MESSAGE", "sip:bob@domain.local", ""));
    assert!(matches!(d, Decision::Reply(r) if r.status == 299));
    let auth = answer(&cs[1], "MESSAGE", "sip:bob@domain.local", "alice", "secret");
    let d = e.on_request(&request(
        "MESSAGE",
        "sip:bob@domain.local",
        &format!("Authorization: {auth}\n"),
    ));
    assert!(matches!(d, Decision::Reply(r) if r.status == 200));
}

#[test]
fn proxy_digest_407() {
    let (e, _) = engine();
    let invite = |extra: &str| request("INVITE", "sip:bob@domain.local", extra);
    let cs = challenges(&e.on_request(&invite("")), 407);
    let auth = answer(&cs[0], "INVITE", "sip:bob@domain.local", "alice", "secret");
    // Authorization is not Proxy-Authorization.
    challenges(
        &e.on_request(&invite(&format!("Authorization: {auth}\n"))),
        407,
    );
    let d = e.on_request(&invite(&format!("Proxy-Authorization: {auth}\n")));
    assert!(matches!(d, Decision::Reply(r) if r.status == 200));
}

#[test]
fn stale_nonce_gets_stale_true() {
    let (e, _) = engine();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let old = Nonce::issue(SECRET, now - 10_000, &[1; 16]);
    let c = Challenge::new("domain.local", old, sip::digest::Algorithm::Md5);
    let auth = answer(&c, "REGISTER", "sip:domain.local", "alice", "secret");
    let cs = challenges(
        &e.on_request(&register(&format!("Authorization: {auth}\n"))),
        401,
    );
    assert!(cs.iter().all(|c| c.stale));
    // A nonce we did not issue is not stale, just wrong.
    let forged = Nonce::issue(b"another secret of 32 bytes or more!!", now, &[1; 16]);
    let c = Challenge::new("domain.local", forged, sip::digest::Algorithm::Md5);
    let auth = answer(&c, "REGISTER", "sip:domain.local", "alice", "secret");
    let cs = challenges(
        &e.on_request(&register(&format!("Authorization: {auth}\n"))),
        401,
    );
    assert!(cs.iter().all(|c| !c.stale));
}

#[test]
fn stored_ha1_and_store_down() {
    let (e, host) = engine();
    let ha1 =
        sip::digest::Ha1::from_password(sip::digest::Algorithm::Md5, "bob", "domain.local", "pw");
    host.users.lock().unwrap().insert(
        ("bob".into(), "domain.local".into()),
        Credential::Ha1(vec![("MD5".into(), ha1.as_hex().to_owned())]),
    );
    let cs = challenges(&e.on_request(&register("")), 401);
    let md5 = cs
        .iter()
        .find(|c| c.effective_algorithm().as_str() == "MD5")
        .unwrap();
    let sha = cs
        .iter()
        .find(|c| c.effective_algorithm().as_str() == "SHA-256")
        .unwrap();
    let ok = answer(md5, "REGISTER", "sip:domain.local", "bob", "pw");
    assert!(matches!(
        e.on_request(&register(&format!("Authorization: {ok}\n"))),
        Decision::Reply(r) if r.status == 200
    ));
    // No SHA-256 HA1 stored for bob: challenged.
    let no = answer(sha, "REGISTER", "sip:domain.local", "bob", "pw");
    challenges(
        &e.on_request(&register(&format!("Authorization: {no}\n"))),
        401,
    );
    // The credential store is down: 503.
    host.unavailable
        .store(true, std::sync::atomic::Ordering::Relaxed);
    assert!(matches!(
        e.on_request(&register(&format!("Authorization: {ok}\n"))),
        Decision::Reply(r) if r.status == 503
    ));
}
