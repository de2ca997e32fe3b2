//! Vaccine lots a site holds: registered by its staff, checked and drawn from as doses are recorded
//! (the product must be the appointment's, the lot not expired on the day, a dose left).

use sqlx::Row as _;

use super::{Conflict, Intake, StoreError};

/// A lot of vaccine at a site.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lot {
    /// The lot number printed on the vials.
    pub lot_number: String,
    /// The medicinal product (`mp`) of the EU value set.
    pub product: String,
    /// Doses in one vial (sessions are planned in whole vials).
    pub doses_per_vial: i64,
    /// The last day it may be used, `YYYY-MM-DD`.
    pub expires_on: String,
    /// Doses left.
    pub doses_available: i64,
}

impl Intake {
    /// Registers a lot at `site_code`.
    ///
    /// # Errors
    /// [`Conflict::DuplicateLot`] when the site has that lot number already; [`StoreError::Storage`].
    pub async fn add_lot(&self, site_code: &str, lot: &Lot) -> Result<(), StoreError> {
        let inserted = sqlx::query(
            "INSERT INTO vaccine_lots (site_code, lot_number, product, doses_per_vial, expires_on, \
             doses_available) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
        )
        .bind(site_code)
        .bind(&lot.lot_number)
        .bind(&lot.product)
        .bind(lot.doses_per_vial)
        .bind(&lot.expires_on)
        .bind(lot.doses_available)
        .execute(self.write())
        .await?;
        if inserted.rows_affected() == 0 {
            return Err(StoreError::Conflict(Conflict::DuplicateLot));
        }
        Ok(())
    }

    /// The lots of `site_code`, by lot number.
    ///
    /// # Errors
    /// [`StoreError::Storage`].
    pub async fn lots(&self, site_code: &str) -> Result<Vec<Lot>, StoreError> {
        let rows = sqlx::query(
            "SELECT lot_number, product, doses_per_vial, expires_on, doses_available \
             FROM vaccine_lots WHERE site_code = $1 ORDER BY lot_number",
        )
        .bind(site_code)
        .fetch_all(self.read())
        .await?;
        rows.iter()
            .map(|row| {
                Ok(Lot {
                    lot_number: row.try_get("lot_number")?,
                    product: row.try_get("product")?,
                    doses_per_vial: row.try_get("doses_per_vial")?,
                    expires_on: row.try_get("expires_on")?,
                    doses_available: row.try_get("doses_available")?,
                })
            })
            .collect()
    }
}
