use super::*;
use crate::engine::initial_status;

const CONFIG: &str = r#"
services:
  - name: edge
    addresses: [192.0.2.1]
    prefixes:
      - prefix: 192.0.2.1/32
        announce_protocol: a4
        drain_protocol: d4
    checks:
      - name: ready
        http: { url: http://127.0.0.1:9090/admin/ready }
      - name: sip
        sip_options: { target: 127.0.0.1:5060 }
  - name: 'odd "name" \ here'
    addresses: [192.0.2.2]
    prefixes:
      - prefix: 2001:db8::2/128
        announce_protocol: a6
        drain_protocol: d6
    checks:
      - name: script
        command: { argv: [/bin/true] }
"#;

fn setup() -> (Metrics, Status) {
    let config = Config::parse(CONFIG, "t.yaml").expect("config");
    (Metrics::new(&config), initial_status(&config))
}

fn page(m: &Metrics, st: &Status) -> String {
    m.render(st).expect("encodes")
}

fn assert_has(page: &str, lines: &[&str]) {
    for want in lines {
        assert!(
            page.lines().any(|l| l == *want),
            "missing {want:?} in\n{page}"
        );
    }
}

#[test]
fn every_series_is_there_from_the_start() {
    let (m, st) = setup();
    let p = page(&m, &st);
    assert_has(
        &p,
        &[
            "# HELP routerd_service_state 1 for the state each service is in.",
            "# TYPE routerd_service_state gauge",
            "routerd_service_state{service=\"edge\",state=\"init\"} 1",
            "routerd_service_state{service=\"edge\",state=\"withdrawn\"} 0",
            "# TYPE routerd_service_transitions_total counter",
            "routerd_service_transitions_total{service=\"edge\",to=\"up\"} 0",
            "routerd_service_address_present{service=\"edge\"} 0",
            "routerd_prefix_wanted{service=\"edge\",prefix=\"192.0.2.1/32\",action=\"withdraw\"} 1",
            "routerd_prefix_wanted{service=\"edge\",prefix=\"192.0.2.1/32\",action=\"announce-drain\"} 0",
            "routerd_bird_protocol_up{prefix=\"192.0.2.1/32\",protocol=\"a4\"} 0",
            "routerd_bird_protocol_up{prefix=\"2001:db8::2/128\",protocol=\"d6\"} 0",
            "routerd_check_up{service=\"edge\",check=\"ready\",kind=\"http\"} 0",
            "routerd_check_up{service=\"edge\",check=\"sip\",kind=\"sip_options\"} 0",
            "# TYPE routerd_check_duration_seconds histogram",
            "routerd_check_duration_seconds_count{service=\"edge\",check=\"ready\"} 0",
            "routerd_check_duration_seconds_sum{service=\"edge\",check=\"ready\"} 0.0",
            "routerd_check_failures_total{service=\"edge\",check=\"sip\"} 0",
            "routerd_maintenance{source=\"disable_file\"} 0",
            "routerd_maintenance{source=\"admin\"} 0",
            "routerd_maintenance{source=\"shutdown\"} 0",
            "routerd_bird_connected 0",
            "# TYPE routerd_bird_commands_total counter",
            "routerd_bird_commands_total 0",
            "routerd_bird_errors_total 0",
            "routerd_bird_corrections_total 0",
        ],
    );
    // No run yet, no last run time.
    assert!(!p.contains("routerd_check_last_duration_seconds{"), "{p}");
    // Label values are escaped.
    assert_has(
        &p,
        &["routerd_check_up{service=\"odd \\\"name\\\" \\\\ here\",check=\"script\",kind=\"command\"} 0"],
    );
}

#[test]
fn gauges_follow_the_status() {
    let (m, mut st) = setup();
    let s = &mut st.services[0];
    s.state = "draining".into();
    s.address_present = true;
    s.checks[0].health = "up".into();
    s.prefixes[0].wanted = "announce-drain".into();
    s.prefixes[0].drain_state = Some("up".into());
    s.prefixes[0].announce_state = Some("down".into());
    st.maintenance.admin = true;
    st.bird.connected = true;
    let p = page(&m, &st);
    assert_has(
        &p,
        &[
            "routerd_service_state{service=\"edge\",state=\"draining\"} 1",
            "routerd_service_state{service=\"edge\",state=\"init\"} 0",
            "routerd_service_address_present{service=\"edge\"} 1",
            "routerd_check_up{service=\"edge\",check=\"ready\",kind=\"http\"} 1",
            "routerd_prefix_wanted{service=\"edge\",prefix=\"192.0.2.1/32\",action=\"announce-drain\"} 1",
            "routerd_prefix_wanted{service=\"edge\",prefix=\"192.0.2.1/32\",action=\"withdraw\"} 0",
            "routerd_bird_protocol_up{prefix=\"192.0.2.1/32\",protocol=\"d4\"} 1",
            "routerd_bird_protocol_up{prefix=\"192.0.2.1/32\",protocol=\"a4\"} 0",
            "routerd_maintenance{source=\"admin\"} 1",
            "routerd_bird_connected 1",
        ],
    );
}

#[test]
fn events_are_counted() {
    let (m, st) = setup();
    m.transition(0, ServiceState::Rising);
    m.transition(0, ServiceState::Rising);
    m.transition(1, ServiceState::Down);
    m.transition(7, ServiceState::Down); // no such service: ignored
    let ready = CheckId {
        service: 0,
        check: 0,
    };
    m.check_ran(ready, true, 0.002);
    m.check_ran(ready, false, 0.5);
    m.check_ran(
        CheckId {
            service: 0,
            check: 9,
        },
        false,
        1.0,
    );
    m.bird_command();
    m.bird_command();
    m.bird_error();
    m.bird_correction();
    let p = page(&m, &st);
    assert_has(
        &p,
        &[
            "routerd_service_transitions_total{service=\"edge\",to=\"rising\"} 2",
            "routerd_service_transitions_total{service=\"edge\",to=\"down\"} 0",
            "routerd_service_transitions_total{service=\"odd \\\"name\\\" \\\\ here\",to=\"down\"} 1",
            "routerd_check_duration_seconds_count{service=\"edge\",check=\"ready\"} 2",
            "routerd_check_duration_seconds_sum{service=\"edge\",check=\"ready\"} 0.502",
            "routerd_check_duration_seconds_bucket{service=\"edge\",check=\"ready\",le=\"0.0025\"} 1",
            "routerd_check_duration_seconds_bucket{service=\"edge\",check=\"ready\",le=\"0.5\"} 2",
            "routerd_check_duration_seconds_bucket{service=\"edge\",check=\"ready\",le=\"+Inf\"} 2",
            "routerd_check_last_duration_seconds{service=\"edge\",check=\"ready\"} 0.5",
            "routerd_check_failures_total{service=\"edge\",check=\"ready\"} 1",
            "routerd_check_failures_total{service=\"edge\",check=\"sip\"} 0",
            "routerd_bird_commands_total 2",
            "routerd_bird_errors_total 1",
            "routerd_bird_corrections_total 1",
        ],
    );
}
