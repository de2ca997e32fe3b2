//! Signing a validated dose into an `HC1:` certificate, checked by the verifier before it leaves.

use std::borrow::Cow;
use std::sync::Arc;

use hcert::{Algorithm, ClaimsBuilder, DccEntry, DccPayload, PersonName, VaccinationEntry};
use keys::{Certificate, Kid, SignatureAlgorithm, SignatureError, Signer};
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

/// A certificate issued and self-checked, with what the ledger records about it. Only [`Issuer::check`]
/// makes one, so holding one proves the certificate passed our own verifier. Its `Debug` form leaves out
/// the `HC1:` text and the UVCI, which identify the holder.
///
/// Nothing outside this crate can build one:
///
/// ```compile_fail
/// let forged = issuer::IssuedCertificate {
///     uvci: issuer::Uvci::from_bytes([0; 16]),
///     hc1: String::from("HC1:forged"),
///     iat: 0,
///     exp: 0,
///     kid: keys::Kid::from_slice(&[0; 8]).unwrap(),
///     payload_hash: [0; 32],
///     uci_hash: [0; 16],
///     country_uci_hash: [0; 16],
///     signature_hash: [0; 16],
/// };
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct IssuedCertificate {
    uvci: Uvci,
    hc1: String,
    iat: i64,
    exp: i64,
    kid: Kid,
    payload_hash: [u8; 32],
    uci_hash: RevocationHash,
    country_uci_hash: RevocationHash,
    signature_hash: RevocationHash,
}

impl IssuedCertificate {
    /// Its UVCI (`ci`).
    pub fn uvci(&self) -> &Uvci {
        &self.uvci
    }

    /// The `HC1:` text: the certificate itself.
    pub fn hc1(&self) -> &str {
        &self.hc1
    }

    /// Issued at (CWT `iat`), seconds since the epoch.
    pub fn iat(&self) -> i64 {
        self.iat
    }

    /// Expires at (CWT `exp`), seconds since the epoch.
    pub fn exp(&self) -> i64 {
        self.exp
    }

    /// The kid of the DSC that signed it.
    pub fn kid(&self) -> Kid {
        self.kid
    }

    /// SHA-256 of the signed COSE payload (the CWT claims bytes).
    pub fn payload_hash(&self) -> [u8; 32] {
        self.payload_hash
    }

    /// Revocation hash `UCI`.
    pub fn uci_hash(&self) -> RevocationHash {
        self.uci_hash
    }

    /// Revocation hash `COUNTRYCODEUCI`.
    pub fn country_uci_hash(&self) -> RevocationHash {
        self.country_uci_hash
    }

    /// Revocation hash `SIGNATURE` (`r` only for ES256).
    pub fn signature_hash(&self) -> RevocationHash {
        self.signature_hash
    }
}

/// A certificate signed and encoded by [`Issuer::sign`] but not yet verified: it can only be handed to
/// [`Issuer::check`], the one way to an [`IssuedCertificate`]. It has no public constructor and shows
/// nothing (not even its `HC1:` text), so nothing unchecked can be stored, served or printed.
#[must_use = "an unchecked certificate is useless until `Issuer::check` verifies it"]
pub struct UncheckedCertificate {
    certificate: IssuedCertificate,
}

