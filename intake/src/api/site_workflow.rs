//! `/site/v1/…`: a site's day, for its staff (a site token; every action only on the token's site,
//! anything else 404). Bodies are `application/json` of at most 16 KiB (415, 413 otherwise).
//!
//! | method and path | body | answers |
//! |---|---|---|
//! | `POST /site/v1/appointments/{id}/check-in` | — | 200 `{appointment_id, status}` / 404 / 409 (cancelled, …, or not the appointment's day) |
//! | `POST /site/v1/appointments/{id}/screening` | `{answers, vitals}` | 200 `{outcome, reasons, postpone_days?, postponed_until?, appointment_status}` / 404 / 409 / 422 |
//! | `POST /site/v1/appointments/{id}/dose` | `{lot_number, vaccinated_on, dose_number, total_doses}` | 201 `{dose_event_id, record_hash}` / 404 / 409 / 422 |
//! | `POST /site/v1/doses/{dose_event_id}/attestation` | — | 200 `{dose_event_id, attested_by, attested_at}` / 404 / 409 |
//! | `POST /site/v1/registrations/{id}/classification` | `{priority_group, reason}` | 200 `{registration_id, declared_group, from_group, to_group}` / 404 / 422 |

use axum::Json;
use axum::Router;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::post;
use serde::Deserialize;
use serde_json::{Value, json};
use time::Date;
use time::macros::{date, format_description};

use super::body::{one_of, read_json};
use super::{IntakeState, Problem, require_role};
use crate::screening::{Outcome, ScreeningAnswers, VitalSigns, screen};
use crate::store::{DoseInput, Role, local_day};

/// The site workflow's routes (state still to be given).
pub fn routes() -> Router<IntakeState> {
    Router::new()
        .route("/site/v1/appointments/{id}/check-in", post(check_in))
        .route("/site/v1/appointments/{id}/screening", post(screening))
        .route("/site/v1/appointments/{id}/dose", post(dose))
        .route("/site/v1/doses/{id}/attestation", post(attestation))
        .route(
            "/site/v1/registrations/{id}/classification",
            post(classification),
        )
}

