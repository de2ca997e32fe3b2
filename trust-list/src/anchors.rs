//! Trust anchors: CSCA certificates, published as a JSON array of `{country, rawData, thumbprint}`
//! (standard base64 DER, lower-case hex SHA-256), the same field names as the EU gateway's entries.
//!
//! JSON rather than PEM so that the country travels with each certificate and the thumbprint can be
//! compared with one obtained out of band. The anchor file is not signed: anchors are trusted for how
//! they were obtained (out of band, like a pinned key), and importing checks every CSCA again
//! (self-signed, CA, keyCertSign, key type) before any DSC chains to it.

use keys::Certificate;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use crate::encoding::{
    b64_decode, b64_encode, hex_decode_32, hex_encode, is_country_code, json_position,
};
use crate::entry::EntryError;
use crate::jws::MAX_DOCUMENT_BYTES;

/// One CSCA in the anchor file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AnchorEntry {
    /// The CSCA's country, its subject `C`.
    pub country: String,
    /// The certificate, standard base64 of its DER.
    pub raw_data: String,
    /// SHA-256 of the DER, lower-case hex.
    pub thumbprint: String,
}

/// Why an anchor file could not be written or read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AnchorError {
    /// The input is longer than the bound; nothing was parsed.
    #[error("anchor list too large: {len} bytes, at most {max}")]
    TooLarge {
        /// The input's length.
        len: usize,
        /// The bound.
        max: usize,
    },
    /// The input is not a JSON array of anchors.
    #[error("malformed anchor list (line {line}, column {column})")]
    Json {
        /// Line of the first problem.
        line: usize,
        /// Column of the first problem.
        column: usize,
    },
    /// An anchor is unreadable (country, base64, thumbprint, DER).
    #[error("anchor {index}: {reason}")]
    Entry {
        /// Its position, from 0.
        index: usize,
        /// Why.
        #[source]
        reason: EntryError,
    },
    /// An anchor's listed country is not its subject `C` (or it has none).
    #[error("anchor {index}: country is not the certificate's subject C")]
    CountryMismatch {
        /// Its position, from 0.
        index: usize,
    },
    /// A certificate to publish as an anchor is not a CA allowed to sign certificates.
    #[error("anchor {index} is not a CA with keyCertSign")]
    NotCa {
        /// Its position, from 0.
        index: usize,
    },
    /// Serialising JSON failed.
    #[error("JSON serialisation failed")]
    Serialize,
}

