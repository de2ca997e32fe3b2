//! Bearer tokens: a site's staff (per site), an organisation (staff-list uploads) and the registry.
//! A token is 32 random bytes, base64url; only its SHA-256 is stored, and it is shown once, on creation.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sqlx::Row as _;

use super::{Intake, StoreError, secret_hash};

/// What a token lets its holder do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// A site's staff: capacity, rounds, check-in, screening, doses, attestation — at that site only.
    Site,
    /// An organisation: uploads its staff list.
    Organisation,
    /// The national registry: confirms attested doses.
    Registry,
}

impl Role {
    /// `site`, `organisation` or `registry`.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Site => "site",
            Role::Organisation => "organisation",
            Role::Registry => "registry",
        }
    }

    fn parse(text: &str) -> Option<Role> {
        match text {
            "site" => Some(Role::Site),
            "organisation" => Some(Role::Organisation),
            "registry" => Some(Role::Registry),
            _ => None,
        }
    }
}

/// Who presented a valid token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenHolder {
    /// The role.
    pub role: Role,
    /// The site code, the organisation's name, or `registry`.
    pub subject: String,
    /// The holder's handle (a staff member), for the record.
    pub name: String,
}

impl Intake {
    /// Creates a token for `name` acting as `role` for `subject`; returns the token, which is not stored.
    ///
    /// # Errors
    /// [`StoreError::Storage`].
    pub async fn create_token(
        &self,
        role: Role,
        subject: &str,
        name: &str,
        now: i64,
    ) -> Result<String, StoreError> {
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes).map_err(|_| {
            StoreError::Storage(storage::StorageError::Unavailable(
                "the system's random number generator failed".to_owned(),
            ))
        })?;
        let token = URL_SAFE_NO_PAD.encode(bytes);
        sqlx::query(
            "INSERT INTO api_tokens (token_hash, role, subject, name, created_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(secret_hash(&token))
        .bind(role.as_str())
        .bind(subject)
        .bind(name)
        .bind(now)
        .execute(self.write())
        .await?;
        Ok(token)
    }

    /// The holder of `token`, unless it is unknown or disabled.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] for an unknown or disabled token; [`StoreError::Storage`].
    pub async fn token_holder(&self, token: &str) -> Result<TokenHolder, StoreError> {
        let row = sqlx::query(
            "SELECT role, subject, name FROM api_tokens \
             WHERE token_hash = $1 AND disabled_at IS NULL",
        )
        .bind(secret_hash(token))
        .fetch_optional(self.read())
        .await?
        .ok_or(StoreError::NotFound)?;
        let role: String = row.try_get("role")?;
        Ok(TokenHolder {
            role: Role::parse(&role).ok_or(StoreError::Storage(storage::StorageError::Corrupt(
                "api_tokens.role",
            )))?,
            subject: row.try_get("subject")?,
            name: row.try_get("name")?,
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::{Role, StoreError};
    use crate::store::testing;

    #[tokio::test]
    async fn a_token_names_its_holder_until_it_is_unknown() {
        let intake = testing::sqlite().await;
        let token = intake
            .create_token(Role::Site, "HN-0001", "nurse-lan", 1_700_000_000)
            .await
            .unwrap();
        assert_eq!(token.len(), 43);
        let holder = intake.token_holder(&token).await.unwrap();
        assert_eq!(holder.role, Role::Site);
        assert_eq!(holder.subject, "HN-0001");
        assert!(matches!(
            intake.token_holder("not-a-token").await,
            Err(StoreError::NotFound)
        ));
    }
}
