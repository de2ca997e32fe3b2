//! The EU gateway entry shape, which foreign systems already know: a JSON array of
//! `{kid, country, certificateType, thumbprint, timestamp, rawData, signature}`.
//!
//! On the real EU gateway, `signature` is a CMS signature by the country that uploaded the DSC (its
//! upload certificate), and `timestamp` the upload time. Our export has no upload: `signature` is the
//! standard base64 of the trust-list key's signature over the DER (ES256 as raw `r‖s`, or EdDSA), which
//! [`GatewayEntry::verify_signature`] checks against the pinned key, and `timestamp` is the time of the
//! export. Importers of gateway entries ([`crate::import`]) do not rely on `signature`: a DSC is trusted
//! because it chains to a CSCA of its own country.

use keys::{Certificate, Signer};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::encoding::{b64_decode, b64_encode, hex_encode, json_position};
use crate::jws::{BuildError, MAX_DOCUMENT_BYTES, PinnedKey};

/// One DSC in the EU gateway entry shape.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GatewayEntry {
    /// The kid, standard base64 of the first 8 bytes of the SHA-256 of the DER.
    pub kid: String,
    /// The DSC's country (ISO 3166-1 alpha-2).
    pub country: String,
    /// `"DSC"`.
    pub certificate_type: String,
    /// SHA-256 of the DER, lower-case hex.
    pub thumbprint: String,
    /// RFC 3339: the upload time on the EU gateway, the export time in ours.
    pub timestamp: String,
    /// The certificate, standard base64 of its DER.
    pub raw_data: String,
    /// Standard base64: a CMS signature by the uploader on the EU gateway; in ours, the trust-list key's
    /// signature over the DER.
    pub signature: String,
}

impl GatewayEntry {
    /// The entry for `certificate` listed under `country`, signed by `signer` (the trust-list key) over
    /// the DER, stamped `timestamp` (Unix seconds).
    ///
    /// # Errors
    /// [`BuildError::Timestamp`] for a time RFC 3339 cannot write; [`BuildError::Sign`].
    pub fn new(
        certificate: &Certificate,
        country: &str,
        timestamp: i64,
        signer: &dyn Signer,
    ) -> Result<GatewayEntry, BuildError> {
        let timestamp = OffsetDateTime::from_unix_timestamp(timestamp)
            .ok()
            .and_then(|at| at.format(&Rfc3339).ok())
            .ok_or(BuildError::Timestamp { at: timestamp })?;
        let signature = signer.sign(certificate.der()).map_err(BuildError::Sign)?;
        Ok(GatewayEntry {
            kid: certificate.kid().to_string(),
            country: country.to_owned(),
            certificate_type: "DSC".to_owned(),
            thumbprint: hex_encode(&certificate.sha256_thumbprint()),
            timestamp,
            raw_data: b64_encode(certificate.der()),
            signature: b64_encode(&signature),
        })
    }

    /// Checks `signature` as our export makes it: `key`'s signature over the DER in `rawData`.
    ///
    /// # Errors
    /// [`GatewayError::RawData`] or [`GatewayError::SignatureEncoding`] if a field is not base64;
    /// [`GatewayError::SignatureInvalid`] if the signature does not verify.
    pub fn verify_signature(&self, key: &PinnedKey) -> Result<(), GatewayError> {
        let der = b64_decode(&self.raw_data).ok_or(GatewayError::RawData)?;
        let signature = b64_decode(&self.signature).ok_or(GatewayError::SignatureEncoding)?;
        key.verify(&der, &signature)
            .map_err(|_| GatewayError::SignatureInvalid)
    }
}

/// Why gateway entries could not be read or checked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum GatewayError {
    /// The input is longer than the bound; nothing was parsed.
    #[error("gateway list too large: {len} bytes, at most {max}")]
    TooLarge {
        /// The input's length.
        len: usize,
        /// The bound.
        max: usize,
    },
    /// The input is not a JSON array of gateway entries.
    #[error("malformed gateway list (line {line}, column {column})")]
    Json {
        /// Line of the first problem.
        line: usize,
        /// Column of the first problem.
        column: usize,
    },
    /// `rawData` is not base64.
    #[error("rawData is not base64")]
    RawData,
    /// `signature` is not base64.
    #[error("signature is not base64")]
    SignatureEncoding,
    /// `signature` does not verify under the key.
    #[error("signature invalid")]
    SignatureInvalid,
}

