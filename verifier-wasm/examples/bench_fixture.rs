//! Writes what `scripts/bench-wasm` times in headless Chromium: signed lists under a fresh pinned key, a
//! certificate signed by the test PKI and its QR code as a PNG, into the folder given as argument.
//!
//! `cargo run -p verifier-wasm --example bench_fixture -- OUT_DIR`

use std::path::PathBuf;

use keys::test_pki::test_pki;
use keys::{Backend, SignatureAlgorithm, Signer, SigningKey};
use trust_list::{RevocationListBuilder, TrustListBuilder};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let out = PathBuf::from(
        std::env::args()
            .nth(1)
            .ok_or("usage: bench_fixture OUT_DIR")?,
    );
    std::fs::create_dir_all(&out)?;
    let key = SigningKey::generate(Backend::default(), SignatureAlgorithm::Es256)?;
    let spki = key.public_key_spki_der();
    let dsc = &test_pki().es256;
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let mut builder = TrustListBuilder::new("VN")?;
    builder.add(dsc.certificate.clone(), "VN")?;
    let trust_list = builder.build(1, now - 60, now + 30 * 86_400, &key, &spki)?;
    let revocations = RevocationListBuilder::new().build(1, now - 60, now + 86_400, &key, &spki)?;
    let dcc = serde_json::json!({
        "ver": "1.3.0",
        "nam": {"fn": "Nguyễn", "fnt": "NGUYEN", "gn": "Bảo Duy", "gnt": "BAO<DUY"},
        "dob": "1983-10-10",
        "v": [{"tg": "840539006", "vp": "1119349007", "mp": "EU/1/20/1528", "ma": "ORG-100030215",
               "dn": 2, "sd": 2, "dt": "2021-09-14", "co": "VN", "is": "Ministry of Health of Viet Nam",
               "ci": "URN:UVCI:01:VN:0123456789ABCDEF0123456789ABCDEF#X"}]
    });
    let claims = hcert::ClaimsBuilder::new("VN", now - 3600, now + 365 * 86_400).encode(&dcc)?;
    let kid = dsc.certificate.kid();
    let cose = hcert::sign1(hcert::Algorithm::Es256, kid.as_bytes(), &claims, |tbs| {
        dsc.key.sign(tbs)
    })?;
    let text = hcert::encode_transport(&cose);
    std::fs::write(out.join("trust-list.jws"), trust_list.as_bytes())?;
    std::fs::write(out.join("revocation-list.jws"), revocations.as_bytes())?;
    std::fs::write(
        out.join("key.pem"),
        pem::encode(&pem::Pem::new("PUBLIC KEY", spki.to_vec())),
    )?;
    std::fs::write(out.join("certificate.txt"), &text)?;
    std::fs::write(
        out.join("certificate.png"),
        hcert::render_png(&text, &hcert::RenderOptions::DEFAULT)?,
    )?;
    Ok(())
}
