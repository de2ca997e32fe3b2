//! Signing a validated dose into an `HC1:` certificate, checked by the verifier before it leaves.

use std::sync::Arc;

use hcert::{Algorithm, ClaimsBuilder};
use keys::{Certificate, Kid, SignatureAlgorithm, Signer};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use trust_list::{RevocationHash, country_uci_hash, signature_hash, uci_hash};
use verifier::{Detail, Input, Verifier};

use crate::confirmation::ValidatedDose;
use crate::error::IssueError;
use crate::uvci::Uvci;

/// The DCC schema version written.
pub const DCC_VERSION: &str = "1.3.0";

/// What every certificate of one issuer shares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuerConfig {
    /// The issuing country, ISO 3166-1 alpha-2: the CWT `iss`.
    pub country: String,
    /// The DCC `is` field: the issuing authority's name.
    pub issuer_text: String,
    /// How long a certificate is valid, in seconds (capped by the DSC's notAfter).
    pub validity_s: i64,
}

impl Default for IssuerConfig {
    /// Viet Nam's: `VN`, "Ministry of Health of Viet Nam", 365 days.
    fn default() -> Self {
        IssuerConfig {
            country: String::from("VN"),
            issuer_text: String::from("Ministry of Health of Viet Nam"),
            validity_s: 365 * 86_400,
        }
    }
}

/// A certificate issued and self-checked, with what the ledger records about it. Its `Debug` form
/// leaves out the `HC1:` text and the UVCI, which identify the holder.
#[derive(Clone, PartialEq, Eq)]
pub struct IssuedCertificate {
    /// Its UVCI (`ci`).
    pub uvci: Uvci,
    /// The `HC1:` text: the certificate itself.
    pub hc1: String,
    /// Issued at (CWT `iat`), seconds since the epoch.
    pub iat: i64,
    /// Expires at (CWT `exp`), seconds since the epoch.
    pub exp: i64,
    /// The kid of the DSC that signed it.
    pub kid: Kid,
    /// SHA-256 of the signed COSE payload (the CWT claims bytes).
    pub payload_hash: [u8; 32],
    /// Revocation hash `UCI`.
    pub uci_hash: RevocationHash,
    /// Revocation hash `COUNTRYCODEUCI`.
    pub country_uci_hash: RevocationHash,
    /// Revocation hash `SIGNATURE` (`r` only for ES256).
    pub signature_hash: RevocationHash,
}

impl std::fmt::Debug for IssuedCertificate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuedCertificate")
            .field("iat", &self.iat)
            .field("exp", &self.exp)
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

/// Signs validated doses with one DSC and checks each certificate with a verifier that trusts our own
/// published DSCs before returning it. No clock of its own: the caller passes `now`.
pub struct Issuer {
    signer: Arc<dyn Signer>,
    dsc: Certificate,
    verifier: Verifier,
    config: IssuerConfig,
}

impl std::fmt::Debug for Issuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Issuer")
            .field("dsc", &self.dsc)
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Issuer {
    /// An issuer signing with `signer`, whose public key `dsc` certifies, and self-checking with
    /// `verifier` (built from the trust list we publish, so a certificate that foreign verifiers would
    /// refuse never leaves).
    pub fn new(
        signer: Arc<dyn Signer>,
        dsc: Certificate,
        verifier: Verifier,
        config: IssuerConfig,
    ) -> Issuer {
        Issuer {
            signer,
            dsc,
            verifier,
            config,
        }
    }

    /// The signing DSC.
    pub fn dsc(&self) -> &Certificate {
        &self.dsc
    }

    /// The configuration.
    pub fn config(&self) -> &IssuerConfig {
        &self.config
    }

    /// Issues the certificate of `dose` at `now` (seconds since the epoch) under `uvci`: DCC v1.3.0 with
    /// one vaccination entry, CWT claims `iss`, `iat` = `now`, `exp` = min(`now` + validity, DSC
    /// notAfter), COSE_Sign1 with the DSC's kid, zlib, Base45, `HC1:`; then verified at `now`.
    ///
    /// # Errors
    /// [`IssueError::DscNotYetValid`] / [`IssueError::DscExpired`] outside the DSC's validity,
    /// [`IssueError::UnsupportedAlgorithm`] for an EdDSA signer, [`IssueError::Sign`] when the signer
    /// fails, [`IssueError::SelfCheck`] when the certificate does not verify — it is then dropped.
    pub fn issue(
        &self,
        dose: &ValidatedDose,
        now: i64,
        uvci: Uvci,
    ) -> Result<IssuedCertificate, IssueError> {
        let not_before = self.dsc.not_before();
        let not_after = self.dsc.not_after();
        if now < not_before {
            return Err(IssueError::DscNotYetValid { now, not_before });
        }
        if now > not_after {
            return Err(IssueError::DscExpired { now, not_after });
        }
        let algorithm = match self.signer.algorithm() {
            SignatureAlgorithm::Es256 => Algorithm::Es256,
            SignatureAlgorithm::Ps256 => Algorithm::Ps256,
            other => return Err(IssueError::UnsupportedAlgorithm(other.name())),
        };
        let at =
            OffsetDateTime::from_unix_timestamp(now).map_err(|_| IssueError::TimeOutOfRange)?;
        let iat = now;
        let exp = now.saturating_add(self.config.validity_s).min(not_after);

        let dcc = self.payload(dose, &uvci);
        let claims = ClaimsBuilder::new(&self.config.country, iat, exp).encode(&dcc)?;
        let kid = self.dsc.kid();
        let mut signature = Vec::new();
        let cose = hcert::sign1(algorithm, kid.as_bytes(), &claims, |tbs| {
            let made = self.signer.sign(tbs)?;
            signature.clone_from(&made);
            Ok::<_, IssueError>(made)
        })?;
        let hc1 = hcert::encode_transport(&cose);

        let report = self
            .verifier
            .verify(Input::Text(&hc1), at, Detail::default());
        if !report.valid {
            return Err(IssueError::SelfCheck { code: report.code });
        }

        Ok(IssuedCertificate {
            uci_hash: uci_hash(uvci.as_str()),
            country_uci_hash: country_uci_hash(&self.config.country, uvci.as_str()),
            signature_hash: signature_hash(&signature, algorithm == Algorithm::Es256),
            payload_hash: Sha256::digest(&claims).into(),
            uvci,
            hc1,
            iat,
            exp,
            kid,
        })
    }

    /// The DCC JSON of `dose`: names as settled by validation, one vaccination entry.
    fn payload(&self, dose: &ValidatedDose, uvci: &Uvci) -> Value {
        let person = &dose.confirmation().person;
        let v = &dose.confirmation().vaccination;
        let mut nam = Map::new();
        let names = [
            ("fn", person.family_name.as_deref()),
            ("fnt", dose.fnt()),
            ("gn", person.given_name.as_deref()),
            ("gnt", dose.gnt()),
        ];
        for (key, value) in names {
            if let Some(value) = value.filter(|value| !value.is_empty()) {
                nam.insert(key.to_owned(), Value::String(value.to_owned()));
            }
        }
        json!({
            "ver": DCC_VERSION,
            "nam": nam,
            "dob": person.dob,
            "v": [{
                "tg": v.tg, "vp": v.vp, "mp": v.mp, "ma": v.ma, "dn": v.dn, "sd": v.sd, "dt": v.dt,
                "co": v.co, "is": self.config.issuer_text, "ci": uvci.as_str(),
            }],
        })
    }
}
