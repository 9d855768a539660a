//! An in-memory host, request builders and script files for the tests.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use anysip_core::{FailedFlow, Reply, RequestContext, ResponseContext};
use bytes::Bytes;
use script::{Binding, Credential, GatewayDest, Host, HostError, SaveOutcome};
use sip::{Framing, Limits, Message};

pub const SECRET: &[u8] = b"a test secret of at least 32 bytes!!";

/// The test host: users, bindings and gateway groups in memory, and a log
/// of every call.
#[derive(Debug, Default)]
pub struct TestHost {
    pub users: Mutex<HashMap<(String, String), Credential>>,
    pub bindings: Mutex<HashMap<String, Vec<Binding>>>,
    pub groups: Mutex<Vec<(String, String, Vec<GatewayDest>)>>,
    pub calls: Mutex<Vec<String>>,
    pub unavailable: AtomicBool,
    pub ttl: AtomicU64,
    pub algorithms: Mutex<Vec<String>>,
    pub aliases: Mutex<HashMap<String, Vec<String>>>,
    /// What `numbers` and `rewrite_identities` see (`numbering:`,
    /// `number_policies:`).
    pub numbers: Mutex<Arc<numbers::Registry>>,
}

impl TestHost {
    pub fn new() -> Arc<TestHost> {
        let h = TestHost::default();
        h.ttl.store(300, Ordering::Relaxed);
        *h.algorithms.lock().unwrap() = vec!["sha256".into(), "MD5".into(), "md5".into()];
        h.users.lock().unwrap().insert(
            ("alice".into(), "domain.local".into()),
            Credential::Password("secret".into()),
        );
        Arc::new(h)
    }

    pub fn log(&self, s: impl Into<String>) {
        self.calls.lock().unwrap().push(s.into());
    }

    pub fn called(&self, prefix: &str) -> bool {
        self.calls
            .lock()
            .unwrap()
            .iter()
            .any(|c| c.starts_with(prefix))
    }

    pub fn add_binding(&self, aor: &str, uri: &str, path: &[&str]) {
        self.bindings
            .lock()
            .unwrap()
            .entry(aor.to_owned())
            .or_default()
            .push(binding(aor, uri, path));
    }

    pub fn add_group(&self, name: &str, uris: &[(&str, bool)]) {
        let dests = uris
            .iter()
            .map(|(u, healthy)| GatewayDest {
                uri: (*u).to_owned(),
                healthy: *healthy,
                weight: 1,
                priority: 1,
                attrs: vec![("region".into(), "eu".into())],
                address: None,
            })
            .collect();
        self.groups
            .lock()
            .unwrap()
            .push((name.to_owned(), "hash".to_owned(), dests));
    }

    pub fn gateway_mark_all_down(&self) {
        for g in self.groups.lock().unwrap().iter_mut() {
            for d in g.2.iter_mut() {
                d.healthy = false;
            }
        }
    }

    fn down(&self) -> Result<(), HostError> {
        if self.unavailable.load(Ordering::Relaxed) {
            Err(HostError::Unavailable("test store down".into()))
        } else {
            Ok(())
        }
    }
}

pub fn binding(aor: &str, uri: &str, path: &[&str]) -> Binding {
    Binding {
        aor: aor.to_owned(),
        uri: uri.to_owned(),
        path: path.iter().map(|p| (*p).to_owned()).collect(),
        q: Some(1.0),
        expires: 3600,
        instance: None,
        reg_id: None,
        received: Some("udp:192.0.2.10:5060".into()),
        user_agent: Some("test".into()),
        age_secs: 5,
        params: Vec::new(),
        flow: None,
        instance_id: None,
        instance_epoch: None,
        flow_token: None,
    }
}

impl Host for TestHost {
    fn numbers(&self) -> Arc<numbers::Registry> {
        Arc::clone(&self.numbers.lock().unwrap())
    }

    fn registrar_save(
        &self,
        req: &RequestContext,
        _flow_token: Option<&str>,
    ) -> Result<SaveOutcome, HostError> {
        self.log("registrar_save");
        self.down()?;
        let to = req
            .message
            .to()
            .map_err(|e| HostError::Invalid(e.to_string()))?;
        let aor = to
            .uri()
            .map_err(|e| HostError::Invalid(e.to_string()))?
            .as_str()
            .to_owned();
        let contact = req
            .message
            .contacts()
            .next()
            .and_then(|c| c.ok())
            .and_then(|c| {
                c.addr()
                    .and_then(|a| a.uri().ok())
                    .map(|u| u.as_str().to_owned())
            });
        let Some(contact) = contact else {
            return Ok(SaveOutcome {
                reply: Reply::status(200),
                saved: false,
            });
        };
        self.add_binding(&aor, &contact, &[]);
        let mut reply = Reply::status(200);
        reply
            .headers
            .push(("Contact".into(), format!("<{contact}>;expires=3600")));
        Ok(SaveOutcome { reply, saved: true })
    }

