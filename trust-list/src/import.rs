//! Importing foreign DSCs: each must chain directly to a CSCA of its own country (spec-notes §6-§7).
//!
//! Two levels only: a self-signed CSCA (CA, keyCertSign) signs DSCs. For every entry, in order:
//! the entry itself ([`EntryError`]: type, country, kid, base64, thumbprint, DER, kid = the certificate's
//! kid, DSC key P-256 or RSA 2048-8192, not a CA, allowed to sign); the DSC's subject `C` equals the
//! listed country; the DSC has not expired; its authority key id names a CSCA of that country (subject
//! `C` = the country, SKI = the AKI; an AKI naming another country's CSCA is reported as such); the
//! DSC's issuer `C` is that country too; that CSCA is self-signed, a CA with keyCertSign, with a
//! P-256, P-384 or RSA ≥ 2048 key (a brainpool CSCA parses, but no backend checks its signatures: its
//! DSCs are rejected as [`ImportError::SignatureUnsupported`]), valid now; and the CSCA's key verifies
//! the DSC's signature. A DSC issued by an intermediate CA (a three-level chain) names no CSCA and is
//! rejected. Each rejection is kept with its reason; the rest is accepted. [`import_without_csca`] makes
//! every check up to the expiry and none of the chain.

use std::collections::{HashMap, HashSet};

use keys::{Backend, Certificate, KeyError, KeyType};

use crate::encoding::{b64_encode, bounded, hex_encode};
use crate::entry::{self, EntryError, RawEntry};
use crate::gateway::GatewayEntry;
use crate::national::{DscEntry, ListedDsc};
use crate::store::TrustStore;

/// One DSC as a foreign list lists it, before any check: the fields the EU gateway shape and the
/// national format share.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportEntry {
    /// The kid as listed (standard base64).
    pub kid: String,
    /// The country as listed.
    pub country: String,
    /// The certificate type as listed (`"DSC"` to be accepted).
    pub certificate_type: String,
    /// The DER as listed (standard base64).
    pub raw_data: String,
    /// The SHA-256 of the DER as listed (hex).
    pub thumbprint: String,
}

impl ImportEntry {
    /// The DSC this entry lists, with no chain and no clock: the entry checks ([`EntryError`]) and the
    /// DSC's subject `C` = the listed country. For reading back a list already imported.
    ///
    /// # Errors
    /// [`ImportError::Entry`], [`ImportError::CountryMismatch`].
    pub fn decode(&self) -> Result<ListedDsc, ImportError> {
        let (kid, dsc) = entry::decode(&RawEntry {
            kid: &self.kid,
            country: &self.country,
            certificate_type: &self.certificate_type,
            raw_data: &self.raw_data,
            thumbprint: &self.thumbprint,
        })?;
        if dsc.subject_country() != Some(self.country.as_str()) {
            return Err(ImportError::CountryMismatch);
        }
        Ok(ListedDsc::new(kid, self.country.clone(), dsc))
    }
}

impl From<&GatewayEntry> for ImportEntry {
    fn from(entry: &GatewayEntry) -> ImportEntry {
        ImportEntry {
            kid: entry.kid.clone(),
            country: entry.country.clone(),
            certificate_type: entry.certificate_type.clone(),
            raw_data: entry.raw_data.clone(),
            thumbprint: entry.thumbprint.clone(),
        }
    }
}

impl From<GatewayEntry> for ImportEntry {
    fn from(entry: GatewayEntry) -> ImportEntry {
        ImportEntry {
            kid: entry.kid,
            country: entry.country,
            certificate_type: entry.certificate_type,
            raw_data: entry.raw_data,
            thumbprint: entry.thumbprint,
        }
    }
}

impl From<&DscEntry> for ImportEntry {
    fn from(entry: &DscEntry) -> ImportEntry {
        ImportEntry {
            kid: entry.kid.clone(),
            country: entry.country.clone(),
            certificate_type: entry.certificate_type.clone(),
            raw_data: entry.raw_data.clone(),
            thumbprint: entry.thumbprint.clone(),
        }
    }
}