/// Writes entries as the gateway's JSON array.
///
/// # Errors
/// [`BuildError::Serialize`] if serialisation fails.
pub fn gateway_to_json(entries: &[GatewayEntry]) -> Result<Vec<u8>, BuildError> {
    serde_json::to_vec(entries).map_err(|_| BuildError::Serialize)
}

/// Reads the gateway's JSON array, refusing inputs over [`MAX_DOCUMENT_BYTES`] before parsing.
///
/// Entries are read, not checked: [`crate::import`] checks each one and rejects it alone.
///
/// # Errors
/// [`GatewayError::TooLarge`], [`GatewayError::Json`].
pub fn gateway_from_json(bytes: &[u8]) -> Result<Vec<GatewayEntry>, GatewayError> {
    gateway_from_json_with_limit(bytes, MAX_DOCUMENT_BYTES)
}

/// As [`gateway_from_json`], with the bound `max_bytes`.
///
/// # Errors
/// [`GatewayError::TooLarge`], [`GatewayError::Json`].
pub fn gateway_from_json_with_limit(
    bytes: &[u8],
    max_bytes: usize,
) -> Result<Vec<GatewayEntry>, GatewayError> {
    if bytes.len() > max_bytes {
        return Err(GatewayError::TooLarge {
            len: bytes.len(),
            max: max_bytes,
        });
    }
    serde_json::from_slice(bytes).map_err(|error| {
        let (line, column) = json_position(&error);
        GatewayError::Json { line, column }
    })
}

#[cfg(test)]
mod tests {
    use keys::test_pki::test_pki;
    use keys::{Backend, SignatureAlgorithm, SigningKey};

    use super::*;

    #[test]
    fn entries_carry_the_gateway_fields_and_a_checkable_signature() {
        let pki = test_pki();
        let list_key = SigningKey::generate(Backend::default(), SignatureAlgorithm::Es256).unwrap();
        let pinned =
            PinnedKey::from_spki_der(Backend::default(), &list_key.public_key_spki_der()).unwrap();
        let certificate = &pki.es256.certificate;
        let entry = GatewayEntry::new(certificate, "VN", 1_700_000_000, &list_key).unwrap();
        let text =
            String::from_utf8(gateway_to_json(std::slice::from_ref(&entry)).unwrap()).unwrap();
        let order: Vec<usize> = [
            "kid",
            "country",
            "certificateType",
            "thumbprint",
            "timestamp",
            "rawData",
            "signature",
        ]
        .iter()
        .map(|key| text.find(&format!("\"{key}\":")).unwrap())
        .collect();
        assert!(order.is_sorted(), "{text}");
        let json: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(json[0].as_object().unwrap().len(), 7);
        assert_eq!(json[0]["timestamp"], "2023-11-14T22:13:20Z");
        assert_eq!(json[0]["kid"], certificate.kid().to_string());
        assert_eq!(json[0]["certificateType"], "DSC");
        entry.verify_signature(&pinned).unwrap();

        let mut forged = entry.clone();
        forged.raw_data = b64_encode(pki.ps256.certificate.der());
        assert_eq!(
            forged.verify_signature(&pinned),
            Err(GatewayError::SignatureInvalid)
        );
        forged.signature = "!".into();
        assert_eq!(
            forged.verify_signature(&pinned),
            Err(GatewayError::SignatureEncoding)
        );
    }

    #[test]
    fn reading_is_bounded_and_typed() {
        let pki = test_pki();
        let list_key = SigningKey::generate(Backend::default(), SignatureAlgorithm::EdDsa).unwrap();
        let entries = vec![
            GatewayEntry::new(&pki.es256.certificate, "VN", 0, &list_key).unwrap(),
            GatewayEntry::new(&pki.ps256.certificate, "VN", 0, &list_key).unwrap(),
        ];
        let json = gateway_to_json(&entries).unwrap();
        assert_eq!(gateway_from_json(&json).unwrap(), entries);
        assert_eq!(
            gateway_from_json_with_limit(&json, 10),
            Err(GatewayError::TooLarge {
                len: json.len(),
                max: 10
            })
        );
        assert!(matches!(
            gateway_from_json(&json[..json.len() / 2]),
            Err(GatewayError::Json { .. })
        ));
        assert!(matches!(
            gateway_from_json(b""),
            Err(GatewayError::Json { .. })
        ));
        assert!(matches!(
            gateway_from_json(b"{}"),
            Err(GatewayError::Json { .. })
        ));
        assert!(
            GatewayEntry::new(&pki.es256.certificate, "VN", i64::MAX, &list_key)
                .is_err_and(|error| error == BuildError::Timestamp { at: i64::MAX })
        );
    }
}
