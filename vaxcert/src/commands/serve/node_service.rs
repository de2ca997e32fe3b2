//! What `serve issuer` and `serve trust-list` share: their options, the checks made before anything is
//! opened (nothing is created), the ledger, and the life of the process — listen, print what runs where,
//! serve until Ctrl-C or SIGTERM, drain, close the ledger.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Result;
use axum::Router;
use clap::Args;
use issuer::api::metrics::Metrics;
use issuer::api::{ApiConfig, openapi_router, serve};
use issuer::ledger::Ledger;
use issuer::service::{Clock, system_clock};
use keys::{Keystore, Passphrase};

use crate::commands::up::shutdown_signal;
use crate::config::ConfigArgs;
use crate::logging::LogArgs;
use crate::node::{NodeArgs, production_prerequisites};
use crate::output::banner;
use crate::serving::{bind, openapi_subset, runtime, with_metrics};

/// Options of `serve issuer` and `serve trust-list`.
#[derive(Debug, Args)]
pub struct NodeServiceArgs {
    #[command(flatten)]
    pub(crate) node: NodeArgs,
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

/// What a service opened over the installation: what it needs to build its routes.
pub(crate) struct Opened {
    /// The keystore, checked to exist.
    pub keystore: Keystore,
    /// Its passphrase, from the environment or `--passphrase-file` only.
    pub passphrase: Passphrase,
    /// The ledger, opened.
    pub ledger: Arc<Ledger>,
    /// The system clock.
    pub clock: Clock,
    /// The process's one metrics registry.
    pub metrics: Arc<Metrics>,
}

/// The routes a service serves, besides `/openapi.json` and `/metrics`.
pub(crate) struct Served {
    /// The routes.
    pub routes: Router,
    /// Where each route is, for the banner: a label and a path.
    pub endpoints: Vec<(&'static str, &'static str)>,
    /// What else the banner says: a label and a value.
    pub facts: Vec<(&'static str, String)>,
}

/// Runs service `name` (`issuer`, `trust-list`): checks and opens the installation of `args`, builds the
/// routes with `open`, serves them with `/openapi.json` (the `paths` of `openapi`, titled `title`) and
/// `/metrics` until Ctrl-C or SIGTERM, then drains the requests in flight and closes the ledger.
pub(crate) fn run_node_service(
    name: &str,
    args: NodeServiceArgs,
    openapi: (&str, &str, &[&str]),
    open: impl AsyncFnOnce(&NodeArgs, Opened) -> Result<Served>,
) -> Result<ExitCode> {
    crate::logging::init(args.log.log_format);
    let (keystore, passphrase) = production_prerequisites(&args.node)?;
    let (document, title, paths) = openapi;
    let openapi = openapi_subset(document, title, paths)?;
    runtime()?.block_on(async move {
        let ledger = args.node.open_ledger().await?;
        let metrics = Metrics::shared();
        let opened = Opened {
            keystore,
            passphrase,
            ledger: Arc::clone(&ledger),
            clock: system_clock(),
            metrics: Arc::clone(&metrics),
        };
        let served = open(&args.node, opened).await?;
        let app = with_metrics(served.routes.merge(openapi_router(openapi)), metrics);
        let (listener, base) = bind(args.listen).await?;
        banner!("vaxcert serve {name}: listening on {base}");
        for (label, path) in served.endpoints.iter().chain(&[
            ("health", "/healthz"),
            ("OpenAPI", "/openapi.json"),
            ("metrics", "/metrics"),
        ]) {
            banner!("  {label:<20} {base}{path}");
        }
        banner!("  {:<20} {}", "ledger", args.node.ledger_description());
        for (label, value) in &served.facts {
            banner!("  {label:<20} {value}");
        }
        banner!("vaxcert serve {name}: ready (Ctrl-C stops)");
        serve(listener, app, &ApiConfig::default(), shutdown_signal()).await;
        ledger.close().await;
        banner!("vaxcert serve {name}: stopped");
        Ok(ExitCode::SUCCESS)
    })
}
