//! `vaxcert serve <service>`: one service of the system alone, for production, each scaling on its own.
//! `serve verifier`: `POST /v1/verify` on a trust list, a revocation list and imported DSC lists kept
//! fresh from their URLs, `/healthz` reporting their versions and ages, `/metrics`, `/openapi.json`;
//! `serve issuer` ([`issuer_api`]): the internal API; `serve trust-list` ([`documents`]): the published
//! documents; `serve intake` ([`intake`]): registration, sites, the registry and delivery to the issuer.

pub mod documents;
pub mod intake;
pub mod issuer_api;
mod node_service;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context as _, Result, bail};
use clap::{Args, Subcommand};
use issuer::api::metrics::{Metrics, count_requests, metrics_router};
use issuer::api::{ApiConfig, serve};
use issuer::service::system_clock;
use keys::Backend;
use tokio::net::TcpListener;
use trust_list::PinnedKey;

use crate::commands::up::shutdown_signal;
use crate::config::ConfigArgs;
use crate::logging::LogArgs;
use crate::output::banner;
use crate::trust::DEFAULT_TRUST_LIST_MAX_AGE_HOURS;
use crate::value_sets::LoadedValueSets;
use crate::verifier_service::limits::VerifierLimitArgs;
use crate::verifier_service::refreshed::{
    HEALTH_OPENAPI, RefreshedTrust, TrustSources, health_router, keep_fresh,
};
use crate::verifier_service::{
    self, OperatorToken, VERIFY_PATH, VerifierService, system_validation_clock,
};

/// Arguments of `vaxcert serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    #[command(subcommand)]
    service: Service,
}

#[derive(Debug, Subcommand)]
enum Service {
    /// The verifier alone: `POST /v1/verify` on a trust list and a revocation list kept fresh from their
    /// URLs; `/healthz` answers 503 while the trust list is stale or not loaded.
    Verifier(VerifierArgs),
    /// The issuer alone: the internal API the registry calls (dose confirmations, certificate status,
    /// revocation) on an existing keystore and ledger; creates no key and no token.
    Issuer(node_service::NodeServiceArgs),
    /// The published documents alone: the signed trust list, its gateway and anchor views and the
    /// revocation list, re-signed as the ledger's revocations change; stateless, run as many as needed.
    TrustList(node_service::NodeServiceArgs),
    /// Intake alone: registration, the sites' and the registry's APIs, notifications, and the delivery of
    /// confirmed doses to the issuer at `--issuer-url` over its internal API.
    Intake(intake::IntakeServeArgs),
}

/// Arguments of `vaxcert serve verifier`.
#[derive(Debug, Args)]
pub struct VerifierArgs {
    /// The signed national trust list: an http(s) URL or a file, re-read every `--refresh-every`.
    #[arg(long, value_name = "URL|FILE")]
    trust_list: String,
    /// The pinned public key (PEM) the trust list and the revocation list must be signed with.
    #[arg(long, value_name = "FILE")]
    trust_list_key: PathBuf,
    /// The signed revocation list: an http(s) URL or a file, re-read every `--refresh-every`.
    #[arg(long, value_name = "URL|FILE")]
    revocation_list: Option<String>,
    /// Also trust the DSCs of this list in the EU gateway shape, as `vaxcert trust-list import` writes it
    /// (a file or an http(s) URL, re-read every `--refresh-every`); repeatable.
    #[arg(long = "dsc-list", value_name = "FILE|URL")]
    dsc_lists: Vec<String>,
    /// The address to listen on.
    #[arg(
        long,
        value_name = "ADDR",
        env = "VAXCERT_LISTEN",
        default_value = "127.0.0.1:8081"
    )]
    listen: SocketAddr,
    #[command(flatten)]
    log: LogArgs,
    #[command(flatten)]
    limits: VerifierLimitArgs,
    /// How often the lists are fetched again: seconds, or a number with `s`, `m` or `h`.
    #[arg(long, value_name = "INTERVAL", default_value = "5m", value_parser = parse_interval)]
    refresh_every: Duration,
    /// How old the trust list may be, in hours, before nothing is called valid and `/healthz` says 503.
    #[arg(long, value_name = "HOURS", default_value_t = DEFAULT_TRUST_LIST_MAX_AGE_HOURS as u64)]
    trust_list_max_age_hours: u64,
    /// A file holding the operator token that unlocks the full report (without it: minimal reports only).
    #[arg(long, value_name = "FILE")]
    operator_token_file: Option<PathBuf>,
    /// Directory of the EU DCC value-set JSON files (default: $DCC_SPEC_DIR/eu-dcc-valuesets, else the
    /// snapshot built into this binary).
    #[arg(long, value_name = "DIR")]
    value_sets: Option<PathBuf>,
    #[command(flatten)]
    config: ConfigArgs,
}

/// Runs `vaxcert serve`.
pub fn run(args: ServeArgs) -> Result<ExitCode> {
    match args.service {
        Service::Verifier(args) => run_verifier(args),
        Service::Issuer(args) => issuer_api::run(args),
        Service::TrustList(args) => documents::run(args),
        Service::Intake(args) => intake::run(args),
    }
}

