//! What scripts reach outside the message ([`script::Host`]): the
//! registrar, the digest users and the gateway groups of this process.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use anysip_config::{DestinationConfig, GroupConfig};
use anysip_core::{FailedFlow, Reply, RequestContext};
use script::{
    Binding, CacheAnswer, CacheOp, Credential, GatewayDest, Host, HostError, SaveOutcome,
};

use super::users::Users;
use crate::shared::{now_unix, Shared};

/// The core's services.
#[derive(Debug)]
pub(crate) struct CoreHost {
    pub(crate) registrar: Arc<registrar::Registrar>,
    pub(crate) rt: tokio::runtime::Handle,
    pub(crate) shared: Arc<Shared>,
    pub(crate) users: Users,
    pub(crate) realm: String,
    pub(crate) algorithms: Vec<String>,
    pub(crate) nonce_ttl_secs: u64,
    pub(crate) nonce_secret: Vec<u8>,
    /// What makes a URI local to scripts (`SipUri.is_local`).
    pub(crate) local_domains: Vec<String>,
    /// The named caches of scripts (`cache:`).
    pub(crate) caches: super::cache::Caches,
    /// `server.instance_id` and this process's epoch, stamped on the
    /// bindings this core accepts.
    pub(crate) instance_id: String,
    pub(crate) epoch: String,
    /// The stream connections (`Flow.is_alive`).
    pub(crate) conns: net::Connections,
    /// `proxy.send_request`: the resolver and the address it sends from
    /// (the first UDP listener's).
    pub(crate) resolver: resolve::Resolver,
    pub(crate) origin_ip: std::net::IpAddr,
    /// `numbering:` and `number_policies:`, resolved.
    pub(crate) numbers: Arc<numbers::Registry>,
}

/// A registrar failure as scripts see it (Redis down: 503).
pub(super) fn store_error(e: registrar::RegistrarError) -> HostError {
    match e {
        registrar::RegistrarError::Unavailable(m) => HostError::Unavailable(m),
        other => HostError::Invalid(other.to_string()),
    }
}

fn dest(d: &gateway::Destination, healthy: bool) -> GatewayDest {
    GatewayDest {
        uri: d.uri.clone(),
        healthy,
        weight: d.weight,
        priority: d.priority,
        attrs: d
            .attrs
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        address: Some(d.address.to_string()),
    }
}

/// A registrar binding as scripts see it.
fn binding(b: registrar::Binding, now: u64) -> Binding {
    Binding {
        aor: b.aor.clone(),
        expires: b.expires_in(now),
        q: b.q.map(|_| b.q_value()),
        age_secs: now.saturating_sub(b.updated_at),
        uri: b.uri,
        path: b.path,
        instance: b.instance,
        reg_id: b.reg_id,
        received: b.received,
        user_agent: b.user_agent,
        params: b.params,
        flow: b.accepted.flow.and_then(|f| {
            Some(sip::Flow {
                transport: f.transport.parse().ok()?,
                remote: f.remote,
                local: f.local,
                connection: f.connection,
            })
        }),
        instance_id: b.accepted.by,
        instance_epoch: b.accepted.epoch,
        flow_token: b.accepted.flow_token,
    }
}

impl CoreHost {
    /// Where a REGISTER came from, as the registrar stores it: the flow,
    /// this core and the script's flow token.
    fn source(&self, req: &RequestContext, flow_token: Option<&str>) -> registrar::Source {
        registrar::Source::new(req.transport.as_str(), req.source)
            .arrived_on(req.local, req.connection)
            .accepted_by(
                Some((self.instance_id.clone(), self.epoch.clone())),
                flow_token.map(str::to_owned),
            )
    }
}

/// A registrar outcome as scripts see it.
fn save_outcome(out: registrar::Outcome) -> SaveOutcome {
    SaveOutcome {
        saved: out.saved,
        reply: Reply {
            status: out.status,
            reason: out.reason,
            headers: out.headers,
            body: None,
            reliable: false,
        },
    }
}

impl Host for CoreHost {
    fn registrar_save(
        &self,
        req: &RequestContext,
        flow_token: Option<&str>,
    ) -> Result<SaveOutcome, HostError> {
        let source = self.source(req, flow_token);
        let out = self
            .rt
            .block_on(self.registrar.save(&req.message, &source, now_unix()))
            .map_err(store_error)?;
        Ok(save_outcome(out))
    }

