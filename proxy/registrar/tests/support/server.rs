//! A `redis-server` of the test's own on 127.0.0.1: started with a free
//! port, no persistence, always killed on drop; every wait is bounded.

use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running redis-server.
pub struct RedisServer {
    child: Option<Child>,
    pub port: u16,
    password: Option<String>,
}

/// True when `redis-server` can be run. When it cannot: panics naming the
/// Debian package under CI=true, else prints a skip and returns false.
pub fn available(test: &str) -> bool {
    let found = Command::new("redis-server")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !found {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("redis-server not found: install the Debian package `redis-server`");
        }
        eprintln!("skipping {test}: redis-server not found (Debian package `redis-server`)");
    }
    found
}

/// A port nobody listens on right now.
pub fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind an ephemeral port");
    l.local_addr().expect("local address").port()
}

impl RedisServer {
    /// Starts a server on a free port.
    pub fn start() -> RedisServer {
        RedisServer::start_on(free_port(), None)
    }

    /// Starts a server on `port`, with `requirepass` when given; waits (at
    /// most 10 s) until it accepts connections.
    pub fn start_on(port: u16, password: Option<&str>) -> RedisServer {
        let mut cmd = Command::new("redis-server");
        cmd.args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no", "--daemonize", "no"])
            .args(["--dir", &std::env::temp_dir().to_string_lossy()])
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if let Some(p) = password {
            cmd.args(["--requirepass", p]);
        }
        let child = cmd.spawn().expect("start redis-server");
        let server = RedisServer {
            child: Some(child),
            port,
            password: password.map(str::to_string),
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "redis-server did not start on port {port}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        server
    }

    /// `redis://…` for this server.
    pub fn url(&self) -> String {
        match &self.password {
            Some(p) => format!("redis://default:{p}@127.0.0.1:{}/", self.port),
            None => format!("redis://127.0.0.1:{}/", self.port),
        }
    }

    /// Kills the server and waits for it to exit.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Kills the server and starts it again on the same port.
    pub fn restart(&mut self) {
        self.kill();
        let again = RedisServer::start_on(self.port, self.password.as_deref());
        let mut again = again;
        self.child = again.child.take();
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
    }
}
