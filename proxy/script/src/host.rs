//! What a script reaches outside the message: the process's registrar,
//! credential store and gateway groups. The anysip binary implements
//! [`Host`]; tests use an in-memory one. Every method may block (Redis).

use anysip_core::{FailedFlow, Reply, RequestContext, ResponseContext};

/// A host call that failed.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum HostError {
    /// The backing store is unreachable (Redis down): the request should
    /// get 503.
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// The arguments are wrong (unknown group, bad AoR).
    #[error("{0}")]
    Invalid(String),
}

/// What `registrar.save(request)` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SaveOutcome {
    /// The response to send (200 with the bindings, or 400/423/500/503).
    pub reply: Reply,
    /// Whether the bindings were stored (status 200).
    pub saved: bool,
}

/// One registered contact, as `registrar.lookup(aor)` returns it (to
/// scripts too: the `anysip.Binding` class, whose fields read as
/// attributes; `fork()` and `relay()` take it, its `path` becoming the
/// branch's route set).
#[pyo3::pyclass(module = "anysip", name = "Binding", frozen)]
#[derive(Debug, Clone, PartialEq)]
pub struct Binding {
    /// The AoR it is bound to (canonical).
    pub aor: String,
    /// The Contact URI.
    pub uri: String,
    /// The stored Path (RFC 3327), top first: the route set to the contact.
    pub path: Vec<String>,
    /// `q` (0.0–1.0), if given.
    pub q: Option<f32>,
    /// Seconds until it expires.
    pub expires: u64,
    /// `+sip.instance`, if given.
    pub instance: Option<String>,
    /// `reg-id`, if given.
    pub reg_id: Option<u32>,
    /// The address the REGISTER came from (`transport:ip:port`, for flows).
    pub received: Option<String>,
    /// The User-Agent of the REGISTER.
    pub user_agent: Option<String>,
    /// Seconds since the binding was created or last refreshed.
    pub age_secs: u64,
    /// The Contact's other parameters, as SIPhon's `Contact.params`.
    pub params: Vec<(String, Option<String>)>,
    /// The flow the REGISTER arrived on, when known.
    pub flow: Option<sip::Flow>,
    /// `server.instance_id` of the core that accepted the REGISTER.
    pub instance_id: Option<String>,
    /// The epoch of the process that accepted it.
    pub instance_epoch: Option<String>,
    /// The token of `registrar.save(flow_token=)`.
    pub flow_token: Option<String>,
}

/// A request a script originates (`proxy.send_request`): checked by the
/// script API (a SIP Request-URI, a method other than INVITE, ACK and
/// CANCEL, header lines without CR/LF, no Via or Content-Length).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Originate {
    /// The method.
    pub method: String,
    /// The Request-URI.
    pub ruri: String,
    /// Headers to add; a From, To, Call-ID, CSeq or Max-Forwards given
    /// replaces the one the host makes.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: bytes::Bytes,
    /// Where to send it instead of the first Route or the Request-URI.
    pub next_hop: Option<String>,
    /// How long to wait for the final response.
    pub timeout: std::time::Duration,
}

/// A gateway destination, as `gateway.select` and `gateway.list` return it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GatewayDest {
    /// The destination's URI.
    pub uri: String,
    /// Whether probes say it is up.
    pub healthy: bool,
    /// Its weight.
    pub weight: u32,
    /// Its tier (lower first; SIPhon's `priority`).
    pub priority: u32,
    /// Its attributes from the config.
    pub attrs: Vec<(String, String)>,
    /// Its configured `address` (`ip:port`), which overrides resolving
    /// the URI when the script relays to the destination object.
    pub address: Option<String>,
}

