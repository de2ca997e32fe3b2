//! Integration tests of the trust-list crate, one binary: the national list (publish, verify, tamper),
//! what a foreign system reading it by hand sees, importing foreign DSCs (adversarial.md "Trust list
//! ingestion"), a foreign country end to end, freshness, and revocation.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod foreign_country;
mod foreign_reader;
mod freshness;
mod import;
mod national;
mod revocation;
mod support;
