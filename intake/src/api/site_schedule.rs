//! Capacity, rounds and the day's appointments, for a site's staff (`/site/v1/…`, a site token whose
//! subject is the site), and the public view of a round (`/intake/v1/rounds/{id}`), where anyone can
//! check the seed against the commitment published before the round ran.
//!
//! | route | answer |
//! |---|---|
//! | `POST /site/v1/capacity` `{day, session, product, slots}` | 201 `{capacity_id, round_id, seed_hash}` |
//! | `POST /site/v1/rounds/{id}/run` | 200 `{invited}` |
//! | `GET /site/v1/appointments?day=YYYY-MM-DD` | 200 `{appointments: [...]}` |
//! | `POST /site/v1/appointments/{id}/no-show` | 200 the appointment |
//! | `GET /intake/v1/rounds/{id}` | 200 the round (the seed once it has run) |
//!
//! The capacity body is `application/json` of at most 16 KiB (415, 413 otherwise).

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;

use super::body::{one_of, read_json};
use super::{IntakeState, Problem, require_role};
use crate::store::{Appointment, Lot, Role, StoreError, TokenHolder, parse_day};
use crate::vaccines;

/// Largest number of slots one publication may carry.
const MAX_SLOTS: u32 = 1_000_000;

/// The scheduling routes.
pub fn router() -> Router<IntakeState> {
    Router::new()
        .route("/site/v1/capacity", post(publish_capacity))
        .route("/site/v1/rounds/{id}/run", post(run_round))
        .route("/site/v1/appointments", get(appointments))
        .route("/site/v1/appointments/{id}/no-show", post(no_show))
        .route("/intake/v1/rounds/{id}", get(round))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CapacityRequest {
    day: String,
    session: String,
    product: String,
    slots: u32,
}

#[derive(Deserialize)]
struct DayQuery {
    day: String,
}

async fn site_staff(state: &IntakeState, headers: &HeaderMap) -> Result<TokenHolder, Problem> {
    require_role(&state.intake, headers, Role::Site).await
}

async fn publish_capacity(
    State(state): State<IntakeState>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, Problem> {
    let holder = site_staff(&state, &headers).await?;
    let fields = one_of(&["day", "session", "product", "slots"]);
    let request: CapacityRequest = read_json(&headers, body, fields).await?;
    if parse_day(&request.day).is_none() {
        return Err(Problem::invalid("day", "a day is YYYY-MM-DD"));
    }
    if !matches!(request.session.as_str(), "morning" | "afternoon") {
        return Err(Problem::invalid("session", "morning or afternoon"));
    }
    if vaccines::vaccine(&request.product).is_none() {
        return Err(Problem::invalid("product", "unknown vaccine product"));
    }
    if request.slots == 0 || request.slots > MAX_SLOTS {
        return Err(Problem::invalid("slots", "between 1 and 1000000"));
    }
    let lots = state.intake.lots(&holder.subject).await?;
    let slots = whole_vials(request.slots, &lots, &request.product);
    let published = state
        .intake
        .publish_capacity(
            &holder.subject,
            &request.day,
            &request.session,
            &request.product,
            slots,
            &holder.name,
            state.now(),
        )
        .await
        .map_err(|error| match error {
            // The token names a site that is not (or no longer) recorded.
            StoreError::NotFound => Problem::forbidden(),
            other => other.into(),
        })?;
    tracing::info!(route = "publish_capacity", "capacity published");
    Ok((
        StatusCode::CREATED,
        Json(json!({
            "capacity_id": published.capacity_id,
            "round_id": published.round_id,
            "seed_hash": published.seed_hash,
            "slots": slots,
        })),
    )
        .into_response())
}

/// `slots` rounded up to whole vials of the site's lots of `product` (the largest vial among the lots
/// with doses left), so that no opened vial is wasted (`domain.md`: sessions rounded to whole vials); as
/// asked when the site has no such lot.
fn whole_vials(slots: u32, lots: &[Lot], product: &str) -> u32 {
    let per_vial = lots
        .iter()
        .filter(|lot| lot.product == product && lot.doses_available > 0)
        .filter_map(|lot| u32::try_from(lot.doses_per_vial).ok())
        .max()
        .unwrap_or(1)
        .max(1);
    slots
        .div_ceil(per_vial)
        .saturating_mul(per_vial)
        .min(MAX_SLOTS)
}

async fn run_round(
    State(state): State<IntakeState>,
    headers: HeaderMap,
    Path(round_id): Path<String>,
) -> Result<Response, Problem> {
    let holder = site_staff(&state, &headers).await?;
    let round = state.intake.round(&round_id).await?;
    // Another site's round is not shown to exist (as everywhere under /site/v1/).
    if round.site_code != holder.subject {
        return Err(Problem::not_found());
    }
    let invited = state
        .intake
        .run_round(&round_id, &state.policies, state.now())
        .await?;
    tracing::info!(route = "run_round", invited, "round ran");
    Ok(Json(json!({ "invited": invited })).into_response())
}

fn appointment_json(appointment: &Appointment) -> serde_json::Value {
    json!({
        "appointment_id": appointment.appointment_id,
        "booking_code": appointment.booking_code,
        "registration_id": appointment.registration_id,
        "full_name": appointment.full_name,
        "dose_number": appointment.dose_number,
        "status": appointment.status,
        "day": appointment.day,
        "session": appointment.session,
        "product": appointment.product,
    })
}

async fn appointments(
    State(state): State<IntakeState>,
    headers: HeaderMap,
    query: Result<Query<DayQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, Problem> {
    let holder = site_staff(&state, &headers).await?;
    let Ok(Query(query)) = query else {
        return Err(Problem::invalid("day", "a day is YYYY-MM-DD"));
    };
    if parse_day(&query.day).is_none() {
        return Err(Problem::invalid("day", "a day is YYYY-MM-DD"));
    }
    let list = state
        .intake
        .appointments_for_site(&holder.subject, &query.day)
        .await?;
    let items: Vec<serde_json::Value> = list.iter().map(appointment_json).collect();
    Ok(Json(json!({ "appointments": items })).into_response())
}

async fn no_show(
    State(state): State<IntakeState>,
    headers: HeaderMap,
    Path(appointment_id): Path<String>,
) -> Result<Response, Problem> {
    let holder = site_staff(&state, &headers).await?;
    let appointment = state.intake.appointment(&appointment_id).await?;
    if appointment.site_code != holder.subject {
        return Err(Problem::not_found());
    }
    let appointment = state
        .intake
        .mark_no_show(&appointment_id, &holder.subject, state.now())
        .await?;
    tracing::info!(route = "no_show", "appointment marked no-show");
    Ok(Json(appointment_json(&appointment)).into_response())
}

async fn round(
    State(state): State<IntakeState>,
    Path(round_id): Path<String>,
) -> Result<Response, Problem> {
    let round = state.intake.round(&round_id).await?;
    Ok(Json(json!({
        "round_id": round.round_id,
        "capacity_id": round.capacity_id,
        "site": round.site_code,
        "day": round.day,
        "session": round.session,
        "product": round.product,
        "seed_hash": round.seed_hash,
        "seed": round.seed,
        "ran_at": round.ran_at,
        "invited": round.invited,
    }))
    .into_response())
}

#[cfg(test)]
mod tests {
    use super::{MAX_SLOTS, whole_vials};
    use crate::store::Lot;

    fn lot(product: &str, per_vial: i64, left: i64) -> Lot {
        Lot {
            lot_number: format!("L{per_vial}{left}"),
            product: product.to_owned(),
            doses_per_vial: per_vial,
            expires_on: "2030-01-01".to_owned(),
            doses_available: left,
        }
    }

    #[test]
    fn slots_fill_whole_vials_of_the_sites_lots_of_the_product() {
        let pfizer = "EU/1/20/1528";
        let lots = [
            lot(pfizer, 6, 100),
            lot(pfizer, 10, 0),
            lot("EU/1/21/1529", 10, 100),
        ];
        assert_eq!(whole_vials(100, &lots, pfizer), 102, "17 vials of 6");
        assert_eq!(whole_vials(96, &lots, pfizer), 96);
        assert_eq!(whole_vials(1, &lots, "EU/1/21/1529"), 10);
        assert_eq!(whole_vials(7, &lots, "BBIBP-CorV"), 7, "no lot: as asked");
        assert_eq!(whole_vials(MAX_SLOTS, &lots, "EU/1/21/1529"), MAX_SLOTS);
    }
}