    fn registrar_save_proxy(
        &self,
        req: &RequestContext,
        granted: u32,
        flow_token: Option<&str>,
    ) -> Result<SaveOutcome, HostError> {
        let source = self.source(req, flow_token);
        let out = self
            .rt
            .block_on(
                self.registrar
                    .save_granted(&req.message, &source, granted, now_unix()),
            )
            .map_err(store_error)?;
        Ok(save_outcome(out))
    }

    fn registrar_lookup(&self, aor: &str) -> Result<Vec<Binding>, HostError> {
        let now = now_unix();
        let found = self
            .rt
            .block_on(self.registrar.lookup(aor, now))
            .map_err(store_error)?;
        Ok(found.into_iter().map(|b| binding(b, now)).collect())
    }

    fn registrar_list(&self) -> Result<Vec<(String, Vec<Binding>)>, HostError> {
        let now = now_unix();
        let all = self
            .rt
            .block_on(self.registrar.list(now))
            .map_err(store_error)?;
        Ok(all
            .into_iter()
            .map(|(aor, list)| (aor, list.into_iter().map(|b| binding(b, now)).collect()))
            .collect())
    }

    fn registrar_remove(&self, aor: &str) -> Result<usize, HostError> {
        self.rt
            .block_on(self.registrar.remove(aor, now_unix()))
            .map_err(store_error)
    }

    fn registrar_set_aliases(&self, aor: &str, uris: &[String]) -> Result<(), HostError> {
        self.rt
            .block_on(self.registrar.set_aliases(aor, uris, now_unix()))
            .map_err(store_error)
    }

    fn registrar_aliases(&self, aor: &str) -> Result<Vec<String>, HostError> {
        self.rt
            .block_on(self.registrar.aliases(aor, now_unix()))
            .map_err(store_error)
    }

    fn registrar_remove_flow(
        &self,
        failed: &FailedFlow,
    ) -> Result<Option<Vec<Binding>>, HostError> {
        let now = now_unix();
        let tried = registrar::TriedFlow {
            instance: &failed.flow.instance,
            reg_id: failed.flow.reg_id,
            uri: &failed.uri,
            path: &failed.route,
        };
        let rest = self
            .rt
            .block_on(self.registrar.remove_flow(&failed.flow.aor, &tried, now))
            .map_err(store_error)?;
        Ok(rest.map(|list| list.into_iter().map(|b| binding(b, now)).collect()))
    }

    fn credentials(&self, user: &str, realm: &str) -> Result<Option<Credential>, HostError> {
        self.users.lookup(user, realm, &self.rt)
    }

    fn default_realm(&self) -> String {
        self.realm.clone()
    }

    fn nonce_secret(&self) -> Vec<u8> {
        self.nonce_secret.clone()
    }

    fn nonce_ttl_secs(&self) -> u64 {
        self.nonce_ttl_secs
    }

    fn digest_algorithms(&self) -> Vec<String> {
        self.algorithms.clone()
    }

    fn local_domains(&self) -> Vec<String> {
        self.local_domains.clone()
    }

    fn numbers(&self) -> Arc<numbers::Registry> {
        Arc::clone(&self.numbers)
    }

    fn send_request(
        &self,
        req: script::Originate,
        wait: bool,
    ) -> Result<Option<anysip_core::ResponseContext>, HostError> {
        if wait {
            return self
                .rt
                .block_on(super::originate::send(req, self.origin_ip, &self.resolver));
        }
        let (ip, resolver) = (self.origin_ip, self.resolver.clone());
        self.rt.spawn(async move {
            let (method, ruri) = (req.method.clone(), req.ruri.clone());
            match super::originate::send(req, ip, &resolver).await {
                Ok(Some(r)) => tracing::debug!(target: "script", %method, %ruri, status = r.message.status().unwrap_or(0), "send_request answered"),
                Ok(None) => tracing::debug!(target: "script", %method, %ruri, "send_request: no final response"),
                Err(e) => tracing::warn!(target: "script", %method, %ruri, error = %e, "send_request failed"),
            }
        });
        Ok(None)
    }

    fn instance(&self) -> Option<(String, String)> {
        Some((self.instance_id.clone(), self.epoch.clone()))
    }

    fn flow_alive(&self, flow: &sip::Flow) -> bool {
        !flow.transport.is_stream() || self.conns.get(flow.connection, flow.remote).is_some()
    }

    fn cache_names(&self) -> Vec<String> {
        self.caches.names()
    }

