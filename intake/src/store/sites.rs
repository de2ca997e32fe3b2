//! Vaccination sites: created by the operator (`vaxcert intake site add`), each with whether it is
//! hospital-grade (only those may take caution cases).

use sqlx::Row as _;

use super::{Conflict, Intake, StoreError};

/// A vaccination site.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Site {
    /// Its code, e.g. `HN-0123`.
    pub site_code: String,
    /// Its name.
    pub name: String,
    /// The province it is in (administrative code).
    pub province_code: String,
    /// Whether it may take caution cases (a hospital, with emergency care at hand).
    pub hospital_grade: bool,
}

impl Intake {
    /// Records a new site.
    ///
    /// # Errors
    /// [`Conflict::DuplicateSite`] when the code is taken; [`StoreError::Storage`].
    pub async fn add_site(&self, site: &Site, now: i64) -> Result<(), StoreError> {
        let result = sqlx::query(
            "INSERT INTO sites (site_code, name, province_code, hospital_grade, created_at) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (site_code) DO NOTHING",
        )
        .bind(&site.site_code)
        .bind(&site.name)
        .bind(&site.province_code)
        .bind(i64::from(site.hospital_grade))
        .bind(now)
        .execute(self.write())
        .await?;
        if result.rows_affected() == 0 {
            return Err(StoreError::Conflict(Conflict::DuplicateSite));
        }
        Ok(())
    }

    /// The site of that code.
    ///
    /// # Errors
    /// [`StoreError::NotFound`]; [`StoreError::Storage`].
    pub async fn site(&self, site_code: &str) -> Result<Site, StoreError> {
        let row = sqlx::query(
            "SELECT site_code, name, province_code, hospital_grade FROM sites WHERE site_code = $1",
        )
        .bind(site_code)
        .fetch_optional(self.read())
        .await?
        .ok_or(StoreError::NotFound)?;
        site_from_row(&row)
    }

    /// Every site, by code.
    ///
    /// # Errors
    /// [`StoreError::Storage`].
    pub async fn sites(&self) -> Result<Vec<Site>, StoreError> {
        let rows = sqlx::query(
            "SELECT site_code, name, province_code, hospital_grade FROM sites ORDER BY site_code",
        )
        .fetch_all(self.read())
        .await?;
        rows.iter().map(site_from_row).collect()
    }
}

fn site_from_row(row: &sqlx::any::AnyRow) -> Result<Site, StoreError> {
    Ok(Site {
        site_code: row.try_get("site_code")?,
        name: row.try_get("name")?,
        province_code: row.try_get("province_code")?,
        hospital_grade: row.try_get::<i64, _>("hospital_grade")? != 0,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::Site;
    use crate::store::{Conflict, StoreError, testing};

    #[tokio::test]
    async fn a_site_is_recorded_once() {
        let intake = testing::sqlite().await;
        let site = Site {
            site_code: "HN-0001".into(),
            name: "Bach Mai".into(),
            province_code: "01".into(),
            hospital_grade: true,
        };
        intake.add_site(&site, 1).await.unwrap();
        assert_eq!(intake.site("HN-0001").await.unwrap(), site);
        assert!(matches!(
            intake.add_site(&site, 2).await,
            Err(StoreError::Conflict(Conflict::DuplicateSite))
        ));
        assert_eq!(intake.sites().await.unwrap(), vec![site]);
    }
}
