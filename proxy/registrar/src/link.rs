//! One Redis, however it is deployed: a single server, a master found
//! through Sentinel, or a Cluster — with the `redis` crate's own support
//! for each (`ConnectionManager`, `sentinel::SentinelClient`,
//! `cluster_async::ClusterConnection`). The registrar's store and the
//! scripts' caches both talk to Redis through a [`Link`].
//!
//! Every operation has a deadline that covers connecting too. A failed
//! operation drops the connection, so the next one connects afresh: to the
//! same server, to the master the sentinels name *now* (after a failover,
//! the new one; the crate checks that it answers `ROLE` as master), or to
//! the cluster from its seed nodes. Nothing is retried here; the caller
//! answers (503, or a script's "nothing") and the next request tries again.
//!
//! No I/O happens until the first operation, so a core starts while Redis
//! is down.

mod conn;
mod scan;
mod target;

pub use self::conn::Conn;
pub use self::target::{host_port, Target, TargetError, REDIS_PORT, SENTINEL_PORT};

use std::future::Future;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::cluster::{ClusterClient, ClusterClientBuilder};
use redis::sentinel::{SentinelClient, SentinelClientBuilder, SentinelServerType};
use redis::{Client, ConnectionAddr, RedisResult, TlsMode};

/// The deadline of one operation (connecting and all its round trips).
pub const DEADLINE: Duration = Duration::from_millis(1500);
/// Connecting and each response: shorter than [`DEADLINE`].
pub const IO_TIMEOUT: Duration = Duration::from_millis(1000);

/// A Redis, connected on demand.
pub struct Link {
    name: String,
    kind: Kind,
    conn: Mutex<Option<Conn>>,
    /// Held while connecting, so that the operations waiting for a
    /// connection share one instead of each making its own.
    connecting: tokio::sync::Mutex<()>,
}

enum Kind {
    Server(Client),
    Sentinel(tokio::sync::Mutex<SentinelClient>),
    Cluster(ClusterClient),
}

impl std::fmt::Debug for Link {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Link").field("redis", &self.name).finish()
    }
}

impl Link {
    /// A link to `target`. No I/O. Fails only on settings the `redis`
    /// crate refuses (the message names no password).
    pub fn new(target: &Target) -> Result<Link, String> {
        let name = target.describe();
        if target.tls() {
            // rustls needs a process-wide provider; the binary may have
            // installed one already, which is fine.
            let _ = rustls::crypto::ring::default_provider().install_default();
        }
        let kind = match target {
            Target::Server(url) => {
                Kind::Server(Client::open(url.as_str()).map_err(|e| e.to_string())?)
            }
            Target::Sentinel(s) => {
                let tls = s.tls.then_some(TlsMode::Secure);
                let nodes = s.sentinels.iter().filter_map(|n| {
                    host_port(n, SENTINEL_PORT).map(|(host, port)| match tls {
                        Some(_) => ConnectionAddr::TcpTls {
                            host,
                            port,
                            insecure: false,
                            tls_params: None,
                        },
                        None => ConnectionAddr::Tcp(host, port),
                    })
                });
                let mut b = SentinelClientBuilder::new(
                    nodes,
                    s.master_name.clone(),
                    SentinelServerType::Master,
                )
                .map_err(|e| e.to_string())?
                .set_client_to_redis_db(s.db);
                if let Some(u) = &s.username {
                    b = b.set_client_to_redis_username(u);
                }
                if let Some(p) = &s.password {
                    b = b.set_client_to_redis_password(p);
                }
                if let Some(u) = &s.sentinel_username {
                    b = b.set_client_to_sentinel_username(u);
                }
                if let Some(p) = &s.sentinel_password {
                    b = b.set_client_to_sentinel_password(p);
                }
                if let Some(mode) = tls {
                    b = b
                        .set_client_to_redis_tls_mode(mode)
                        .set_client_to_sentinel_tls_mode(mode);
                }
                Kind::Sentinel(tokio::sync::Mutex::new(
                    b.build().map_err(|e| e.to_string())?,
                ))
            }
            Target::Cluster(c) => {
                let scheme = if c.tls { "rediss" } else { "redis" };
                let nodes: Vec<String> = c
                    .nodes
                    .iter()
                    .filter_map(|n| host_port(n, REDIS_PORT))
                    .map(|(host, port)| match host.contains(':') {
                        true => format!("{scheme}://[{host}]:{port}"),
                        false => format!("{scheme}://{host}:{port}"),
                    })
                    .collect();
                let mut b = ClusterClientBuilder::new(nodes)
                    .connection_timeout(IO_TIMEOUT)
                    .response_timeout(IO_TIMEOUT)
                    .retries(2)
                    .min_retry_wait(20)
                    .max_retry_wait(200);
                if let Some(u) = &c.username {
                    b = b.username(u);
                }
                if let Some(p) = &c.password {
                    b = b.password(p);
                }
                Kind::Cluster(b.build().map_err(|e| e.to_string())?)
            }
        };
        Ok(Link {
            name,
            kind,
            conn: Mutex::new(None),
            connecting: tokio::sync::Mutex::new(()),
        })
    }

