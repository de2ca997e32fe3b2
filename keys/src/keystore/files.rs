//! The keystore as named files: the index, certificates and encrypted keys, written by the caller.

use super::{DscRecord, DscState, EncryptedKey, Keystore, KeystoreError, spki_pin};

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::SignatureAlgorithm;
use crate::backend::Backend;
use crate::certificate::{Certificate, KeyType};

/// The name of the index file, written last.
pub const INDEX_FILE: &str = "keystore.json";

const FORMAT: &str = "vaxcert-keystore/1";
const CSCA_CERTIFICATE_FILE: &str = "csca.pem";
pub(super) const CSCA_KEY_FILE: &str = "csca.key.p8";
const TRUST_LIST_SIGNER_PUBLIC_FILE: &str = "trust-list-signer.pub.pem";
pub(super) const TRUST_LIST_SIGNER_KEY_FILE: &str = "trust-list-signer.key.p8";
pub(super) const ENCRYPTED_KEY_PEM: &str = "ENCRYPTED PRIVATE KEY";

/// Whether a keystore file holds a secret: the caller writes secrets readable by the owner only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FileKind {
    /// An encrypted private key: owner-only (0600).
    Secret,
    /// A certificate, public key or the index: world-readable is fine (0644).
    Public,
}

/// One file of a keystore, as [`Keystore::to_files`] lays it out.
#[derive(Clone, PartialEq, Eq)]
pub struct KeystoreFile {
    /// A plain file name, relative to the keystore directory (no path separator).
    pub name: String,
    /// The file's bytes.
    pub contents: Vec<u8>,
    /// Secret or public.
    pub kind: FileKind,
}

impl fmt::Debug for KeystoreFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeystoreFile")
            .field("name", &self.name)
            .field("bytes", &self.contents.len())
            .field("kind", &self.kind)
            .finish()
    }
}

impl Keystore {
    /// The keystore as files, the index ([`INDEX_FILE`]) last: write them in this order, each
    /// atomically, so that an interrupted write leaves the previous index valid.
    ///
    /// # Errors
    /// [`KeystoreError::InvalidFile`] if the index cannot be serialised (never in practice).
    pub fn to_files(&self) -> Result<Vec<KeystoreFile>, KeystoreError> {
        let public = |name: &str, contents: String| KeystoreFile {
            name: name.to_owned(),
            contents: contents.into_bytes(),
            kind: FileKind::Public,
        };
        let secret = |name: &str, key: &EncryptedKey| KeystoreFile {
            name: name.to_owned(),
            contents: key.to_pem().into_bytes(),
            kind: FileKind::Secret,
        };
        let mut files = vec![
            public(
                CSCA_CERTIFICATE_FILE,
                pem_text("CERTIFICATE", self.csca.der()),
            ),
            secret(CSCA_KEY_FILE, &self.csca_key),
            public(
                TRUST_LIST_SIGNER_PUBLIC_FILE,
                pem_text("PUBLIC KEY", &self.trust_list_signer_spki),
            ),
            secret(TRUST_LIST_SIGNER_KEY_FILE, &self.trust_list_signer_key),
        ];
        let mut index_dscs = Vec::new();
        for record in self.dscs() {
            let stem = record.file_stem();
            let certificate = format!("{stem}.pem");
            let key = format!("{stem}.key.p8");
            files.push(public(
                &certificate,
                pem_text("CERTIFICATE", record.certificate.der()),
            ));
            files.push(secret(&key, &record.key));
            let (state, retired_at) = match record.state {
                DscState::Current => ("current", None),
                DscState::Retired { retired_at } => ("retired", Some(retired_at)),
            };
            index_dscs.push(IndexDsc {
                kid: record.kid().to_string(),
                algorithm: record.algorithm.name().to_owned(),
                state: state.to_owned(),
                retired_at,
                certificate,
                key,
            });
        }
        let index = Index {
            format: FORMAT.to_owned(),
            country: self.country.clone(),
            csca: IndexCsca {
                certificate: CSCA_CERTIFICATE_FILE.to_owned(),
                key: CSCA_KEY_FILE.to_owned(),
            },
            trust_list_signer: IndexTrustListSigner {
                algorithm: SignatureAlgorithm::Es256.name().to_owned(),
                pin_sha256: self.trust_list_signer_pin(),
                public_key: TRUST_LIST_SIGNER_PUBLIC_FILE.to_owned(),
                key: TRUST_LIST_SIGNER_KEY_FILE.to_owned(),
            },
            dscs: index_dscs,
        };
        let mut json = serde_json::to_vec_pretty(&index)
            .map_err(|_| invalid(INDEX_FILE, "cannot serialise"))?;
        json.push(b'\n');
        files.push(KeystoreFile {
            name: INDEX_FILE.to_owned(),
            contents: json,
            kind: FileKind::Public,
        });
        Ok(files)
    }

