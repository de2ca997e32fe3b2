//! Forging certificates for tests: valid ones from the test PKI, and every malformed variation.

use std::sync::Arc;

use hcert::{Algorithm, ClaimsBuilder};
use keys::test_pki::{TestDsc, TestPki, test_pki};
use keys::{Backend, Signer};
use serde_json::{Value, json};
use time::OffsetDateTime;
use verifier::{Code, Detail, Input, Report, TrustStore, Verifier};

/// The validation clock of these tests: 2023-11-14T22:13:20Z, inside every normal DSC's validity.
pub const AT: i64 = 1_700_000_000;
/// Issued a day before [`AT`].
pub const IAT: i64 = AT - 86_400;
/// Expires a year after [`IAT`].
pub const EXP: i64 = IAT + 365 * 86_400;

pub fn pki() -> &'static TestPki {
    test_pki()
}

pub fn at(seconds: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(seconds).unwrap()
}

/// A verifier trusting exactly these DSCs, in `backend`.
pub fn verifier_in(backend: Backend, dscs: &[&TestDsc]) -> Verifier {
    let mut store = TrustStore::new(backend);
    for dsc in dscs {
        store.insert(dsc.certificate.clone());
    }
    Verifier::new(Arc::new(store), None)
}

/// A verifier trusting exactly these DSCs, in the default backend.
pub fn verifier(dscs: &[&TestDsc]) -> Verifier {
    verifier_in(Backend::default(), dscs)
}

/// A valid vaccination payload (Viet Nam, Pfizer dose 2 of 2).
pub fn vaccination() -> Value {
    json!({
        "ver": "1.3.0",
        "nam": {"fn": "Nguyễn", "fnt": "NGUYEN", "gn": "Bảo Duy", "gnt": "BAO<DUY"},
        "dob": "1983-10-10",
        "v": [{"tg": "840539006", "vp": "1119349007", "mp": "EU/1/20/1528", "ma": "ORG-100030215",
               "dn": 2, "sd": 2, "dt": "2021-09-14", "co": "VN", "is": "Ministry of Health of Viet Nam",
               "ci": "URN:UVCI:01:VN:0123456789ABCDEF0123456789ABCDEF#X"}]
    })
}

/// A valid test payload.
pub fn test_result() -> Value {
    json!({
        "ver": "1.3.0", "nam": {"fnt": "NGUYEN", "gnt": "AN"}, "dob": "1990",
        "t": [{"tg": "840539006", "tt": "LP6464-4", "nm": "PCR", "sc": "2021-09-14T08:00:00Z",
               "tr": "260415000", "tc": "Hospital", "co": "VN", "is": "Ministry of Health of Viet Nam",
               "ci": "URN:UVCI:01:VN:TEST#1"}]
    })
}

/// A valid recovery payload.
pub fn recovery() -> Value {
    json!({
        "ver": "1.3.0", "nam": {"gnt": "LAN"}, "dob": "1975-01",
        "r": [{"tg": "840539006", "fr": "2021-08-01", "co": "VN", "is": "Ministry of Health of Viet Nam",
               "df": "2021-08-12", "du": "2022-01-28", "ci": "URN:UVCI:01:VN:REC#2"}]
    })
}

/// CWT claims for `dcc`, issued by VN at [`IAT`], expiring at [`EXP`].
pub fn claims(dcc: &Value) -> Vec<u8> {
    ClaimsBuilder::new("VN", IAT, EXP).encode(dcc).unwrap()
}

/// The COSE algorithm of a DSC's key.
pub fn alg_of(signer: &dyn Signer) -> Algorithm {
    Algorithm::from_cose_id(i128::from(signer.algorithm().cose_id())).unwrap()
}

/// A tagged COSE_Sign1 over `payload`, signed by `dsc` with its kid in the protected header.
pub fn sign(dsc: &TestDsc, payload: &[u8]) -> Vec<u8> {
    let kid = dsc.certificate.kid();
    hcert::sign1(alg_of(&dsc.key), kid.as_bytes(), payload, |tbs| {
        dsc.key.sign(tbs)
    })
    .unwrap()
}

