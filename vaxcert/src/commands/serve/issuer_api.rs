//! `vaxcert serve issuer`: the issuer alone, for production — the internal API the registry calls
//! (dose confirmations, certificate status, revocation), `/healthz`, `/metrics` and `/openapi.json`. It
//! creates nothing: the keystore (`vaxcert keys init`), the passphrase (`$VAXCERT_KEYSTORE_PASSPHRASE` or
//! `--passphrase-file`), the ledger and its clients (`vaxcert tokens create`) must exist.

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context as _, Result, bail};
use issuer::api::citizen::{self, CitizenConfig};
use issuer::api::{ApiConfig, OPENAPI, internal_router};
use issuer::citizen::{LoginPolicy, Portal};

use super::node_service::{NodeServiceArgs, Opened, Served, run_node_service};
use crate::citizen_portal::{JsonlOutbox, PORTAL_SECRET_FILE};
use crate::node::open_node_with;
use crate::verifier_service::merge_openapi;

/// The paths `serve issuer` answers, as its OpenAPI document lists them (the citizen portal's only when
/// the installation has a portal secret, see [`crate::citizen_portal`]).
const PATHS: [&str; 11] = [
    "/internal/v1/dose-confirmations",
    "/internal/v1/certificates/{uvci}",
    "/internal/v1/certificates/{uvci}/revocation",
    "/citizen/v1/code",
    "/citizen/v1/session",
    "/citizen/v1/certificates",
    "/citizen/v1/certificates/{id}/{file}",
    "/citizen/",
    "/healthz",
    "/metrics",
    "/openapi.json",
];

/// Runs `vaxcert serve issuer` until Ctrl-C or SIGTERM, then drains the requests in flight.
pub fn run(args: NodeServiceArgs) -> Result<ExitCode> {
    let portal_on = args.node.data.join(PORTAL_SECRET_FILE).exists();
    let openapi = if portal_on {
        merge_openapi(OPENAPI, citizen::OPENAPI, "vaxcert issuer")
            .context("the OpenAPI documents do not merge")?
    } else {
        OPENAPI.to_owned()
    };
    run_node_service(
        "issuer",
        args,
        (&openapi, "vaxcert issuer", &PATHS),
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
                opened.clock.clone(),
            )
            .await?;
            let mut routes =
                internal_router(issuing.service, ApiConfig::default(), &opened.metrics);
            let mut endpoints = vec![
                ("issuer internal API", "/internal/v1/dose-confirmations"),
                ("certificate status", "/internal/v1/certificates/{uvci}"),
            ];
            match issuing.portal_secret {
                Some(secret) => {
                    let portal = Portal::new(
                        Arc::clone(&opened.ledger),
                        secret,
                        LoginPolicy::default(),
                        Arc::new(JsonlOutbox::new(&node.data)?),
                        opened.clock.clone(),
                    )
                    .with_value_sets(Arc::clone(&issuing.value_sets.sets));
                    routes =
                        routes.merge(citizen::router(Arc::new(portal), CitizenConfig::default()));
                    endpoints.push(("citizen portal", "/citizen/"));
                }
                None => eprintln!(
                    "vaxcert serve issuer: no {} under the data directory: the citizen portal is off and no contact details are recorded",
                    PORTAL_SECRET_FILE
                ),
            }
            Ok(Served {
                routes,
                endpoints,
                facts: vec![
                    ("EU value sets", issuing.value_sets.to_string()),
                    ("keystore", node.keys_dir().display().to_string()),
                    ("trust-list key", format!("pin {}", issuing.trust_list_pin)),
                ],
            })
        },
    )
}
