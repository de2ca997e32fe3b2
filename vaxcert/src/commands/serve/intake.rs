//! `vaxcert serve intake`: intake alone, for production — registration and its page, the sites' and the
//! registry's APIs, the notification outbox, and the delivery of confirmed doses to the issuer at
//! `--issuer-url` over its internal API (the same HTTP any registry uses), with `/healthz`, `/metrics`
//! and `/openapi.json`. Text messages go to the development outbox (`<data>/outbox/sms.jsonl`) until an
//! SMS gateway is plugged in as an `intake::notify::Sender`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Result;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse as _, Response};
use axum::routing::get;
use clap::Args;
use intake::store::Intake;
use issuer::api::metrics::Metrics;
use issuer::api::{ApiConfig, openapi_router, serve};
use serde_json::json;

use crate::citizen_portal::JsonlOutbox;
use crate::commands::up::shutdown_signal;
use crate::config::ConfigArgs;
use crate::intake_node::{IntakeArgs, start_workers};
use crate::logging::LogArgs;
use crate::node::TOKEN_FILE;
use crate::output::banner;
use crate::serving::{bind, runtime, with_metrics};

/// Arguments of `vaxcert serve intake`.
#[derive(Debug, Args)]
pub struct IntakeServeArgs {
    /// The data directory (intake's SQLite database unless `--intake-database-url`, the development
    /// outbox).
    #[arg(long, value_name = "DIR", env = "VAXCERT_DATA", default_value = "data")]
    data: PathBuf,
    #[command(flatten)]
    intake: IntakeArgs,
    /// The issuer's base URL, whose `POST /internal/v1/dose-confirmations` receives confirmed doses.
    #[arg(long, value_name = "URL", env = "VAXCERT_ISSUER_URL")]
    issuer_url: String,
    /// The address to listen on.
    #[arg(
        long,
        value_name = "ADDR",
        env = "VAXCERT_LISTEN",
        default_value = "127.0.0.1:8083"
    )]
    listen: SocketAddr,
    #[command(flatten)]
    log: LogArgs,
    #[command(flatten)]
    config: ConfigArgs,
}

/// Runs `vaxcert serve intake` until Ctrl-C or SIGTERM, then drains the requests in flight.
pub fn run(args: IntakeServeArgs) -> Result<ExitCode> {
    crate::logging::init(args.log.log_format);
    runtime()?.block_on(async move {
        let issuer = args
            .intake
            .issuer_client(&args.issuer_url, &args.data.join(TOKEN_FILE))?;
        let intake = args.intake.open(&args.data).await?;
        let outbox = Arc::new(JsonlOutbox::new(&args.data)?);
        let (listener, base) = bind(args.listen).await?;
        let state = args.intake.state(intake.clone(), outbox.clone(), &base)?;
        let workers = start_workers(&args.intake, &state, outbox.clone(), Some(issuer));
        let metrics = Metrics::shared();
        let routes = intake::api::router(state)
            .merge(health_router(intake.clone()))
            .merge(openapi_router(intake::api::OPENAPI));
        let app = with_metrics(routes, metrics);
        banner!("vaxcert serve intake: listening on {base}");
        for (label, path) in [
            ("registration page", "/intake/"),
            ("registration API", "/intake/v1/"),
            ("site staff API", "/site/v1/"),
            ("registry API", "/registry/v1/"),
            ("health", "/healthz"),
            ("OpenAPI", "/openapi.json"),
            ("metrics", "/metrics"),
        ] {
            banner!("  {label:<20} {base}{path}");
        }
        banner!(
            "  {:<20} {}",
            "database",
            args.intake.description(&args.data)
        );
        banner!(
            "  {:<20} {}/internal/v1/dose-confirmations",
            "issuer",
            args.issuer_url
        );
        banner!(
            "  {:<20} {} (development sender)",
            "text messages",
            outbox.path().display()
        );
        banner!("vaxcert serve intake: ready (Ctrl-C stops)");
        serve(listener, app, &ApiConfig::default(), shutdown_signal()).await;
        drop(workers);
        intake.close().await;
        banner!("vaxcert serve intake: stopped");
        Ok(ExitCode::SUCCESS)
    })
}

/// `GET /healthz`: 200 while the database answers, 503 otherwise.
fn health_router(intake: Intake) -> axum::Router {
    axum::Router::new()
        .route("/healthz", get(health))
        .with_state(intake)
}

async fn health(State(intake): State<Intake>) -> Response {
    match intake.ping().await {
        Ok(()) => Json(json!({"status": "ok", "database": "ok"})).into_response(),
        Err(_) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"status": "unavailable", "database": "unavailable"})),
        )
            .into_response(),
    }
}
