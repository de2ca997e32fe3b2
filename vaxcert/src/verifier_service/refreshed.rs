//! The trust of the stand-alone verifier (`vaxcert serve verifier`): the trust list and the revocation
//! list kept fresh from their URLs (or files) by [`Refresher`]s — conditional GET, pinned key, no
//! rollback, no expired list, the last good list kept — and a new verifier put in use whenever either
//! list changes. [`health_router`] answers `GET /healthz` with each list's version and age.
//!
//! Until every configured list has been loaded once, the verifier trusts no DSC (nothing is valid) and
//! `/healthz` answers 503: a verifier never calls a certificate valid without the revocation list it
//! was told to check.

use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use hcert::ValueSets;
use issuer::service::Clock;
use keys::Backend;
use serde_json::{Map, Value, json};
use trust_list::{
    Accepted, Freshness, PinnedKey, RevocationList, RevocationListState, TrustList, TrustListState,
};
use verifier::{TrustStore, Verifier};

use super::VerifierHandle;
use super::dsc_lists::{DscListStatus, DscLists, statuses_json};
use crate::fetch::{Refresh, Refresher};
use crate::trust::verifier_from_trust_list;

/// The OpenAPI 3.1 description of [`health_router`], merged into the stand-alone verifier's document.
pub const HEALTH_OPENAPI: &str = include_str!("healthz.openapi.json");

/// Where the lists come from and how they are checked.
#[derive(Debug, Clone)]
pub struct TrustSources {
    /// The signed national trust list: an `http(s)://` URL or a file.
    pub trust_list: String,
    /// The signed revocation list, if certificates are checked against one.
    pub revocation_list: Option<String>,
    /// The keys both lists must be signed with.
    pub pinned: Vec<PinnedKey>,
    /// Imported foreign DSC lists (`vaxcert trust-list import`; files or URLs), kept fresh like the
    /// lists and trusted besides the trust list's DSCs.
    pub dsc_lists: Vec<String>,
    /// How old a list may be, in seconds, before it is stale (nothing is then valid).
    pub max_age_s: u64,
    /// The EU value sets coded fields are checked against.
    pub value_sets: Option<Arc<ValueSets>>,
    /// Their release, for `/healthz`.
    pub value_sets_version: String,
}

/// The lists as `/healthz` sees them: copies of the refreshers' states, replaced when a list changes.
#[derive(Debug, Clone)]
pub struct TrustHealth(Arc<RwLock<HealthState>>);

#[derive(Debug)]
struct HealthState {
    trust_list: TrustListState,
    revocation_list: Option<RevocationListState>,
    dsc_lists: Vec<DscListStatus>,
    value_sets_version: String,
}

/// The stand-alone verifier's trust: the refreshers, the verifier they feed and what `/healthz` reads.
#[derive(Debug)]
pub struct RefreshedTrust {
    trust_list: Refresher<TrustList>,
    revocation_list: Option<Refresher<RevocationList>>,
    dsc_lists: DscLists,
    max_age_s: u64,
    value_sets: Option<Arc<ValueSets>>,
    handle: VerifierHandle,
    health: TrustHealth,
}

impl RefreshedTrust {
    /// Trust in `sources`, nothing loaded yet: the verifier in use trusts no DSC.
    pub fn new(sources: TrustSources) -> RefreshedTrust {
        let trust_state = TrustListState::new(sources.pinned.clone(), sources.max_age_s);
        let revocation_state = sources
            .revocation_list
            .as_ref()
            .map(|_| RevocationListState::new(sources.pinned.clone(), sources.max_age_s));
        let dsc_lists = DscLists::new(&sources.dsc_lists);
        let health = TrustHealth(Arc::new(RwLock::new(HealthState {
            trust_list: trust_state.clone(),
            revocation_list: revocation_state.clone(),
            dsc_lists: dsc_lists.statuses(),
            value_sets_version: sources.value_sets_version,
        })));
        RefreshedTrust {
            trust_list: Refresher::new(&sources.trust_list, trust_state),
            revocation_list: sources
                .revocation_list
                .as_deref()
                .zip(revocation_state)
                .map(|(source, state)| Refresher::new(source, state)),
            dsc_lists,
            max_age_s: sources.max_age_s,
            handle: VerifierHandle::new(untrusting(sources.value_sets.clone())),
            value_sets: sources.value_sets,
            health,
        }
    }

