//! The public intake API: people registering under a phone verified by a one-time code, and
//! organisations uploading staff lists.
//!
//! | method and path | answers |
//! |---|---|
//! | `POST /intake/v1/phone-codes` `{"phone"}` | 202 `{"sent": true}`; 422 `phone`; 429 within a minute of the last code or while locked; 503 the SMS gateway failed |
//! | `POST /intake/v1/sessions` `{"phone", "code"}` | 201 `{"phone", "expires_at"}` + `Set-Cookie: intake_session=…`; 401 wrong or expired code; 429 locked |
//! | `DELETE /intake/v1/sessions` | 204, the cookie cleared |
//! | `GET /intake/v1/registrations` | 200 `{"registrations": [...], "max_people": n}`; 401 |
//! | `POST /intake/v1/registrations` (the form) | 201 `{registration_id, status, policy_id, policy_version}`; 401; 422 `{error, field}`; 409 duplicate document or phone full |
//! | `GET /intake/v1/registrations/{id}` | 200 the registration; 401; 404 (also another phone's) |
//! | `DELETE /intake/v1/registrations/{id}` | 200 `{"status": "cancelled"}`; 401; 404; 409 vaccinated or cancelled |
//! | `GET /intake/v1/policy` | 200 the policy in force today |
//! | `GET /intake/v1/sites` | 200 `{"sites": [...]}` |
//! | `POST /intake/v1/organisations/staff` (`text/csv`, organisation bearer token) | 201 `{"imported": n}`; 401/403; 413; 415; 422 `{"error", "rejected": [{row, field, error}]}`, nothing imported |
//!
//! JSON bodies are at most 16 KiB, CSV files 2 MiB (read by `super::body`, as on every route). Every answer is `Cache-Control: no-store`; the log
//! line of a request names the method, the route and the status, nothing else. "Today" is the day in
//! Viet Nam (UTC+7).

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::body::Body;
use axum::extract::{MatchedPath, Path, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{Next, from_fn};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::{Value, json};
use time::Date;

use super::body::{read_body, read_json, require_media_type};
use super::limits::CodeLimiter;
use super::session::{CLEARED_COOKIE, session_cookie, session_phone, session_token};
use super::{CodeRate, IntakeState, Problem, require_role};
use crate::registration::{MEDICAL_ITEMS, RegistrationForm, normalise_phone, validate};
use crate::staff_csv::{self, RejectedRow, StaffCsvError};
use crate::store::{
    BulkPerson, CodeError, Conflict, LoginError, Registration, Role, Site, StoreError, local_day,
};

/// The public routes (merged into [`super::router`]).
pub(crate) fn routes(code_rate: CodeRate) -> Router<IntakeState> {
    let limiter = CodeLimiter::new(code_rate);
    Router::new()
        .route(
            "/intake/v1/phone-codes",
            post(move |state, request| request_code(state, limiter.clone(), request)),
        )
        .route("/intake/v1/sessions", post(log_in).delete(log_out))
        .route(
            "/intake/v1/registrations",
            get(list_registrations).post(register),
        )
        .route(
            "/intake/v1/registrations/{id}",
            get(get_registration).delete(cancel_registration),
        )
        .route("/intake/v1/policy", get(policy))
        .route("/intake/v1/sites", get(sites))
        .route("/intake/v1/organisations/staff", post(import_staff))
        .merge(super::appointments::routes())
        .route_layer(from_fn(no_store_and_log))
}

/// Every answer: `Cache-Control: no-store`, and a log line with the method, route and status only.
async fn no_store_and_log(request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|path| path.as_str().to_owned())
        .unwrap_or_default();
    let method = request.method().clone();
    let mut response = next.run(request).await;
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    tracing::info!(%method, route, status = response.status().as_u16(), "intake public");
    response
}

/// The day in Viet Nam.
fn today(state: &IntakeState) -> Date {
    local_day(state.now())
}

