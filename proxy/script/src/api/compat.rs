//! SIPhon compatibility: every name of SIPhon's `siphon` module, and what
//! anysip does with the ones it does not serve.
//!
//! [`SIPHON`] lists SIPhon's names object by object (the module's
//! namespaces, its top-level classes, and the objects scripts are handed:
//! `Request`, `Reply`, `SipUri`, `Contact`, ...). A namespace anysip does
//! not serve at all ([`UNSERVED`]) is an [`Unserved`] object: it imports,
//! and any call into it raises [`NotServedError`] naming the function. A
//! served object that lacks one of SIPhon's names answers it the same way
//! through its `__getattr__` ([`missing`]). Each such function is logged
//! once, at the first call.

use std::collections::HashSet;
use std::sync::{Mutex, PoisonError};

use pyo3::exceptions::{PyAttributeError, PyNotImplementedError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyTuple};

pyo3::create_exception!(
    anysip,
    NotServedError,
    PyNotImplementedError,
    "A SIPhon function that anysip does not serve."
);

/// SIPhon's names, by object. A leading `@` marks a property (an attribute
/// read, not a call).
pub(crate) const SIPHON: &[(&str, &[&str])] = &[
    (
        "proxy",
        &[
            "on_request",
            "on_reply",
            "on_failure",
            "on_cancel",
            "on_register_reply",
            "@subscribe_state",
            "send_request",
            "rate_limit",
            "sanity_check",
            "enum_lookup",
            "memory_used_pct",
        ],
    ),
    (
        "registrar",
        &[
            "save",
            "save_proxy",
            "save_as_contact",
            "lookup",
            "lookup_by_token",
            "expire",
            "remove",
            "is_registered",
            "lookup_contact",
            "is_registered_contact",
            "aor_count",
            "service_route",
            "set_service_routes",
            "save_pending",
            "confirm_pending",
            "asserted_identity",
            "set_associated_uris",
            "associated_uris",
            "on_change",
            "reginfo_xml",
        ],
    ),
    (
        "auth",
        &[
            "require_www_digest",
            "require_proxy_digest",
            "require_digest",
            "verify_digest",
            "generate_nonce",
            "validate_nonce",
            "require_ims_digest",
            "require_aka_digest",
        ],
    ),
    ("log", &["debug", "info", "warn", "warning", "error"]),
    (
        "cache",
        &[
            "fetch",
            "store",
            "delete",
            "exists",
            "expire",
            "has_cache",
            "list_push",
            "list_pop_all",
            "list_len",
            "list_len_sum",
        ],
    ),
    (
        "gateway",
        &[
            "select",
            "list",
            "status",
            "groups",
            "add_group",
            "remove_group",
            "mark_down",
            "mark_up",
        ],
    ),
    ("timer", &["every", "set", "cancel", "@active_count"]),
    ("metrics", &["counter", "gauge", "histogram"]),
    (
        "b2bua",
        &[
            "on_invite",
            "on_early_media",
            "on_answer",
            "on_failure",
            "on_bye",
            "on_refer",
            "on_cancel",
            "terminate",
            "originate",
            "refer",
        ],
    ),
    (
        "rtpengine",
        &[
            "offer",
            "answer",
            "answer_local",
            "delete",
            "ping",
            "play_media",
            "play_overlay",
            "stop_media",
            "set_play_gain",
            "play_dtmf",
            "silence_media",
            "unsilence_media",
            "block_media",
            "unblock_media",
            "echo",
            "subscribe_request",
            "subscribe_answer",
            "unsubscribe",
            "attach_ws_tee",
            "detach_ws_tee",
            "on_dtmf",
            "on_media_timeout",
            "on_text",
            "on_beep",
            "on_ws_tee_started",
            "on_ws_tee_ended",
            "@active_sessions",
            "@instance_count",
        ],
    ),
    ("cdr", &["write", "@enabled"]),
    (
        "li",
        &[
            "is_target",
            "intercept",
            "record",
            "stop_intercept",
            "stop_recording",
            "@is_enabled",
        ],
    ),
    (
        "registration",
        &[
            "add",
            "remove",
            "refresh",
            "list",
            "status",
            "count",
            "service_route",
            "associated_uris",
            "flow",
            "on_change",
        ],
    ),
    (
        "diameter",
        &[
            "is_connected",
            "peer_count",
            "decode_isdn_address",
            "encode_isdn_address",
            "cx_uar",
            "cx_sar",
            "cx_lir",
            "s6a_air",
            "s6a_ulr",
            "s6a_purge_ue",
            "rx_aar",
            "rx_str",
            "sh_udr",
            "sh_pur",
            "sh_snr",
            "s6c_srr",
            "s6c_rsr",
            "sgd_tfr",
            "send_request",
            "rf_acr_start",
            "rf_acr_interim",
            "rf_acr_stop",
            "rf_acr_event",
            "ro_ccr_initial",
            "ro_ccr_update",
            "ro_ccr_terminate",
            "ro_ccr_event",
            "on_inbound_cer",
            "on_request",
            "on_reply",
            "on_request_completed",
            "on_rtr",
            "on_rar",
            "on_asr",
            "on_pnr",
            "peer_pool",
            "ip_in_cidr",
            "fnmatch",
            "now_us",
            "@config",
            "@event_sink",
        ],
    ),
    (
        "presence",
        &[
            "publish",
            "lookup",
            "subscribe",
            "subscribe_dialog",
            "unsubscribe",
            "refresh",
            "find_by_dialog",
            "subscribers",
            "subscription_count",
            "document_count",
            "expire_stale",
            "parse_reginfo",
            "notify",
            "terminate",
        ],
    ),
    ("srs", &["on_invite", "on_session_end"]),
    (
        "isc",
        &[
            "store_profile",
            "remove_profile",
            "has_profile",
            "evaluate",
            "profile_count",
        ],
    ),
    (
        "sbi",
        &[
            "create_session",
            "delete_session",
            "update_session",
            "discover_pcf_binding",
            "on_event",
            "BsfError",
        ],
    ),
    (
        "ipsec",
        &[
            "allocate",
            "stash",
            "unstash",
            "@pcscf_port_c",
            "@pcscf_port_s",
            "@stash_size",
            "@active_count",
        ],
    ),
    (
        "stir",
        &[
            "sign",
            "sign_div",
            "verify",
            "apply_verstat",
            "@signing_enabled",
            "@verification_enabled",
        ],
    ),
    ("sdp", &["parse"]),
    ("numbers", &["parse", "policy_names"]),
    ("qos", &["media_flows_from_sdp"]),
    ("lcr", &["route"]),
    (
        "smpp",
        &[
            "on_bind",
            "on_pdu",
            "on_session",
            "submit_via",
            "submit_multi_via",
            "deliver_to",
            "data_to",
            "data_via",
            "query_via",
            "cancel_via",
            "replace_via",
            "alert_to",
        ],
    ),
    (
        "http",
        &[
            "route",
            "middleware",
            "on_startup",
            "Client",
            "Request",
            "Response",
        ],
    ),
    (
        "classes",
        &[
            "Route",
            "LcrDecision",
            "Transform",
            "SecurityOffer",
            "AuthVectorHandle",
            "PendingSA",
            "SecurityServerParams",
            "SAHandle",
            "Flow",
        ],
    ),
    (
        "Request",
        &[
            "@method",
            "@ruri",
            "@from_uri",
            "@to_uri",
            "@from_tag",
            "@to_tag",
            "@call_id",
            "@cseq",
            "@in_dialog",
            "@max_forwards",
            "@body",
            "@content_type",
            "@transport",
            "@source_ip",
            "@source_port",
            "@user_agent",
            "@auth_user",
            "@contact_expires",
            "@event",
            "@route_user",
            "@consumed_route_user",
            "@consumed_routes",
            "@consumed_route",
            "@flow",
            "@is_ipsec_protected",
            "@matched_sa",
            "reply",
            "relay",
            "fork",
            "record_route",
            "loose_route",
            "get_header",
            "header",
            "set_header",
            "remove_header",
            "remove_headers_matching",
            "ensure_header",
            "has_header",
            "has_body",
            "remove_from_header_list",
            "set_body",
            "set_reply_header",
            "add_reply_header",
            "set_reply_to_tag",
            "set_reply_body",
            "set_ruri_user",
            "set_ruri_host",
            "set_from_display",
            "set_to_display",
            "set_from_uri",
            "set_to_uri",
            "set_contact_uri",
            "set_contact_user",
            "add_contact_alias",
            "add_path",
            "add_pcscf_path",
            "prepend_route",
            "fix_nated_register",
            "fix_nated_contact",
            "force_send_via",
            "source_ip_in",
            "from_gateway",
            "generate_icid",
            "set_charging_param",
            "rewrite_identities",
            "parse_security_client",
        ],
    ),
    (
        "Reply",
        &[
            "@status_code",
            "@reason",
            "@from_uri",
            "@to_uri",
            "@call_id",
            "@body",
            "@content_type",
            "@source_ip",
            "@source_port",
            "get_header",
            "header",
            "has_header",
            "set_header",
            "remove_header",
            "remove_headers_matching",
            "has_body",
            "relay",
            "forward",
            "reject",
            "from_gateway",
            "fix_nated_contact",
            "take_av",
        ],
    ),
    (
        "SipUri",
        &[
            "@scheme",
            "@user",
            "@host",
            "@port",
            "@is_tel",
            "@is_local",
            "@params",
        ],
    ),
    (
        "Contact",
        &[
            "@uri",
            "@q",
            "@expires",
            "@age_secs",
            "@received",
            "@path",
            "@instance_id",
            "@instance_epoch",
            "@is_local",
            "@flow_token",
            "@flow",
            "@kind",
            "@params",
        ],
    ),
    (
        "Destination",
        &[
            "@uri",
            "@address",
            "@healthy",
            "@weight",
            "@priority",
            "@attrs",
        ],
    ),
    ("Counter", &["inc", "labels"]),
    ("Gauge", &["inc", "dec", "set", "labels"]),
    ("Histogram", &["observe", "labels"]),
    ("TimerHandle", &["@key", "cancel"]),
    (
        "Number",
        &[
            "@e164",
            "@plain",
            "@international",
            "@national",
            "@cc",
            "@nsn",
            "format",
        ],
    ),
];

