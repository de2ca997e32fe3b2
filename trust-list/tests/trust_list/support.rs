//! Shared helpers: a list-signing key, lists built from test PKIs, and certificates of shapes the test
//! PKI does not make (CSCAs that are not CAs, intermediates, forged AKIs, binary curves), made with rcgen
//! and, for keys rcgen cannot hold, by re-signing a certificate's TBS.

use keys::test_pki::{TestPki, test_pki};
use keys::{Backend, Certificate, SignatureAlgorithm, SigningKey};
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, IsCa, Issuer, KeyIdMethod,
    KeyPair, KeyUsagePurpose, SerialNumber,
};
use trust_list::{ImportEntry, PinnedKey, TrustListBuilder};

/// The validation clock of these tests: 2023-11-14T22:13:20Z, inside every test PKI validity.
pub const NOW: i64 = 1_700_000_000;
/// A day.
pub const DAY: i64 = 86_400;

/// A trust-list signing key and the pinned key that goes with it.
pub struct ListKey {
    pub signing: SigningKey,
    pub pinned: PinnedKey,
}

impl ListKey {
    pub fn new(algorithm: SignatureAlgorithm) -> ListKey {
        let signing = SigningKey::generate(Backend::default(), algorithm).unwrap();
        let pinned =
            PinnedKey::from_spki_der(Backend::default(), &signing.public_key_spki_der()).unwrap();
        ListKey { signing, pinned }
    }

    pub fn spki(&self) -> Vec<u8> {
        self.signing.public_key_spki_der()
    }

    pub fn pins(&self) -> Vec<PinnedKey> {
        vec![self.pinned.clone()]
    }

    /// The national list of `pki`'s usable DSCs (ES256, PS256 and the EKU variants), signed by this key.
    pub fn list_of(&self, pki: &TestPki, version: u64, issued_at: i64, expires_at: i64) -> Vec<u8> {
        self.list(
            &usable_dscs(pki),
            &pki.country,
            version,
            issued_at,
            expires_at,
        )
    }

    /// A national list of these DSCs, all under `country`, signed by this key.
    pub fn list(
        &self,
        dscs: &[Certificate],
        country: &str,
        version: u64,
        issued_at: i64,
        expires_at: i64,
    ) -> Vec<u8> {
        let mut builder = TrustListBuilder::new(country).unwrap();
        for dsc in dscs {
            builder.add(dsc.clone(), country).unwrap();
        }
        builder
            .build(version, issued_at, expires_at, &self.signing, &self.spki())
            .unwrap()
            .into_bytes()
    }
}

/// The DSCs of a test PKI that a national list may carry.
pub fn usable_dscs(pki: &TestPki) -> Vec<Certificate> {
    [
        &pki.es256,
        &pki.ps256,
        &pki.es256_no_eku,
        &pki.es256_test_only,
        &pki.es256_client_auth_only,
    ]
    .iter()
    .map(|dsc| dsc.certificate.clone())
    .collect()
}

/// The import entry for `certificate` listed under `country`.
pub fn entry(certificate: &Certificate, country: &str) -> ImportEntry {
    ImportEntry::from(&trust_list::DscEntry::new(certificate, country))
}

/// A certificate authority rcgen can sign with.
pub struct Ca {
    pub params: CertificateParams,
    pub key: KeyPair,
    pub certificate: Certificate,
}

pub fn name(country: &str, common_name: &str) -> DistinguishedName {
    let mut name = DistinguishedName::new();
    name.push(DnType::CountryName, country);
    name.push(DnType::CommonName, common_name);
    name
}

fn serial(seed: &str) -> SerialNumber {
    use sha2::Digest as _;
    let digest = sha2::Sha256::digest(seed.as_bytes());
    let mut bytes = digest[..16].to_vec();
    bytes[0] &= 0x7f;
    SerialNumber::from_slice(&bytes)
}

/// CSCA parameters as the spec wants them: CA, pathLen 0, keyCertSign + cRLSign, SKI, 2020-2035.
pub fn csca_params(country: &str, common_name: &str) -> CertificateParams {
    let mut params = CertificateParams::default();
    params.distinguished_name = name(country, common_name);
    params.serial_number = Some(serial(common_name));
    params.not_before = keys::test_pki::CSCA_NOT_BEFORE_AT;
    params.not_after = keys::test_pki::CSCA_NOT_AFTER_AT;
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    params.key_identifier_method = KeyIdMethod::Sha256;
    params
}

