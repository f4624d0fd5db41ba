//! Bounded rate limiters, and the client's address they count by.

use std::collections::HashMap;
use std::fmt;
use std::hash::Hash;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use axum::extract::ConnectInfo;
use http::request::Parts;
use instance_state::InstanceState;

use crate::config::RateLimit;

/// What an address limiter counts by: the client's address (an IPv6 address by its /64, the
/// block one subscriber usually holds), or, when the server did not say who the peer is,
/// one shared bucket: limiting everyone together is safer than limiting nobody.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum AddressKey {
    /// A client address (an IPv6 one with its last 64 bits zeroed).
    Ip(IpAddr),
    /// No `ConnectInfo` on the request.
    Unknown,
}

impl AddressKey {
    /// The key of `address`.
    pub(crate) fn of(address: Option<IpAddr>) -> Self {
        match address {
            Some(IpAddr::V4(v4)) => Self::Ip(IpAddr::V4(v4)),
            Some(IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
                Some(v4) => Self::Ip(IpAddr::V4(v4)),
                None => {
                    let bits = u128::from(v6) & !u128::from(u64::MAX);
                    Self::Ip(IpAddr::V6(Ipv6Addr::from(bits)))
                }
            },
            None => Self::Unknown,
        }
    }
}

impl fmt::Display for AddressKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Ip(address) => address.fmt(f),
            Self::Unknown => f.write_str("unknown"),
        }
    }
}