impl std::fmt::Debug for UncheckedCertificate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UncheckedCertificate")
            .field("iat", &self.certificate.iat)
            .field("exp", &self.certificate.exp)
            .field("kid", &self.certificate.kid)
            .finish_non_exhaustive()
    }
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
    /// notAfter), COSE_Sign1 with the DSC's kid, zlib, Base45, `HC1:`; then verified at `now`. That is
    /// [`Issuer::sign`] then [`Issuer::check`].
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
        let unchecked = self.sign(dose, now, uvci)?;
        self.check(unchecked, now)
    }

    /// The first half of [`Issuer::issue`]: builds, signs and encodes the certificate of `dose` at `now`
    /// under `uvci`, with its hashes, but does not verify it. The result can only be handed to
    /// [`Issuer::check`], which turns it into an [`IssuedCertificate`] or drops it.
    ///
    /// The DCC goes straight from the dose to CBOR (keys in deterministic order), and the zlib stream comes
    /// from a per-thread compressor: the cost is the signature's and the compression's, little more.
    ///
    /// # Errors
    /// Those of [`Issuer::issue`] but [`IssueError::SelfCheck`].
    pub fn sign(
        &self,
        dose: &ValidatedDose,
        now: i64,
        uvci: Uvci,
    ) -> Result<UncheckedCertificate, IssueError> {
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
        // The instant `check` verifies at: refused here, before anything is signed, if out of range.
        verification_time(now)?;
        let iat = now;
        let exp = now.saturating_add(self.config.validity_s).min(not_after);

        let claims = ClaimsBuilder::new(&self.config.country, iat, exp)
            .encode_payload(&self.payload(dose, &uvci));
        let kid = self.dsc.kid();
        let is_es256 = algorithm == Algorithm::Es256;
        // Hashed as it is made: the signature itself is not kept apart from the COSE message.
        let mut revocation_signature_hash = None;
        let cose = hcert::sign1(algorithm, kid.as_bytes(), &claims, |tbs| {
            let signature = self.signer.sign(tbs)?;
            revocation_signature_hash = Some(signature_hash(&signature, is_es256));
            Ok::<_, IssueError>(signature)
        })?;
        let signature_hash =
            revocation_signature_hash.ok_or(IssueError::Sign(SignatureError::Sign))?;
        let hc1 = hcert::encode_transport(&cose);

        Ok(UncheckedCertificate {
            certificate: IssuedCertificate {
                uci_hash: uci_hash(uvci.as_str()),
                country_uci_hash: country_uci_hash(&self.config.country, uvci.as_str()),
                signature_hash,
                payload_hash: Sha256::digest(&claims).into(),
                uvci,
                hc1,
                iat,
                exp,
                kid,
            },
        })
    }

    /// The second half of [`Issuer::issue`]: verifies `certificate` at `now` with this issuer's verifier
    /// (every check, as a foreign verifier trusting our published DSCs would) and releases it only if it
    /// is valid.
    ///
    /// # Errors
    /// [`IssueError::SelfCheck`] with the verifier's code when it does not verify (the certificate is
    /// dropped), [`IssueError::TimeOutOfRange`] when `now` is not a representable instant.
    pub fn check(
        &self,
        certificate: UncheckedCertificate,
        now: i64,
    ) -> Result<IssuedCertificate, IssueError> {
        let certificate = certificate.certificate;
        let report = self.verifier.verify(
            Input::Text(&certificate.hc1),
            verification_time(now)?,
            Detail::default(),
        );
        if !report.valid {
            return Err(IssueError::SelfCheck { code: report.code });
        }
        Ok(certificate)
    }

    /// The DCC of `dose`, borrowing its strings: names as settled by validation (empty ones left out),
    /// one vaccination entry.
    fn payload<'a>(&'a self, dose: &'a ValidatedDose, uvci: &'a Uvci) -> DccPayload<'a> {
        let person = &dose.confirmation().person;
        let v = &dose.confirmation().vaccination;
        let name =
            |value: Option<&'a str>| value.filter(|value| !value.is_empty()).map(Cow::Borrowed);
        DccPayload {
            ver: Cow::Borrowed(DCC_VERSION),
            nam: PersonName {
                family: name(dose.family_name()),
                family_transliterated: name(Some(dose.fnt())),
                given: name(dose.given_name()),
                given_transliterated: name(dose.gnt()),
            },
            dob: Cow::Borrowed(&person.dob),
            entry: DccEntry::Vaccination([VaccinationEntry {
                tg: Cow::Borrowed(&v.tg),
                vp: Cow::Borrowed(&v.vp),
                mp: Cow::Borrowed(&v.mp),
                ma: Cow::Borrowed(&v.ma),
                dn: v.dn,
                sd: v.sd,
                dt: Cow::Borrowed(&v.dt),
                co: Cow::Borrowed(&v.co),
                is: Cow::Borrowed(&self.config.issuer_text),
                ci: Cow::Borrowed(uvci.as_str()),
            }]),
        }
    }
}

