//! `/registry/v1/…`: the national registry (a registry token).
//!
//! | method and path | answers |
//! |---|---|
//! | `POST /registry/v1/doses/{dose_event_id}/confirmation` | 200 `{dose_event_id, registry_record_id, confirmed_at}` / 404 / 409 (not attested, or confirmed already) |
//!
//! Confirming writes the issuer outbox row in the same transaction ([`crate::store::Intake::confirm_dose`]);
//! [`crate::delivery`] sends it.

use axum::Json;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::routing::post;
use serde_json::{Value, json};

use super::{IntakeState, Problem, require_role};
use crate::store::Role;

/// The registry's routes (state still to be given).
pub fn routes() -> Router<IntakeState> {
    Router::new().route("/registry/v1/doses/{id}/confirmation", post(confirmation))
}

async fn confirmation(
    State(state): State<IntakeState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Json<Value>, Problem> {
    require_role(&state.intake, &headers, Role::Registry).await?;
    let confirmed = state.intake.confirm_dose(&id, state.now()).await?;
    tracing::info!(dose_event_id = %confirmed.dose_event_id, "dose confirmed by the registry");
    Ok(Json(json!({
        "dose_event_id": confirmed.dose_event_id,
        "registry_record_id": confirmed.registry_record_id,
        "confirmed_at": confirmed.confirmed_at,
    })))
}