/// DSC parameters: not a CA, digitalSignature, AKI, 2021-2031.
pub fn dsc_params(country: &str, common_name: &str) -> CertificateParams {
    let mut params = CertificateParams::default();
    params.distinguished_name = name(country, common_name);
    params.serial_number = Some(serial(common_name));
    params.not_before = keys::test_pki::DSC_NOT_BEFORE_AT;
    params.not_after = keys::test_pki::DSC_NOT_AFTER_AT;
    params.is_ca = IsCa::ExplicitNoCa;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.key_identifier_method = KeyIdMethod::Sha256;
    params.use_authority_key_identifier_extension = true;
    params
}

impl Ca {
    /// A self-signed CA from `params` with a new key of `algorithm`.
    pub fn self_signed(
        params: CertificateParams,
        algorithm: &'static rcgen::SignatureAlgorithm,
    ) -> Ca {
        Ca::self_signed_with(params, KeyPair::generate_for(algorithm).unwrap())
    }

    pub fn self_signed_with(params: CertificateParams, key: KeyPair) -> Ca {
        let der = params.self_signed(&key).unwrap();
        Ca {
            certificate: Certificate::from_der(der.der()).unwrap(),
            params,
            key,
        }
    }

    /// The CSCA of a test PKI, to sign more certificates with (its parameters rebuilt as generated).
    pub fn of(pki: &TestPki) -> Ca {
        let params = csca_params(&pki.country, &format!("VaxCert Test CSCA {}", pki.country));
        let key = KeyPair::try_from(pki.csca.pkcs8.as_slice()).unwrap();
        Ca {
            params,
            key,
            certificate: pki.csca.certificate.clone(),
        }
    }

    /// Signs `params` over `subject`'s public key.
    pub fn sign(&self, params: &CertificateParams, subject: &KeyPair) -> Certificate {
        let issuer = Issuer::from_params(&self.params, &self.key);
        let der = params.signed_by(subject, &issuer).unwrap();
        Certificate::from_der(der.der()).unwrap()
    }

    /// Signs `params` with this CA's key, but naming `aki` as the authority key id.
    pub fn sign_claiming_aki(
        &self,
        params: &CertificateParams,
        subject: &KeyPair,
        aki: &[u8],
    ) -> Certificate {
        let mut claimed = self.params.clone();
        claimed.key_identifier_method = KeyIdMethod::PreSpecified(aki.to_vec());
        let issuer = Issuer::from_params(&claimed, &self.key);
        let der = params.signed_by(subject, &issuer).unwrap();
        Certificate::from_der(der.der()).unwrap()
    }

    /// Signs `params` with this CA's key, but in the name (DN and AKI) of `other`.
    pub fn sign_as(
        &self,
        other: &Ca,
        params: &CertificateParams,
        subject: &KeyPair,
    ) -> Certificate {
        let mut claimed = other.params.clone();
        claimed.key_identifier_method =
            KeyIdMethod::PreSpecified(other.certificate.subject_key_id().unwrap().to_vec());
        let issuer = Issuer::from_params(&claimed, &self.key);
        let der = params.signed_by(subject, &issuer).unwrap();
        Certificate::from_der(der.der()).unwrap()
    }

    /// A DSC of `country` named `common_name`, with a new P-256 key.
    pub fn dsc(&self, country: &str, common_name: &str) -> Certificate {
        self.sign(&dsc_params(country, common_name), &p256_key())
    }

    /// An intermediate CA under this one.
    pub fn intermediate(&self, country: &str, common_name: &str) -> Ca {
        let mut params = csca_params(country, common_name);
        params.use_authority_key_identifier_extension = true;
        let key = p256_key();
        let certificate = self.sign(&params, &key);
        Ca {
            params,
            key,
            certificate,
        }
    }
}

pub fn p256_key() -> KeyPair {
    KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap()
}

/// The VN CSCA, as an rcgen issuer.
pub fn vn_ca() -> Ca {
    Ca::of(test_pki())
}

// --- DER surgery: certificates with keys rcgen cannot generate ---

fn der_length(length: usize) -> Vec<u8> {
    if length < 0x80 {
        return vec![length as u8];
    }
    let bytes: Vec<u8> = length
        .to_be_bytes()
        .into_iter()
        .skip_while(|&b| b == 0)
        .collect();
    [vec![0x80 | bytes.len() as u8], bytes].concat()
}

fn der(tag: u8, content: &[u8]) -> Vec<u8> {
    [vec![tag], der_length(content.len()), content.to_vec()].concat()
}