/// `now` as the instant a certificate is verified at.
fn verification_time(now: i64) -> Result<OffsetDateTime, IssueError> {
    OffsetDateTime::from_unix_timestamp(now).map_err(|_| IssueError::TimeOutOfRange)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::DoseConfirmation;
    use hcert::{CoseSign1, ValueSets};
    use keys::test_pki::{TestDsc, test_pki};
    use keys::{Backend, SigningKey};
    use verifier::{Code, TrustStore};

    /// 2021-10-01T00:00:00Z, inside the test DSCs' validity.
    const NOW: i64 = 1_633_046_400;

    fn value_sets() -> ValueSets {
        let set = |id: &str, code: &str| {
            serde_json::json!({"valueSetId": id, "valueSetDate": "2023-01-01",
                               "valueSetValues": {code: {"display": code, "active": true}}})
            .to_string()
        };
        let docs = [
            set("disease-agent-targeted", "840539006"),
            set("sct-vaccines-covid-19", "1119349007"),
            set("vaccines-covid-19-names", "EU/1/20/1528"),
            set("vaccines-covid-19-auth-holders", "ORG-100030215"),
            set("country-2-codes", "VN"),
            serde_json::json!({
                "valueSetId": "vaccines-covid-19-encoding-instructions",
                "valueSetDate": "2023-01-01",
                "valueSetValues": {"Comirnaty": {"vaccine-code": "EU/1/20/1528",
                    "vaccine-manufacturer": "ORG-100030215", "sct-codes": ["1119349007"]}}
            })
            .to_string(),
        ];
        ValueSets::from_documents(docs.iter().map(String::as_str)).unwrap_or_default()
    }

    fn dose(given: Option<&str>) -> ValidatedDose {
        let confirmation: Result<DoseConfirmation, _> = serde_json::from_value(serde_json::json!({
            "dose_event_id": "0190f0b2-7a3c-7d1e-9f00-2b8e5c1d4a10",
            "person": {"fn": "Nguyễn", "gn": given, "dob": "1983-10-10"},
            "vaccination": {"tg": "840539006", "vp": "1119349007", "mp": "EU/1/20/1528",
                            "ma": "ORG-100030215", "dn": 1, "sd": 2, "dt": "2021-09-14", "co": "VN",
                            "lot_number": "FF2587"},
            "provenance": {"site_code": "HN-0123", "registry_record_id": "R-1",
                           "record_hash": "sha256:00"}
        }));
        let validated = confirmation.map(|c| c.validate(&value_sets(), NOW));
        match validated {
            Ok(Ok(dose)) => dose,
            other => panic!("{other:?}"),
        }
    }

    fn verifier(trusted: &[&TestDsc]) -> Verifier {
        let mut store = TrustStore::new(Backend::default());
        for dsc in trusted {
            store.insert(dsc.certificate.clone());
        }
        Verifier::new(Arc::new(store), Some(Arc::new(value_sets())))
    }

    fn issuer(dsc: &TestDsc, verifier: Verifier) -> Issuer {
        let signer = dsc.signer_for(Backend::default()).map(Arc::new);
        let Ok(signer) = signer else {
            panic!("the test key loads")
        };
        Issuer::new(
            signer,
            dsc.certificate.clone(),
            verifier,
            IssuerConfig::default(),
        )
    }

    fn unwrap<T, E: std::fmt::Debug>(result: Result<T, E>) -> T {
        result.unwrap_or_else(|err| panic!("{err:?}"))
    }

    /// `sign` then `check` is `issue`, and the ledger's hashes are those of the bytes in the `HC1:` text.
    #[test]
    fn sign_then_check_gives_a_verified_certificate_with_its_hashes() {
        let pki = test_pki();
        for (dsc, is_es256) in [(&pki.es256, true), (&pki.ps256, false)] {
            let issuer = issuer(dsc, verifier(&[dsc]));
            let uvci = Uvci::from_bytes([7; 16]);
            let unchecked = unwrap(issuer.sign(&dose(Some("Bảo Duy")), NOW, uvci.clone()));
            let issued = unwrap(issuer.check(unchecked, NOW));

            let cose = unwrap(hcert::decode_transport(&issued.hc1));
            let cose = unwrap(CoseSign1::parse(&cose));
            assert_eq!(
                issued.payload_hash,
                <[u8; 32]>::from(Sha256::digest(cose.payload()))
            );
            assert_eq!(
                issued.signature_hash,
                signature_hash(cose.signature(), is_es256)
            );
            assert_eq!(issued.uci_hash, uci_hash(uvci.as_str()));
            assert_eq!(
                issued.country_uci_hash,
                country_uci_hash("VN", uvci.as_str())
            );
            assert_eq!((issued.iat, issued.exp), (NOW, NOW + 365 * 86_400));
            assert_eq!(issued.kid, dsc.certificate.kid());
            assert_eq!(cose.kid(), Some(&dsc.certificate.kid().as_bytes()[..]));

            // The same dose at the same time gives the same claims: the encoding is deterministic.
            let again = unwrap(issuer.issue(&dose(Some("Bảo Duy")), NOW, uvci));
            assert_eq!(again.payload_hash, issued.payload_hash);
        }
    }

    /// The DCC written straight to CBOR is the one the JSON used to give, empty names left out.
    #[test]
    fn the_signed_dcc_is_the_expected_json() {
        let dsc = &test_pki().es256;
        let issuer = issuer(dsc, verifier(&[dsc]));
        let uvci = Uvci::from_bytes([9; 16]);
        for given in [Some("Thị Minh Khai"), Some(""), None] {
            let issued = unwrap(issuer.issue(&dose(given), NOW, uvci.clone()));
            let cose = unwrap(hcert::decode_transport(&issued.hc1));
            let claims = unwrap(hcert::Claims::decode(
                unwrap(CoseSign1::parse(&cose)).payload(),
            ));
            let mut nam = serde_json::json!({"fn": "Nguyễn", "fnt": "NGUYEN"});
            if given == Some("Thị Minh Khai") {
                nam["gn"] = "Thị Minh Khai".into();
                nam["gnt"] = "THI<MINH<KHAI".into();
            }
            let expected = serde_json::json!({
                "ver": "1.3.0", "nam": nam, "dob": "1983-10-10",
                "v": [{"tg": "840539006", "vp": "1119349007", "mp": "EU/1/20/1528", "ma": "ORG-100030215",
                       "dn": 1, "sd": 2, "dt": "2021-09-14", "co": "VN",
                       "is": "Ministry of Health of Viet Nam", "ci": uvci.as_str()}]
            });
            assert_eq!(claims.dcc.as_json(), &expected, "{given:?}");
            assert_eq!(claims.dcc.defect(), None);
        }
    }

    /// `check` is a full verification: an unchecked certificate that another verifier would refuse is
    /// dropped, whichever issuer checks it.
    #[test]
    fn check_refuses_what_the_verifier_refuses() {
        let pki = test_pki();
        let trusting = issuer(&pki.es256, verifier(&[&pki.es256]));
        let distrusting = issuer(&pki.es256, verifier(&[&pki.ps256]));
        let dose = dose(Some("Bảo Duy"));
        let unchecked = unwrap(distrusting.sign(&dose, NOW, Uvci::from_bytes([1; 16])));
        assert!(matches!(
            distrusting.check(unchecked, NOW),
            Err(IssueError::SelfCheck {
                code: Code::KidUnknown
            })
        ));
        // Checked after it expired.
        let unchecked = unwrap(trusting.sign(&dose, NOW, Uvci::from_bytes([2; 16])));
        assert!(matches!(
            trusting.check(unchecked, NOW + 366 * 86_400),
            Err(IssueError::SelfCheck {
                code: Code::Expired
            })
        ));
        // A signer whose key the DSC does not certify.
        let Ok(other_key) = SigningKey::generate(Backend::default(), SignatureAlgorithm::Es256)
        else {
            panic!("a key is generated")
        };
        let wrong_key = Issuer::new(
            Arc::new(other_key),
            pki.es256.certificate.clone(),
            verifier(&[&pki.es256]),
            IssuerConfig::default(),
        );
        let unchecked = unwrap(wrong_key.sign(&dose, NOW, Uvci::from_bytes([3; 16])));
        assert!(matches!(
            wrong_key.check(unchecked, NOW),
            Err(IssueError::SelfCheck {
                code: Code::SigInvalid
            })
        ));
    }

    #[test]
    fn sign_refuses_before_signing_what_issue_refuses() {
        let pki = test_pki();
        let dose = dose(Some("Bảo Duy"));
        let es256 = issuer(&pki.es256, verifier(&[&pki.es256]));
        let not_after = pki.es256.certificate.not_after();
        assert!(matches!(
            es256.sign(&dose, not_after + 1, Uvci::from_bytes([4; 16])),
            Err(IssueError::DscExpired { .. })
        ));
        let not_before = pki.es256.certificate.not_before();
        assert!(matches!(
            es256.sign(&dose, not_before - 1, Uvci::from_bytes([4; 16])),
            Err(IssueError::DscNotYetValid { .. })
        ));
        let eddsa = issuer(&pki.eddsa, verifier(&[&pki.eddsa]));
        assert!(matches!(
            eddsa.sign(&dose, NOW, Uvci::from_bytes([4; 16])),
            Err(IssueError::UnsupportedAlgorithm("EdDSA"))
        ));
    }

    /// The type-state holds: an unchecked certificate is built only by `sign` and opened only by
    /// `check`. (That nothing outside this module can construct one or read it is the compiler's job:
    /// its one field is private, and it has no constructor, accessor or conversion.)
    #[test]
    fn an_unchecked_certificate_shows_nothing() {
        let unchecked = UncheckedCertificate {
            certificate: IssuedCertificate {
                uvci: Uvci::from_bytes([1; 16]),
                hc1: String::from("HC1:SECRET"),
                iat: 1,
                exp: 2,
                kid: Kid::from([3; 8]),
                payload_hash: [0; 32],
                uci_hash: [0; 16],
                country_uci_hash: [0; 16],
                signature_hash: [0; 16],
            },
        };
        let printed = format!("{unchecked:?}");
        assert!(!printed.contains("HC1:"), "{printed}");
        assert!(!printed.contains("URN:UVCI"), "{printed}");
        assert!(printed.starts_with("UncheckedCertificate"), "{printed}");
    }
}
