//! The registrar with bindings in memory: save, lookup order, remove, list,
//! sweep.
#![allow(clippy::unwrap_used)]
#![recursion_limit = "256"]

#[path = "support/aliases.rs"]
mod aliases;
#[path = "support/sip.rs"]
mod sipmsg;

use registrar::RegistrarConfig;
use registrar::{Policy, Registrar};
use sipmsg::{register, source};

const NOW: u64 = 2_000_000;

#[tokio::test]
async fn save_lookup_remove_list_sweep() {
    let r = Registrar::from_config(&RegistrarConfig::default())
        .await
        .unwrap();
    let alice = "sip:alice@example.com";
    let save = |call_id: &'static str, cseq, extra: &'static str, now| {
        let r = &r;
        async move {
            r.save(&register(alice, call_id, cseq, extra), &source(), now)
                .await
                .unwrap()
        }
    };
    let o = save(
        "c1",
        1,
        "Contact: <sip:a@192.0.2.1>;q=0.5;expires=60\r\n",
        NOW,
    )
    .await;
    assert_eq!(o.status, 200);
    assert!(o.saved);
    save(
        "c2",
        1,
        "Contact: <sip:b@192.0.2.2>;expires=600\r\n",
        NOW + 1,
    )
    .await;
    save(
        "c3",
        1,
        "Contact: <sip:c@192.0.2.3>;expires=600\r\n",
        NOW + 2,
    )
    .await;
    // Best q first, then the most recent.
    let uris = |v: Vec<registrar::Binding>| v.into_iter().map(|b| b.uri).collect::<Vec<_>>();
    assert_eq!(
        uris(r.lookup("sip:alice@EXAMPLE.COM", NOW + 3).await.unwrap()),
        ["sip:c@192.0.2.3", "sip:b@192.0.2.2", "sip:a@192.0.2.1"]
    );
    // A query lists them without saving.
    let o = save("c4", 1, "", NOW + 3).await;
    assert_eq!(
        (o.status, o.saved, o.header_values("Contact").count()),
        (200, false, 3)
    );
    // The first one expires.
    assert_eq!(r.lookup(alice, NOW + 61).await.unwrap().len(), 2);
    assert_eq!(r.sweep(NOW + 61).await.unwrap(), 1);
    save("c5", 1, "Contact: <sip:d@192.0.2.9>\r\n", NOW + 61).await;
    let listed = r.list(NOW + 61).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].0, alice);
    assert_eq!(listed[0].1.len(), 3);
    assert_eq!(r.remove(alice, NOW + 61).await.unwrap(), 3);
    assert!(r.lookup(alice, NOW + 61).await.unwrap().is_empty());
    // A tel URI names an AoR only as an alias; other schemes name none.
    assert!(r.lookup("tel:+1555", NOW).await.unwrap().is_empty());
    assert!(r.lookup("mailto:a@example.com", NOW).await.is_err());
    assert_eq!(r.policy(), &Policy::default());
}