async fn check_in(
    State(state): State<IntakeState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Json<Value>, Problem> {
    let holder = require_role(&state.intake, &headers, Role::Site).await?;
    state
        .intake
        .check_in(&holder.subject, &id, state.now())
        .await?;
    Ok(Json(json!({"appointment_id": id, "status": "checked_in"})))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ScreeningRequest {
    answers: ScreeningAnswers,
    vitals: VitalSigns,
}

async fn screening(
    State(state): State<IntakeState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<Value>, Problem> {
    let holder = require_role(&state.intake, &headers, Role::Site).await?;
    let request: ScreeningRequest =
        read_json(&headers, body, one_of(&["answers", "vitals"])).await?;
    let screening = screen(&request.answers, &request.vitals)
        .map_err(|error| Problem::invalid(error.field(), "outside the plausible range"))?;
    let effect = state
        .intake
        .record_screening(
            &holder.subject,
            &holder.name,
            &id,
            &request.answers,
            &request.vitals,
            &screening,
            state.now(),
        )
        .await?;
    tracing::info!(outcome = screening.outcome.as_str(), "screening recorded");
    let mut answer = json!({
        "outcome": screening.outcome.as_str(),
        "reasons": screening.reasons,
        "appointment_status": effect.appointment_status,
    });
    if let (Outcome::Postpone { days }, Some(object)) = (screening.outcome, answer.as_object_mut())
    {
        object.insert("postpone_days".into(), json!(days));
        object.insert("postponed_until".into(), json!(effect.postponed_until));
    }
    Ok(Json(answer))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DoseRequest {
    lot_number: String,
    vaccinated_on: String,
    dose_number: u8,
    total_doses: u8,
}

/// The first day a COVID-19 dose can have been given anywhere (the first authorisations).
const FIRST_DOSE_DAY: Date = date!(2020 - 12 - 01);

fn dose_input(request: DoseRequest, now: i64) -> Result<DoseInput, Problem> {
    let lot = request.lot_number.trim();
    if lot.is_empty()
        || lot.chars().count() > 40
        || !lot
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '/' | '.' | ' '))
    {
        return Err(Problem::invalid(
            "lot_number",
            "1 to 40 letters, digits, '-', '/', '.' or spaces",
        ));
    }
    let day = Date::parse(
        &request.vaccinated_on,
        format_description!("[year]-[month]-[day]"),
    )
    .map_err(|_| Problem::invalid("vaccinated_on", "not a YYYY-MM-DD day"))?;
    if day > local_day(now) || day < FIRST_DOSE_DAY {
        return Err(Problem::invalid(
            "vaccinated_on",
            "in the future or before December 2020",
        ));
    }
    if !(1..=9).contains(&request.dose_number) {
        return Err(Problem::invalid("dose_number", "from 1 to 9"));
    }
    if !(1..=9).contains(&request.total_doses) || request.total_doses < request.dose_number {
        return Err(Problem::invalid(
            "total_doses",
            "from 1 to 9, and at least the dose number",
        ));
    }
    Ok(DoseInput {
        lot_number: lot.to_owned(),
        vaccinated_on: request.vaccinated_on,
        dose_number: request.dose_number,
        total_doses: request.total_doses,
    })
}

async fn dose(
    State(state): State<IntakeState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<impl IntoResponse, Problem> {
    let holder = require_role(&state.intake, &headers, Role::Site).await?;
    let now = state.now();
    let fields = one_of(&["lot_number", "vaccinated_on", "dose_number", "total_doses"]);
    let input = dose_input(read_json(&headers, body, fields).await?, now)?;
    let recorded = state
        .intake
        .record_dose(&holder.subject, &holder.name, &id, &input, now)
        .await?;
    tracing::info!(dose_event_id = %recorded.dose_event_id, "dose recorded");
    Ok((
        StatusCode::CREATED,
        Json(json!({
            "dose_event_id": recorded.dose_event_id,
            "record_hash": recorded.record_hash,
        })),
    ))
}

async fn attestation(
    State(state): State<IntakeState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Json<Value>, Problem> {
    let holder = require_role(&state.intake, &headers, Role::Site).await?;
    let now = state.now();
    state
        .intake
        .attest_dose(&holder.subject, &holder.name, &id, now)
        .await?;
    Ok(Json(json!({
        "dose_event_id": id,
        "attested_by": holder.name,
        "attested_at": now,
    })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ClassificationRequest {
    priority_group: String,
    reason: String,
}

async fn classification(
    State(state): State<IntakeState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<Value>, Problem> {
    let holder = require_role(&state.intake, &headers, Role::Site).await?;
    let request: ClassificationRequest =
        read_json(&headers, body, one_of(&["priority_group", "reason"])).await?;
    let reason = request.reason.trim();
    if reason.is_empty() || reason.chars().count() > 500 {
        return Err(Problem::invalid("reason", "1 to 500 characters"));
    }
    let now = state.now();
    let current = state.intake.classification(&holder.subject, &id).await?;
    let registered_under = u32::try_from(current.policy_version)
        .ok()
        .and_then(|version| state.policies.get(&current.policy_id, version));
    let known = registered_under
        .into_iter()
        .chain(state.policies.in_force(local_day(now)))
        .any(|policy| policy.group(&request.priority_group).is_some());
    if !known {
        return Err(Problem::invalid(
            "priority_group",
            "not a group of the registration's policy or the policy in force",
        ));
    }
    let from = state
        .intake
        .reclassify(
            &holder.subject,
            &holder.name,
            &id,
            &request.priority_group,
            reason,
            now,
        )
        .await?;
    Ok(Json(json!({
        "registration_id": id,
        "declared_group": current.declared_group,
        "from_group": from,
        "to_group": request.priority_group,
    })))
}
