//! Integration tests of the verifier library: the adversarial catalogue (`adversarial.md`: transport,
//! Base45, zlib, CBOR/COSE, kid and trust, time), round trips and properties, on the generated test PKI.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod cose;
mod kid_and_trust;
mod lists;
mod properties;
mod round_trip;
mod support;
mod time;
mod transport;
