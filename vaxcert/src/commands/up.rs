//! `vaxcert up`: the whole system on one machine — the issuer's internal API, the trust-list documents
//! and the verifier service (`POST /v1/verify`, trusting this node's own published lists) — on one port,
//! with development keys, tokens and SQLite ledger created under the data directory on first run.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context as _, Result};
use clap::Args;
use issuer::api::citizen::{self, CitizenConfig};
use issuer::api::metrics::Metrics;
use issuer::api::{ApiConfig, OPENAPI, router_with_health, serve};
use issuer::citizen::{LoginPolicy, Portal};
use issuer::service::system_clock;
use keys::Backend;
use trust_list::PinnedKey;

use crate::citizen_portal::{JsonlOutbox, create_portal_secret};
use crate::commands::keys::{PUBLIC_MODE, write_atomically};
use crate::commands::serve::parse_interval;
use crate::config::ConfigArgs;
use crate::intake_node::{
    DEV_REGISTRY_TOKEN_FILE, DEV_SITE, DEV_SITE_TOKEN_FILE, IntakeArgs, bootstrap_dev_site,
    start_workers,
};
use crate::logging::LogArgs;
use crate::node::{
    DEV_PASSPHRASE_FILE, NodeArgs, OPERATOR_TOKEN_FILE, TOKEN_FILE, TRUST_LIST_KEY_FILE,
    bootstrap_keys, bootstrap_operator_token, bootstrap_token, open_node,
};
use crate::node_health::{NODE_HEALTH_OPENAPI, NodeHealth, health_router};
use crate::output::banner;
use crate::serving::{bind, runtime};
use crate::trust::DEFAULT_TRUST_LIST_MAX_AGE_HOURS;
use crate::verifier_service::dsc_lists::{DscLists, ForeignDscs, keep_dsc_lists_fresh};
use crate::verifier_service::limits::VerifierLimitArgs;
use crate::verifier_service::published::{PublishedTrust, REFRESH_INTERVAL, follow_publisher};
use crate::verifier_service::refreshed::HEALTH_OPENAPI;
use crate::verifier_service::{
    self, OperatorToken, VERIFY_PATH, VerifierHandle, VerifierService, system_validation_clock,
};

/// Arguments of `vaxcert up`.
#[derive(Debug, Args)]
pub struct UpArgs {
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
    /// Also trust the DSCs of this list in the EU gateway shape, as `vaxcert trust-list import` writes it
    /// (a file or an http(s) URL, re-read every `--refresh-every`); repeatable.
    #[arg(long = "dsc-list", value_name = "FILE|URL")]
    dsc_lists: Vec<String>,
    /// How often the `--dsc-list` sources are read again: seconds, or a number with `s`, `m` or `h`.
    #[arg(long, value_name = "INTERVAL", default_value = "5m", value_parser = parse_interval)]
    refresh_every: Duration,
    #[command(flatten)]
    config: ConfigArgs,
    #[command(flatten)]
    limits: VerifierLimitArgs,
    #[command(flatten)]
    intake: IntakeArgs,
}

/// Runs `vaxcert up` until interrupted (Ctrl-C or SIGTERM), then drains requests and closes the ledger.
pub fn run(args: UpArgs) -> Result<ExitCode> {
    crate::logging::init(args.log.log_format);
    runtime()?.block_on(up(args))
}

