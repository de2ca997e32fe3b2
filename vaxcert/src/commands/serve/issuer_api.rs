//! `vaxcert serve issuer`: the issuer alone, for production — the internal API the registry calls
//! (dose confirmations, certificate status, revocation), `/healthz`, `/metrics` and `/openapi.json`. It
//! creates nothing: the keystore (`vaxcert keys init`), the passphrase (`$VAXCERT_KEYSTORE_PASSPHRASE` or
//! `--passphrase-file`), the ledger and its clients (`vaxcert tokens create`) must exist.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context as _, Result, bail};
use clap::Args;
use issuer::api::metrics::Metrics;
use issuer::api::{ApiConfig, OPENAPI, internal_router, openapi_router, serve};
use issuer::service::system_clock;

use crate::commands::up::shutdown_signal;
use crate::config::ConfigArgs;
use crate::logging::LogArgs;
use crate::node::{NodeArgs, open_node_with, production_prerequisites};
use crate::serving::{bind, openapi_subset, runtime, with_metrics};

/// The paths `serve issuer` answers, as its OpenAPI document lists them.
const PATHS: [&str; 6] = [
    "/internal/v1/dose-confirmations",
    "/internal/v1/certificates/{uvci}",
    "/internal/v1/certificates/{uvci}/revocation",
    "/healthz",
    "/metrics",
    "/openapi.json",
];

/// Arguments of `vaxcert serve issuer`.
#[derive(Debug, Args)]
pub struct IssuerArgs {
    #[command(flatten)]
    node: NodeArgs,
    /// The address to listen on.
    #[arg(
        long,
        value_name = "ADDR",
        env = "VAXCERT_LISTEN",
        default_value = "127.0.0.1:8080"
    )]
    listen: SocketAddr,
    #[command(flatten)]
    log: LogArgs,
    #[command(flatten)]
    config: ConfigArgs,
}

/// Runs `vaxcert serve issuer` until Ctrl-C or SIGTERM, then drains the requests in flight.
pub fn run(args: IssuerArgs) -> Result<ExitCode> {
    crate::logging::init(args.log.log_format);
    let (keystore, passphrase) = production_prerequisites(&args.node)?;
    runtime()?.block_on(async move {
        let clock = system_clock();
        let ledger = args.node.open_ledger().await?;
        let clients = ledger
            .clients()
            .await
            .context("cannot read the API clients")?;
        if clients.iter().all(|client| client.disabled) {
            bail!(
                "no enabled API client in the ledger ({}): create one with `vaxcert tokens create national-registry`",
                args.node.ledger_description()
            );
        }
        let node = open_node_with(
            &args.node,
            keystore,
            &passphrase,
            Arc::clone(&ledger),
            clock,
        )
        .await?;
        drop(passphrase);
        let openapi = openapi_subset(OPENAPI, "vaxcert issuer", &PATHS)?;
        let config = ApiConfig::default();
        let metrics = Metrics::shared();
        let routes = internal_router(node.service, config, &metrics).merge(openapi_router(openapi));
        let app = with_metrics(routes, metrics);
        let (listener, base) = bind(args.listen).await?;
        println!("vaxcert serve issuer: listening on {base}");
        println!("  issuer internal API  {base}/internal/v1/dose-confirmations");
        println!("  certificate status   {base}/internal/v1/certificates/{{uvci}}");
        println!("  health               {base}/healthz");
        println!("  OpenAPI              {base}/openapi.json");
        println!("  metrics              {base}/metrics");
        println!("  ledger               {}", args.node.ledger_description());
        println!("  EU value sets        {}", node.value_sets);
        println!(
            "  keystore             {} (trust-list pin {})",
            args.node.keys_dir().display(),
            node.trust_list_pin
        );
        println!("vaxcert serve issuer: ready (Ctrl-C stops)");
        serve(listener, app, &config, shutdown_signal()).await;
        ledger.close().await;
        println!("vaxcert serve issuer: stopped");
        Ok(ExitCode::SUCCESS)
    })
}