/// A limiter as the routes use it: in this process's memory ([`Limiter`]), or, with
/// [`WebConfig::shared_limits`](crate::WebConfig::shared_limits), in the database, shared by
/// every process serving it (same arithmetic, the times kept by
/// [`InstanceState::advance_limit`]). A database error while checking counts as limited (the
/// safe side), and is logged; one while counting is logged.
#[derive(Debug)]
pub(crate) struct Limit<K> {
    memory: Limiter<K>,
    shared: Option<(InstanceState, &'static str)>,
}

impl<K: Eq + Hash + Clone + fmt::Display> Limit<K> {
    /// A limiter for `rate`; in `shared`'s database under the name given, else in memory
    /// (at most `capacity` keys).
    pub(crate) fn new(
        rate: RateLimit,
        capacity: usize,
        shared: Option<(InstanceState, &'static str)>,
    ) -> Self {
        Self {
            memory: Limiter::new(rate, capacity),
            shared,
        }
    }

    /// `None` if one more event of `key` is allowed at `now`, else how long to wait.
    pub(crate) async fn check(&self, key: &K, now: i64) -> Option<Duration> {
        let Some((state, scope)) = &self.shared else {
            return self.memory.check(key, now);
        };
        match state.limit_time(scope, &key.to_string()).await {
            Ok(at) => self.memory.wait(at.unwrap_or(now), now),
            Err(error) => {
                tracing::error!(%error, "reading a shared rate limit; the attempt is refused");
                Some(Duration::from_secs(1))
            }
        }
    }

    /// Counts one event of `key` at `now`.
    pub(crate) async fn record(&self, key: &K, now: i64) {
        let Some((state, scope)) = &self.shared else {
            return self.memory.record(key, now);
        };
        if let Err(error) = state
            .advance_limit(scope, &key.to_string(), now, self.memory.interval)
            .await
        {
            tracing::error!(%error, "counting a shared rate limit");
        }
    }

    /// Forgets `key`.
    pub(crate) async fn forget(&self, key: &K) {
        let Some((state, scope)) = &self.shared else {
            return self.memory.forget(key);
        };
        if let Err(error) = state.forget_limit(scope, &key.to_string()).await {
            tracing::error!(%error, "forgetting a shared rate limit");
        }
    }
}

/// Counts events per key with a generic cell rate algorithm: each key keeps one time, its
/// "theoretical arrival time". At most `capacity` keys are kept: when a new key comes to a
/// full table, the keys whose allowance is whole again are dropped, and if none is, the key
/// closest to it. Memory is bounded whatever the network sends; the price, under a flood of
/// new keys, is that the least-limited keys are forgotten first.
#[derive(Debug)]
pub(crate) struct Limiter<K> {
    /// The time one event costs (microseconds, at least 1).
    interval: i64,
    /// How far ahead of now a key's time may be before it is limited.
    tolerance: i64,
    capacity: usize,
    entries: Mutex<HashMap<K, i64>>,
}

impl<K: Eq + Hash + Clone> Limiter<K> {
    /// A limiter for `rate`, remembering at most `capacity` keys.
    pub(crate) fn new(rate: RateLimit, capacity: usize) -> Self {
        let window = i64::try_from(rate.window.as_micros()).unwrap_or(i64::MAX);
        let interval = (window / i64::from(rate.attempts.max(1))).max(1);
        Self {
            interval,
            tolerance: interval.saturating_mul(i64::from(rate.attempts.max(1))),
            capacity: capacity.max(1),
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// `None` if one more event of `key` is allowed at `now` (Unix microseconds), else how
    /// long to wait.
    pub(crate) fn check(&self, key: &K, now: i64) -> Option<Duration> {
        let entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        self.wait(entries.get(key).copied().unwrap_or(now), now)
    }

    /// How long a key whose time is `at` waits at `now` for one more event (`None`: none).
    fn wait(&self, at: i64, now: i64) -> Option<Duration> {
        let over = at
            .max(now)
            .saturating_add(self.interval)
            .saturating_sub(now)
            .saturating_sub(self.tolerance);
        (over > 0).then(|| Duration::from_micros(u64::try_from(over).unwrap_or(u64::MAX)))
    }

    /// Counts one event of `key` at `now`.
    pub(crate) fn record(&self, key: &K, now: i64) {
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        if !entries.contains_key(key) && entries.len() >= self.capacity {
            entries.retain(|_, at| *at > now);
            if entries.len() >= self.capacity {
                let lowest = entries
                    .iter()
                    .min_by_key(|(_, at)| **at)
                    .map(|(key, _)| key.clone());
                if let Some(lowest) = lowest {
                    entries.remove(&lowest);
                }
            }
        }
        let at = entries.entry(key.clone()).or_insert(now);
        *at = (*at).max(now).saturating_add(self.interval);
    }

    /// Forgets `key` (its allowance is whole again).
    pub(crate) fn forget(&self, key: &K) {
        self.entries
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(key);
    }

    /// How many keys are remembered.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.entries
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }
}

/// The client's address: the connection's peer (`ConnectInfo<SocketAddr>`, which
/// `federation::serve` sets), or, when the peer is a trusted proxy, the rightmost address of
/// `X-Forwarded-For` that is not a trusted proxy. `None` without `ConnectInfo`.
pub(crate) fn client_address(parts: &Parts, trusted: &[IpAddr]) -> Option<IpAddr> {
    let ConnectInfo(peer) = parts.extensions.get::<ConnectInfo<SocketAddr>>()?;
    let mut client = canonical(peer.ip());
    if !trusted.contains(&client) {
        return Some(client);
    }
    // Each proxy appends the address it saw: read from the right, through the trusted ones.
    let forwarded: Vec<&str> = parts
        .headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .collect();
    for entry in forwarded.iter().rev() {
        let Some(address) = parse_forwarded(entry.trim()) else {
            // A proxy we trust wrote something that is no address: believe no further.
            break;
        };
        client = address;
        if !trusted.contains(&client) {
            break;
        }
    }
    Some(client)
}

/// An `X-Forwarded-For` entry: an address, perhaps with a port (`[v6]:port`, `v4:port`).
fn parse_forwarded(entry: &str) -> Option<IpAddr> {
    entry
        .parse::<IpAddr>()
        .or_else(|_| entry.parse::<SocketAddr>().map(|s| s.ip()))
        .ok()
        .map(canonical)
}

/// An IPv4 address carried in IPv6 (`::ffff:a.b.c.d`, a dual-stack socket's view) as IPv4.
fn canonical(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(address, IpAddr::V4),
        v4 => v4,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const SECOND: i64 = 1_000_000;

    #[test]
    fn allows_the_burst_then_one_per_interval() {
        let limiter = Limiter::new(RateLimit::new(3, Duration::from_secs(30)), 10);
        let key = "alice".to_owned();
        for _ in 0..3 {
            assert_eq!(limiter.check(&key, 0), None);
            limiter.record(&key, 0);
        }
        assert_eq!(limiter.check(&key, 0), Some(Duration::from_secs(10)));
        assert_eq!(
            limiter.check(&key, 9 * SECOND),
            Some(Duration::from_secs(1))
        );
        assert_eq!(limiter.check(&key, 10 * SECOND), None);
        limiter.record(&key, 10 * SECOND);
        assert!(limiter.check(&key, 10 * SECOND).is_some());
        assert_eq!(limiter.check(&key, 40 * SECOND), None);
        limiter.forget(&key);
        assert_eq!(limiter.check(&key, 10 * SECOND), None);
    }

    #[test]
    fn memory_stays_bounded_and_the_busiest_keys_stay() {
        let limiter = Limiter::new(RateLimit::new(2, Duration::from_secs(60)), 100);
        let hot = u64::MAX;
        limiter.record(&hot, 0);
        limiter.record(&hot, 0);
        for key in 0..10_000u64 {
            limiter.record(&key, 0);
        }
        assert_eq!(limiter.len(), 100);
        assert!(
            limiter.check(&hot, 0).is_some(),
            "the limited key was evicted"
        );
    }

    #[test]
    fn ipv6_counts_by_its_64_and_mapped_ipv4_as_ipv4() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:bbbb::2".parse().unwrap();
        let c: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(AddressKey::of(Some(a)), AddressKey::of(Some(b)));
        assert_ne!(AddressKey::of(Some(a)), AddressKey::of(Some(c)));
        let mapped: IpAddr = "::ffff:192.0.2.7".parse().unwrap();
        let v4: IpAddr = "192.0.2.7".parse().unwrap();
        assert_eq!(AddressKey::of(Some(mapped)), AddressKey::Ip(v4));
    }

