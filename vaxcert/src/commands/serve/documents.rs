//! `vaxcert serve trust-list`: the public documents alone — `/trust-list`, `/trust-list/dsc`,
//! `/trust-list/anchors` and `/revocation-list` with ETags and `If-None-Match`, as `vaxcert up` serves
//! them — with `/healthz`, `/metrics` and `/openapi.json`. It reads the keystore (the DSC key stays
//! locked: only the trust-list signing key is unlocked) and the ledger's revocations, holds no state of
//! its own, and re-signs the revocation list whenever the ledger's revocations change: run as many as
//! needed behind a load balancer.

use std::net::SocketAddr;
use std::process::ExitCode;

use anyhow::Result;
use clap::Args;
use issuer::api::metrics::Metrics;
use issuer::api::{
    ApiConfig, OPENAPI, documents_health_router, documents_router, openapi_router, serve,
};
use issuer::service::system_clock;

use crate::commands::up::shutdown_signal;
use crate::config::ConfigArgs;
use crate::logging::LogArgs;
use crate::node::{NodeArgs, open_publication, production_prerequisites};
use crate::serving::{bind, openapi_subset, runtime, with_metrics};

/// The paths `serve trust-list` answers, as its OpenAPI document lists them.
const PATHS: [&str; 7] = [
    "/trust-list",
    "/trust-list/dsc",
    "/trust-list/anchors",
    "/revocation-list",
    "/healthz",
    "/metrics",
    "/openapi.json",
];

/// Arguments of `vaxcert serve trust-list`.
#[derive(Debug, Args)]
pub struct TrustListArgs {
    #[command(flatten)]
    node: NodeArgs,
    /// The address to listen on.
    #[arg(
        long,
        value_name = "ADDR",
        env = "VAXCERT_LISTEN",
        default_value = "127.0.0.1:8082"
    )]
    listen: SocketAddr,
    #[command(flatten)]
    log: LogArgs,
    #[command(flatten)]
    config: ConfigArgs,
}

/// Runs `vaxcert serve trust-list` until Ctrl-C or SIGTERM, then drains the requests in flight.
pub fn run(args: TrustListArgs) -> Result<ExitCode> {
    crate::logging::init(args.log.log_format);
    let (keystore, passphrase) = production_prerequisites(&args.node)?;
    runtime()?.block_on(async move {
        let clock = system_clock();
        let ledger = args.node.open_ledger().await?;
        let publication = open_publication(
            keystore,
            &passphrase,
            std::sync::Arc::clone(&ledger),
            clock(),
        )?;
        drop(passphrase);
        let openapi = openapi_subset(OPENAPI, "vaxcert trust list", &PATHS)?;
        let config = ApiConfig::default();
        let routes = documents_router(
            std::sync::Arc::clone(&publication.publisher),
            clock.clone(),
            &config,
        )
        .merge(documents_health_router(publication.publisher, clock))
        .merge(openapi_router(openapi));
        let app = with_metrics(routes, Metrics::shared());
        let (listener, base) = bind(args.listen).await?;
        println!("vaxcert serve trust-list: listening on {base}");
        println!(
            "  trust list           {base}/trust-list  (gateway view /trust-list/dsc, anchors /trust-list/anchors)"
        );
        println!("  revocation list      {base}/revocation-list");
        println!("  health               {base}/healthz");
        println!("  OpenAPI              {base}/openapi.json");
        println!("  metrics              {base}/metrics");
        println!("  ledger               {}", args.node.ledger_description());
        println!(
            "  trust-list key       pin {}",
            publication.trust_list_pin
        );
        println!("vaxcert serve trust-list: ready (Ctrl-C stops)");
        serve(listener, app, &config, shutdown_signal()).await;
        ledger.close().await;
        println!("vaxcert serve trust-list: stopped");
        Ok(ExitCode::SUCCESS)
    })
}