    /// Reads a keystore written by [`Keystore::to_files`]: `read(name)` returns a file's bytes, `None` if
    /// it does not exist. Keys will be decrypted into `backend`; new keys encrypted with the CSCA key's
    /// scrypt cost. Nothing is decrypted here.
    ///
    /// Checked: the index's format and file names (plain names only), the CSCA (self-signed, CA with
    /// keyCertSign, subject `C` = the country), every DSC (kid as indexed, issued by the CSCA, AKI = the
    /// CSCA's SKI, subject `C` = the country, key type fitting its algorithm), exactly one current DSC,
    /// no duplicate kid, the trust-list signer (P-256, pin as indexed), and every encrypted key's scheme.
    ///
    /// # Errors
    /// [`KeystoreError::MissingFile`] or [`KeystoreError::InvalidFile`] naming the first file at fault.
    pub fn from_files(
        backend: Backend,
        mut read: impl FnMut(&str) -> Option<Vec<u8>>,
    ) -> Result<Keystore, KeystoreError> {
        let mut load = |name: &str| -> Result<Vec<u8>, KeystoreError> {
            if !is_plain_name(name) {
                return Err(invalid(INDEX_FILE, "a file name is not a plain name"));
            }
            read(name).ok_or_else(|| KeystoreError::MissingFile {
                name: name.to_owned(),
            })
        };
        let index: Index = serde_json::from_slice(&load(INDEX_FILE)?)
            .map_err(|_| invalid(INDEX_FILE, "not a keystore index"))?;
        if index.format != FORMAT {
            return Err(invalid(INDEX_FILE, "unknown format"));
        }
        let country = index.country;

        let csca = certificate_file(&index.csca.certificate, &load(&index.csca.certificate)?)?;
        let csca_fault = |reason: &str| invalid(&index.csca.certificate, reason);
        if !csca.is_ca() || !csca.can_sign_certificates() || csca.subject_key_id().is_none() {
            return Err(csca_fault(
                "not a CA certificate with keyCertSign and a subject key identifier",
            ));
        }
        if csca.subject_country() != Some(country.as_str()) {
            return Err(csca_fault("subject country is not the keystore's"));
        }
        csca.verify_issued_by(&csca, backend)
            .map_err(|_| csca_fault("not self-signed"))?;
        let csca_key = key_file(&index.csca.key, &load(&index.csca.key)?)?;

        let signer = &index.trust_list_signer;
        let spki = public_key_file(&signer.public_key, &load(&signer.public_key)?)?;
        if KeyType::of_spki(&spki)? != KeyType::P256
            || signer.algorithm != SignatureAlgorithm::Es256.name()
        {
            return Err(invalid(
                &signer.public_key,
                "the trust-list signing key must be ES256 (P-256)",
            ));
        }
        if spki_pin(&spki) != signer.pin_sha256 {
            return Err(invalid(
                INDEX_FILE,
                "trust-list signer pin does not match its public key",
            ));
        }
        let trust_list_signer_key = key_file(&signer.key, &load(&signer.key)?)?;

        let mut retired = Vec::new();
        let mut current = None;
        for entry in &index.dscs {
            let record = dsc_record(entry, &csca, &country, backend, &mut load)?;
            if retired
                .iter()
                .chain(current.iter())
                .any(|other: &DscRecord| other.kid() == record.kid())
            {
                return Err(invalid(INDEX_FILE, "two DSCs with the same kid"));
            }
            match record.state {
                DscState::Retired { .. } if current.is_none() => retired.push(record),
                DscState::Current if current.is_none() => current = Some(record),
                _ => {
                    return Err(invalid(
                        INDEX_FILE,
                        "the current DSC must be the last, and the only one",
                    ));
                }
            }
        }
        let current = current.ok_or_else(|| invalid(INDEX_FILE, "no current DSC"))?;
        Ok(Keystore {
            country,
            backend,
            kdf: csca_key.kdf(),
            csca,
            csca_key,
            trust_list_signer_spki: spki,
            trust_list_signer_key,
            retired,
            current,
        })
    }
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Index {
    format: String,
    country: String,
    csca: IndexCsca,
    trust_list_signer: IndexTrustListSigner,
    dscs: Vec<IndexDsc>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct IndexCsca {
    certificate: String,
    key: String,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct IndexTrustListSigner {
    algorithm: String,
    pin_sha256: String,
    public_key: String,
    key: String,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct IndexDsc {
    kid: String,
    algorithm: String,
    state: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    retired_at: Option<i64>,
    certificate: String,
    key: String,
}

fn dsc_record(
    entry: &IndexDsc,
    csca: &Certificate,
    country: &str,
    backend: Backend,
    load: &mut impl FnMut(&str) -> Result<Vec<u8>, KeystoreError>,
) -> Result<DscRecord, KeystoreError> {
    let certificate = certificate_file(&entry.certificate, &load(&entry.certificate)?)?;
    let fault = |reason: &str| invalid(&entry.certificate, reason);
    if certificate.kid().to_string() != entry.kid {
        return Err(fault("its kid is not the indexed one"));
    }
    certificate
        .verify_issued_by(csca, backend)
        .map_err(|_| fault("not issued by the CSCA"))?;
    if certificate.authority_key_id() != csca.subject_key_id() {
        return Err(fault("authority key identifier is not the CSCA's"));
    }
    if certificate.subject_country() != Some(country) {
        return Err(fault("subject country is not the keystore's"));
    }
    let algorithm = match (entry.algorithm.as_str(), certificate.key_type()) {
        ("ES256", KeyType::P256) => SignatureAlgorithm::Es256,
        ("PS256", KeyType::Rsa { bits }) if bits >= 2048 => SignatureAlgorithm::Ps256,
        _ => return Err(fault("key type does not fit the indexed algorithm")),
    };
    let state = match (entry.state.as_str(), entry.retired_at) {
        ("current", None) => DscState::Current,
        ("retired", Some(retired_at)) => DscState::Retired { retired_at },
        _ => {
            return Err(invalid(
                INDEX_FILE,
                "a DSC state is neither current nor retired with a time",
            ));
        }
    };
    Ok(DscRecord {
        certificate,
        key: key_file(&entry.key, &load(&entry.key)?)?,
        state,
        algorithm,
    })
}

pub(super) fn invalid(name: &str, reason: &str) -> KeystoreError {
    KeystoreError::InvalidFile {
        name: name.to_owned(),
        reason: reason.to_owned(),
    }
}

/// A name without directories, dot-files or unusual characters.
fn is_plain_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 100
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || matches!(byte, b'.' | b'-' | b'_'))
}

fn text<'a>(name: &str, bytes: &'a [u8]) -> Result<&'a str, KeystoreError> {
    std::str::from_utf8(bytes).map_err(|_| invalid(name, "not PEM text"))
}

fn certificate_file(name: &str, bytes: &[u8]) -> Result<Certificate, KeystoreError> {
    Certificate::from_pem(text(name, bytes)?).map_err(|error| invalid(name, &error.to_string()))
}

fn key_file(name: &str, bytes: &[u8]) -> Result<EncryptedKey, KeystoreError> {
    EncryptedKey::from_pem(text(name, bytes)?).map_err(|error| invalid(name, &error.to_string()))
}

fn public_key_file(name: &str, bytes: &[u8]) -> Result<Vec<u8>, KeystoreError> {
    match pem::parse(text(name, bytes)?) {
        Ok(block) if block.tag() == "PUBLIC KEY" => Ok(block.into_contents()),
        _ => Err(invalid(name, "no PEM PUBLIC KEY block")),
    }
}

pub(super) fn pem_text(tag: &str, der: &[u8]) -> String {
    pem::encode_config(
        &pem::Pem::new(tag, der.to_vec()),
        pem::EncodeConfig::new().set_line_ending(pem::LineEnding::LF),
    )
}
