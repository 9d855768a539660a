//! The families, their registration, and the series of each configured
//! service, prefix and check.

use std::sync::atomic::AtomicU64;
use std::sync::OnceLock;

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Registry, Unit};

use super::labels::{
    CheckKindLabels, CheckLabels, Kind, MaintenanceLabels, ProtocolLabels, ServiceLabels, Source,
    StateLabels, TransitionLabels, WantedLabels,
};
use crate::config::{CheckConfig, PrefixConfig, ServiceConfig};
use crate::machine::{PrefixAction, ServiceState};

/// Upper bounds of the check run-time buckets, in seconds: local checks take
/// a millisecond or so, the default time limit is 0.5 s.
const DURATION_BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
];

pub(super) type FloatGauge = Gauge<f64, AtomicU64>;
type HistogramFamily = Family<CheckLabels, Histogram, fn() -> Histogram>;

fn duration_histogram() -> Histogram {
    Histogram::new(DURATION_BUCKETS)
}

/// Every family and unlabelled metric, registered in one [`Registry`].
#[derive(Debug)]
pub(super) struct Families {
    service_state: Family<StateLabels, Gauge>,
    transitions: Family<TransitionLabels, Counter>,
    address_present: Family<ServiceLabels, Gauge>,
    prefix_wanted: Family<WantedLabels, Gauge>,
    protocol_up: Family<ProtocolLabels, Gauge>,
    check_up: Family<CheckKindLabels, Gauge>,
    check_duration: HistogramFamily,
    pub(super) check_last_duration: Family<CheckLabels, FloatGauge>,
    check_failures: Family<CheckLabels, Counter>,
    maintenance: Family<MaintenanceLabels, Gauge>,
    pub(super) bird_connected: Gauge,
    pub(super) bird_commands: Counter,
    pub(super) bird_errors: Counter,
    pub(super) bird_corrections: Counter,
}

impl Families {
    /// The families, registered under `routerd_` in the order the page lists
    /// them. Counters are registered without `_total`: the encoder adds it.
    pub(super) fn new() -> (Families, Registry) {
        let f = Families {
            service_state: Family::default(),
            transitions: Family::default(),
            address_present: Family::default(),
            prefix_wanted: Family::default(),
            protocol_up: Family::default(),
            check_up: Family::default(),
            check_duration: Family::new_with_constructor(duration_histogram),
            check_last_duration: Family::default(),
            check_failures: Family::default(),
            maintenance: Family::default(),
            bird_connected: Gauge::default(),
            bird_commands: Counter::default(),
            bird_errors: Counter::default(),
            bird_corrections: Counter::default(),
        };
        let mut r = Registry::with_prefix("routerd");
        r.register(
            "service_state",
            "1 for the state each service is in",
            f.service_state.clone(),
        );
        r.register(
            "service_transitions",
            "State transitions, by the state entered",
            f.transitions.clone(),
        );
        r.register(
            "service_address_present",
            "1 if every anycast address of the service is on a local interface",
            f.address_present.clone(),
        );
        r.register(
            "prefix_wanted",
            "1 for the action wanted for each prefix",
            f.prefix_wanted.clone(),
        );
        r.register(
            "bird_protocol_up",
            "1 if BIRD last reported the protocol up",
            f.protocol_up.clone(),
        );
        r.register(
            "check_up",
            "1 if the check is up (passed rise times and not failed fall times since)",
            f.check_up.clone(),
        );
        r.register_with_unit(
            "check_duration",
            "Check run time",
            Unit::Seconds,
            f.check_duration.clone(),
        );
        r.register_with_unit(
            "check_last_duration",
            "Run time of the last check",
            Unit::Seconds,
            f.check_last_duration.clone(),
        );
        r.register(
            "check_failures",
            "Failed check runs",
            f.check_failures.clone(),
        );
        r.register(
            "maintenance",
            "1 while a maintenance source asks for drain",
            f.maintenance.clone(),
        );
        r.register(
            "bird_connected",
            "1 if the last exchange with BIRD worked",
            f.bird_connected.clone(),
        );
        r.register(
            "bird_commands",
            "Commands sent to BIRD",
            f.bird_commands.clone(),
        );
        r.register(
            "bird_errors",
            "Failed exchanges with BIRD",
            f.bird_errors.clone(),
        );
        r.register(
            "bird_corrections",
            "Protocols found in the wrong state and re-asserted",
            f.bird_corrections.clone(),
        );
        (f, r)
    }