/// JSON paths a 422 may name: the request bodies' fields.
fn known_field(path: &str) -> bool {
    const TOP: &[&str] = &[
        "phone",
        "code",
        "full_name",
        "dob",
        "sex",
        "id_kind",
        "id_number",
        "occupation",
        "address",
        "priority_group",
        "preferred_site",
        "preferred_date",
        "health_insurance",
        "ethnicity",
        "nationality",
        "medical_history",
        "consent",
    ];
    if let Some(inner) = path.strip_prefix("address.") {
        return matches!(inner, "province_code" | "commune_code" | "admin_scheme");
    }
    if let Some(item) = path.strip_prefix("medical_history.") {
        return MEDICAL_ITEMS.contains(&item);
    }
    TOP.contains(&path)
}

/// `{"phone"}`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PhoneBody {
    phone: String,
}

/// `{"phone", "code"}`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LoginBody {
    phone: String,
    code: String,
}

fn phone_problem(text: &str) -> Result<String, Problem> {
    normalise_phone(text).map_err(|error| Problem::invalid(error.field, error.message))
}

fn too_many(message: &str) -> Problem {
    Problem::new(StatusCode::TOO_MANY_REQUESTS, message)
}

/// `POST /intake/v1/phone-codes`.
async fn request_code(
    State(state): State<IntakeState>,
    limiter: CodeLimiter,
    request: Request,
) -> Result<Response, Problem> {
    if !limiter.allows(request.extensions()) {
        return Err(too_many(
            "too many code requests from this address; try again later",
        ));
    }
    let (parts, body) = request.into_parts();
    let headers = parts.headers;
    let request: PhoneBody = read_json(&headers, body, known_field).await?;
    let phone = phone_problem(&request.phone)?;
    let code = state
        .intake
        .issue_phone_code(&phone, state.now())
        .await
        .map_err(|error| match error {
            CodeError::TooSoon => too_many("a code was sent less than a minute ago"),
            CodeError::Locked => too_many("too many wrong codes; try again later"),
            CodeError::Store(error) => error.into(),
        })?;
    let text = format!("Ma xac thuc dang ky tiem chung: {code}. Ma co hieu luc 10 phut.");
    let sender = Arc::clone(&state.sms);
    let sent = tokio::task::spawn_blocking(move || sender.send(&phone, "one_time_code", &text))
        .await
        .map_err(|_| ())
        .and_then(|outcome| outcome.map_err(|_| ()));
    if sent.is_err() {
        tracing::warn!("the one-time code was not taken by the SMS gateway");
        return Err(Problem::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "the code could not be sent; try again in a minute",
        ));
    }
    Ok((StatusCode::ACCEPTED, Json(json!({"sent": true}))).into_response())
}

/// `POST /intake/v1/sessions`.
async fn log_in(
    State(state): State<IntakeState>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, Problem> {
    let request: LoginBody = read_json(&headers, body, known_field).await?;
    let phone = phone_problem(&request.phone)?;
    if request.code.len() > 16 {
        return Err(Problem::invalid("code", "must be the 6 digits sent"));
    }
    let session = state
        .intake
        .log_in_phone(&phone, request.code.trim(), state.now())
        .await
        .map_err(|error| match error {
            LoginError::WrongCode => {
                Problem::new(StatusCode::UNAUTHORIZED, "wrong or expired code")
            }
            LoginError::Locked => too_many("too many wrong codes; try again later"),
            LoginError::Store(error) => error.into(),
        })?;
    let max_age = session.expires_at.saturating_sub(state.now());
    let cookie = HeaderValue::from_str(&session_cookie(&session.token, max_age))
        .map_err(|_| Problem::new(StatusCode::INTERNAL_SERVER_ERROR, "internal error"))?;
    let mut response = (
        StatusCode::CREATED,
        Json(json!({"phone": session.phone, "expires_at": session.expires_at})),
    )
        .into_response();
    response.headers_mut().insert(header::SET_COOKIE, cookie);
    Ok(response)
}

/// `DELETE /intake/v1/sessions`.
async fn log_out(
    State(state): State<IntakeState>,
    headers: HeaderMap,
) -> Result<Response, Problem> {
    if let Some(token) = session_token(&headers) {
        state.intake.end_phone_session(token).await?;
    }
    let mut response = StatusCode::NO_CONTENT.into_response();
    response
        .headers_mut()
        .insert(header::SET_COOKIE, HeaderValue::from_static(CLEARED_COOKIE));
    Ok(response)
}

/// A registration as the API shows it to its phone.
fn registration_json(registration: &Registration) -> Value {
    json!({
        "registration_id": registration.registration_id,
        "full_name": registration.full_name,
        "dob": registration.dob,
        "status": registration.status,
        "declared_group": registration.declared_group,
        "priority_group": registration.priority_group,
        "policy_id": registration.policy_id,
        "policy_version": registration.policy_version,
        "preferred_site": registration.preferred_site,
        "preferred_date": registration.preferred_date,
    })
}

/// `GET /intake/v1/registrations`.
async fn list_registrations(
    State(state): State<IntakeState>,
    headers: HeaderMap,
) -> Result<Response, Problem> {
    let phone = session_phone(&state, &headers).await?;
    let registrations = state.intake.registrations_of(&phone).await?;
    let list: Vec<Value> = registrations.iter().map(registration_json).collect();
    Ok(Json(json!({
        "registrations": list,
        "max_people": state.config.max_people_per_phone,
    }))
    .into_response())
}

/// The preferred site (`None`: no site has its code) must exist, and be hospital-grade for a caution
/// case.
fn check_site(site: Option<&Site>, caution: bool) -> Result<(), &'static str> {
    match site {
        None => Err("no site has this code"),
        Some(site) if caution && !site.hospital_grade => {
            Err("a severe allergy or a reaction to a previous dose needs a hospital-grade site")
        }
        Some(_) => Ok(()),
    }
}

