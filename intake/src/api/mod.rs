//! Intake's HTTP surface: axum routers that a binary serves (`vaxcert serve intake`, `vaxcert up`),
//! described route by route in `openapi.json` ([`OPENAPI`]).
//!
//! | prefix | who | module |
//! |---|---|---|
//! | `/intake/`, `/intake/intake.js`, `/intake/intake.css` | people registering: the registration page | `page` |
//! | `/intake/v1/phone-codes`, `/intake/v1/sessions`, `/intake/v1/registrations[/{id}]`, `/intake/v1/policy`, `/intake/v1/sites` | people registering (the `intake_session` cookie a one-time code opens) | `public` (`session` reads the cookie) |
//! | `/intake/v1/organisations/staff` | organisations (an organisation bearer token) | `public` |
//! | `/intake/v1/rounds/{id}` | anyone: a round's seed hash, and its seed once it ran | `site_schedule` |
//! | `/site/v1/capacity`, `/site/v1/rounds/{id}/run`, `/site/v1/appointments`, `/site/v1/appointments/{id}/no-show` | a site's staff (a site bearer token; that site only) | `site_schedule` |
//! | `/site/v1/appointments/{id}/check-in\|screening\|dose`, `/site/v1/doses/{id}/attestation`, `/site/v1/registrations/{id}/classification` | a site's staff | `site_workflow` |
//! | `/registry/v1/doses/{id}/confirmation` | the national registry (a registry bearer token) | `registry` |
//!
//! Bearer tokens are checked by `auth` (401 unknown, 403 another role). Every request body, on every
//! prefix, is read by `body`: 415 unless `application/json` (`text/csv` for staff lists), 413 beyond
//! [`MAX_JSON_BYTES`] (2 MiB for staff lists). Errors are
//! `{"error": "...", "field": "..."}` with the status of [`Problem`]; nothing from a request
//! is echoed in an error (a field is named, its value never). Log lines name the route and the outcome,
//! never a name, a date of birth, a document or phone number.

mod appointments;
mod auth;
mod body;
mod limits;
#[cfg(test)]
mod openapi_check;
mod page;
mod problem;
mod public;
mod registry;
mod session;
mod site_lots;
mod site_schedule;
mod site_workflow;

use std::sync::Arc;

use axum::Router;
use time::OffsetDateTime;

use crate::notify::Sender;
use crate::policy::PolicyBook;
use crate::store::Intake;

pub use auth::{bearer_holder, require_role};
pub use body::MAX_JSON_BYTES;
pub use limits::CodeRate;
pub use problem::Problem;
pub use session::{SESSION_COOKIE, session_phone};

/// The OpenAPI 3.1 document of every intake route, served at `/openapi.json`.
pub const OPENAPI: &str = include_str!("openapi.json");

/// The clock the handlers read: the time now. Tests pass a fixed or stepped one.
pub type Clock = Arc<dyn Fn() -> OffsetDateTime + Send + Sync>;

/// The system clock.
pub fn system_clock() -> Clock {
    Arc::new(OffsetDateTime::now_utc)
}

/// Settings of the intake service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IntakeConfig {
    /// The campaign registrations belong to (one active registration per person and campaign).
    pub campaign: String,
    /// People one phone may register (`domain.md`: a configurable cap, 4 elsewhere).
    pub max_people_per_phone: u8,
    /// Where people download their certificates (the citizen portal), for the "certificate available"
    /// message.
    pub portal_link: String,
    /// One-time-code requests allowed per client address.
    pub code_rate: CodeRate,
}

impl Default for IntakeConfig {
    /// Campaign `covid-19`, 4 people per phone, the portal at `/citizen/` of this host, 30 code
    /// requests a minute per client address (bursts of 300).
    fn default() -> Self {
        IntakeConfig {
            campaign: "covid-19".to_owned(),
            max_people_per_phone: 4,
            portal_link: "http://127.0.0.1:8080/citizen/".to_owned(),
            code_rate: CodeRate::default(),
        }
    }
}

/// What every handler shares.
#[derive(Clone)]
pub struct IntakeState {
    /// The database.
    pub intake: Intake,
    /// The clock.
    pub clock: Clock,
    /// Sends one-time codes at once (they are never stored in the clear, so never in the outbox).
    pub sms: Arc<dyn Sender>,
    /// The priority policies.
    pub policies: Arc<PolicyBook>,
    /// Settings.
    pub config: Arc<IntakeConfig>,
}

impl IntakeState {
    /// The time now, unix seconds.
    pub fn now(&self) -> i64 {
        (self.clock)().unix_timestamp()
    }
}

/// Every intake route.
pub fn router(state: IntakeState) -> Router {
    Router::new()
        .merge(page::router())
        .merge(public::routes(state.config.code_rate))
        .merge(site_workflow::routes())
        .merge(site_lots::routes())
        .merge(registry::routes())
        .merge(site_schedule::router())
        .with_state(state)
}