    fn cache(&self, name: &str, op: CacheOp) -> Result<CacheAnswer, HostError> {
        self.caches.run(&self.rt, name, op)
    }

    fn gateway_select(
        &self,
        group: &str,
        key: Option<&str>,
        attrs: &[(String, String)],
    ) -> Result<Option<GatewayDest>, HostError> {
        let mut gw = self.shared.gateways();
        let g = gw
            .group_mut(group)
            .ok_or_else(|| HostError::Invalid(format!("no gateway group {group:?}")))?;
        let exclude: Vec<gateway::DestId> = g
            .destinations()
            .filter(|d| !attrs.iter().all(|(k, v)| d.attrs.get(k) == Some(v)))
            .map(|d| d.id)
            .collect();
        Ok(
            g.select_excluding(key.map(str::as_bytes), &exclude, Instant::now())
                .map(|d| dest(d, true)),
        )
    }

    fn gateway_list(&self, group: &str) -> Result<Vec<GatewayDest>, HostError> {
        let gw = self.shared.gateways();
        let g = gw
            .group(group)
            .ok_or_else(|| HostError::Invalid(format!("no gateway group {group:?}")))?;
        Ok(g.destinations()
            .map(|d| dest(d, g.state(d.id) == Some(gateway::State::Up)))
            .collect())
    }

    fn gateway_status(&self) -> Vec<(String, Vec<GatewayDest>)> {
        let gw = self.shared.gateways();
        gw.groups()
            .map(|g| {
                let dests = g
                    .destinations()
                    .map(|d| dest(d, g.state(d.id) == Some(gateway::State::Up)))
                    .collect();
                (g.name().to_owned(), dests)
            })
            .collect()
    }

    fn gateway_mark(&self, group: &str, uri: &str, up: bool) -> Result<(), HostError> {
        let mut gw = self.shared.gateways();
        let now = Instant::now();
        let r = if up {
            gw.mark_up(group, uri, now)
        } else {
            gw.mark_down(group, uri, now)
        };
        r.map(drop).map_err(|e| HostError::Invalid(e.to_string()))
    }

    fn gateway_add_group(
        &self,
        name: &str,
        algorithm: &str,
        destinations: Vec<GatewayDest>,
        probe: bool,
    ) -> Result<(), HostError> {
        let algorithm = serde_json::from_value(serde_json::Value::String(algorithm.to_owned()))
            .map_err(|_| {
                HostError::Invalid(format!(
                    "unknown algorithm {algorithm:?} (weighted, round_robin, hash)"
                ))
            })?;
        let mut dests = Vec::new();
        for d in destinations {
            let address = d
                .address
                .as_deref()
                .and_then(|a| a.parse().ok())
                .or_else(|| uri_address(&d.uri))
                .ok_or_else(|| {
                    HostError::Invalid(format!(
                        "{}: give an address (ip:port) or a URI naming an IP address",
                        d.uri
                    ))
                })?;
            dests.push(DestinationConfig {
                uri: d.uri,
                address,
                transport: None,
                weight: d.weight,
                priority: d.priority,
                attrs: d.attrs.into_iter().collect::<BTreeMap<_, _>>(),
            });
        }
        let mut gw = self.shared.gateways();
        let mut config = gw.config();
        config.groups.retain(|g| g.name != name);
        config.groups.push(GroupConfig {
            name: name.to_owned(),
            algorithm,
            hash_key: Default::default(),
            probe: gateway::ProbeConfig {
                enabled: probe,
                ..Default::default()
            },
            destinations: dests,
        });
        gw.reload(&config, Instant::now())
            .map_err(|e| HostError::Invalid(e.to_string()))
    }

    fn gateway_remove_group(&self, name: &str) -> Result<(), HostError> {
        let mut gw = self.shared.gateways();
        let mut config = gw.config();
        let before = config.groups.len();
        config.groups.retain(|g| g.name != name);
        if config.groups.len() == before {
            return Err(HostError::Invalid(format!("no gateway group {name:?}")));
        }
        gw.reload(&config, Instant::now())
            .map_err(|e| HostError::Invalid(e.to_string()))
    }
}

/// `sip:10.0.0.1:5060` → 10.0.0.1:5060 (default port 5060).
fn uri_address(uri: &str) -> Option<SocketAddr> {
    let t = resolve::Target::from_uri(uri).ok()?;
    let ip = t.host.parse().ok()?;
    Some(SocketAddr::new(ip, t.port.unwrap_or(5060)))
}