/// The `HC1:` text of COSE bytes.
pub fn hc1(cose: &[u8]) -> String {
    hcert::encode_transport(cose)
}

/// A valid certificate for `dcc`, signed by `dsc`.
pub fn issue(dsc: &TestDsc, dcc: &Value) -> String {
    hc1(&sign(dsc, &claims(dcc)))
}

/// Verifies `text` at [`AT`].
pub fn run(verifier: &Verifier, text: &str) -> Report {
    verifier.verify(Input::Text(text), at(AT), Detail::default())
}

/// Verifies `text` at [`AT`] and asserts the outcome code.
pub fn check(verifier: &Verifier, text: &str, code: Code) -> Report {
    let report = run(verifier, text);
    assert_eq!(report.code, code, "{}: {}", report.code, report.message);
    assert_eq!(report.valid, code == Code::Ok);
    report
}

/// A CBOR byte-string head and body.
pub fn bstr(bytes: &[u8]) -> Vec<u8> {
    let mut out = head(2, bytes.len() as u64);
    out.extend_from_slice(bytes);
    out
}

/// A CBOR head in shortest form.
pub fn head(major: u8, value: u64) -> Vec<u8> {
    let major = major << 5;
    match value {
        0..=23 => vec![major | value as u8],
        24..=0xff => vec![major | 24, value as u8],
        0x100..=0xffff => [vec![major | 25], (value as u16).to_be_bytes().to_vec()].concat(),
        _ => [vec![major | 26], (value as u32).to_be_bytes().to_vec()].concat(),
    }
}

/// The protected header `{1: alg, 4: kid}` as CBOR map bytes.
pub fn protected_alg_kid(alg: Algorithm, kid: &[u8]) -> Vec<u8> {
    let mut out = vec![0xa2, 0x01];
    out.extend(head(1, (-1 - i64::from(alg.cose_id())) as u64));
    out.push(0x04);
    out.extend(bstr(kid));
    out
}

/// The `Signature1` Sig_structure (RFC 8152 §4.4), built here independently of the library.
pub fn to_be_signed(protected: &[u8], payload: &[u8]) -> Vec<u8> {
    let mut out = vec![0x84, 0x6a];
    out.extend_from_slice(b"Signature1");
    out.extend(bstr(protected));
    out.push(0x40);
    out.extend(bstr(payload));
    out
}

/// `tags ‖ [bstr(protected), unprotected, bstr(payload), bstr(signature)]`.
pub fn cose_raw(
    tags: &[u8],
    protected: &[u8],
    unprotected: &[u8],
    payload: &[u8],
    signature: &[u8],
) -> Vec<u8> {
    let mut out = tags.to_vec();
    out.push(0x84);
    out.extend(bstr(protected));
    out.extend_from_slice(unprotected);
    out.extend(bstr(payload));
    out.extend(bstr(signature));
    out
}

/// A message with these headers over valid claims, signed by `dsc` over the matching Sig_structure.
pub fn signed_with_headers(
    dsc: &TestDsc,
    tags: &[u8],
    protected: &[u8],
    unprotected: &[u8],
) -> String {
    let payload = claims(&vaccination());
    let signature = dsc.key.sign(&to_be_signed(protected, &payload)).unwrap();
    hc1(&cose_raw(
        tags,
        protected,
        unprotected,
        &payload,
        &signature,
    ))
}

/// An empty unprotected header.
pub const NO_HEADER: &[u8] = &[0xa0];

/// The unprotected header `{4: kid}`.
pub fn unprotected_kid(kid: &[u8]) -> Vec<u8> {
    [vec![0xa1, 0x04], bstr(kid)].concat()
}

/// A function making a payload.
pub type Payload = fn() -> Value;
