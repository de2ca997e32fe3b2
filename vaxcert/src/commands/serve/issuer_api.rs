//! `vaxcert serve issuer`: the issuer alone, for production — the internal API the registry calls
//! (dose confirmations, certificate status, revocation), `/healthz`, `/metrics` and `/openapi.json`. It
//! creates nothing: the keystore (`vaxcert keys init`), the passphrase (`$VAXCERT_KEYSTORE_PASSPHRASE` or
//! `--passphrase-file`), the ledger and its clients (`vaxcert tokens create`) must exist.

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context as _, Result, bail};
use issuer::api::{ApiConfig, OPENAPI, internal_router};

use super::node_service::{NodeServiceArgs, Opened, Served, run_node_service};
use crate::node::open_node_with;

/// The paths `serve issuer` answers, as its OpenAPI document lists them.
const PATHS: [&str; 6] = [
    "/internal/v1/dose-confirmations",
    "/internal/v1/certificates/{uvci}",
    "/internal/v1/certificates/{uvci}/revocation",
    "/healthz",
    "/metrics",
    "/openapi.json",
];

/// Runs `vaxcert serve issuer` until Ctrl-C or SIGTERM, then drains the requests in flight.
pub fn run(args: NodeServiceArgs) -> Result<ExitCode> {
    run_node_service(
        "issuer",
        args,
        (OPENAPI, "vaxcert issuer", &PATHS),
        async |node, opened: Opened| {
            let clients = opened
                .ledger
                .clients()
                .await
                .context("cannot read the API clients")?;
            if clients.iter().all(|client| client.disabled) {
                bail!(
                    "no enabled API client in the ledger ({}): create one with `vaxcert tokens create national-registry`",
                    node.ledger_description()
                );
            }
            let issuing = open_node_with(
                node,
                opened.keystore,
                &opened.passphrase,
                Arc::clone(&opened.ledger),
                opened.clock,
            )
            .await?;
            Ok(Served {
                routes: internal_router(issuing.service, ApiConfig::default(), &opened.metrics),
                endpoints: vec![
                    ("issuer internal API", "/internal/v1/dose-confirmations"),
                    ("certificate status", "/internal/v1/certificates/{uvci}"),
                ],
                facts: vec![
                    ("EU value sets", issuing.value_sets.to_string()),
                    ("keystore", node.keys_dir().display().to_string()),
                    ("trust-list key", format!("pin {}", issuing.trust_list_pin)),
                ],
            })
        },
    )
}
