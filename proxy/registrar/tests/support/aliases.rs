//! The alias scenario every store must pass: `b` sees what `a` declares
//! (the same registrar in memory, two cores on Redis).
#![allow(dead_code)]

use registrar::Registrar;

use super::sipmsg::{now, register, source};

async fn save(r: &Registrar, aor: &str, call_id: &str, contact: &str) -> u16 {
    let extra = format!("Contact: <{contact}>\r\n");
    r.save(&register(aor, call_id, 1, &extra), &source(), now())
        .await
        .unwrap()
        .status
}

async fn uris(r: &Registrar, aor: &str) -> Vec<String> {
    let mut found: Vec<String> = r
        .lookup(aor, now())
        .await
        .unwrap()
        .into_iter()
        .map(|b| b.uri)
        .collect();
    found.sort();
    found
}

/// Aliases declared, looked up (SIP and tel forms), registered to,
/// replaced, refused, and dropped with their AoR.
pub async fn scenario(a: &Registrar, b: &Registrar) {
    let alice = "sip:alice@ims.example.com";
    assert_eq!(save(a, alice, "al1", "sip:alice@192.0.2.1").await, 200);
    let set = vec![
        "sip:+15551234@ims.example.com;user=phone".to_string(),
        "tel:+1-555-1234".to_string(),
        alice.to_string(),
    ];
    a.set_aliases(alice, &set, now()).await.unwrap();

    // Any alias, in any of its forms, finds the primary's bindings.
    let one = vec!["sip:alice@192.0.2.1".to_string()];
    assert_eq!(uris(b, "sip:+15551234@IMS.example.com").await, one);
    assert_eq!(uris(b, "tel:+15551234").await, one);
    assert_eq!(uris(b, "<tel:+1.555.1234;phone-context=x>").await, one);
    assert_eq!(b.aliases("tel:+15551234", now()).await.unwrap(), set);
    assert_eq!(b.aliases(alice, now()).await.unwrap(), set);

    // A REGISTER to an alias adds to the primary.
    let alias = "sip:+15551234@ims.example.com";
    assert_eq!(save(b, alias, "al2", "sip:alice@192.0.2.2").await, 200);
    let two = vec![
        "sip:alice@192.0.2.1".to_string(),
        "sip:alice@192.0.2.2".to_string(),
    ];
    assert_eq!(uris(a, alice).await, two);

    // A new set replaces the old one.
    a.set_aliases(alice, &["tel:+15559999".to_string()], now())
        .await
        .unwrap();
    assert!(uris(b, "tel:+15551234").await.is_empty());
    assert!(uris(b, alias).await.is_empty());
    assert_eq!(uris(b, "tel:+15559999").await, two);

    // What is neither SIP nor tel is refused, and changes nothing.
    let bad = a
        .set_aliases(alice, &["mailto:alice@example.com".to_string()], now())
        .await;
    assert!(bad.is_err(), "{bad:?}");
    assert_eq!(uris(b, "tel:+15559999").await, two);

    // Removing the AoR (through an alias) drops its aliases too.
    assert_eq!(b.remove("tel:+15559999", now()).await.unwrap(), 2);
    assert!(a.aliases(alice, now()).await.unwrap().is_empty());
    assert_eq!(save(a, alice, "al3", "sip:alice@192.0.2.3").await, 200);
    assert!(uris(b, "tel:+15559999").await.is_empty());
    a.remove(alice, now()).await.unwrap();
}
