//! Times one scheduling round over a large waiting list on SQLite: bulk-inserts `N` waiting
//! registrations at one site (multi-row INSERTs in one transaction; one in twenty with a first dose
//! given), publishes `SLOTS` slots and times `run_round`.
//!
//! ```text
//! cargo run --release -p intake --example schedule_million -- [N=1000000] [SLOTS=100000]
//! ```
//!
//! With `SCHEDULE_MILLION_URL=postgres://…` (an empty database or schema, e.g. a `search_path` in the
//! URL's `options`) it measures on PostgreSQL instead. With `SCHEDULE_MILLION_TEMPLATE=FILE` (SQLite), the filled database is kept in `FILE` and later runs start
//! from a copy of it instead of inserting again (for profiling the round alone).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]

use std::error::Error;
use std::time::Instant;

use intake::policy::PolicyBook;
use intake::store::{Intake, Site};
use sqlx::any::AnyPoolOptions;
use time::Duration;
use time::macros::date;

const PFIZER: &str = "EU/1/20/1528";
const GROUPS: &[&str] = &[
    "health-workers",
    "army",
    "teachers-public-facing",
    "chronic-disease-over-65",
    "enterprise-workers",
    "others",
];
const PROVINCES: &[&str] = &["01", "79", "48", "74"];
/// Rows per INSERT, 8 parameters a row: SQLite finds each `$N` by a linear scan, so binding costs the
/// square of a statement's parameters — many small statements beat a few huge ones.
const ROWS: usize = 100;

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let mut args = std::env::args().skip(1);
    let n: usize = args.next().map_or(Ok(1_000_000), |a| a.parse())?;
    let slots: u32 = args.next().map_or(Ok(100_000), |a| a.parse())?;
    let dir = std::env::temp_dir().join(format!("vaxcert-schedule-million-{}", std::process::id()));
    let db_path = dir.join("intake.sqlite");
    let given = std::env::var("SCHEDULE_MILLION_URL").ok();
    let url = given
        .clone()
        .unwrap_or_else(|| format!("sqlite:{}", db_path.display()));
    let template = std::env::var_os("SCHEDULE_MILLION_TEMPLATE").map(std::path::PathBuf::from);
    if given.is_some() {
        fill(&url, n).await?;
    } else if let Some(template) = template.as_ref().filter(|t| t.exists()) {
        std::fs::create_dir_all(&dir)?;
        std::fs::copy(template, &db_path)?;
        println!("starting from {}", template.display());
    } else {
        fill(&url, n).await?;
        if let Some(template) = &template {
            std::fs::copy(&db_path, template)?;
        }
    }
    let intake = Intake::open(&url).await?;
    let published = intake
        .publish_capacity(
            "HN-0001",
            "2021-09-14",
            "morning",
            PFIZER,
            slots,
            "bench",
            0,
        )
        .await?;
    let policies = PolicyBook::builtin()?;
    let started = Instant::now();
    let invited = intake
        .run_round(&published.round_id, &policies, 1_631_500_000)
        .await?;
    let elapsed = started.elapsed();
    println!(
        "run_round: invited {invited} of {n} waiting in {:.2} s",
        elapsed.as_secs_f64()
    );
    intake.close().await;
    if given.is_none() {
        std::fs::remove_dir_all(&dir)?;
    }
    Ok(())
}

