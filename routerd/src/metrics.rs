//! routerd's Prometheus metrics (`GET /metrics`), kept and encoded by the
//! `prometheus-client` crate.
//!
//! One registry holds every family, with a series for each configured
//! service, prefix, BIRD protocol and check created at start, so every
//! series is on the page (at 0) from the first scrape. Each series' handle
//! is looked up once: counting an event is an atomic add.
//!
//! - Events are counted where they happen: state transitions, check runs
//!   (failures, run time), commands to BIRD, failed exchanges, corrections.
//! - Gauges that show the current state (service state, wanted action,
//!   address present, BIRD protocol up, check up, maintenance, BIRD
//!   connected) are copied from the [`Status`] snapshot at scrape time, so
//!   `/metrics` and `/status` cannot disagree.
//!
//! The page is the Prometheus text format 0.0.4 ([`CONTENT_TYPE`]).

pub(crate) mod labels;
mod series;

use prometheus_client::encoding::prometheus_text;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use crate::config::Config;
use crate::machine::{CheckId, PrefixAction, ServiceState};
use crate::status::Status;
use labels::Source;
use series::{Families, ServiceSeries};

/// The `Content-Type` of the page.
pub const CONTENT_TYPE: &str = prometheus_text::CONTENT_TYPE;

/// The registry and the handle of every series.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    families: Families,
    services: Vec<ServiceSeries>,
    /// In [`Source::ALL`] order.
    maintenance: [Gauge; 3],
}

impl Metrics {
    /// The metrics of `config`'s services, all at 0.
    pub fn new(config: &Config) -> Metrics {
        let (families, registry) = Families::new();
        let services = config
            .services
            .iter()
            .map(|s| ServiceSeries::new(&families, s))
            .collect();
        Metrics {
            registry,
            maintenance: families.maintenance(),
            families,
            services,
        }
    }

    /// Service number `service` entered `to`.
    pub fn transition(&self, service: usize, to: ServiceState) {
        let Some(s) = self.services.get(service) else {
            return;
        };
        for (state, counter) in ServiceState::ALL.iter().zip(&s.transitions) {
            if *state == to {
                counter.inc();
            }
        }
    }

    /// A check ran for `seconds` and passed (`ok`) or failed.
    pub fn check_ran(&self, id: CheckId, ok: bool, seconds: f64) {
        let Some(c) = self
            .services
            .get(id.service)
            .and_then(|s| s.checks.get(id.check))
        else {
            return;
        };
        if !ok {
            c.failures.inc();
        }
        c.duration.observe(seconds);
        c.last_duration
            .get_or_init(|| {
                self.families
                    .check_last_duration
                    .get_or_create_owned(&c.labels)
            })
            .set(seconds);
    }

    /// A command was sent to BIRD.
    pub fn bird_command(&self) {
        self.families.bird_commands.inc();
    }

    /// An exchange with BIRD failed.
    pub fn bird_error(&self) {
        self.families.bird_errors.inc();
    }

    /// A protocol was found in the wrong state and re-asserted.
    pub fn bird_correction(&self) {
        self.families.bird_corrections.inc();
    }

    /// The page: the state gauges set from `st`, then every family encoded.
    pub fn render(&self, st: &Status) -> Result<String, std::fmt::Error> {
        self.mirror(st);
        let mut page = String::new();
        prometheus_text::encode(&mut page, &self.registry)?;
        Ok(page)
    }

    /// Copies the current state from `st` into the gauges. `st` comes from
    /// the same configuration, so its services, prefixes and checks are in
    /// the order of the series.
    fn mirror(&self, st: &Status) {
        for (s, series) in st.services.iter().zip(&self.services) {
            for (state, g) in ServiceState::ALL.iter().zip(&series.state) {
                g.set(flag(s.state == state.as_str()));
            }
            series.address_present.set(flag(s.address_present));
            for (p, ps) in s.prefixes.iter().zip(&series.prefixes) {
                for (action, g) in PrefixAction::ALL.iter().zip(&ps.wanted) {
                    g.set(flag(p.wanted == action.as_str()));
                }
                ps.announce_up
                    .set(flag(p.announce_state.as_deref() == Some("up")));
                ps.drain_up
                    .set(flag(p.drain_state.as_deref() == Some("up")));
            }
            for (c, cs) in s.checks.iter().zip(&series.checks) {
                cs.up.set(flag(c.health == "up"));
            }
        }
        let m = &st.maintenance;
        for (source, g) in Source::ALL.iter().zip(&self.maintenance) {
            g.set(flag(match source {
                Source::DisableFile => m.disable_file,
                Source::Admin => m.admin,
                Source::Shutdown => m.shutting_down,
            }));
        }
        self.families.bird_connected.set(flag(st.bird.connected));
    }
}

fn flag(b: bool) -> i64 {
    i64::from(b)
}

#[cfg(test)]
mod tests;