/// Writes CSCAs as the anchor file, each under its subject `C`.
///
/// # Errors
/// [`AnchorError::CountryMismatch`] for a certificate without a subject `C` of the ISO form,
/// [`AnchorError::NotCa`] for one that is not a CA with keyCertSign.
pub fn anchors_to_json(cscas: &[Certificate]) -> Result<Vec<u8>, AnchorError> {
    let entries = cscas
        .iter()
        .enumerate()
        .map(|(index, csca)| {
            let country = csca
                .subject_country()
                .filter(|country| is_country_code(country))
                .ok_or(AnchorError::CountryMismatch { index })?;
            if !(csca.is_ca() && csca.can_sign_certificates()) {
                return Err(AnchorError::NotCa { index });
            }
            Ok(AnchorEntry {
                country: country.to_owned(),
                raw_data: b64_encode(csca.der()),
                thumbprint: hex_encode(&csca.sha256_thumbprint()),
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    serde_json::to_vec(&entries).map_err(|_| AnchorError::Serialize)
}

/// Reads an anchor file, refusing inputs over [`MAX_DOCUMENT_BYTES`] before parsing; see
/// [`anchors_from_json_with_limit`].
///
/// # Errors
/// As [`anchors_from_json_with_limit`].
pub fn anchors_from_json(bytes: &[u8]) -> Result<Vec<Certificate>, AnchorError> {
    anchors_from_json_with_limit(bytes, MAX_DOCUMENT_BYTES)
}

/// Reads an anchor file of at most `max_bytes`: each entry's country, base64, thumbprint and DER, and
/// that the country is the certificate's subject `C`. Whether each is a usable CSCA is checked on import.
///
/// # Errors
/// [`AnchorError::TooLarge`], [`AnchorError::Json`], [`AnchorError::Entry`],
/// [`AnchorError::CountryMismatch`]; one bad anchor refuses the file.
pub fn anchors_from_json_with_limit(
    bytes: &[u8],
    max_bytes: usize,
) -> Result<Vec<Certificate>, AnchorError> {
    if bytes.len() > max_bytes {
        return Err(AnchorError::TooLarge {
            len: bytes.len(),
            max: max_bytes,
        });
    }
    let entries: Vec<AnchorEntry> = serde_json::from_slice(bytes).map_err(|error| {
        let (line, column) = json_position(&error);
        AnchorError::Json { line, column }
    })?;
    entries
        .iter()
        .enumerate()
        .map(|(index, entry)| {
            let certificate =
                decode(entry).map_err(|reason| AnchorError::Entry { index, reason })?;
            if certificate.subject_country() != Some(entry.country.as_str()) {
                return Err(AnchorError::CountryMismatch { index });
            }
            Ok(certificate)
        })
        .collect()
}

fn decode(entry: &AnchorEntry) -> Result<Certificate, EntryError> {
    if !is_country_code(&entry.country) {
        return Err(EntryError::Country);
    }
    let der = b64_decode(&entry.raw_data).ok_or(EntryError::RawData)?;
    let thumbprint = hex_decode_32(&entry.thumbprint).ok_or(EntryError::Thumbprint)?;
    if <[u8; 32]>::from(Sha256::digest(&der)) != thumbprint {
        return Err(EntryError::ThumbprintMismatch);
    }
    Certificate::from_der(&der).map_err(EntryError::Certificate)
}

#[cfg(test)]
mod tests {
    use keys::test_pki::{foreign_test_pki, test_pki};

    use super::*;

    #[test]
    fn anchors_round_trip() {
        let cscas = [
            test_pki().csca.certificate.clone(),
            foreign_test_pki("XX").csca.certificate.clone(),
        ];
        let json = anchors_to_json(&cscas).unwrap();
        let value: serde_json::Value = serde_json::from_slice(&json).unwrap();
        assert_eq!(value[1]["country"], "XX");
        assert_eq!(
            value[0]["thumbprint"],
            hex_encode(&cscas[0].sha256_thumbprint())
        );
        assert_eq!(anchors_from_json(&json).unwrap(), cscas);
    }

    #[test]
    fn only_cas_are_written() {
        let pki = test_pki();
        assert_eq!(
            anchors_to_json(&[pki.csca.certificate.clone(), pki.es256.certificate.clone()]),
            Err(AnchorError::NotCa { index: 1 })
        );
    }

    #[test]
    fn bad_files_are_refused() {
        let csca = &test_pki().csca.certificate;
        let entry = |country: &str, raw_data: String, thumbprint: String| {
            serde_json::to_vec(&[AnchorEntry {
                country: country.to_owned(),
                raw_data,
                thumbprint,
            }])
            .unwrap()
        };
        let raw = b64_encode(csca.der());
        let thumb = hex_encode(&csca.sha256_thumbprint());
        assert_eq!(
            anchors_from_json(&entry("XX", raw.clone(), thumb.clone())),
            Err(AnchorError::CountryMismatch { index: 0 })
        );
        assert_eq!(
            anchors_from_json(&entry("VN", raw.clone(), "00".repeat(32))),
            Err(AnchorError::Entry {
                index: 0,
                reason: EntryError::ThumbprintMismatch
            })
        );
        assert_eq!(
            anchors_from_json(&entry("VN", "*".into(), thumb.clone())),
            Err(AnchorError::Entry {
                index: 0,
                reason: EntryError::RawData
            })
        );
        assert!(matches!(
            anchors_from_json(b"[{\"country\":\"VN\"}]"),
            Err(AnchorError::Json { .. })
        ));
        let good = entry("VN", raw, thumb);
        assert_eq!(
            anchors_from_json_with_limit(&good, good.len() - 1),
            Err(AnchorError::TooLarge {
                len: good.len(),
                max: good.len() - 1
            })
        );
    }
}