/// The process's services, as scripts see them.
pub trait Host: Send + Sync + 'static {
    /// `registrar.save(request, flow_token=)`: applies the REGISTER (RFC
    /// 3261 §10.3) and says what to answer; the bindings keep the flow it
    /// arrived on, this core's `server.instance_id` and `flow_token`.
    fn registrar_save(
        &self,
        req: &RequestContext,
        flow_token: Option<&str>,
    ) -> Result<SaveOutcome, HostError>;
    /// `registrar.save_proxy(request, reply)`: caches the bindings of a
    /// REGISTER that the registrar of record accepted for `granted`
    /// seconds (its 200's Expires); the outcome's reply is not sent, its
    /// status says why nothing was stored.
    fn registrar_save_proxy(
        &self,
        req: &RequestContext,
        granted: u32,
        flow_token: Option<&str>,
    ) -> Result<SaveOutcome, HostError>;
    /// `registrar.lookup(aor)`: the live bindings of an AoR, best q first.
    fn registrar_lookup(&self, aor: &str) -> Result<Vec<Binding>, HostError>;
    /// `registrar.set_associated_uris(aor, uris)`, `save(aliases=)`: makes
    /// `uris` the aliases of the AoR (a lookup of one finds its bindings),
    /// replacing its previous set; `[]` clears it.
    fn registrar_set_aliases(&self, aor: &str, uris: &[String]) -> Result<(), HostError>;
    /// `registrar.associated_uris(aor)`: the aliases declared for the AoR
    /// (or for the AoR that `aor`, an alias, names), as given.
    fn registrar_aliases(&self, aor: &str) -> Result<Vec<String>, HostError>;
    /// `registrar.remove(aor)`: removes every binding; how many there were.
    fn registrar_remove(&self, aor: &str) -> Result<usize, HostError>;
    /// Every AoR with its live bindings (`registrar.lookup_contact`,
    /// `aor_count`): with Redis, every core's.
    fn registrar_list(&self) -> Result<Vec<(String, Vec<Binding>)>, HostError>;
    /// Ends the binding of a registered flow found dead (RFC 5626 §5.3):
    /// the binding of `failed.flow` (AoR, instance, reg-id) when it is
    /// still the one the request was sent over (same Contact URI and
    /// Path). The AoR's remaining bindings when one was removed, `None`
    /// when none matched (gone, or registered again over another flow).
    fn registrar_remove_flow(&self, failed: &FailedFlow)
        -> Result<Option<Vec<Binding>>, HostError>;

    /// The secret of `user` in `realm` (from `auth.users`, a users file or
    /// Redis); `None` when the user is unknown.
    fn credentials(&self, user: &str, realm: &str) -> Result<Option<Credential>, HostError>;
    /// The default realm (`auth.realm`, else the first local domain).
    fn default_realm(&self) -> String;
    /// The secret for stateless nonces (stable across cores sharing users).
    fn nonce_secret(&self) -> Vec<u8>;
    /// Nonce lifetime, seconds.
    fn nonce_ttl_secs(&self) -> u64;
    /// Algorithms to challenge with, in order (`MD5`, `SHA-256`).
    fn digest_algorithms(&self) -> Vec<String>;

    /// `gateway.select(group, key, attrs)`: a healthy destination or `None`.
    fn gateway_select(
        &self,
        group: &str,
        key: Option<&str>,
        attrs: &[(String, String)],
    ) -> Result<Option<GatewayDest>, HostError>;
    /// `gateway.list(group)`: every destination with its health.
    fn gateway_list(&self, group: &str) -> Result<Vec<GatewayDest>, HostError>;
    /// `gateway.status()`: every group with its destinations.
    fn gateway_status(&self) -> Vec<(String, Vec<GatewayDest>)>;
    /// `gateway.mark_up(group, uri)` / `mark_down`.
    fn gateway_mark(&self, group: &str, uri: &str, up: bool) -> Result<(), HostError>;
    /// `gateway.add_group(name, destinations, algorithm, probe)`: the
    /// destinations are probed with OPTIONS when `probe`.
    fn gateway_add_group(
        &self,
        name: &str,
        algorithm: &str,
        destinations: Vec<GatewayDest>,
        probe: bool,
    ) -> Result<(), HostError>;
    /// `gateway.remove_group(name)`.
    fn gateway_remove_group(&self, name: &str) -> Result<(), HostError>;

    /// The names of the caches scripts may use (`cache.has_cache`).
    fn cache_names(&self) -> Vec<String> {
        Vec::new()
    }

    /// Runs `op` on the cache `name` (one of [`Host::cache_names`]).
    fn cache(&self, name: &str, op: CacheOp) -> Result<CacheAnswer, HostError> {
        let _ = op;
        Err(HostError::Invalid(format!("no cache named {name:?}")))
    }

    /// `proxy.send_request`: sends `req` in a non-INVITE client
    /// transaction. With `wait`, blocks until its final response (`None`
    /// after `req.timeout` or the transaction's own timeout); without,
    /// returns `None` at once and the request goes on in the background.
    fn send_request(
        &self,
        req: Originate,
        wait: bool,
    ) -> Result<Option<ResponseContext>, HostError>;

    /// Whether a flow can still be used (`Flow.is_alive`): a stream
    /// connection is still open with this id to that peer; UDP always.
    fn flow_alive(&self, flow: &sip::Flow) -> bool {
        !flow.transport.is_stream()
    }

    /// This process's `server.instance_id` and epoch (a random id drawn at
    /// start), which make a binding local (`Contact.is_local`).
    fn instance(&self) -> Option<(String, String)> {
        None
    }

    /// The home numbering plan and the named number policies
    /// (`numbering:`, `number_policies:`) of `numbers` and
    /// `request.rewrite_identities`.
    fn numbers(&self) -> std::sync::Arc<numbers::Registry> {
        std::sync::Arc::default()
    }

    /// The names that make a URI local (`SipUri.is_local`): the local
    /// domains, the advertised address, the listening addresses.
    fn local_domains(&self) -> Vec<String> {
        Vec::new()
    }
}

/// A user's secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credential {
    /// The plain password.
    Password(String),
    /// HA1 hex digests by algorithm name (`MD5`, `SHA-256`).
    Ha1(Vec<(String, String)>),
}

/// One operation of the script `cache` module on a named cache.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CacheOp {
    /// The value of a key.
    Fetch(String),
    /// Sets a key, with a lifetime in seconds.
    Store(String, String, Option<u64>),
    /// Removes a key.
    Delete(String),
    /// Whether a key exists.
    Exists(String),
    /// Gives a key a lifetime (seconds); false when it does not exist.
    Expire(String, u64),
    /// Appends to a list; its new length.
    ListPush(String, String),
    /// Takes every item of a list, oldest first, and removes it.
    ListPopAll(String),
    /// A list's length (0 when absent).
    ListLen(String),
    /// The sum of the lengths of the lists whose key starts with a prefix.
    ListLenSum(String),
}

/// What a [`CacheOp`] answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CacheAnswer {
    /// A value, or none.
    Value(Option<String>),
    /// Done / true.
    Bool(bool),
    /// A count.
    Count(u64),
    /// A list's items.
    Items(Vec<String>),
}
