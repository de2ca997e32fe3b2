//! `GET /healthz` of `vaxcert up`: everything the node runs answers for itself — the trust list and the
//! revocation list its verifier trusts (this node's own, as published), the imported DSC lists
//! (`--dsc-list`), the issuer's ledger and the intake database (a trivial query each, within
//! [`DATABASE_TIMEOUT`]). 200 when all are healthy; 503 otherwise, `unhealthy` naming what is not.
//!
//! The body keeps the issuer's fields (`status`, `value_sets`) and adds the stand-alone verifier's
//! (`trust_list`, `revocation_list`, `dsc_lists`, `unhealthy`) and `databases`
//! (`{"ledger": "ok", "intake": "ok"}`, `unavailable` for one that does not answer in time).

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use intake::store::Intake;
use issuer::ledger::Ledger;
use issuer::service::Clock;
use serde_json::{Value, json};

use crate::verifier_service::VerifierHandle;
use crate::verifier_service::dsc_lists::ForeignDscs;
use crate::verifier_service::refreshed::{health_answer, lists_health};

/// The OpenAPI 3.1 description of `vaxcert up`'s `/healthz`, merged last into its document (after
/// the stand-alone verifier's health document, whose list schemas it refers to).
pub const NODE_HEALTH_OPENAPI: &str = include_str!("node_health.openapi.json");

/// How long each database has to answer before it is reported unavailable.
pub const DATABASE_TIMEOUT: Duration = Duration::from_secs(2);

/// What `vaxcert up`'s `/healthz` looks at.
#[derive(Clone)]
pub struct NodeHealth {
    /// The issuer's ledger.
    pub ledger: Arc<Ledger>,
    /// The intake database.
    pub intake: Intake,
    /// The node's verifier, on this node's published lists.
    pub verifier: VerifierHandle,
    /// The imported DSC lists the verifier also trusts (`--dsc-list`), with their states.
    pub foreign: ForeignDscs,
    /// The release of the EU value sets in use.
    pub value_sets_version: Option<String>,
    /// The clock the lists' ages are measured at.
    pub clock: Clock,
}

impl std::fmt::Debug for NodeHealth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NodeHealth")
            .field("value_sets_version", &self.value_sets_version)
            .finish_non_exhaustive()
    }
}

impl NodeHealth {
    /// The `/healthz` answer now: the status and the body.
    pub async fn report(&self) -> (axum::http::StatusCode, Value) {
        let (ledger_ok, intake_ok) =
            tokio::join!(answers(self.ledger.ping()), answers(self.intake.ping()));
        let now = (self.clock)();
        let verifier = self.verifier.current();
        let (mut body, mut unhealthy) = lists_health(
            verifier.trust_list_freshness(now),
            Some(verifier.revocation_list_freshness(now)),
            &self.foreign.statuses(),
            now,
        );
        for (ok, name) in [(ledger_ok, "ledger"), (intake_ok, "intake")] {
            if !ok {
                unhealthy.push(name);
            }
        }
        let state = |ok: bool| if ok { "ok" } else { "unavailable" };
        body.insert(
            String::from("databases"),
            json!({"ledger": state(ledger_ok), "intake": state(intake_ok)}),
        );
        body.insert(
            String::from("value_sets"),
            json!({"version": self.value_sets_version}),
        );
        health_answer(body, &unhealthy)
    }
}

/// Whether `ping` succeeds within [`DATABASE_TIMEOUT`].
async fn answers<E>(ping: impl Future<Output = Result<(), E>>) -> bool {
    matches!(
        tokio::time::timeout(DATABASE_TIMEOUT, ping).await,
        Ok(Ok(()))
    )
}

/// `GET /healthz` answering [`NodeHealth::report`].
pub fn health_router(health: NodeHealth) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .with_state(Arc::new(health))
}

async fn healthz(State(health): State<Arc<NodeHealth>>) -> Response {
    let (status, body) = health.report().await;
    (status, axum::Json(body)).into_response()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]

    use super::*;
    use crate::verifier_service::dsc_lists::DscLists;

    /// A fresh directory for this test's databases.
    fn data_dir() -> std::path::PathBuf {
        let mut random = [0u8; 8];
        getrandom::fill(&mut random).unwrap();
        let dir = std::env::temp_dir()
            .join("vaxcert-tests")
            .join(format!("node-health-{}", hex::encode(random)));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    /// A database that no longer answers is named in a 503: first the ledger, then the intake database
    /// too.
    #[tokio::test]
    async fn a_database_that_does_not_answer_is_named_in_a_503() {
        let dir = data_dir();
        let ledger = Arc::new(
            Ledger::open(&format!("sqlite:{}", dir.join("ledger.sqlite").display()))
                .await
                .unwrap(),
        );
        let intake = Intake::open(&format!("sqlite:{}", dir.join("intake.sqlite").display()))
            .await
            .unwrap();
        let verifier = VerifierHandle::new(verifier::Verifier::new(
            Arc::new(verifier::TrustStore::new(keys::Backend::default())),
            None,
        ));
        let health = NodeHealth {
            ledger: Arc::clone(&ledger),
            intake: intake.clone(),
            verifier,
            foreign: ForeignDscs::new(&DscLists::new(&[String::from(
                "/nonexistent/vaxcert/dsc-list.json",
            )])),
            value_sets_version: Some(String::from("2023-05-05")),
            clock: Arc::new(|| 1_700_000_000),
        };

        let (_, body) = health.report().await;
        assert_eq!(
            body["databases"],
            json!({"ledger": "ok", "intake": "ok"}),
            "{body}"
        );
        // A verifier trusting no list, and a DSC list never loaded, are unhealthy on their own.
        assert_eq!(
            body["unhealthy"],
            json!(["trust_list", "revocation_list", "dsc_lists"]),
            "{body}"
        );
        assert_eq!(body["trust_list"], json!({"loaded": false}));
        assert_eq!(body["dsc_lists"][0]["loaded"], false, "{body}");
        assert_eq!(body["value_sets"]["version"], "2023-05-05");

        ledger.close().await;
        let (status, body) = health.report().await;
        assert_eq!(status, axum::http::StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(body["status"], "unavailable");
        assert_eq!(
            body["databases"],
            json!({"ledger": "unavailable", "intake": "ok"}),
            "{body}"
        );
        assert_eq!(
            body["unhealthy"],
            json!(["trust_list", "revocation_list", "dsc_lists", "ledger"]),
            "{body}"
        );

        intake.close().await;
        let (status, body) = health.report().await;
        assert_eq!(status, axum::http::StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(
            body["databases"],
            json!({"ledger": "unavailable", "intake": "unavailable"}),
            "{body}"
        );
        assert_eq!(
            body["unhealthy"],
            json!([
                "trust_list",
                "revocation_list",
                "dsc_lists",
                "ledger",
                "intake"
            ]),
            "{body}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
