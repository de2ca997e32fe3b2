//! Bearer tokens of sites' staff, organisations and the registry.

use axum::http::{HeaderMap, header};

use super::Problem;
use crate::store::{Intake, Role, StoreError, TokenHolder};

/// The holder of the request's `Authorization: Bearer` token.
///
/// # Errors
/// 401 without a known token; 503 when the database is unavailable.
pub async fn bearer_holder(intake: &Intake, headers: &HeaderMap) -> Result<TokenHolder, Problem> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .ok_or_else(Problem::unauthorized)?;
    match intake.token_holder(token.trim()).await {
        Ok(holder) => Ok(holder),
        Err(StoreError::NotFound) => Err(Problem::unauthorized()),
        Err(error) => Err(error.into()),
    }
}

/// The holder of the request's token, who must act as `role`.
///
/// # Errors
/// 401 without a known token, 403 for another role; 503.
pub async fn require_role(
    intake: &Intake,
    headers: &HeaderMap,
    role: Role,
) -> Result<TokenHolder, Problem> {
    let holder = bearer_holder(intake, headers).await?;
    if holder.role == role {
        Ok(holder)
    } else {
        Err(Problem::forbidden())
    }
}