async fn up(args: UpArgs) -> Result<ExitCode> {
    let clock = system_clock();
    let created_keys = bootstrap_keys(&args.node, clock())?;
    let ledger = args.node.open_ledger().await?;
    let dev_mode = args.node.data.join(DEV_PASSPHRASE_FILE).exists();
    let created_token = dev_mode && bootstrap_token(&args.node, &ledger, clock()).await?;
    // Created here when missing; `open_node` reads it for the issuing service and hands it back.
    let created_portal_secret = create_portal_secret(&args.node.data)?;
    let outbox = std::sync::Arc::new(JsonlOutbox::new(&args.node.data)?);
    let outbox_path = outbox.path().display().to_string();
    let intake = args.intake.open(&args.node.data).await?;
    let created_dev_site =
        dev_mode && bootstrap_dev_site(&intake, &args.node.data, clock()).await?;
    let node = open_node(&args.node, std::sync::Arc::clone(&ledger), clock.clone()).await?;
    let portal = Portal::new(
        std::sync::Arc::clone(&ledger),
        node.portal_secret
            .clone()
            .context("the citizen portal secret was not loaded")?,
        LoginPolicy::default(),
        outbox.clone(),
        clock.clone(),
    )
    .with_value_sets(std::sync::Arc::clone(&node.value_sets.sets));

    write_atomically(
        &args.node.data,
        TRUST_LIST_KEY_FILE,
        node.trust_list_key_pem.as_bytes(),
        PUBLIC_MODE,
    )
    .context("cannot write the trust-list key file")?;

    // The verifier trusts this node's own lists, checked under the pinned key like any verifier's.
    let (operator_token, created_operator_token) = bootstrap_operator_token(&args.node)?;
    let pinned = PinnedKey::from_pem(Backend::default(), &node.trust_list_key_pem)
        .context("the trust-list key is not a public key")?;
    // Imported foreign DSCs, read now and kept fresh by a task; the verifier follows them.
    let mut dsc_lists = DscLists::new(&args.dsc_lists);
    dsc_lists.refresh(clock());
    let foreign = ForeignDscs::new(&dsc_lists);
    let dsc_refresher = tokio::spawn(keep_dsc_lists_fresh(
        dsc_lists,
        foreign.clone(),
        clock.clone(),
        args.refresh_every,
    ));
    let published = PublishedTrust::new(
        std::sync::Arc::clone(&node.publisher),
        pinned,
        Some(std::sync::Arc::clone(&node.value_sets.sets)),
        DEFAULT_TRUST_LIST_MAX_AGE_HOURS * 3600,
    )
    .with_foreign(foreign.clone());
    let (verifier, versions) = published
        .verifier(clock())
        .await
        .context("the verifier cannot trust the published lists")?;
    let verifier = VerifierHandle::new(verifier);
    // One registry for both routers: one `/metrics`.
    let metrics = Metrics::shared();
    metrics.set_list_ages(verifier_service::list_ages(verifier.clone(), clock.clone()));
    let follower = tokio::spawn(follow_publisher(
        published,
        verifier.clone(),
        versions,
        clock.clone(),
        REFRESH_INTERVAL,
    ));
    let health = NodeHealth {
        ledger: std::sync::Arc::clone(&ledger),
        intake: intake.clone(),
        verifier: verifier.clone(),
        foreign,
        value_sets_version: node.service.value_sets().version().map(str::to_owned),
        clock: clock.clone(),
    };
    let verifier_service =
        VerifierService::new(verifier, system_validation_clock(), args.limits.config())
            .with_operator_token(OperatorToken::new(&operator_token))
            .with_trust_list_key(&node.trust_list_key_pem)
            .with_metrics(std::sync::Arc::clone(&metrics));

    let (listener, base) = bind(args.listen).await?;
    let intake_state = args.intake.state(intake.clone(), outbox.clone(), &base)?;
    // Intake delivers confirmed doses to this node's issuer over HTTP, like any registry.
    let default_token = args.node.data.join(TOKEN_FILE);
    let (issuer_client, delivery) = if args.intake.issuer_token_file.is_some()
        || default_token.exists()
    {
        let client = args.intake.issuer_client(&base, &default_token)?;
        (
            Some(client),
            String::from("POST /internal/v1/dose-confirmations, over HTTP"),
        )
    } else {
        let off = "off: no issuer token (--issuer-token-file); confirmed doses wait in the outbox";
        (None, String::from(off))
    };
    let data = args.node.data.display();
    banner!("vaxcert up: listening on {base}");
    banner!("  issuer internal API  {base}/internal/v1/dose-confirmations");
    banner!("  certificate status   {base}/internal/v1/certificates/{{uvci}}");
    banner!(
        "  trust list           {base}/trust-list  (gateway view /trust-list/dsc, anchors /trust-list/anchors)"
    );
    banner!("  revocation list      {base}/revocation-list");
    banner!(
        "  verifier             POST {base}{VERIFY_PATH}  (full report with the operator token {data}/{OPERATOR_TOKEN_FILE}{})",
        if created_operator_token {
            ", created"
        } else {
            ""
        }
    );
    banner!("  scanner page         {base}/");
    banner!(
        "  citizen portal       {base}/citizen/  (one-time codes to {outbox_path}{})",
        if created_portal_secret {
            "; portal secret created"
        } else {
            ""
        }
    );
    banner!("  registration         {base}/intake/  (one-time codes to {outbox_path})");
    banner!("  site staff API       {base}/site/v1/  (tokens: vaxcert intake token-create)");
    banner!(
        "  intake database      {}",
        args.intake.description(&args.node.data)
    );
    banner!("  intake → issuer      {delivery}");
    if created_dev_site {
        banner!(
            "  development site     {DEV_SITE} (staff token {data}/{DEV_SITE_TOKEN_FILE}, registry token {data}/{DEV_REGISTRY_TOKEN_FILE})"
        );
    }
    banner!("  health               {base}/healthz");
    banner!("  OpenAPI              {base}/openapi.json");
    banner!("  metrics              {base}/metrics");
    banner!("  ledger               {}", args.node.ledger_description());
    banner!("  EU value sets        {}", node.value_sets);
    banner!("  keystore             {}", args.node.keys_dir().display());
    banner!(
        "  trust-list key       {data}/{TRUST_LIST_KEY_FILE} (pin {})",
        node.trust_list_pin
    );
    for list in &args.dsc_lists {
        banner!(
            "  DSC list             {list} (re-read every {} s)",
            args.refresh_every.as_secs()
        );
    }
    if created_keys {
        banner!(
            "  created development keys; their passphrase is in {data}/{DEV_PASSPHRASE_FILE} (development only: production sets VAXCERT_KEYSTORE_PASSPHRASE or --passphrase-file)"
        );
    }
    if dev_mode {
        banner!(
            "  API token            {data}/{TOKEN_FILE}{}",
            if created_token { " (created)" } else { "" }
        );
    }

    banner!("vaxcert up: ready (Ctrl-C stops)");

    let intake_workers = start_workers(&args.intake, &intake_state, outbox, issuer_client);
    let config = ApiConfig::default();
    let openapi = verifier_service::merge_openapi(OPENAPI, citizen::OPENAPI, "vaxcert")
        .and_then(|issuer| {
            verifier_service::merge_openapi(&issuer, verifier_service::OPENAPI, "vaxcert")
        })
        .and_then(|all| verifier_service::merge_openapi(&all, intake::api::OPENAPI, "vaxcert"))
        .and_then(|all| verifier_service::merge_openapi(&all, HEALTH_OPENAPI, "vaxcert"))
        .and_then(|all| verifier_service::merge_openapi(&all, NODE_HEALTH_OPENAPI, "vaxcert"))
        .context("the OpenAPI documents do not merge")?;
    let health = health_router(health);
    let app = router_with_health(
        node.service,
        node.publisher,
        config,
        openapi,
        metrics,
        health,
    )
    .merge(verifier_service::router(verifier_service))
    .merge(citizen::router(
        std::sync::Arc::new(portal),
        CitizenConfig::default(),
    ))
    .merge(intake::api::router(intake_state));
    serve(listener, app, &config, shutdown_signal()).await;
    drop(intake_workers);
    intake.close().await;
    follower.abort();
    dsc_refresher.abort();
    ledger.close().await;
    banner!("vaxcert up: stopped");
    Ok(ExitCode::SUCCESS)
}

/// Resolves on Ctrl-C or SIGTERM.
pub(crate) async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut terminate =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(signal) => signal,
                Err(_) => {
                    let _ = interrupt.await;
                    return;
                }
            };
        tokio::select! {
            _ = interrupt => {}
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = interrupt.await;
    }
}
