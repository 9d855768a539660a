//! Prometheus text rendering of the [`Status`].

use std::fmt::Write;

use crate::machine::{PrefixAction, ServiceState};
use crate::status::Status;

/// Escapes a label value.
fn esc(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// The whole `/metrics` page.
pub fn render(st: &Status) -> String {
    let mut o = String::new();
    // Writing to a String cannot fail.
    let _ = render_into(&mut o, st);
    o
}

fn render_into(o: &mut String, st: &Status) -> std::fmt::Result {
    writeln!(
        o,
        "# HELP routerd_service_state 1 for the state each service is in."
    )?;
    writeln!(o, "# TYPE routerd_service_state gauge")?;
    for s in &st.services {
        for state in ServiceState::ALL {
            let v = u8::from(s.state == state.as_str());
            writeln!(
                o,
                "routerd_service_state{{service=\"{}\",state=\"{state}\"}} {v}",
                esc(&s.name)
            )?;
        }
    }
    writeln!(
        o,
        "# HELP routerd_service_transitions_total State transitions, by the state entered."
    )?;
    writeln!(o, "# TYPE routerd_service_transitions_total counter")?;
    for s in &st.services {
        for state in ServiceState::ALL {
            let v = s.transitions.get(state.as_str()).copied().unwrap_or(0);
            writeln!(
                o,
                "routerd_service_transitions_total{{service=\"{}\",to=\"{state}\"}} {v}",
                esc(&s.name)
            )?;
        }
    }
    writeln!(o, "# HELP routerd_service_address_present 1 if every anycast address of the service is on a local interface.")?;
    writeln!(o, "# TYPE routerd_service_address_present gauge")?;
    for s in &st.services {
        writeln!(
            o,
            "routerd_service_address_present{{service=\"{}\"}} {}",
            esc(&s.name),
            u8::from(s.address_present)
        )?;
    }
    writeln!(
        o,
        "# HELP routerd_prefix_wanted 1 for the action wanted for each prefix."
    )?;
    writeln!(o, "# TYPE routerd_prefix_wanted gauge")?;
    for s in &st.services {
        for p in &s.prefixes {
            for a in PrefixAction::ALL {
                let v = u8::from(p.wanted == a.as_str());
                writeln!(
                    o,
                    "routerd_prefix_wanted{{service=\"{}\",prefix=\"{}\",action=\"{a}\"}} {v}",
                    esc(&s.name),
                    esc(&p.prefix)
                )?;
            }
        }
    }
    writeln!(
        o,
        "# HELP routerd_bird_protocol_up 1 if BIRD last reported the protocol up."
    )?;
    writeln!(o, "# TYPE routerd_bird_protocol_up gauge")?;
    for s in &st.services {
        for p in &s.prefixes {
            for (proto, state) in [
                (&p.announce_protocol, &p.announce_state),
                (&p.drain_protocol, &p.drain_state),
            ] {
                let v = u8::from(state.as_deref() == Some("up"));
                writeln!(
                    o,
                    "routerd_bird_protocol_up{{prefix=\"{}\",protocol=\"{}\"}} {v}",
                    esc(&p.prefix),
                    esc(proto)
                )?;
            }
        }
    }
    writeln!(o, "# HELP routerd_check_up 1 if the check is up (passed rise times and not failed fall times since).")?;
    writeln!(o, "# TYPE routerd_check_up gauge")?;
    for s in &st.services {
        for c in &s.checks {
            writeln!(
                o,
                "routerd_check_up{{service=\"{}\",check=\"{}\",kind=\"{}\"}} {}",
                esc(&s.name),
                esc(&c.name),
                c.kind,
                u8::from(c.health == "up")
            )?;
        }
    }
    writeln!(o, "# HELP routerd_check_duration_seconds Check run time.")?;
    writeln!(o, "# TYPE routerd_check_duration_seconds summary")?;
    for s in &st.services {
        for c in &s.checks {
            let l = format!("service=\"{}\",check=\"{}\"", esc(&s.name), esc(&c.name));
            writeln!(
                o,
                "routerd_check_duration_seconds_sum{{{l}}} {}",
                c.latency_seconds_sum
            )?;
            writeln!(
                o,
                "routerd_check_duration_seconds_count{{{l}}} {}",
                c.runs_total
            )?;
        }
    }
    writeln!(
        o,
        "# HELP routerd_check_last_duration_seconds Run time of the last check."
    )?;
    writeln!(o, "# TYPE routerd_check_last_duration_seconds gauge")?;
    for s in &st.services {
        for c in &s.checks {
            if let Some(v) = c.last_latency_seconds {
                writeln!(
                    o,
                    "routerd_check_last_duration_seconds{{service=\"{}\",check=\"{}\"}} {v}",
                    esc(&s.name),
                    esc(&c.name)
                )?;
            }
        }
    }
    writeln!(o, "# HELP routerd_check_failures_total Failed check runs.")?;
    writeln!(o, "# TYPE routerd_check_failures_total counter")?;
    for s in &st.services {
        for c in &s.checks {
            writeln!(
                o,
                "routerd_check_failures_total{{service=\"{}\",check=\"{}\"}} {}",
                esc(&s.name),
                esc(&c.name),
                c.failures_total
            )?;
        }
    }
    writeln!(
        o,
        "# HELP routerd_maintenance 1 while a maintenance source asks for drain."
    )?;
    writeln!(o, "# TYPE routerd_maintenance gauge")?;
    writeln!(
        o,
        "routerd_maintenance{{source=\"disable_file\"}} {}",
        u8::from(st.maintenance.disable_file)
    )?;
    writeln!(
        o,
        "routerd_maintenance{{source=\"admin\"}} {}",
        u8::from(st.maintenance.admin)
    )?;
    writeln!(
        o,
        "routerd_maintenance{{source=\"shutdown\"}} {}",
        u8::from(st.maintenance.shutting_down)
    )?;
    writeln!(
        o,
        "# HELP routerd_bird_connected 1 if the last exchange with BIRD worked."
    )?;
    writeln!(o, "# TYPE routerd_bird_connected gauge")?;
    writeln!(o, "routerd_bird_connected {}", u8::from(st.bird.connected))?;
    writeln!(
        o,
        "# HELP routerd_bird_commands_total Commands sent to BIRD."
    )?;
    writeln!(o, "# TYPE routerd_bird_commands_total counter")?;
    writeln!(o, "routerd_bird_commands_total {}", st.bird.commands_total)?;
    writeln!(
        o,
        "# HELP routerd_bird_errors_total Failed exchanges with BIRD."
    )?;
    writeln!(o, "# TYPE routerd_bird_errors_total counter")?;
    writeln!(o, "routerd_bird_errors_total {}", st.bird.errors_total)?;
    writeln!(
        o,
        "# HELP routerd_bird_corrections_total Protocols found in the wrong state and re-asserted."
    )?;
    writeln!(o, "# TYPE routerd_bird_corrections_total counter")?;
    writeln!(
        o,
        "routerd_bird_corrections_total {}",
        st.bird.corrections_total
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::status::{CheckStatus, PrefixStatus, ServiceStatus};

    #[test]
    fn renders_states_and_counters() {
        let mut st = Status::default();
        st.services.push(ServiceStatus {
            name: "edge".into(),
            state: "draining".into(),
            wanted: "announce-drain".into(),
            checks: vec![CheckStatus {
                name: "ready".into(),
                kind: "http".into(),
                health: "up".into(),
                runs_total: 4,
                latency_seconds_sum: 0.5,
                ..Default::default()
            }],
            prefixes: vec![PrefixStatus {
                prefix: "192.0.2.1/32".into(),
                announce_protocol: "a4".into(),
                drain_protocol: "d4".into(),
                wanted: "announce-drain".into(),
                announce_state: Some("down".into()),
                drain_state: Some("up".into()),
            }],
            ..Default::default()
        });
        st.bird.errors_total = 3;
        let m = render(&st);
        for want in [
            "routerd_service_state{service=\"edge\",state=\"draining\"} 1",
            "routerd_service_state{service=\"edge\",state=\"up\"} 0",
            "routerd_prefix_wanted{service=\"edge\",prefix=\"192.0.2.1/32\",action=\"announce-drain\"} 1",
            "routerd_bird_protocol_up{prefix=\"192.0.2.1/32\",protocol=\"d4\"} 1",
            "routerd_check_duration_seconds_count{service=\"edge\",check=\"ready\"} 4",
            "routerd_bird_errors_total 3",
        ] {
            assert!(m.contains(want), "missing {want} in\n{m}");
        }
        assert_eq!(esc("a\"b\\"), "a\\\"b\\\\");
    }
}