    /// The maintenance series, in [`Source::ALL`] order.
    pub(super) fn maintenance(&self) -> [Gauge; 3] {
        Source::ALL.map(|source| {
            self.maintenance
                .get_or_create_owned(&MaintenanceLabels { source })
        })
    }
}

/// One service's series.
#[derive(Debug)]
pub(super) struct ServiceSeries {
    /// In [`ServiceState::ALL`] order.
    pub state: [Gauge; 7],
    /// In [`ServiceState::ALL`] order.
    pub transitions: [Counter; 7],
    pub address_present: Gauge,
    pub prefixes: Vec<PrefixSeries>,
    pub checks: Vec<CheckSeries>,
}

impl ServiceSeries {
    pub(super) fn new(f: &Families, s: &ServiceConfig) -> ServiceSeries {
        let service = || s.name.clone();
        ServiceSeries {
            state: ServiceState::ALL.map(|state| {
                f.service_state.get_or_create_owned(&StateLabels {
                    service: service(),
                    state,
                })
            }),
            transitions: ServiceState::ALL.map(|to| {
                f.transitions.get_or_create_owned(&TransitionLabels {
                    service: service(),
                    to,
                })
            }),
            address_present: f
                .address_present
                .get_or_create_owned(&ServiceLabels { service: service() }),
            prefixes: s
                .prefixes
                .iter()
                .map(|p| PrefixSeries::new(f, &s.name, p))
                .collect(),
            checks: s
                .checks
                .iter()
                .map(|c| CheckSeries::new(f, &s.name, c))
                .collect(),
        }
    }
}

/// One prefix's series.
#[derive(Debug)]
pub(super) struct PrefixSeries {
    /// In [`PrefixAction::ALL`] order.
    pub wanted: [Gauge; 3],
    pub announce_up: Gauge,
    pub drain_up: Gauge,
}

impl PrefixSeries {
    fn new(f: &Families, service: &str, p: &PrefixConfig) -> PrefixSeries {
        let prefix = p.prefix.to_string();
        let protocol = |name: &str| {
            f.protocol_up.get_or_create_owned(&ProtocolLabels {
                prefix: prefix.clone(),
                protocol: name.to_owned(),
            })
        };
        PrefixSeries {
            wanted: PrefixAction::ALL.map(|action| {
                f.prefix_wanted.get_or_create_owned(&WantedLabels {
                    service: service.to_owned(),
                    prefix: prefix.clone(),
                    action,
                })
            }),
            announce_up: protocol(&p.announce_protocol),
            drain_up: protocol(&p.drain_protocol),
        }
    }
}

/// One check's series.
#[derive(Debug)]
pub(super) struct CheckSeries {
    pub labels: CheckLabels,
    pub up: Gauge,
    pub failures: Counter,
    pub duration: Histogram,
    /// Created at the first run: there is no last run time before it.
    pub last_duration: OnceLock<FloatGauge>,
}

impl CheckSeries {
    fn new(f: &Families, service: &str, c: &CheckConfig) -> CheckSeries {
        let labels = CheckLabels {
            service: service.to_owned(),
            check: c.name.clone(),
        };
        CheckSeries {
            up: f.check_up.get_or_create_owned(&CheckKindLabels {
                service: service.to_owned(),
                check: c.name.clone(),
                kind: Kind::from(c.kind().as_ref()),
            }),
            failures: f.check_failures.get_or_create_owned(&labels),
            duration: f.check_duration.get_or_create_owned(&labels),
            last_duration: OnceLock::new(),
            labels,
        }
    }
}