impl From<&ListedDsc> for ImportEntry {
    /// A DSC of a verified foreign national list ([`crate::TrustList::dscs`]), to check against the
    /// anchors: the foreign list's signature says who published it, not that its DSCs chain to a CSCA.
    fn from(dsc: &ListedDsc) -> ImportEntry {
        ImportEntry {
            kid: dsc.kid().to_string(),
            country: dsc.country().to_owned(),
            certificate_type: "DSC".to_owned(),
            raw_data: b64_encode(dsc.certificate().der()),
            thumbprint: hex_encode(&dsc.certificate().sha256_thumbprint()),
        }
    }
}

/// Why an imported DSC was rejected. Holds no personal data (there is none in a DSC list): callers log it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ImportError {
    /// The entry is unusable on its own.
    #[error(transparent)]
    Entry(#[from] EntryError),
    /// The DSC's subject `C` is not the listed country (or it has none).
    #[error("DSC subject C is not the listed country")]
    CountryMismatch,
    /// The DSC's issuer `C` is not the listed country (or it has none).
    #[error("DSC issuer C is not the listed country")]
    IssuerCountryMismatch,
    /// The DSC expired before `now`: it can no longer verify anything (shell model).
    #[error("DSC expired at {not_after} (now {now})")]
    Expired {
        /// The DSC's notAfter.
        not_after: i64,
        /// The clock passed in.
        now: i64,
    },
    /// The DSC has no authority key identifier: nothing names its CSCA.
    #[error("DSC has no authority key identifier")]
    MissingAuthorityKeyId,
    /// The DSC's authority key id is the SKI of a CSCA of another country: a CSCA may sign only its own
    /// country's DSCs.
    #[error("DSC issued by the CSCA of {csca_country}, not of its own country")]
    IssuedByOtherCountry {
        /// The issuing CSCA's country.
        csca_country: String,
    },
    /// No anchor is a CSCA of the DSC's country.
    #[error("no CSCA for the DSC's country")]
    NoCscaForCountry,
    /// No CSCA of the DSC's country has SKI = the DSC's AKI (an intermediate CA, a three-level chain,
    /// or an unknown CSCA).
    #[error("no CSCA of the DSC's country has SKI = the DSC's AKI")]
    NoMatchingCsca,
    /// The CSCA named is not self-signed (an intermediate CA given as an anchor).
    #[error("the CSCA is not self-signed")]
    CscaNotSelfSigned,
    /// The CSCA named is not a CA (`cA=FALSE` or no basic constraints).
    #[error("the CSCA is not a CA")]
    CscaNotCa,
    /// The CSCA named may not sign certificates (no keyCertSign).
    #[error("the CSCA's key usage lacks keyCertSign")]
    CscaWithoutKeyCertSign,
    /// The CSCA's key is neither P-256, P-384, brainpool nor RSA ≥ 2048.
    #[error("CSCA key {key_type} not allowed")]
    CscaKey {
        /// The key type found.
        key_type: KeyType,
    },
    /// The CSCA is not valid at `now`.
    #[error("CSCA not valid now ({not_before}..{not_after}, now {now})")]
    CscaValidity {
        /// The CSCA's notBefore.
        not_before: i64,
        /// The CSCA's notAfter.
        not_after: i64,
        /// The clock passed in.
        now: i64,
    },
    /// A signature in the chain uses an algorithm or key no backend here checks (brainpool, SHA-1, …).
    #[error("certificate signature algorithm not supported")]
    SignatureUnsupported,
    /// The DSC's signature does not verify under the CSCA's key.
    #[error("DSC signature does not verify under the CSCA")]
    SignatureInvalid,
}

/// One rejected entry: what it said it was, and why it was rejected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    /// The kid as listed (at most 64 characters of it).
    pub kid: String,
    /// The country as listed (at most 64 characters of it).
    pub country: String,
    /// Why.
    pub reason: ImportError,
}

