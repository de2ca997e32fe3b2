//! `vaxcert up`: the whole system on one machine — the issuer's internal API and the trust-list
//! documents — with development keys, token and SQLite ledger created under the data directory on first
//! run.

use std::net::SocketAddr;
use std::process::ExitCode;

use anyhow::{Context as _, Result};
use clap::Args;
use issuer::api::{ApiConfig, router, serve};
use issuer::service::system_clock;
use tokio::net::TcpListener;

use crate::commands::keys::{PUBLIC_MODE, write_atomically};
use crate::node::{
    DEV_PASSPHRASE_FILE, NodeArgs, TOKEN_FILE, TRUST_LIST_KEY_FILE, bootstrap_keys,
    bootstrap_token, open_node,
};

/// Arguments of `vaxcert up`.
#[derive(Debug, Args)]
pub struct UpArgs {
    #[command(flatten)]
    node: NodeArgs,
    /// The address to listen on.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
}

/// Runs `vaxcert up` until interrupted (Ctrl-C or SIGTERM), then drains requests and closes the ledger.
pub fn run(args: UpArgs) -> Result<ExitCode> {
    crate::logging::init();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(up(args))
}

async fn up(args: UpArgs) -> Result<ExitCode> {
    let clock = system_clock();
    let created_keys = bootstrap_keys(&args.node, clock())?;
    let ledger = args.node.open_ledger().await?;
    let dev_mode = args.node.data.join(DEV_PASSPHRASE_FILE).exists();
    let created_token = dev_mode && bootstrap_token(&args.node, &ledger, clock()).await?;
    let node = open_node(&args.node, std::sync::Arc::clone(&ledger), clock).await?;

    write_atomically(
        &args.node.data,
        TRUST_LIST_KEY_FILE,
        node.trust_list_key_pem.as_bytes(),
        PUBLIC_MODE,
    )
    .context("cannot write the trust-list key file")?;

    let listener = TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let address = listener.local_addr()?;
    let base = format!("http://{address}");
    let data = args.node.data.display();
    println!("vaxcert up: listening on {base}");
    println!("  issuer internal API  {base}/internal/v1/dose-confirmations");
    println!("  certificate status   {base}/internal/v1/certificates/{{uvci}}");
    println!(
        "  trust list           {base}/trust-list  (gateway view /trust-list/dsc, anchors /trust-list/anchors)"
    );
    println!("  revocation list      {base}/revocation-list");
    println!("  health               {base}/healthz");
    println!("  ledger               {}", args.node.ledger_description());
    println!("  EU value sets        {}", node.value_sets);
    println!("  keystore             {}", args.node.keys_dir().display());
    println!(
        "  trust-list key       {data}/{TRUST_LIST_KEY_FILE} (pin {})",
        node.trust_list_pin
    );
    if created_keys {
        println!(
            "  created development keys; their passphrase is in {data}/{DEV_PASSPHRASE_FILE} (development only: production sets VAXCERT_KEYSTORE_PASSPHRASE or --passphrase-file)"
        );
    }
    if dev_mode {
        println!(
            "  API token            {data}/{TOKEN_FILE}{}",
            if created_token { " (created)" } else { "" }
        );
    }

    println!("vaxcert up: ready (Ctrl-C stops)");

    let config = ApiConfig::default();
    let app = router(node.service, node.publisher, config);
    serve(listener, app, &config, shutdown_signal()).await;
    ledger.close().await;
    println!("vaxcert up: stopped");
    Ok(ExitCode::SUCCESS)
}

/// Resolves on Ctrl-C or SIGTERM.
async fn shutdown_signal() {
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
