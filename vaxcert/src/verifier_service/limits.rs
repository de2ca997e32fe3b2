//! The verifier service's load limits as command-line options, shared by `vaxcert serve verifier` and
//! `vaxcert up` (each flattens [`VerifierLimitArgs`]) and mapped onto [`VerifierConfig`].

use clap::Args;
use issuer::api::RateLimit;

use super::VerifierConfig;

/// The per-client rate limit and the number of verifications at once of `POST /v1/verify`.
///
/// Defaults are those of [`VerifierConfig::default`]: 100 requests/s per client address (IPv6: per
/// /64) with bursts of 200, and 64 verifications at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Args)]
pub struct VerifierLimitArgs {
    /// Requests per second allowed to one client address (IPv6: its /64) on `POST /v1/verify`; 0 turns
    /// the per-client rate limit off (a load test from one address, or a verifier behind a proxy that
    /// limits on its own).
    #[arg(
        long = "verifier-rate-limit",
        value_name = "PER_SECOND",
        env = "VAXCERT_VERIFIER_RATE_LIMIT",
        default_value_t = DEFAULT_PER_SECOND
    )]
    pub rate_limit: u32,
    /// Requests one client address may send at once above `--verifier-rate-limit`.
    #[arg(
        long = "verifier-rate-burst",
        value_name = "REQUESTS",
        env = "VAXCERT_VERIFIER_RATE_BURST",
        default_value_t = DEFAULT_BURST
    )]
    pub rate_burst: u32,
    /// Verifications running at once; a request waiting more than a second for one is answered 503.
    #[arg(
        long = "verifier-max-concurrent",
        value_name = "COUNT",
        env = "VAXCERT_VERIFIER_MAX_CONCURRENT",
        default_value_t = DEFAULT_MAX_CONCURRENT,
        value_parser = clap::value_parser!(u32).range(1..)
    )]
    pub max_concurrent: u32,
}

const DEFAULT_PER_SECOND: u32 = 100;
const DEFAULT_BURST: u32 = 200;
const DEFAULT_MAX_CONCURRENT: u32 = 64;

impl Default for VerifierLimitArgs {
    /// The defaults of the flags, which are [`VerifierConfig::default`]'s.
    fn default() -> Self {
        VerifierLimitArgs {
            rate_limit: DEFAULT_PER_SECOND,
            rate_burst: DEFAULT_BURST,
            max_concurrent: DEFAULT_MAX_CONCURRENT,
        }
    }
}

impl VerifierLimitArgs {
    /// `config` with these limits.
    pub fn apply(self, config: VerifierConfig) -> VerifierConfig {
        VerifierConfig {
            rate_limit: RateLimit {
                per_second: self.rate_limit,
                burst: self.rate_burst,
            },
            max_concurrent_verifications: usize::try_from(self.max_concurrent)
                .unwrap_or(usize::MAX),
            ..config
        }
    }

    /// [`VerifierConfig::default`] with these limits.
    pub fn config(self) -> VerifierConfig {
        self.apply(VerifierConfig::default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_flags_default_to_the_service_defaults() {
        assert_eq!(
            VerifierLimitArgs::default().config(),
            VerifierConfig::default()
        );
    }

    #[test]
    fn the_flags_set_the_rate_limit_and_the_concurrency() {
        let config = VerifierLimitArgs {
            rate_limit: 0,
            rate_burst: 7,
            max_concurrent: 3,
        }
        .config();
        assert_eq!(config.rate_limit.per_second, 0);
        assert_eq!(config.rate_limit.burst, 7);
        assert_eq!(config.max_concurrent_verifications, 3);
        assert_eq!(
            config.max_json_bytes,
            VerifierConfig::default().max_json_bytes
        );
    }

    #[derive(Debug, clap::Parser)]
    struct Command {
        #[command(flatten)]
        limits: VerifierLimitArgs,
    }

    #[test]
    fn the_flags_parse_and_refuse_no_concurrency() {
        use clap::Parser as _;
        let parsed = Command::try_parse_from([
            "test",
            "--verifier-rate-limit",
            "0",
            "--verifier-rate-burst",
            "5",
            "--verifier-max-concurrent",
            "8",
        ])
        .map(|command| command.limits);
        assert_eq!(
            parsed.ok(),
            Some(VerifierLimitArgs {
                rate_limit: 0,
                rate_burst: 5,
                max_concurrent: 8,
            })
        );
        assert!(Command::try_parse_from(["test", "--verifier-max-concurrent", "0"]).is_err());
        assert!(Command::try_parse_from(["test", "--verifier-rate-limit", "-1"]).is_err());
    }
}
