//! Intake's HTTP surface: axum routers that a binary serves (`vaxcert serve intake`, `vaxcert up`).
//!
//! | prefix | who | module |
//! |---|---|---|
//! | `/intake/` (page), `/intake/v1/…` | people registering (a phone session from a one-time code) and organisations (bearer token) | `public` |
//! | `/site/v1/…` | a site's staff (bearer token for that site) | `site` |
//! | `/registry/v1/…` | the national registry (bearer token) | `registry` |
//!
//! Errors are `{"error": "...", "field": "..."}` with the status of [`Problem`]; nothing from a request
//! is echoed in an error (a field is named, its value never). Log lines name the route and the outcome,
//! never a name, a date of birth, a document or phone number.

mod auth;
mod problem;
mod site_schedule;

use std::sync::Arc;

use axum::Router;
use time::OffsetDateTime;

use crate::notify::Sender;
use crate::policy::PolicyBook;
use crate::store::Intake;

pub use auth::{bearer_holder, require_role};
pub use problem::Problem;

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
}

impl Default for IntakeConfig {
    /// Campaign `covid-19`, 4 people per phone, the portal at `/citizen/` of this host.
    fn default() -> Self {
        IntakeConfig {
            campaign: "covid-19".to_owned(),
            max_people_per_phone: 4,
            portal_link: "http://127.0.0.1:8080/citizen/".to_owned(),
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
        .merge(site_schedule::router())
        .with_state(state)
}
