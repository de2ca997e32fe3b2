//! Key material for HCERT.
//!
//! Document-signer (DSC) and country-signing (CSCA) certificates, parsed leniently (real DSCs are not always
//! strict DER); their kid; the key-usage OIDs that limit what a DSC may sign; and signing and verifying keys
//! for ES256, PS256 and EdDSA behind two small traits, [`Signer`] and [`VerifyingKey`], so that a hardware
//! module can stand in for a software key. Two interchangeable backends implement them: AWS-LC (default,
//! feature `aws-lc`) and the pure-Rust RustCrypto crates (feature `rust-crypto`).
//!
//! [`ceremony`] issues this country's own CSCA and DSCs (strict DER), and [`keystore`] keeps them with
//! their private keys encrypted, as files the caller reads and writes.
//!
//! No I/O: callers read files and pass bytes; validity is checked against a time the caller passes.

mod backend;
pub mod ceremony;
mod certificate;
mod error;
pub mod keystore;
mod kid;
mod usage;

#[cfg(feature = "test-pki")]
pub mod test_pki;

pub use backend::{Backend, Signer, SigningKey, VerifyingKey};
pub use certificate::{Certificate, KeyType};
pub use error::{KeyError, SignatureError};
pub use keystore::{Keystore, KeystoreError, Passphrase};
pub use kid::Kid;
pub use usage::{CertKind, DscUsage};

/// A signature algorithm, as COSE names them.
///
/// Exhaustive on purpose (no `#[non_exhaustive]`): the `verifier` crate names every variant, so a new one
/// is a compile error there rather than a silently wrong check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SignatureAlgorithm {
    /// ECDSA on P-256 with SHA-256, signature as raw `r‖s` (COSE -7).
    Es256,
    /// RSASSA-PSS with SHA-256, MGF1-SHA-256, RSA ≥ 2048 bits (COSE -37).
    Ps256,
    /// Ed25519 (COSE -8). Domestic use only: not part of the EU format.
    EdDsa,
}

impl SignatureAlgorithm {
    /// The COSE algorithm identifier.
    pub fn cose_id(self) -> i64 {
        match self {
            SignatureAlgorithm::Es256 => -7,
            SignatureAlgorithm::Ps256 => -37,
            SignatureAlgorithm::EdDsa => -8,
        }
    }

    /// The name used in reports ("ES256", "PS256", "EdDSA").
    pub fn name(self) -> &'static str {
        match self {
            SignatureAlgorithm::Es256 => "ES256",
            SignatureAlgorithm::Ps256 => "PS256",
            SignatureAlgorithm::EdDsa => "EdDSA",
        }
    }
}
