//! `vaxcert serve trust-list`: the public documents alone — `/trust-list`, `/trust-list/dsc`,
//! `/trust-list/anchors` and `/revocation-list` with ETags and `If-None-Match`, as `vaxcert up` serves
//! them — with `/healthz`, `/metrics` and `/openapi.json`. It reads the keystore (the DSC key stays
//! locked: only the trust-list signing key is unlocked) and the ledger's revocations, holds no state of
//! its own, and re-signs the revocation list whenever the ledger's revocations change: run as many as
//! needed behind a load balancer.

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Result;
use issuer::api::{ApiConfig, OPENAPI, documents_health_router, documents_router};

use super::node_service::{NodeServiceArgs, Opened, Served, run_node_service};
use crate::node::open_publication;

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

/// Runs `vaxcert serve trust-list` until Ctrl-C or SIGTERM, then drains the requests in flight.
pub fn run(args: NodeServiceArgs) -> Result<ExitCode> {
    run_node_service(
        "trust-list",
        args,
        (OPENAPI, "vaxcert trust list", &PATHS),
        async |_, opened: Opened| {
            let publication = open_publication(
                opened.keystore,
                &opened.passphrase,
                opened.ledger,
                (opened.clock)(),
            )?;
            let publisher = publication.publisher;
            let routes = documents_router(
                Arc::clone(&publisher),
                opened.clock.clone(),
                &ApiConfig::default(),
            )
            .merge(documents_health_router(publisher, opened.clock));
            Ok(Served {
                routes,
                endpoints: vec![
                    ("trust list", "/trust-list"),
                    ("gateway view", "/trust-list/dsc"),
                    ("anchors", "/trust-list/anchors"),
                    ("revocation list", "/revocation-list"),
                ],
                facts: vec![(
                    "trust-list key",
                    format!("pin {}", publication.trust_list_pin),
                )],
            })
        },
    )
}