    /// The verifier in use, replaced on every change of a list.
    pub fn handle(&self) -> VerifierHandle {
        self.handle.clone()
    }

    /// What `/healthz` reads.
    pub fn health(&self) -> TrustHealth {
        self.health.clone()
    }

    /// Fetches the lists once at `now` (Unix seconds; blocking I/O) — the trust list, the revocation
    /// list and the imported DSC lists — and, when any changed, puts the verifier they describe in use. A failure or a refused list keeps the last good one and is logged
    /// (lists carry no personal data). Returns whether the verifier was replaced.
    pub fn refresh(&mut self, now: i64) -> bool {
        let trust_changed = changed("trust list", self.trust_list.refresh(now));
        let revocation_changed = self
            .revocation_list
            .as_mut()
            .is_some_and(|refresher| changed("revocation list", refresher.refresh(now)));
        let dscs_changed = self.dsc_lists.refresh(now);
        {
            let mut health = self
                .health
                .0
                .write()
                .unwrap_or_else(PoisonError::into_inner);
            health.dsc_lists = self.dsc_lists.statuses();
            if trust_changed {
                health.trust_list = self.trust_list.state().clone();
            }
            if revocation_changed {
                health.revocation_list = self
                    .revocation_list
                    .as_ref()
                    .map(|refresher| refresher.state().clone());
            }
        }
        if !(trust_changed || revocation_changed || dscs_changed) {
            return false;
        }
        match self.verifier() {
            Some(verifier) => {
                self.handle.replace(verifier);
                tracing::info!("verifier: trust rebuilt from the refreshed lists");
                true
            }
            None => false,
        }
    }

    /// The verifier the current lists describe; `None` until every configured list was loaded.
    fn verifier(&self) -> Option<Verifier> {
        let list = self.trust_list.state().current()?;
        let max_age_s = i64::try_from(self.max_age_s).unwrap_or(i64::MAX);
        let verifier = verifier_from_trust_list(
            list,
            &[],
            &self.dsc_lists.dscs(),
            max_age_s,
            self.value_sets.clone(),
        );
        match &self.revocation_list {
            Some(refresher) => {
                let revocation = refresher.state().current()?;
                Some(verifier.with_revocation(Arc::new(revocation.clone())))
            }
            None => Some(verifier),
        }
    }
}

/// A verifier trusting no DSC, in use until the lists are loaded.
fn untrusting(value_sets: Option<Arc<ValueSets>>) -> Verifier {
    Verifier::new(Arc::new(TrustStore::new(Backend::default())), value_sets)
}

/// Whether a refresh put a new list in use; refusals and failures logged.
fn changed<E: std::fmt::Display>(list: &str, outcome: anyhow::Result<Refresh<E>>) -> bool {
    match outcome {
        Ok(Refresh::Updated(Accepted::Updated { version, previous })) => {
            tracing::info!(list, version, previous, "verifier: list updated");
            true
        }
        Ok(Refresh::Updated(_) | Refresh::NotModified) => false,
        Ok(Refresh::Refused(refused)) => {
            tracing::warn!(list, reason = %refused, "verifier: list refused; the last good one stays");
            false
        }
        Err(error) => {
            tracing::warn!(list, error = %error, "verifier: list not fetched; the last good one stays");
            false
        }
    }
}