/// RFC 5626 §5.3: a dead flow's binding ends; the instance's other flow
/// stays; a binding registered again over a new flow (another Path) is not
/// the one tried and stays too.
#[tokio::test]
async fn a_dead_flow_ends_its_binding_only() {
    let r = Registrar::from_config(&RegistrarConfig::default())
        .await
        .unwrap();
    let aor = "sip:dave@example.com";
    let inst = "<urn:uuid:00000000-0000-1000-8000-000a95a0e128>";
    let flow = |reg_id: u32, edge: &str| {
        format!(
            "Supported: outbound, path\r\nPath: <sip:{edge};lr;ob>\r\n\
             Contact: <sip:dave@192.0.2.1;ob>;+sip.instance=\"{inst}\";reg-id={reg_id};expires=600\r\n"
        )
    };
    for (reg_id, edge) in [(1, "edge1"), (2, "edge2")] {
        let msg = register(aor, &format!("f{reg_id}"), 1, &flow(reg_id, edge));
        let o = r.save(&msg, &source(), NOW).await.unwrap();
        assert_eq!(o.status, 200, "{o:?}");
    }
    assert_eq!(r.lookup(aor, NOW).await.unwrap().len(), 2);
    let path = vec!["<sip:edge1;lr;ob>".to_string()];
    let tried = registrar::TriedFlow {
        instance: inst,
        reg_id: 1,
        uri: "sip:dave@192.0.2.1;ob",
        path: &path,
    };
    // Registered again over another edge before the failure was reported:
    // that binding is not the one tried.
    let again = register(aor, "f1", 2, &flow(1, "edge3"));
    assert_eq!(r.save(&again, &source(), NOW).await.unwrap().status, 200);
    assert_eq!(r.remove_flow(aor, &tried, NOW).await.unwrap(), None);
    assert_eq!(r.lookup(aor, NOW).await.unwrap().len(), 2);
    // The flow over edge 3 fails: it ends, reg-id 2 remains.
    let path3 = vec!["<sip:edge3;lr;ob>".to_string()];
    let tried3 = registrar::TriedFlow {
        path: &path3,
        ..tried
    };
    let rest = r.remove_flow(aor, &tried3, NOW).await.unwrap().unwrap();
    assert_eq!(rest.len(), 1);
    assert_eq!(rest[0].reg_id, Some(2));
    assert_eq!(r.lookup(aor, NOW).await.unwrap(), rest);
    // Reported twice (two cores, two requests): the second finds nothing.
    assert_eq!(r.remove_flow(aor, &tried3, NOW).await.unwrap(), None);
}

/// `save_granted` (SIPhon's `save_proxy`): the registrar of record's grant
/// plus 32 s, not this registrar's `max_expires`; a contact's own shorter
/// expiry wins; a grant of 0 and `*` remove.
#[tokio::test]
async fn a_proxy_keeps_what_the_registrar_of_record_granted() {
    let config = RegistrarConfig {
        max_expires: 300,
        default_expires: 300,
        ..RegistrarConfig::default()
    };
    let r = Registrar::from_config(&config).await.unwrap();
    let alice = "sip:alice@example.com";
    let contacts = "Contact: <sip:a@192.0.2.1>, <sip:b@192.0.2.2>;expires=100\r\nExpires: 7200\r\n";
    let o = r
        .save_granted(&register(alice, "p1", 1, contacts), &source(), 3600, NOW)
        .await
        .unwrap();
    assert!(o.saved);
    let left = |v: Vec<registrar::Binding>| {
        let mut v: Vec<(String, u64)> = v
            .into_iter()
            .map(|b| (b.uri.clone(), b.expires_in(NOW)))
            .collect();
        v.sort();
        v
    };
    assert_eq!(
        left(r.lookup(alice, NOW).await.unwrap()),
        [
            ("sip:a@192.0.2.1".to_owned(), 3632),
            ("sip:b@192.0.2.2".to_owned(), 132)
        ]
    );
    // A grant of 0 for one contact removes it only.
    r.save_granted(
        &register(alice, "p1", 2, "Contact: <sip:b@192.0.2.2>\r\n"),
        &source(),
        0,
        NOW,
    )
    .await
    .unwrap();
    assert_eq!(r.lookup(alice, NOW).await.unwrap().len(), 1);
    // `*` removes the rest.
    r.save_granted(
        &register(alice, "p1", 3, "Contact: *\r\nExpires: 0\r\n"),
        &source(),
        0,
        NOW,
    )
    .await
    .unwrap();
    assert!(r.lookup(alice, NOW).await.unwrap().is_empty());
}

#[tokio::test]
async fn aliases_name_their_primary() {
    let r = Registrar::from_config(&RegistrarConfig::default())
        .await
        .unwrap();
    aliases::scenario(&r, &r).await;
}
