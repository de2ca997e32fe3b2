//! A limit on one-time-code requests per client address: each phone gets at most one code a minute
//! ([`crate::store::CodeError::TooSoon`]), and this keeps one client from asking codes for many phones
//! (SMS pumping). Addresses are keyed as the verifier keys them: IPv4 as is, IPv6 by its /64.

use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::extract::ConnectInfo;
use axum::http::Extensions;
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

/// Code requests allowed per client address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CodeRate {
    /// Requests per minute, sustained; 0 turns the limit off.
    pub per_minute: u32,
    /// Requests at once.
    pub burst: u32,
}

impl Default for CodeRate {
    /// 30 a minute with bursts of 300 (a family's or an office's shared address stays well within it).
    fn default() -> Self {
        CodeRate {
            per_minute: 30,
            burst: 300,
        }
    }
}

/// Requests between two sweeps of the limiter's idle keys (a sweep walks every key).
const SWEEP_EVERY: u64 = 1024;

/// The limiter of [`CodeRate`], shared by the code route's requests; `None` when off.
#[derive(Clone)]
pub(super) struct CodeLimiter(Option<Arc<Limiter>>);

/// A keyed limiter and the count of requests it saw, for sweeping now and then.
struct Limiter {
    keyed: DefaultKeyedRateLimiter<IpAddr>,
    requests: AtomicU64,
}

impl CodeLimiter {
    /// The limiter of `rate`.
    pub(super) fn new(rate: CodeRate) -> CodeLimiter {
        CodeLimiter(NonZeroU32::new(rate.per_minute).map(|per_minute| {
            let burst = NonZeroU32::new(rate.burst).unwrap_or(per_minute);
            Arc::new(Limiter {
                keyed: RateLimiter::keyed(Quota::per_minute(per_minute).allow_burst(burst)),
                requests: AtomicU64::new(0),
            })
        }))
    }

    /// Whether the client of a request (its `ConnectInfo`, when the server gives one) may ask a code now.
    pub(super) fn allows(&self, extensions: &Extensions) -> bool {
        let Some(limiter) = &self.0 else {
            return true;
        };
        let peer = extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(address)| address.ip());
        if limiter
            .requests
            .fetch_add(1, Ordering::Relaxed)
            .is_multiple_of(SWEEP_EVERY)
        {
            limiter.keyed.retain_recent();
        }
        limiter.keyed.check_key(&rate_key(peer)).is_ok()
    }
}

/// The key of a client address: IPv4 (and IPv4-mapped IPv6) as is, IPv6 by its /64; no address, one key.
fn rate_key(peer: Option<IpAddr>) -> IpAddr {
    match peer {
        Some(IpAddr::V6(address)) => match address.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(Ipv6Addr::from(u128::from(address) & !u128::from(u64::MAX))),
        },
        Some(v4) => v4,
        None => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use std::net::SocketAddr;

    use axum::extract::ConnectInfo;
    use axum::http::Extensions;

    use super::{CodeLimiter, CodeRate};

    fn from(address: &str) -> Extensions {
        let mut extensions = Extensions::new();
        extensions.insert(ConnectInfo(address.parse::<SocketAddr>().unwrap()));
        extensions
    }

    #[test]
    fn an_address_gets_its_burst_then_waits_and_others_are_not_held_up() {
        let limiter = CodeLimiter::new(CodeRate {
            per_minute: 1,
            burst: 3,
        });
        let one = from("192.0.2.7:50000");
        for _ in 0..3 {
            assert!(limiter.allows(&one));
        }
        assert!(!limiter.allows(&one), "over the burst");
        assert!(
            !limiter.allows(&from("192.0.2.7:50001")),
            "another port of the same address"
        );
        assert!(limiter.allows(&from("192.0.2.8:50000")));
        // IPv6 by /64: another host of the same /64 shares the budget.
        let v6 = from("[2001:db8:1:2::1]:443");
        for _ in 0..3 {
            assert!(limiter.allows(&v6));
        }
        assert!(!limiter.allows(&from("[2001:db8:1:2:ffff::9]:443")));
        assert!(limiter.allows(&from("[2001:db8:1:3::1]:443")));
    }

    #[test]
    fn a_zero_rate_turns_the_limit_off() {
        let limiter = CodeLimiter::new(CodeRate {
            per_minute: 0,
            burst: 0,
        });
        let one = from("192.0.2.7:50000");
        assert!((0..1_000).all(|_| limiter.allows(&one)));
    }
}