/// The namespaces anysip does not serve at all (each an [`Unserved`]).
pub(crate) const UNSERVED: &[&str] = &[
    "b2bua",
    "rtpengine",
    "cdr",
    "li",
    "registration",
    "diameter",
    "presence",
    "srs",
    "isc",
    "sbi",
    "ipsec",
    "stir",
    "sdp",
    "qos",
    "lcr",
    "smpp",
    "http",
];

/// SIPhon's names of `object`, with the property marker removed.
fn names_of(object: &str) -> impl Iterator<Item = (&'static str, bool)> + '_ {
    SIPHON
        .iter()
        .filter(move |(o, _)| *o == object)
        .flat_map(|(_, names)| names.iter())
        .map(|n| match n.strip_prefix('@') {
            Some(p) => (p, true),
            None => (*n, false),
        })
}

/// Functions already logged as not served.
static LOGGED: Mutex<Option<HashSet<String>>> = Mutex::new(None);

/// The error for `what`, logged the first time.
pub(crate) fn not_served(what: &str) -> PyErr {
    let first = {
        let mut logged = LOGGED.lock().unwrap_or_else(PoisonError::into_inner);
        logged
            .get_or_insert_with(HashSet::new)
            .insert(what.to_owned())
    };
    if first {
        tracing::warn!(target: "script", function = what, "a script called a SIPhon function anysip does not serve");
    }
    NotServedError::new_err(format!("{what} is not served by anysip"))
}

/// A SIPhon function anysip does not serve: calling it raises
/// [`NotServedError`].
#[pyclass(module = "anysip", name = "NotServed", frozen)]
#[derive(Debug)]
pub struct NotServedFn {
    what: String,
}

#[pymethods]
impl NotServedFn {
    #[pyo3(signature = (*_args, **_kwargs))]
    fn __call__(
        &self,
        _args: &Bound<'_, PyTuple>,
        _kwargs: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<()> {
        Err(not_served(&self.what))
    }

    fn __repr__(&self) -> String {
        format!("<{} (not served by anysip)>", self.what)
    }
}

/// What a served object's `__getattr__` gives for `name`: for one of
/// SIPhon's names, a function that raises (or, for a property, the error
/// at once); otherwise the usual AttributeError.
pub(crate) fn missing(
    py: Python<'_>,
    object: &str,
    prefix: &str,
    name: &str,
) -> PyResult<Py<PyAny>> {
    match names_of(object).find(|(n, _)| *n == name) {
        Some((_, true)) => Err(not_served(&format!("{prefix}.{name}"))),
        Some((_, false)) => Ok(Py::new(
            py,
            NotServedFn {
                what: format!("{prefix}.{name}()"),
            },
        )?
        .into_any()),
        None => Err(PyAttributeError::new_err(format!(
            "'{prefix}' has no attribute '{name}'"
        ))),
    }
}

/// A SIPhon namespace (or class) anysip does not serve: it imports, and
/// every function in it raises [`NotServedError`].
#[pyclass(module = "anysip", name = "Unserved", frozen)]
#[derive(Debug)]
pub struct Unserved {
    name: String,
}

impl Unserved {
    /// The namespace `siphon.<name>`.
    pub(crate) fn new(name: &str) -> Self {
        Unserved {
            name: name.to_owned(),
        }
    }
}

#[pymethods]
impl Unserved {
    fn __getattr__(&self, py: Python<'_>, name: &str) -> PyResult<Py<PyAny>> {
        if name.starts_with("__") {
            return Err(PyAttributeError::new_err(name.to_owned()));
        }
        let prefix = format!("siphon.{}", self.name);
        match names_of(&self.name).find(|(n, _)| *n == name) {
            Some((_, true)) => Err(not_served(&format!("{prefix}.{name}"))),
            // Any other name is as unserved as the known ones.
            _ => Ok(Py::new(
                py,
                NotServedFn {
                    what: format!("{prefix}.{name}()"),
                },
            )?
            .into_any()),
        }
    }

    #[pyo3(signature = (*_args, **_kwargs))]
    fn __call__(
        &self,
        _args: &Bound<'_, PyTuple>,
        _kwargs: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<()> {
        Err(not_served(&format!("siphon.{}()", self.name)))
    }

    fn __repr__(&self) -> String {
        format!("<siphon.{} (not served by anysip)>", self.name)
    }
}

/// Adds the unserved namespaces and classes to the module.
pub(crate) fn install(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("NotServedError", py.get_type::<NotServedError>())?;
    let names: Vec<(&str, &str)> = SIPHON
        .iter()
        .flat_map(|(o, ns)| ns.iter().map(move |n| (*o, n.trim_start_matches('@'))))
        .collect();
    m.add("_siphon_names", names)?;
    for ns in UNSERVED {
        m.add(*ns, Py::new(py, Unserved::new(ns))?)?;
    }
    for (class, _) in names_of("classes") {
        // A class anysip serves (`Flow`) is already there.
        if !m.hasattr(class)? {
            m.add(class, Py::new(py, Unserved::new(class))?)?;
        }
    }
    Ok(())
}