async fn site_map(state: &IntakeState) -> Result<BTreeMap<String, Site>, Problem> {
    Ok(state
        .intake
        .sites()
        .await?
        .into_iter()
        .map(|site| (site.site_code.clone(), site))
        .collect())
}

/// `POST /intake/v1/registrations`.
async fn register(
    State(state): State<IntakeState>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, Problem> {
    let phone = session_phone(&state, &headers).await?;
    let form: RegistrationForm = read_json(&headers, body, known_field).await?;
    let registration = validate(&form, today(&state), &state.policies)
        .map_err(|error| Problem::invalid(error.field, error.message))?;
    // One site looked up, not the whole list: this is the registration's hot path.
    let site = match state.intake.site(&registration.preferred_site).await {
        Ok(site) => Some(site),
        Err(StoreError::NotFound) => None,
        Err(error) => return Err(error.into()),
    };
    check_site(site.as_ref(), registration.caution)
        .map_err(|message| Problem::invalid("preferred_site", message))?;
    let registration_id = state
        .intake
        .create_registration(
            &state.config.campaign,
            &phone,
            state.config.max_people_per_phone,
            &registration,
            state.now(),
        )
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({
            "registration_id": registration_id,
            "status": "waiting",
            "policy_id": registration.policy_id,
            "policy_version": registration.policy_version,
        })),
    )
        .into_response())
}

/// A registration id is 32 lowercase hex digits; anything else is not found.
fn check_id(id: &str) -> Result<(), Problem> {
    if id.len() == 32
        && id
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        Ok(())
    } else {
        Err(Problem::not_found())
    }
}

