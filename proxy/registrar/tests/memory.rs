//! The registrar with bindings in memory: save, lookup order, remove, list,
//! sweep.
#![allow(clippy::unwrap_used)]

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
    assert_eq!(r.remove(alice).await.unwrap(), 3);
    assert!(r.lookup(alice, NOW + 61).await.unwrap().is_empty());
    assert!(r.lookup("tel:+1555", NOW).await.is_err());
    assert_eq!(r.policy(), &Policy::default());
}
