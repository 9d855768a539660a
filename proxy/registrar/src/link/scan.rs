//! `SCAN` over a whole deployment: one server answers for every key; on a
//! Cluster each master holds its own slots, so each is scanned by address
//! (the masters from `CLUSTER NODES`), through the cluster connection's
//! routing.

use redis::cluster_routing::{RoutingInfo, SingleNodeRoutingInfo};
use redis::{FromRedisValue, RedisResult};

use super::{host_port, Conn, Link, REDIS_PORT};

/// Keys asked for per `SCAN` round.
const BATCH: usize = 512;

impl Link {
    /// The keys matching `pattern` (a Redis glob), sorted, deduplicated, in
    /// at most `rounds` `SCAN` rounds per node.
    pub async fn scan(&self, pattern: &str, rounds: usize) -> Result<Vec<String>, String> {
        let pattern = pattern.to_owned();
        self.run("SCAN", |c| async move {
            let mut keys = match c {
                Conn::Server(mut c) => scan_node(&mut c, &pattern, rounds, None).await?,
                Conn::Cluster(mut cc) => {
                    let nodes: String = redis::cmd("CLUSTER")
                        .arg("NODES")
                        .query_async(&mut cc)
                        .await?;
                    let mut keys = Vec::new();
                    for (host, port) in masters(&nodes) {
                        let at = SingleNodeRoutingInfo::ByAddress { host, port };
                        keys.extend(scan_node(&mut cc, &pattern, rounds, Some(at)).await?);
                    }
                    keys
                }
            };
            keys.sort();
            keys.dedup();
            Ok(keys)
        })
        .await
    }
}

async fn scan_node<C: redis::aio::ConnectionLike + RouteTo>(
    c: &mut C,
    pattern: &str,
    rounds: usize,
    at: Option<SingleNodeRoutingInfo>,
) -> RedisResult<Vec<String>> {
    let mut keys = Vec::new();
    let mut cursor: u64 = 0;
    for _ in 0..rounds {
        let mut cmd = redis::cmd("SCAN");
        cmd.arg(cursor)
            .arg("MATCH")
            .arg(pattern)
            .arg("COUNT")
            .arg(BATCH);
        let (next, batch): (u64, Vec<String>) = c.send(cmd, at.clone()).await?;
        keys.extend(batch);
        cursor = next;
        if cursor == 0 {
            break;
        }
    }
    Ok(keys)
}

/// Sends a command, to a given node when there is one.
trait RouteTo {
    async fn send<T: FromRedisValue>(
        &mut self,
        cmd: redis::Cmd,
        at: Option<SingleNodeRoutingInfo>,
    ) -> RedisResult<T>;
}

impl RouteTo for redis::aio::ConnectionManager {
    async fn send<T: FromRedisValue>(
        &mut self,
        cmd: redis::Cmd,
        _at: Option<SingleNodeRoutingInfo>,
    ) -> RedisResult<T> {
        cmd.query_async(self).await
    }
}

impl RouteTo for redis::cluster_async::ClusterConnection {
    async fn send<T: FromRedisValue>(
        &mut self,
        cmd: redis::Cmd,
        at: Option<SingleNodeRoutingInfo>,
    ) -> RedisResult<T> {
        match at {
            Some(at) => {
                let v = self.route_command(cmd, RoutingInfo::SingleNode(at)).await?;
                T::from_redis_value(v).map_err(Into::into)
            }
            None => cmd.query_async(self).await,
        }
    }
}

/// The masters of `CLUSTER NODES` that are not failing:
/// `<id> <host:port@cport[,hostname]> <flags> ...`.
fn masters(nodes: &str) -> Vec<(String, u16)> {
    nodes
        .lines()
        .filter_map(|line| {
            let mut f = line.split_whitespace();
            let (_, addr, flags) = (f.next()?, f.next()?, f.next()?);
            let flags: Vec<&str> = flags.split(',').collect();
            if !flags.contains(&"master") || flags.iter().any(|f| f.starts_with("fail")) {
                return None;
            }
            let addr = addr.split(['@', ',']).next()?;
            host_port(addr, REDIS_PORT)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::masters;

    #[test]
    fn masters_of_cluster_nodes() {
        let nodes = "\
a1 127.0.0.1:7001@17001 myself,master - 0 0 1 connected 0-5460
b2 127.0.0.1:7002@17002 master - 0 1 2 connected 5461-10922
c3 127.0.0.1:7003@17003 master,fail - 0 1 3 connected
d4 127.0.0.1:7004@17004 slave a1 0 1 1 connected
";
        assert_eq!(
            masters(nodes),
            [
                ("127.0.0.1".to_owned(), 7001),
                ("127.0.0.1".to_owned(), 7002)
            ]
        );
    }
}
