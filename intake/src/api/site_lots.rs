//! `/site/v1/lots`: the vaccine lots a site holds, registered by its staff (a site token).
//!
//! | method and path | body | answers |
//! |---|---|---|
//! | `POST /site/v1/lots` | `{lot_number, product, doses_per_vial, expires_on, doses}` | 201 the lot / 409 (the site has it) / 422 |
//! | `GET /site/v1/lots` | — | 200 `{lots: [...]}` |
//!
//! The body is `application/json` of at most 16 KiB (415, 413 otherwise).

use axum::Json;
use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::get;
use serde::Deserialize;
use serde_json::{Value, json};
use time::Date;
use time::macros::format_description;

use super::body::{one_of, read_json};
use super::{IntakeState, Problem, require_role};
use crate::store::{Lot, Role};
use crate::vaccines;

/// The lots' routes (state still to be given).
pub fn routes() -> Router<IntakeState> {
    Router::new().route("/site/v1/lots", get(list).post(add))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LotRequest {
    lot_number: String,
    product: String,
    doses_per_vial: i64,
    expires_on: String,
    doses: i64,
}

/// The request as a lot, or 422 naming the field.
fn lot(request: LotRequest) -> Result<Lot, Problem> {
    let number = request.lot_number.trim();
    if number.is_empty()
        || number.len() > 40
        || !number
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '/' | '.'))
    {
        return Err(Problem::invalid(
            "lot_number",
            "1 to 40 letters, digits, '-', '/' or '.'",
        ));
    }
    if vaccines::vaccine(&request.product).is_none() {
        return Err(Problem::invalid(
            "product",
            "not a vaccine intake schedules",
        ));
    }
    if !(1..=20).contains(&request.doses_per_vial) {
        return Err(Problem::invalid("doses_per_vial", "1 to 20"));
    }
    Date::parse(
        &request.expires_on,
        format_description!("[year]-[month]-[day]"),
    )
    .map_err(|_| Problem::invalid("expires_on", "not a YYYY-MM-DD day"))?;
    if !(0..=10_000_000).contains(&request.doses) {
        return Err(Problem::invalid("doses", "0 to 10,000,000"));
    }
    Ok(Lot {
        lot_number: number.to_owned(),
        product: request.product,
        doses_per_vial: request.doses_per_vial,
        expires_on: request.expires_on,
        doses_available: request.doses,
    })
}

fn lot_json(lot: &Lot) -> Value {
    json!({
        "lot_number": lot.lot_number,
        "product": lot.product,
        "doses_per_vial": lot.doses_per_vial,
        "expires_on": lot.expires_on,
        "doses_available": lot.doses_available,
    })
}

async fn add(
    State(state): State<IntakeState>,
    headers: HeaderMap,
    body: Body,
) -> Result<(StatusCode, Json<Value>), Problem> {
    let holder = require_role(&state.intake, &headers, Role::Site).await?;
    let fields = one_of(&[
        "lot_number",
        "product",
        "doses_per_vial",
        "expires_on",
        "doses",
    ]);
    let lot = lot(read_json(&headers, body, fields).await?)?;
    state.intake.add_lot(&holder.subject, &lot).await?;
    Ok((StatusCode::CREATED, Json(lot_json(&lot))))
}

async fn list(
    State(state): State<IntakeState>,
    headers: HeaderMap,
) -> Result<Json<Value>, Problem> {
    let holder = require_role(&state.intake, &headers, Role::Site).await?;
    let lots = state.intake.lots(&holder.subject).await?;
    Ok(Json(
        json!({"lots": lots.iter().map(lot_json).collect::<Vec<_>>()}),
    ))
}
