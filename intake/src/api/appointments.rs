//! `/intake/v1/appointments`: a registrant's invitations, under the phone session (the `intake_session`
//! cookie). Only appointments of people registered under the session's phone are visible; any other
//! booking code answers 404.
//!
//! | method and path | answers |
//! |---|---|
//! | `GET /intake/v1/appointments` | 200 `{appointments: [...]}` |
//! | `POST /intake/v1/appointments/{booking_code}/confirmation` | 200 the appointment, `confirmed` / 404 / 409 (no longer open) |
//! | `POST /intake/v1/appointments/{booking_code}/cancellation` | 200 `{status: "cancelled"}` / 404 / 409 |
//!
//! Cancelling is also how a registrant reschedules: the slot goes back to the site, the person back on
//! the waiting list with the same standing (priority, age band; the lottery is drawn anew each round),
//! and the next round may invite them again.

use axum::Json;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::routing::{get, post};
use serde_json::{Value, json};

use super::{IntakeState, Problem, session_phone};
use crate::store::Appointment;

/// The registrant's appointment routes (state still to be given).
pub(super) fn routes() -> Router<IntakeState> {
    Router::new()
        .route("/intake/v1/appointments", get(list))
        .route(
            "/intake/v1/appointments/{booking_code}/confirmation",
            post(confirm),
        )
        .route(
            "/intake/v1/appointments/{booking_code}/cancellation",
            post(cancel),
        )
}

fn appointment_json(appointment: &Appointment) -> Value {
    json!({
        "booking_code": appointment.booking_code,
        "registration_id": appointment.registration_id,
        "full_name": appointment.full_name,
        "dose_number": appointment.dose_number,
        "status": appointment.status,
        "site": appointment.site_code,
        "day": appointment.day,
        "session": appointment.session,
        "product": appointment.product,
    })
}

async fn list(
    State(state): State<IntakeState>,
    headers: HeaderMap,
) -> Result<Json<Value>, Problem> {
    let phone = session_phone(&state, &headers).await?;
    let appointments = state.intake.appointments_of_phone(&phone).await?;
    Ok(Json(json!({
        "appointments": appointments.iter().map(appointment_json).collect::<Vec<_>>()
    })))
}

async fn confirm(
    State(state): State<IntakeState>,
    Path(booking_code): Path<String>,
    headers: HeaderMap,
) -> Result<Json<Value>, Problem> {
    let phone = session_phone(&state, &headers).await?;
    let appointment = state
        .intake
        .confirm_appointment(&booking_code, &phone, state.now())
        .await?;
    Ok(Json(appointment_json(&appointment)))
}

async fn cancel(
    State(state): State<IntakeState>,
    Path(booking_code): Path<String>,
    headers: HeaderMap,
) -> Result<Json<Value>, Problem> {
    let phone = session_phone(&state, &headers).await?;
    state
        .intake
        .cancel_appointment(&booking_code, &phone, state.now())
        .await?;
    Ok(Json(json!({"status": "cancelled"})))
}