/// An EC SubjectPublicKeyInfo on the curve `curve_oid` (DER of the OID, tag included) with a dummy
/// uncompressed point of `point_len` bytes.
pub fn ec_spki(curve_oid: &[u8], point_len: usize) -> Vec<u8> {
    const EC_PUBLIC_KEY: &[u8] = &[0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];
    let algorithm = der(0x30, &[EC_PUBLIC_KEY, curve_oid].concat());
    let mut point = vec![0x00, 0x04];
    point.extend(std::iter::repeat_n(0x11, point_len - 1));
    der(0x30, &[algorithm, der(0x03, &point)].concat())
}

/// sect283k1 (1.3.132.0.16), a binary curve.
pub const SECT283K1: &[u8] = &[0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x10];
/// brainpoolP256r1 (1.3.36.3.3.2.8.1.1.7).
pub const BRAINPOOL_P256R1: &[u8] = &[
    0x06, 0x09, 0x2b, 0x24, 0x03, 0x03, 0x02, 0x08, 0x01, 0x01, 0x07,
];

/// `certificate` with its SubjectPublicKeyInfo replaced by `spki`, re-signed (ECDSA P-256 / SHA-256)
/// with the P-256 PKCS#8 key `signer_pkcs8` — or left with its old, now wrong, signature when `None`.
pub fn with_spki(
    certificate: &Certificate,
    spki: &[u8],
    signer_pkcs8: Option<&[u8]>,
) -> Certificate {
    use x509_parser::prelude::FromDer as _;
    let (_, parsed) =
        x509_parser::certificate::X509Certificate::from_der(certificate.der()).unwrap();
    let tbs = parsed.tbs_certificate.as_ref();
    let old_spki = parsed.tbs_certificate.subject_pki.raw;
    let at = tbs
        .windows(old_spki.len())
        .position(|window| window == old_spki)
        .unwrap();
    // The TBS content: after its SEQUENCE header.
    let header = 1 + der_length_len(tbs);
    let content = [&tbs[header..at], spki, &tbs[at + old_spki.len()..]].concat();
    let new_tbs = der(0x30, &content);
    let signature = match signer_pkcs8 {
        Some(pkcs8) => {
            use aws_lc_rs::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair};
            let key = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, pkcs8).unwrap();
            key.sign(&aws_lc_rs::rand::SystemRandom::new(), &new_tbs)
                .unwrap()
                .as_ref()
                .to_vec()
        }
        None => parsed.signature_value.data.to_vec(),
    };
    let algorithm = parsed.signature_algorithm.algorithm.to_id_string();
    assert_eq!(
        algorithm, "1.2.840.10045.4.3.2",
        "re-signing expects ecdsa-with-SHA256"
    );
    const ECDSA_SHA256: &[u8] = &[
        0x30, 0x0a, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02,
    ];
    let bits = [&[0u8][..], &signature].concat();
    let der = der(
        0x30,
        &[new_tbs, ECDSA_SHA256.to_vec(), der(0x03, &bits)].concat(),
    );
    Certificate::from_der(&der).unwrap()
}

/// The length of the length field of the DER element starting at `element[0]`.
fn der_length_len(element: &[u8]) -> usize {
    match element[1] {
        short if short < 0x80 => 1,
        long => 1 + usize::from(long & 0x7f),
    }
}

/// A JWS in flattened JSON serialization with exactly this protected header, signed by `signer`.
pub fn jws(header: &serde_json::Value, payload: &[u8], signer: &dyn keys::Signer) -> Vec<u8> {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let protected = b64.encode(serde_json::to_vec(header).unwrap());
    let payload = b64.encode(payload);
    let signature = signer
        .sign(format!("{protected}.{payload}").as_bytes())
        .unwrap();
    serde_json::to_vec(&serde_json::json!({
        "protected": protected, "payload": payload, "signature": b64.encode(signature),
    }))
    .unwrap()
}

/// The parts of a JWS, decoded: (protected header, payload JSON, signature bytes).
pub fn jws_parts(bytes: &[u8]) -> (serde_json::Value, serde_json::Value, Vec<u8>) {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let envelope: serde_json::Value = serde_json::from_slice(bytes).unwrap();
    let part = |name: &str| b64.decode(envelope[name].as_str().unwrap()).unwrap();
    (
        serde_json::from_slice(&part("protected")).unwrap(),
        serde_json::from_slice(&part("payload")).unwrap(),
        part("signature"),
    )
}
