//! Integration tests of the keys crate: both backends against each other, certificates, the test PKI.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

#[cfg(feature = "test-pki")]
mod certificates;
mod signatures;
#[cfg(feature = "test-pki")]
mod test_pki;