    fn send_request(
        &self,
        req: script::Originate,
        wait: bool,
    ) -> Result<Option<anysip_core::ResponseContext>, HostError> {
        self.log(format!("send_request {} {} {wait}", req.method, req.ruri));
        Ok(None)
    }

    fn registrar_save_proxy(
        &self,
        req: &RequestContext,
        granted: u32,
        flow_token: Option<&str>,
    ) -> Result<SaveOutcome, HostError> {
        self.log(format!("registrar_save_proxy {granted}"));
        self.registrar_save(req, flow_token)
    }

    fn registrar_lookup(&self, aor: &str) -> Result<Vec<Binding>, HostError> {
        self.log(format!("registrar_lookup {aor}"));
        self.down()?;
        Ok(self
            .bindings
            .lock()
            .unwrap()
            .get(aor)
            .cloned()
            .unwrap_or_default())
    }

    fn registrar_set_aliases(&self, aor: &str, uris: &[String]) -> Result<(), HostError> {
        self.log(format!("registrar_set_aliases {aor} {}", uris.join(",")));
        self.down()?;
        self.aliases
            .lock()
            .unwrap()
            .insert(aor.to_owned(), uris.to_vec());
        Ok(())
    }

    fn registrar_aliases(&self, aor: &str) -> Result<Vec<String>, HostError> {
        self.down()?;
        Ok(self
            .aliases
            .lock()
            .unwrap()
            .get(aor)
            .cloned()
            .unwrap_or_default())
    }

    fn registrar_list(&self) -> Result<Vec<(String, Vec<Binding>)>, HostError> {
        self.log("registrar_list");
        self.down()?;
        let all = self.bindings.lock().unwrap();
        let mut out: Vec<(String, Vec<Binding>)> =
            all.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        out.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(out)
    }

    fn registrar_remove(&self, aor: &str) -> Result<usize, HostError> {
        self.log(format!("registrar_remove {aor}"));
        self.down()?;
        Ok(self
            .bindings
            .lock()
            .unwrap()
            .remove(aor)
            .map_or(0, |v| v.len()))
    }

    fn registrar_remove_flow(
        &self,
        failed: &FailedFlow,
    ) -> Result<Option<Vec<Binding>>, HostError> {
        let f = &failed.flow;
        self.log(format!(
            "registrar_remove_flow {} {} {}",
            f.aor, f.instance, f.reg_id
        ));
        self.down()?;
        let mut all = self.bindings.lock().unwrap();
        let Some(list) = all.get_mut(&f.aor) else {
            return Ok(None);
        };
        let before = list.len();
        list.retain(|b| {
            !(b.instance.as_deref() == Some(f.instance.as_str())
                && b.reg_id == Some(f.reg_id)
                && b.uri == failed.uri
                && b.path == failed.route)
        });
        Ok((list.len() < before).then(|| list.clone()))
    }

    fn credentials(&self, user: &str, realm: &str) -> Result<Option<Credential>, HostError> {
        self.log(format!("credentials {user}"));
        self.down()?;
        Ok(self
            .users
            .lock()
            .unwrap()
            .get(&(user.to_owned(), realm.to_owned()))
            .cloned())
    }

    fn default_realm(&self) -> String {
        "domain.local".into()
    }

    fn nonce_secret(&self) -> Vec<u8> {
        SECRET.to_vec()
    }

    fn nonce_ttl_secs(&self) -> u64 {
        self.ttl.load(Ordering::Relaxed)
    }

    fn digest_algorithms(&self) -> Vec<String> {
        self.algorithms.lock().unwrap().clone()
    }

    fn gateway_select(
        &self,
        group: &str,
        key: Option<&str>,
        attrs: &[(String, String)],
    ) -> Result<Option<GatewayDest>, HostError> {
        self.log(format!("gateway_select {group} {key:?} {attrs:?}"));
        let groups = self.groups.lock().unwrap();
        let Some((_, _, dests)) = groups.iter().find(|g| g.0 == group) else {
            return Err(HostError::Invalid(format!("no group {group}")));
        };
        let healthy: Vec<&GatewayDest> = dests
            .iter()
            .filter(|d| d.healthy)
            .filter(|d| attrs.iter().all(|a| d.attrs.contains(a)))
            .collect();
        if healthy.is_empty() {
            return Ok(None);
        }
        let i = key.map_or(0, |k| k.bytes().map(usize::from).sum::<usize>()) % healthy.len();
        Ok(Some(healthy[i].clone()))
    }