/// What an import accepted and rejected.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportOutcome {
    /// DSCs that chain to a CSCA of their own country, in list order.
    pub accepted: Vec<ListedDsc>,
    /// Entries rejected, in list order, with their reasons.
    pub rejected: Vec<Rejection>,
}

impl ImportOutcome {
    /// Adds the accepted DSCs to `store` (duplicate kids are kept; the very same listing is kept once).
    pub fn add_to(&self, store: &mut TrustStore) {
        for dsc in &self.accepted {
            dsc.add_to(store);
        }
    }
}

/// Checks foreign DSC entries against CSCA `anchors` at `now` (Unix seconds), with `backend`'s signature
/// checks. See the module documentation for the checks, in order. Each anchor is checked once, and
/// finding a DSC's CSCA is a hash lookup.
pub fn import(
    entries: &[ImportEntry],
    anchors: &[Certificate],
    now: i64,
    backend: Backend,
) -> ImportOutcome {
    let anchors = Anchors::new(anchors, now, backend);
    sort(entries, |entry| check(entry, &anchors, now, backend))
}

/// Checks foreign DSC entries without any CSCA, for an operator who trusts the list for how it was
/// obtained: the entry checks ([`EntryError`]), the DSC's subject `C` = the listed country, not expired
/// at `now`. Nothing says who issued the DSCs: prefer [`import`] with the countries' CSCAs.
pub fn import_without_csca(entries: &[ImportEntry], now: i64) -> ImportOutcome {
    sort(entries, |entry| unexpired(entry, now))
}

/// Accepts or rejects each entry by `verdict`, keeping list order.
fn sort(
    entries: &[ImportEntry],
    verdict: impl Fn(&ImportEntry) -> Result<ListedDsc, ImportError>,
) -> ImportOutcome {
    let mut outcome = ImportOutcome::default();
    for entry in entries {
        match verdict(entry) {
            Ok(dsc) => outcome.accepted.push(dsc),
            Err(reason) => outcome.rejected.push(Rejection {
                kid: bounded(&entry.kid),
                country: bounded(&entry.country),
                reason,
            }),
        }
    }
    outcome
}

fn check(
    entry: &ImportEntry,
    anchors: &Anchors<'_>,
    now: i64,
    backend: Backend,
) -> Result<ListedDsc, ImportError> {
    let listed = unexpired(entry, now)?;
    let dsc = listed.certificate();
    let country = entry.country.as_str();
    let aki = dsc
        .authority_key_id()
        .ok_or(ImportError::MissingAuthorityKeyId)?;
    let Some(candidates) = anchors.by_country_and_ski.get(&(country, aki)) else {
        return Err(match anchors.country_of_ski.get(aki) {
            Some(other) => ImportError::IssuedByOtherCountry {
                csca_country: (*other).to_owned(),
            },
            None if !anchors.countries.contains(country) => ImportError::NoCscaForCountry,
            None => ImportError::NoMatchingCsca,
        });
    };
    if dsc.issuer_country() != Some(country) {
        return Err(ImportError::IssuerCountryMismatch);
    }
    let mut first_failure = None;
    for anchor in candidates {
        let result = match &anchor.problem {
            Some(problem) => Err(problem.clone()),
            None => dsc
                .verify_issued_by(anchor.certificate, backend)
                .map_err(signature_failure),
        };
        match result {
            Ok(()) => return Ok(listed),
            Err(reason) => {
                first_failure.get_or_insert(reason);
            }
        }
    }
    Err(first_failure.unwrap_or(ImportError::NoMatchingCsca))
}

/// The entry decoded ([`ImportEntry::decode`]), if the DSC has not expired at `now`.
fn unexpired(entry: &ImportEntry, now: i64) -> Result<ListedDsc, ImportError> {
    let listed = entry.decode()?;
    let not_after = listed.certificate().not_after();
    if not_after < now {
        return Err(ImportError::Expired { not_after, now });
    }
    Ok(listed)
}