    fn parts(peer: &str, forwarded: &[&str]) -> Parts {
        let mut builder = http::Request::builder();
        for value in forwarded {
            builder = builder.header("x-forwarded-for", *value);
        }
        let (mut parts, ()) = builder.body(()).unwrap().into_parts();
        parts
            .extensions
            .insert(ConnectInfo(peer.parse::<SocketAddr>().unwrap()));
        parts
    }

    #[test]
    fn forwarded_for_is_believed_only_from_trusted_proxies() {
        let proxy: IpAddr = "10.0.0.1".parse().unwrap();
        let ip = |s: &str| Some(s.parse::<IpAddr>().unwrap());
        let spoofed = parts("203.0.113.9:4000", &["198.51.100.1"]);
        assert_eq!(client_address(&spoofed, &[]), ip("203.0.113.9"));
        assert_eq!(client_address(&spoofed, &[proxy]), ip("203.0.113.9"));
        let proxied = parts("10.0.0.1:4000", &["198.51.100.1, 203.0.113.9"]);
        assert_eq!(client_address(&proxied, &[]), ip("10.0.0.1"));
        assert_eq!(client_address(&proxied, &[proxy]), ip("203.0.113.9"));
        let chained = parts(
            "10.0.0.1:4000",
            &["198.51.100.1", "203.0.113.9:77, 10.0.0.1"],
        );
        assert_eq!(client_address(&chained, &[proxy]), ip("203.0.113.9"));
        let garbage = parts("10.0.0.1:4000", &["nonsense"]);
        assert_eq!(client_address(&garbage, &[proxy]), ip("10.0.0.1"));
        let (no_peer, ()) = http::Request::new(()).into_parts();
        assert_eq!(client_address(&no_peer, &[]), None);
    }
}