/// `GET /intake/v1/registrations/{id}`.
async fn get_registration(
    State(state): State<IntakeState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, Problem> {
    let phone = session_phone(&state, &headers).await?;
    check_id(&id)?;
    let registration = state.intake.registration_of(&phone, &id).await?;
    Ok(Json(registration_json(&registration)).into_response())
}

/// `DELETE /intake/v1/registrations/{id}`.
async fn cancel_registration(
    State(state): State<IntakeState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, Problem> {
    let phone = session_phone(&state, &headers).await?;
    check_id(&id)?;
    state
        .intake
        .cancel_registration(&phone, &id, state.now())
        .await?;
    Ok(Json(json!({"status": "cancelled"})).into_response())
}

/// `GET /intake/v1/policy`.
async fn policy(State(state): State<IntakeState>) -> Result<Response, Problem> {
    let policy = state
        .policies
        .in_force(today(&state))
        .ok_or_else(Problem::not_found)?;
    let groups: Vec<Value> = policy
        .groups
        .iter()
        .map(
            |group| json!({"code": group.code, "rank": group.rank, "vi": group.vi, "en": group.en}),
        )
        .collect();
    Ok(Json(json!({
        "id": policy.id,
        "version": policy.version,
        "title_vi": policy.title_vi,
        "title_en": policy.title_en,
        "min_age": policy.min_age,
        "groups": groups,
    }))
    .into_response())
}

/// `GET /intake/v1/sites`.
async fn sites(State(state): State<IntakeState>) -> Result<Response, Problem> {
    let sites: Vec<Value> = state
        .intake
        .sites()
        .await?
        .iter()
        .map(|site| {
            json!({
                "site_code": site.site_code,
                "name": site.name,
                "province_code": site.province_code,
                "hospital_grade": site.hospital_grade,
            })
        })
        .collect();
    Ok(Json(json!({"sites": sites})).into_response())
}

/// `POST /intake/v1/organisations/staff`.
async fn import_staff(
    State(state): State<IntakeState>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    match import_staff_inner(&state, &headers, body).await {
        Ok(response) => response,
        Err(Refused::Rows(rows)) => {
            let list: Vec<Value> = rows
                .iter()
                .map(|row| json!({"row": row.row, "field": row.field, "error": row.message}))
                .collect();
            (
                StatusCode::UNPROCESSABLE_ENTITY,
                Json(json!({
                    "error": "rows were refused; nothing was imported",
                    "rejected": list,
                })),
            )
                .into_response()
        }
        Err(Refused::Problem(problem)) => problem.into_response(),
    }
}

/// Why an import was refused.
enum Refused {
    Rows(Vec<RejectedRow>),
    Problem(Problem),
}

impl From<Problem> for Refused {
    fn from(problem: Problem) -> Refused {
        Refused::Problem(problem)
    }
}

async fn import_staff_inner(
    state: &IntakeState,
    headers: &HeaderMap,
    body: Body,
) -> Result<Response, Refused> {
    let holder = require_role(&state.intake, headers, Role::Organisation).await?;
    require_media_type(headers, "text/csv")?;
    let bytes = read_body(body, staff_csv::MAX_BYTES).await?;
    let rows =
        staff_csv::parse(&bytes, today(state), &state.policies).map_err(|error| match error {
            StaffCsvError::Rejected(rows) => Refused::Rows(rows),
            StaffCsvError::TooLarge => Problem::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "the file is larger than 2 MiB",
            )
            .into(),
            other => Problem::new(StatusCode::UNPROCESSABLE_ENTITY, other.to_string()).into(),
        })?;
    let sites = site_map(state).await?;
    let refused: Vec<RejectedRow> = rows
        .iter()
        .filter_map(|row| {
            check_site(
                sites.get(&row.registration.preferred_site),
                row.registration.caution,
            )
            .err()
            .map(|message| RejectedRow {
                row: row.row,
                field: "preferred_site".to_owned(),
                message,
            })
        })
        .collect();
    if !refused.is_empty() {
        return Err(Refused::Rows(refused));
    }
    let people: Vec<BulkPerson<'_>> = rows
        .iter()
        .map(|row| BulkPerson {
            row: row.row,
            phone: &row.phone,
            registration: &row.registration,
        })
        .collect();
    let imported = state
        .intake
        .create_registrations_bulk(
            &state.config.campaign,
            &holder.subject,
            state.config.max_people_per_phone,
            &people,
            state.now(),
        )
        .await
        .map_err(|error| match error.error {
            StoreError::Conflict(conflict) => Refused::Rows(vec![RejectedRow {
                row: error.row,
                field: match conflict {
                    Conflict::PhoneFull => "phone",
                    _ => "id_number",
                }
                .to_owned(),
                message: match conflict {
                    Conflict::PhoneFull => "this phone already manages the most people it may",
                    _ => "this identity document is already registered",
                },
            }]),
            other => Refused::Problem(other.into()),
        })?;
    tracing::info!(imported, "staff list imported");
    Ok((StatusCode::CREATED, Json(json!({"imported": imported}))).into_response())
}
