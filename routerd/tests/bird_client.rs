//! The BIRD client against a scripted control socket: replies, errors,
//! spontaneous lines, and reconnecting when the socket goes away.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use routerd::bird::{BirdError, Client, ProtoState};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::UnixListener;

/// Serves one connection: welcome, then answers each command from `script`
/// (command → reply text); closes after `close_after` commands.
async fn serve(
    listener: &UnixListener,
    script: &[(&str, &str)],
    close_after: usize,
) -> Vec<String> {
    let (s, _) = listener.accept().await.unwrap();
    let (r, mut w) = s.into_split();
    w.write_all(b"0001 BIRD 2.0.12 ready.\n").await.unwrap();
    let mut lines = BufReader::new(r).lines();
    let mut seen = Vec::new();
    while seen.len() < close_after {
        let Some(cmd) = lines.next_line().await.unwrap() else {
            break;
        };
        let reply = script
            .iter()
            .find(|(c, _)| *c == cmd)
            .map_or("9001 syntax error\n", |(_, r)| *r);
        w.write_all(reply.as_bytes()).await.unwrap();
        seen.push(cmd);
    }
    seen
}

#[tokio::test]
async fn commands_errors_and_reconnect() {
    let dir = std::env::temp_dir().join(format!("routerd-birdc-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("bird.ctl");
    let _ = std::fs::remove_file(&path);
    let listener = UnixListener::bind(&path).unwrap();
    let mut client = Client::new(&path, Duration::from_secs(2));

    let script: &[(&str, &str)] = &[
        (
            "enable anysip_announce4",
            "0011-anysip_announce4: enabled\n+spontaneous\n0000 \n",
        ),
        ("disable nosuch", "8003 No protocols match\n"),
        (
            "show protocols",
            "2002-Name       Proto      Table      State  Since         Info\n\
             1002-anysip_announce4 Static     master4    up     03:18:13.736  \n \
             anysip_drain4 Static     master4    down   03:18:07.942  \n0000 \n",
        ),
    ];
    let server = async {
        let first = serve(&listener, script, 3).await;
        // The socket goes away (BIRD restarted): the client reconnects.
        let second = serve(&listener, script, 1).await;
        (first, second)
    };
    let client_side = async {
        let r = client.enable("anysip_announce4").await.unwrap();
        assert_eq!(r.lines[0].code, 11);
        match client.disable("nosuch").await {
            Err(BirdError::Command { code: 8003, text }) => assert_eq!(text, "No protocols match"),
            other => panic!("{other:?}"),
        }
        // An error reply leaves the connection usable.
        assert!(client.is_connected());
        let ps = client.show_protocols().await.unwrap();
        assert_eq!(ps.len(), 2);
        assert_eq!(ps[0].state, ProtoState::Up);
        assert_eq!(ps[1].state, ProtoState::Down);
        // The server closed: this command fails and drops the connection...
        assert!(client.show_protocols().await.is_err());
        assert!(!client.is_connected());
        // ...and the next one connects again.
        client.show_protocols().await.unwrap();
        // Names that are not BIRD symbols are never sent.
        assert!(matches!(
            client.enable("x; configure").await,
            Err(BirdError::InvalidName(_))
        ));
    };
    let ((first, second), ()) = tokio::join!(server, client_side);
    assert_eq!(
        first,
        [
            "enable anysip_announce4",
            "disable nosuch",
            "show protocols"
        ]
    );
    assert_eq!(second, ["show protocols"]);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn missing_socket_and_silent_bird() {
    let mut client = Client::new("/nonexistent/bird.ctl", Duration::from_millis(500));
    match client.show_protocols().await {
        Err(e @ BirdError::Connect { .. }) => {
            assert!(e.to_string().contains("/nonexistent/bird.ctl"))
        }
        other => panic!("{other:?}"),
    }
    // A BIRD that accepts but never answers: the command times out.
    let dir = std::env::temp_dir().join(format!("routerd-birdc-silent-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("bird.ctl");
    let _ = std::fs::remove_file(&path);
    let listener = UnixListener::bind(&path).unwrap();
    let hold = tokio::spawn(async move {
        let conn = listener.accept().await;
        tokio::time::sleep(Duration::from_secs(3)).await;
        drop(conn);
    });
    let mut client = Client::new(&path, Duration::from_millis(300));
    assert!(matches!(
        client.show_protocols().await,
        Err(BirdError::Timeout { .. })
    ));
    hold.abort();
    let _ = std::fs::remove_dir_all(&dir);
}