/// Refreshes `trust` at `clock` every `every` (the fetches off the async workers), forever: run it as a
/// task and abort it at shutdown.
pub async fn keep_fresh(mut trust: RefreshedTrust, clock: Clock, every: Duration) {
    let mut ticks = crate::serving::ticks(every).await;
    loop {
        ticks.tick().await;
        let now = clock();
        trust = match tokio::task::spawn_blocking(move || {
            trust.refresh(now);
            trust
        })
        .await
        {
            Ok(trust) => trust,
            Err(_) => return,
        };
    }
}

/// `GET /healthz`: 200 when the trust list is loaded and fresh and the revocation list (if configured)
/// loaded and unexpired, 503 otherwise; the body gives each list's version and age and the value-sets
/// release either way.
pub fn health_router(health: TrustHealth, clock: Clock) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .with_state((health, clock))
}

async fn healthz(State((health, clock)): State<(TrustHealth, Clock)>) -> Response {
    let (status, body) = health.report(clock());
    (status, axum::Json(body)).into_response()
}

impl TrustHealth {
    /// The `/healthz` answer at `now`.
    pub fn report(&self, now: i64) -> (StatusCode, Value) {
        let state = self.0.read().unwrap_or_else(PoisonError::into_inner);
        let (mut body, unhealthy) = lists_health(
            state.trust_list.status(now),
            state.revocation_list.as_ref().map(|list| list.status(now)),
            &state.dsc_lists,
            now,
        );
        body.insert(
            String::from("value_sets"),
            json!({"version": state.value_sets_version}),
        );
        health_answer(body, &unhealthy)
    }
}

/// The lists' part of a `/healthz` body at `now` — `trust_list`, `revocation_list` (when one is
/// configured: `Some`, `Some(None)` before it loaded) and `dsc_lists` (when any) — and the names of
/// those unhealthy: the trust list not loaded or stale, the revocation list not loaded or expired, a DSC
/// list never loaded.
pub(crate) fn lists_health(
    trust: Option<Freshness>,
    revocation: Option<Option<Freshness>>,
    dsc_lists: &[DscListStatus],
    now: i64,
) -> (Map<String, Value>, Vec<&'static str>) {
    let mut body = Map::new();
    let mut unhealthy = Vec::new();
    if trust.is_none_or(|freshness| freshness.stale) {
        unhealthy.push("trust_list");
    }
    body.insert(String::from("trust_list"), freshness_json(trust));
    if let Some(revocation) = revocation {
        if revocation.is_none_or(|freshness| freshness.expired) {
            unhealthy.push("revocation_list");
        }
        body.insert(String::from("revocation_list"), freshness_json(revocation));
    }
    if !dsc_lists.is_empty() {
        if !dsc_lists.iter().all(|list| list.loaded) {
            unhealthy.push("dsc_lists");
        }
        body.insert(String::from("dsc_lists"), statuses_json(dsc_lists, now));
    }
    (body, unhealthy)
}

/// A `/healthz` answer: `body` with `status` (`ok`, or `unavailable` when anything is `unhealthy`) and
/// `unhealthy` (the names of what is not); 200 or 503.
pub(crate) fn health_answer(
    mut body: Map<String, Value>,
    unhealthy: &[&'static str],
) -> (StatusCode, Value) {
    let healthy = unhealthy.is_empty();
    body.insert(
        String::from("status"),
        json!(if healthy { "ok" } else { "unavailable" }),
    );
    body.insert(String::from("unhealthy"), json!(unhealthy));
    let status = if healthy {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Value::Object(body))
}

/// A list's freshness as JSON; `{"loaded": false}` before any list was accepted.
fn freshness_json(freshness: Option<Freshness>) -> Value {
    match freshness {
        Some(freshness) => json!({
            "loaded": true,
            "version": freshness.version,
            "age_s": freshness.age_s,
            "stale": freshness.stale,
            "expired": freshness.expired,
        }),
        None => json!({"loaded": false}),
    }
}
