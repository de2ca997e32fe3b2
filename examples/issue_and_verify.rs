//! Issue one certificate with the generated test PKI, then verify it: the whole format in one page.
//!
//! `cargo run -p vaxcert-examples --example issue_and_verify`

use std::sync::Arc;

use anyhow::Result;
use keys::Signer;
use keys::test_pki::test_pki;
use time::OffsetDateTime;
use verifier::{Detail, Input, TrustStore, Verifier};

fn main() -> Result<()> {
    let dsc = &test_pki().es256;
    let now = OffsetDateTime::now_utc().unix_timestamp();

    // 1. The DCC payload (schema 1.3.0): one vaccination.
    let dcc = serde_json::json!({
        "ver": "1.3.0",
        "nam": {"fn": "Nguyễn", "fnt": "NGUYEN", "gn": "Bảo Duy", "gnt": "BAO<DUY"},
        "dob": "1983-10-10",
        "v": [{"tg": "840539006", "vp": "1119349007", "mp": "EU/1/20/1528", "ma": "ORG-100030215",
               "dn": 2, "sd": 2, "dt": "2021-09-14", "co": "VN", "is": "Ministry of Health of Viet Nam",
               "ci": "URN:UVCI:01:VN:0123456789ABCDEF0123456789ABCDEF#X"}]
    });
    // 2. CWT claims, 3. COSE_Sign1 signed by the DSC, 4. zlib + Base45 + "HC1:".
    let claims = hcert::ClaimsBuilder::new("VN", now, now + 365 * 86_400).encode(&dcc)?;
    let kid = dsc.certificate.kid();
    let cose = hcert::sign1(hcert::Algorithm::Es256, kid.as_bytes(), &claims, |tbs| {
        dsc.key.sign(tbs)
    })?;
    let text = hcert::encode_transport(&cose);
    println!("{text}\n");

    // 5. Verify it against a trust store holding that DSC.
    let mut store = TrustStore::new(keys::Backend::default());
    store.insert(dsc.certificate.clone());
    let verifier = Verifier::new(Arc::new(store), None);
    let report = verifier.verify(
        Input::Text(&text),
        OffsetDateTime::now_utc(),
        Detail::default(),
    );
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(())
}
