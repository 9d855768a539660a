//! The label sets of routerd's metric families, and the closed sets of
//! label values.
//!
//! The enums encode as the names used in logs and `/status` (`init`,
//! `announce-drain`, `sip_options`, `disable_file`), which the
//! `EncodeLabelValue` derive cannot spell (it writes the variant's
//! identifier), so their impls are written out, each a single `as_str`.

use std::fmt::{self, Write};

use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue, LabelValueEncoder};

use crate::config::CheckKind;
use crate::machine::{PrefixAction, ServiceState};

/// `{service}`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub struct ServiceLabels {
    pub service: String,
}

/// `{service, state}`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub struct StateLabels {
    pub service: String,
    pub state: ServiceState,
}

/// `{service, to}`: the state entered.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub struct TransitionLabels {
    pub service: String,
    pub to: ServiceState,
}

/// `{service, prefix, action}`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub struct WantedLabels {
    pub service: String,
    pub prefix: String,
    pub action: PrefixAction,
}

/// `{prefix, protocol}`: a BIRD protocol of a prefix.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub struct ProtocolLabels {
    pub prefix: String,
    pub protocol: String,
}

/// `{service, check}`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub struct CheckLabels {
    pub service: String,
    pub check: String,
}

/// `{service, check, kind}`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub struct CheckKindLabels {
    pub service: String,
    pub check: String,
    pub kind: Kind,
}

/// `{source}`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub struct MaintenanceLabels {
    pub source: Source,
}

/// What a check does (`kind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    Http,
    SipOptions,
    Command,
    /// Not one kind: only in a configuration that failed validation.
    None,
}

impl Kind {
    /// The name, as in `/status`.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Http => "http",
            Kind::SipOptions => "sip_options",
            Kind::Command => "command",
            Kind::None => "none",
        }
    }
}

impl From<Option<&CheckKind>> for Kind {
    fn from(k: Option<&CheckKind>) -> Kind {
        match k {
            Some(CheckKind::Http(_)) => Kind::Http,
            Some(CheckKind::SipOptions(_)) => Kind::SipOptions,
            Some(CheckKind::Command(_)) => Kind::Command,
            None => Kind::None,
        }
    }
}

/// A maintenance source (`source`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Source {
    /// The disable file exists.
    DisableFile,
    /// `POST /drain`.
    Admin,
    /// A shutdown is under way.
    Shutdown,
}

impl Source {
    /// Every source, in the order the metrics list them.
    pub const ALL: [Source; 3] = [Source::DisableFile, Source::Admin, Source::Shutdown];

    /// The name.
    pub fn as_str(self) -> &'static str {
        match self {
            Source::DisableFile => "disable_file",
            Source::Admin => "admin",
            Source::Shutdown => "shutdown",
        }
    }
}

impl EncodeLabelValue for ServiceState {
    fn encode(&self, e: &mut LabelValueEncoder<'_>) -> fmt::Result {
        e.write_str(self.as_str())
    }
}

impl EncodeLabelValue for PrefixAction {
    fn encode(&self, e: &mut LabelValueEncoder<'_>) -> fmt::Result {
        e.write_str(self.as_str())
    }
}

impl EncodeLabelValue for Kind {
    fn encode(&self, e: &mut LabelValueEncoder<'_>) -> fmt::Result {
        e.write_str(self.as_str())
    }
}

impl EncodeLabelValue for Source {
    fn encode(&self, e: &mut LabelValueEncoder<'_>) -> fmt::Result {
        e.write_str(self.as_str())
    }
}