fn signature_failure(error: KeyError) -> ImportError {
    match error {
        KeyError::IssuerSignature => ImportError::SignatureInvalid,
        _ => ImportError::SignatureUnsupported,
    }
}

/// The anchors, each checked once, indexed by (country, SKI).
struct Anchors<'a> {
    by_country_and_ski: HashMap<(&'a str, &'a [u8]), Vec<Anchor<'a>>>,
    country_of_ski: HashMap<&'a [u8], &'a str>,
    countries: HashSet<&'a str>,
}

struct Anchor<'a> {
    certificate: &'a Certificate,
    problem: Option<ImportError>,
}

impl<'a> Anchors<'a> {
    fn new(certificates: &'a [Certificate], now: i64, backend: Backend) -> Anchors<'a> {
        let mut anchors = Anchors {
            by_country_and_ski: HashMap::new(),
            country_of_ski: HashMap::new(),
            countries: HashSet::new(),
        };
        for certificate in certificates {
            let Some(country) = certificate.subject_country() else {
                continue;
            };
            anchors.countries.insert(country);
            let Some(ski) = certificate.subject_key_id() else {
                continue;
            };
            anchors.country_of_ski.entry(ski).or_insert(country);
            anchors
                .by_country_and_ski
                .entry((country, ski))
                .or_default()
                .push(Anchor {
                    certificate,
                    problem: csca_problem(certificate, now, backend).err(),
                });
        }
        anchors
    }
}

/// What a CSCA must be: an allowed key, a CA with keyCertSign, self-signed, valid now.
fn csca_problem(csca: &Certificate, now: i64, backend: Backend) -> Result<(), ImportError> {
    match csca.key_type() {
        KeyType::P256 | KeyType::P384 | KeyType::OtherEc => {}
        KeyType::Rsa { bits } if bits >= 2048 => {}
        key_type => return Err(ImportError::CscaKey { key_type }),
    }
    if !csca.is_ca() {
        return Err(ImportError::CscaNotCa);
    }
    if !csca.can_sign_certificates() {
        return Err(ImportError::CscaWithoutKeyCertSign);
    }
    if csca.issuer_country() != csca.subject_country() {
        return Err(ImportError::CscaNotSelfSigned);
    }
    csca.verify_issued_by(csca, backend)
        .map_err(|error| match error {
            KeyError::IssuerSignature => ImportError::CscaNotSelfSigned,
            _ => ImportError::SignatureUnsupported,
        })?;
    if !(csca.not_before()..=csca.not_after()).contains(&now) {
        return Err(ImportError::CscaValidity {
            not_before: csca.not_before(),
            not_after: csca.not_after(),
            now,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use keys::test_pki::{foreign_test_pki, test_pki};

    use super::*;

    const NOW: i64 = 1_700_000_000;

    fn entry(certificate: &Certificate, country: &str) -> ImportEntry {
        ImportEntry::from(&DscEntry::new(certificate, country))
    }

    fn reasons(entries: &[ImportEntry], anchors: &[Certificate]) -> Vec<Option<ImportError>> {
        let outcome = import(entries, anchors, NOW, Backend::default());
        let mut rejected = outcome.rejected.into_iter();
        let mut accepted = outcome.accepted.into_iter();
        entries
            .iter()
            .map(|entry| {
                let accepted_next = accepted
                    .as_slice()
                    .first()
                    .is_some_and(|dsc| dsc.kid().to_string() == entry.kid);
                if accepted_next {
                    accepted.next();
                    None
                } else {
                    rejected.next().map(|rejection| rejection.reason)
                }
            })
            .collect()
    }

    #[test]
    fn own_country_chains_are_accepted_and_others_rejected() {
        let vn = test_pki();
        let xx = foreign_test_pki("XX");
        let anchors = [vn.csca.certificate.clone(), xx.csca.certificate.clone()];
        let entries = [
            entry(&vn.es256.certificate, "VN"),
            entry(&vn.ps256.certificate, "VN"),
            entry(&xx.es256.certificate, "XX"),
            entry(&xx.es256.certificate, "VN"),
            // Subject C=XX, issued by the VN CSCA.
            entry(&vn.es256_wrong_country.certificate, "XX"),
            entry(&vn.es256_wrong_country.certificate, "VN"),
            entry(&vn.es256_expired.certificate, "VN"),
            entry(&vn.eddsa.certificate, "VN"),
        ];
        assert_eq!(
            reasons(&entries, &anchors),
            [
                None,
                None,
                None,
                Some(ImportError::CountryMismatch),
                Some(ImportError::IssuedByOtherCountry {
                    csca_country: "VN".into()
                }),
                Some(ImportError::CountryMismatch),
                Some(ImportError::Expired {
                    not_after: keys::test_pki::EXPIRED_NOT_AFTER,
                    now: NOW
                }),
                Some(ImportError::Entry(EntryError::DscKey {
                    key_type: KeyType::Ed25519
                })),
            ]
        );
        assert_eq!(
            reasons(&[entry(&xx.es256.certificate, "XX")], &anchors[..1]),
            [Some(ImportError::NoCscaForCountry)]
        );
    }

    #[test]
    fn without_csca_every_check_but_the_chain_applies() {
        let vn = test_pki();
        let xx = foreign_test_pki("XX");
        let entries = [
            entry(&vn.es256.certificate, "VN"),
            entry(&xx.es256.certificate, "XX"),
            entry(&xx.es256.certificate, "VN"),
            entry(&vn.es256_expired.certificate, "VN"),
            entry(&vn.eddsa.certificate, "VN"),
        ];
        let outcome = import_without_csca(&entries, NOW);
        let accepted: Vec<_> = outcome
            .accepted
            .iter()
            .map(ListedDsc::certificate)
            .collect();
        assert_eq!(accepted, [&vn.es256.certificate, &xx.es256.certificate]);
        let reasons: Vec<_> = outcome.rejected.into_iter().map(|r| r.reason).collect();
        assert_eq!(
            reasons,
            [
                ImportError::CountryMismatch,
                ImportError::Expired {
                    not_after: keys::test_pki::EXPIRED_NOT_AFTER,
                    now: NOW
                },
                ImportError::Entry(EntryError::DscKey {
                    key_type: KeyType::Ed25519
                }),
            ]
        );
        // Decoding alone keeps the expired DSC: reading back a list judges no clock.
        assert!(entries[3].decode().is_ok());
        assert_eq!(entries[2].decode(), Err(ImportError::CountryMismatch));
    }

    #[test]
    fn csca_checks() {
        let vn = test_pki();
        let backend = Backend::default();
        assert_eq!(csca_problem(&vn.csca.certificate, NOW, backend), Ok(()));
        assert_eq!(
            csca_problem(&vn.es256.certificate, NOW, backend),
            Err(ImportError::CscaNotCa)
        );
        assert_eq!(
            csca_problem(&vn.csca.certificate, 4_000_000_000, backend),
            Err(ImportError::CscaValidity {
                not_before: keys::test_pki::CSCA_NOT_BEFORE,
                not_after: keys::test_pki::CSCA_NOT_AFTER,
                now: 4_000_000_000
            })
        );
    }

    #[test]
    fn rejections_keep_a_bounded_copy_of_what_was_listed() {
        let long = "A".repeat(10_000);
        let entries = [ImportEntry {
            kid: long.clone(),
            country: long,
            certificate_type: "DSC".into(),
            raw_data: String::new(),
            thumbprint: String::new(),
        }];
        let outcome = import(&entries, &[], NOW, Backend::default());
        assert_eq!(outcome.rejected[0].kid.chars().count(), 65);
        assert_eq!(
            outcome.rejected[0].reason,
            ImportError::Entry(EntryError::Country)
        );
    }
}