    /// Where Redis is, without passwords.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// True on a Redis Cluster (where `SCAN` and key-less commands reach
    /// one node only).
    pub fn is_cluster(&self) -> bool {
        matches!(self.kind, Kind::Cluster(_))
    }

    fn slot(&self) -> MutexGuard<'_, Option<Conn>> {
        self.conn.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The connection, made when there is none.
    async fn connection(&self) -> RedisResult<Conn> {
        if let Some(c) = self.slot().clone() {
            return Ok(c);
        }
        let _connecting = self.connecting.lock().await;
        if let Some(c) = self.slot().clone() {
            return Ok(c);
        }
        let conn = match &self.kind {
            Kind::Server(client) => Conn::Server(manager(client.clone())?),
            Kind::Sentinel(sentinel) => {
                // Asks the sentinels for the master now, and checks it.
                let client = sentinel.lock().await.async_get_client().await?;
                Conn::Server(manager(client)?)
            }
            Kind::Cluster(client) => Conn::Cluster(client.get_async_connection().await?),
        };
        *self.slot() = Some(conn.clone());
        Ok(conn)
    }

    /// Runs `op` on the connection within [`DEADLINE`]. A failure (an
    /// error, or no answer in time) drops the connection and comes back as
    /// `redis at <where> (<what>): <error>`, logged.
    pub async fn run<T, F, Fut>(&self, what: &str, op: F) -> Result<T, String>
    where
        F: FnOnce(Conn) -> Fut,
        Fut: Future<Output = RedisResult<T>>,
    {
        let attempt = async {
            let conn = self.connection().await?;
            op(conn).await
        };
        let err = match tokio::time::timeout(DEADLINE, attempt).await {
            Ok(Ok(v)) => return Ok(v),
            Ok(Err(e)) => e.to_string(),
            Err(_) => format!("no answer within {} ms", DEADLINE.as_millis()),
        };
        *self.slot() = None;
        tracing::warn!(redis = %self.name, op = what, error = %err, "redis unavailable");
        Err(format!("redis at {} ({what}): {err}", self.name))
    }
}

/// A lazy connection manager with short timeouts and a single reconnect
/// attempt per failure (the next operation tries again).
fn manager(client: Client) -> RedisResult<ConnectionManager> {
    let config = ConnectionManagerConfig::new()
        .set_connection_timeout(Some(IO_TIMEOUT))
        .set_response_timeout(Some(IO_TIMEOUT))
        .set_number_of_retries(1)
        .set_min_delay(Duration::from_millis(50))
        .set_max_delay(Duration::from_millis(200));
    ConnectionManager::new_lazy_with_config(client, config)
}