fn run_verifier(args: VerifierArgs) -> Result<ExitCode> {
    crate::logging::init(args.log.log_format);
    let key = std::fs::read_to_string(&args.trust_list_key)
        .with_context(|| format!("cannot read {}", args.trust_list_key.display()))?;
    let pinned = PinnedKey::from_pem(Backend::default(), &key)
        .with_context(|| format!("{} is not a public key", args.trust_list_key.display()))?;
    let operator = match &args.operator_token_file {
        Some(path) => {
            let token = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read {}", path.display()))?;
            if token.trim().is_empty() {
                bail!("{} is empty", path.display());
            }
            Some(OperatorToken::new(&token))
        }
        None => None,
    };
    let value_sets = LoadedValueSets::load(args.value_sets.as_deref())?;
    let max_age_s = args.trust_list_max_age_hours.saturating_mul(3600);
    let mut trust = RefreshedTrust::new(TrustSources {
        trust_list: args.trust_list.clone(),
        revocation_list: args.revocation_list.clone(),
        pinned: vec![pinned],
        dsc_lists: args.dsc_lists.clone(),
        max_age_s,
        value_sets: Some(std::sync::Arc::clone(&value_sets.sets)),
        value_sets_version: value_sets.version().to_owned(),
    });
    let clock = system_clock();
    // The first fetch before listening; a failure is logged and retried, with /healthz at 503 meanwhile.
    trust.refresh(clock());

    let openapi = verifier_service::merge_openapi(
        verifier_service::OPENAPI,
        HEALTH_OPENAPI,
        "vaxcert verifier",
    )
    .context("the OpenAPI documents do not merge")?;

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async move {
        let mut service = VerifierService::new(
            trust.handle(),
            system_validation_clock(),
            args.limits.config(),
        )
        // The scanner page checks the lists it caches under this key (it verifies on the device when
        // a proxy serves `/trust-list` and `/revocation-list` on this origin too).
        .with_trust_list_key(&key);
        if let Some(operator) = operator {
            service = service.with_operator_token(operator);
        }
        let metrics = Metrics::shared();
        metrics.set_list_ages(verifier_service::list_ages(trust.handle(), clock.clone()));
        let service = service.with_metrics(std::sync::Arc::clone(&metrics));
        let others = verifier_service::openapi_document_router(openapi)
            .merge(health_router(trust.health(), clock.clone()));
        let app = verifier_service::router(service)
            .merge(count_requests(others, &metrics))
            .merge(metrics_router(metrics));
        let listener = TcpListener::bind(args.listen)
            .await
            .with_context(|| format!("cannot listen on {}", args.listen))?;
        let base = format!("http://{}", listener.local_addr()?);
        banner!("vaxcert serve verifier: listening on {base}");
        banner!("  verifier             POST {base}{VERIFY_PATH}");
        banner!("  scanner page         {base}/");
        banner!("  health               {base}/healthz");
        banner!("  OpenAPI              {base}/openapi.json");
        banner!("  metrics              {base}/metrics");
        banner!("  trust list           {}", args.trust_list);
        if let Some(revocation) = &args.revocation_list {
            banner!("  revocation list      {revocation}");
        }
        for list in &args.dsc_lists {
            banner!("  DSC list             {list}");
        }
        banner!(
            "  refreshed every      {} s (trust list stale after {} h)",
            args.refresh_every.as_secs(),
            args.trust_list_max_age_hours
        );
        banner!("  EU value sets        {value_sets}");
        banner!("vaxcert serve verifier: ready (Ctrl-C stops)");
        let refresher = tokio::spawn(keep_fresh(trust, clock, args.refresh_every));
        serve(listener, app, &ApiConfig::default(), shutdown_signal()).await;
        refresher.abort();
        banner!("vaxcert serve verifier: stopped");
        Ok(ExitCode::SUCCESS)
    })
}

/// `90`, `90s`, `5m` or `2h`: a positive interval.
pub(crate) fn parse_interval(text: &str) -> Result<Duration, String> {
    let (number, unit) = match text.char_indices().last() {
        Some((at, 's')) => (text.get(..at).unwrap_or_default(), 1),
        Some((at, 'm')) => (text.get(..at).unwrap_or_default(), 60),
        Some((at, 'h')) => (text.get(..at).unwrap_or_default(), 3600),
        _ => (text, 1),
    };
    let seconds = number
        .parse::<u64>()
        .ok()
        .and_then(|number| number.checked_mul(unit))
        .filter(|seconds| *seconds > 0)
        .ok_or_else(|| format!("`{text}` is not an interval like 30s, 5m or 1h"))?;
    Ok(Duration::from_secs(seconds))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals_take_seconds_minutes_and_hours() {
        assert_eq!(parse_interval("90"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_interval("1s"), Ok(Duration::from_secs(1)));
        assert_eq!(parse_interval("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_interval("2h"), Ok(Duration::from_secs(7200)));
        for bad in ["", "0", "0s", "m", "-1s", "5d", "1.5m"] {
            assert!(parse_interval(bad).is_err(), "{bad}");
        }
    }
}
