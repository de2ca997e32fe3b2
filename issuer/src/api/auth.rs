//! Bearer-token authentication, scopes and a rate limit per client.

use std::net::{IpAddr, Ipv6Addr};
use std::num::NonZeroU32;
use std::sync::Arc;

use axum::http::{HeaderMap, header};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use super::problem::Problem;
use crate::ledger::{ApiClient, Ledger, LedgerError, Scope};
use crate::tokens::token_hash;

/// A token-bucket rate per client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    /// Sustained requests per second.
    pub per_second: u32,
    /// Requests allowed at once above the sustained rate.
    pub burst: u32,
}

/// Checks bearer tokens against the ledger's clients.
pub(crate) struct Authenticator {
    ledger: Arc<Ledger>,
    limiter: DefaultKeyedRateLimiter<String>,
}

impl Authenticator {
    pub(crate) fn new(ledger: Arc<Ledger>, rate: RateLimit) -> Authenticator {
        let per_second = NonZeroU32::new(rate.per_second).unwrap_or(NonZeroU32::MIN);
        let burst = NonZeroU32::new(rate.burst).unwrap_or(per_second);
        Authenticator {
            ledger,
            limiter: RateLimiter::keyed(Quota::per_second(per_second).allow_burst(burst)),
        }
    }

    /// The name of the client presenting a valid token with `scope`, within its rate.
    pub(crate) async fn authorize(
        &self,
        headers: &HeaderMap,
        scope: Scope,
    ) -> Result<String, Problem> {
        self.authorize_client(headers, scope)
            .await
            .map(|client| client.name)
    }

    /// The client presenting a valid token with `scope`, within its rate (its other scopes too).
    pub(crate) async fn authorize_client(
        &self,
        headers: &HeaderMap,
        scope: Scope,
    ) -> Result<ApiClient, Problem> {
        let Some(token) = bearer_token(headers) else {
            tracing::warn!(reason = "no bearer token", "internal API request refused");
            return Err(Problem::Unauthenticated);
        };
        let client = match self.ledger.client_by_token_hash(token_hash(token)).await {
            Ok(Some(client)) if !client.disabled => client,
            Ok(Some(client)) => {
                tracing::warn!(client = %client.name, reason = "client disabled", "internal API request refused");
                return Err(Problem::Unauthenticated);
            }
            Ok(None) => {
                tracing::warn!(reason = "unknown token", "internal API request refused");
                return Err(Problem::Unauthenticated);
            }
            Err(LedgerError::Unavailable(_)) => return Err(Problem::Unavailable),
            Err(error) => {
                tracing::error!(error = %error, "client lookup failed");
                return Err(Problem::Internal);
            }
        };
        if !client.scopes.contains(&scope) {
            tracing::warn!(client = %client.name, scope = scope.as_str(), reason = "scope not granted", "internal API request refused");
            return Err(Problem::Forbidden);
        }
        if self.limiter.check_key(&client.name).is_err() {
            tracing::warn!(client = %client.name, reason = "rate limit", "internal API request refused");
            return Err(Problem::RateLimited);
        }
        Ok(client)
    }
}

/// The token of an `Authorization: Bearer <token>` header.
fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// The rate-limit key of a client: its IPv4 address, or the /64 of its IPv6 address (one end site
/// holds a whole /64); one shared key when the address is unknown.
pub fn rate_key(peer: Option<IpAddr>) -> IpAddr {
    match peer {
        Some(IpAddr::V6(address)) => match address.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let prefix = u128::from(address) & !u128::from(u64::MAX);
                IpAddr::V6(Ipv6Addr::from(prefix))
            }
        },
        Some(v4) => v4,
        None => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
    }
}
