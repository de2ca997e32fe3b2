//! Writes N test certificates (one `HC1:` line each) and the DSC that signed them, for load runs.
//!
//! `cargo run --release -p vaxcert-examples --example generate_certificates -- <count> <out-dir> [es256|ps256]`

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use keys::Signer;
use keys::test_pki::test_pki;

fn main() -> Result<()> {
    let mut args = std::env::args().skip(1);
    let count: usize = args
        .next()
        .context("usage: <count> <out-dir> [es256|ps256]")?
        .parse()?;
    let out = PathBuf::from(args.next().context("missing <out-dir>")?);
    let (dsc, alg) = match args.next().as_deref() {
        None | Some("es256") => (&test_pki().es256, hcert::Algorithm::Es256),
        Some("ps256") => (&test_pki().ps256, hcert::Algorithm::Ps256),
        Some(other) => bail!("unknown algorithm {other}"),
    };
    std::fs::create_dir_all(&out)?;
    let pem = pem::encode(&pem::Pem::new(
        "CERTIFICATE",
        dsc.certificate.der().to_vec(),
    ));
    std::fs::write(out.join("dsc.pem"), pem)?;

    let kid = dsc.certificate.kid();
    let mut lines = std::io::BufWriter::new(std::fs::File::create(out.join("certificates.txt"))?);
    for n in 0..count {
        let dcc = serde_json::json!({
            "ver": "1.3.0",
            "nam": {"fn": "Nguyễn", "fnt": "NGUYEN", "gn": "Bảo Duy", "gnt": "BAO<DUY"},
            "dob": "1983-10-10",
            "v": [{"tg": "840539006", "vp": "1119349007", "mp": "EU/1/20/1528", "ma": "ORG-100030215",
                   "dn": 2, "sd": 2, "dt": "2021-09-14", "co": "VN", "is": "Ministry of Health of Viet Nam",
                   "ci": format!("URN:UVCI:01:VN:{n:032X}")}]
        });
        let claims = hcert::ClaimsBuilder::new("VN", 1_690_000_000, 1_720_000_000).encode(&dcc)?;
        let cose = hcert::sign1(alg, kid.as_bytes(), &claims, |tbs| dsc.key.sign(tbs))?;
        writeln!(lines, "{}", hcert::encode_transport(&cose))?;
    }
    lines.flush()?;
    eprintln!(
        "wrote {count} certificates and dsc.pem to {}",
        out.display()
    );
    Ok(())
}