/// Creates the database at `url` with one site and `n` waiting registrations; closes it (the WAL
/// checkpointed into the file).
async fn fill(url: &str, n: usize) -> Result<(), Box<dyn Error>> {
    let intake = Intake::open(url).await?;
    intake
        .add_site(
            &Site {
                site_code: "HN-0001".into(),
                name: "Bench".into(),
                province_code: "01".into(),
                hospital_grade: false,
            },
            0,
        )
        .await?;
    let raw = AnyPoolOptions::new()
        .max_connections(1)
        .connect(url)
        .await?;

    let started = Instant::now();
    let mut tx = raw.begin().await?;
    let day = date!(2021 - 09 - 14);
    let mut i = 0usize;
    while i < n {
        let rows = ROWS.min(n - i);
        let values: Vec<String> = (0..rows)
            .map(|r| {
                let b = r * 8;
                format!(
                    "(${}, 'covid-19', ${}, ${}, ${}, 'female', 'citizen_id', ${}, 'clerk', ${}, \
                     '00001', 'vn-2021', ${}, ${}, 'qd-3355-byt', 1, 'HN-0001', '{{}}', 0, 'waiting', ${})",
                    b + 1,
                    b + 2,
                    b + 3,
                    b + 4,
                    b + 5,
                    b + 6,
                    b + 7,
                    b + 7,
                    b + 8
                )
            })
            .collect();
        let sql = format!(
            "INSERT INTO registrations (registration_id, campaign, phone, full_name, dob, sex, \
             id_kind, id_number, occupation, province_code, commune_code, admin_scheme, \
             declared_group, priority_group, policy_id, policy_version, preferred_site, \
             medical_history, caution, status, created_at) VALUES {}",
            values.join(", ")
        );
        let mut query = sqlx::query(&sql);
        for k in i..i + rows {
            let dob = date!(1940 - 01 - 01) + Duration::days(i64::try_from(k * 7919 % 20_000)?);
            query = query
                .bind(format!("{k:032x}"))
                .bind(format!("+849{:08}", k % 100_000_000))
                .bind(format!("Nguyen Van {k}"))
                .bind(dob.to_string())
                .bind(format!("{k:012}"))
                .bind(PROVINCES[k % PROVINCES.len()])
                .bind(GROUPS[k % GROUPS.len()])
                .bind(i64::try_from(k)?);
        }
        query.execute(&mut *tx).await?;
        i += rows;
    }
    // One in twenty had a first Pfizer dose 3 to 9 weeks before the round.
    sqlx::query(
        "INSERT INTO capacity (capacity_id, site_code, day, session, product, slots, reserved, \
         published_by, published_at) VALUES ('past', 'HN-0001', '2021-07-01', 'morning', $1, 0, 0, \
         'bench', 0)",
    )
    .bind(PFIZER)
    .execute(&mut *tx)
    .await?;
    let dosed: Vec<usize> = (0..n).step_by(20).collect();
    for chunk in dosed.chunks(ROWS) {
        let appointments: Vec<String> = chunk
            .iter()
            .map(|k| format!("('a{k:031x}', '{k:032x}', 'past', 1, 'X{k:x}', 'vaccinated', 0, 0)"))
            .collect();
        sqlx::query(&format!(
            "INSERT INTO appointments (appointment_id, registration_id, capacity_id, dose_number, \
             booking_code, status, created_at, updated_at) VALUES {}",
            appointments.join(", ")
        ))
        .execute(&mut *tx)
        .await?;
        let doses: Vec<String> = chunk
            .iter()
            .map(|k| {
                let on = day - Duration::days(21 + i64::try_from(k % 42).unwrap_or(0));
                format!(
                    "('d{k:031x}', '{k:032x}', 'a{k:031x}', 'HN-0001', '{PFIZER}', 'm', 'vp', 'L', \
                     1, 2, '{on}', 'bench', 0, 'sha256:00')"
                )
            })
            .collect();
        sqlx::query(&format!(
            "INSERT INTO doses (dose_event_id, registration_id, appointment_id, site_code, product, \
             manufacturer, prophylaxis, lot_number, dose_number, total_doses, vaccinated_on, \
             recorded_by, recorded_at, record_hash) VALUES {}",
            doses.join(", ")
        ))
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    raw.close().await;
    println!(
        "inserted {n} registrations ({} with a first dose) in {:.1} s",
        dosed.len(),
        started.elapsed().as_secs_f64()
    );
    intake.close().await;
    Ok(())
}