    fn gateway_list(&self, group: &str) -> Result<Vec<GatewayDest>, HostError> {
        self.log(format!("gateway_list {group}"));
        let groups = self.groups.lock().unwrap();
        groups
            .iter()
            .find(|g| g.0 == group)
            .map(|g| g.2.clone())
            .ok_or_else(|| HostError::Invalid(format!("no group {group}")))
    }

    fn gateway_status(&self) -> Vec<(String, Vec<GatewayDest>)> {
        self.log("gateway_status");
        self.groups
            .lock()
            .unwrap()
            .iter()
            .map(|g| (g.0.clone(), g.2.clone()))
            .collect()
    }

    fn gateway_mark(&self, group: &str, uri: &str, up: bool) -> Result<(), HostError> {
        self.log(format!("gateway_mark {group} {uri} {up}"));
        let mut groups = self.groups.lock().unwrap();
        // As the core's host: an unknown group or URI is an error.
        let d = groups
            .iter_mut()
            .filter(|g| g.0 == group)
            .flat_map(|g| g.2.iter_mut())
            .find(|d| d.uri == uri)
            .ok_or_else(|| HostError::Invalid(format!("no {uri} in {group}")))?;
        d.healthy = up;
        Ok(())
    }

    fn gateway_add_group(
        &self,
        name: &str,
        algorithm: &str,
        destinations: Vec<GatewayDest>,
        probe: bool,
    ) -> Result<(), HostError> {
        self.log(format!(
            "gateway_add_group {name} {algorithm} {}{}",
            destinations.len(),
            if probe { " probe" } else { "" }
        ));
        self.groups
            .lock()
            .unwrap()
            .push((name.into(), algorithm.into(), destinations));
        Ok(())
    }

    fn gateway_remove_group(&self, name: &str) -> Result<(), HostError> {
        self.log(format!("gateway_remove_group {name}"));
        let mut groups = self.groups.lock().unwrap();
        let before = groups.len();
        groups.retain(|g| g.0 != name);
        if groups.len() == before {
            return Err(HostError::Invalid(format!("no gateway group {name:?}")));
        }
        Ok(())
    }
}

/// Parses a message written with `\n` line ends.
pub fn message(text: &str) -> Message {
    let raw = text.replace('\n', "\r\n");
    Message::parse(Bytes::from(raw), Framing::Datagram, &Limits::default()).unwrap()
}

/// A request context around `text`.
pub fn ctx(text: &str) -> RequestContext {
    RequestContext {
        message: message(text),
        transport: sip::Transport::Udp,
        source: "192.0.2.7:5062".parse::<SocketAddr>().unwrap(),
        local: "192.0.2.1:5060".parse::<SocketAddr>().unwrap(),
        connection: 0,
        route_consumed: false,
        consumed_routes: Vec::new(),
    }
}

/// A request of `method` to `ruri` with extra header lines.
pub fn request(method: &str, ruri: &str, extra: &str) -> RequestContext {
    ctx(&format!(
        "{method} {ruri} SIP/2.0\n\
         Via: SIP/2.0/UDP 192.0.2.7:5062;branch=z9hG4bK776asdhds\n\
         Max-Forwards: 70\n\
         To: <sip:bob@domain.local>\n\
         From: \"Alice\" <sip:alice@domain.local>;tag=1928301774\n\
         Call-ID: a84b4c76e66710@pc33\n\
         CSeq: 314159 {method}\n\
         {extra}Content-Length: 0\n\n"
    ))
}

/// A response context.
pub fn response(status: u16, reason: &str) -> ResponseContext {
    ResponseContext {
        message: message(&format!(
            "SIP/2.0 {status} {reason}\n\
             Via: SIP/2.0/UDP 192.0.2.7:5062;branch=z9hG4bK776asdhds\n\
             To: <sip:bob@domain.local>;tag=xyz\n\
             From: <sip:alice@domain.local>;tag=1928301774\n\
             Call-ID: a84b4c76e66710@pc33\n\
             CSeq: 314159 INVITE\n\
             X-Backend: b1\n\
             Content-Length: 0\n\n"
        )),
        branch_uri: "sip:bob@192.0.2.20".into(),
        source: Some("192.0.2.20:5060".parse::<SocketAddr>().unwrap()),
        hooks: None,
    }
}

/// Writes a script to a fresh file and returns its path.
pub fn script_file(name: &str, body: &str) -> PathBuf {
    static N: AtomicU64 = AtomicU64::new(0);
    let dir = std::env::temp_dir().join(format!(
        "anysip-script-test-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    // Fresh: a directory left by an earlier run whose process had this
    // id would bring its modules (and their bytecode) along.
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("{name}.py"));
    std::fs::write(&path, body).unwrap();
    path
}

/// The shipped deploy script `name`.
pub fn deploy_script(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../deploy/scripts")
        .join(name)
}
