//! Verifying one ES256 `HC1:` certificate end to end, against the floor (the bare signature check of the
//! same backend over the same bytes) and against the `dgc` crate, all in one run.
//!
//! `cargo bench -p vaxcert-benchmarks --bench verify`

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    missing_docs
)]

use std::hint::black_box;
use std::sync::Arc;

use base64::Engine;
use criterion::{Criterion, criterion_group, criterion_main};
use keys::test_pki::{TestDsc, test_pki};
use keys::{Backend, Signer};
use time::OffsetDateTime;
use verifier::{Code, Detail, Input, TrustStore, Verifier};

fn certificate(dsc: &TestDsc) -> String {
    let dcc = serde_json::json!({
        "ver": "1.3.0",
        "nam": {"fn": "Nguyễn", "fnt": "NGUYEN", "gn": "Bảo Duy", "gnt": "BAO<DUY"},
        "dob": "1983-10-10",
        "v": [{"tg": "840539006", "vp": "1119349007", "mp": "EU/1/20/1528", "ma": "ORG-100030215",
               "dn": 2, "sd": 2, "dt": "2021-09-14", "co": "VN", "is": "Ministry of Health of Viet Nam",
               "ci": "URN:UVCI:01:VN:0123456789ABCDEF0123456789ABCDEF#X"}]
    });
    let claims = hcert::ClaimsBuilder::new("VN", 1_690_000_000, 1_720_000_000)
        .encode(&dcc)
        .unwrap();
    let kid = dsc.certificate.kid();
    let alg = match dsc.key.algorithm() {
        keys::SignatureAlgorithm::Ps256 => hcert::Algorithm::Ps256,
        _ => hcert::Algorithm::Es256,
    };
    hcert::encode_transport(
        &hcert::sign1(alg, kid.as_bytes(), &claims, |tbs| dsc.key.sign(tbs)).unwrap(),
    )
}

fn bench(c: &mut Criterion) {
    let pki = test_pki();
    let at = OffsetDateTime::from_unix_timestamp(1_700_000_000).unwrap();
    for (name, dsc) in [("es256", &pki.es256), ("ps256", &pki.ps256)] {
        let text = certificate(dsc);
        let cose_bytes = hcert::decode_transport(&text).unwrap();
        let cose = hcert::CoseSign1::parse(&cose_bytes).unwrap();
        let (to_be_signed, signature) = (cose.to_be_signed(), cose.signature().to_vec());

        let mut group = c.benchmark_group(format!("verify_{name}"));
        for backend in Backend::all() {
            let key = backend.verifying_key(&dsc.certificate).unwrap();
            group.bench_function(format!("bare_signature/{}", backend.name()), |b| {
                b.iter(|| {
                    key.verify(black_box(&to_be_signed), black_box(&signature))
                        .unwrap()
                })
            });
            let mut store = TrustStore::new(*backend);
            store.insert(dsc.certificate.clone());
            let verifier = Verifier::new(Arc::new(store), None);
            assert_eq!(
                verifier
                    .verify(Input::Text(&text), at, Detail::default())
                    .code,
                Code::Ok
            );
            group.bench_function(format!("end_to_end/{}", backend.name()), |b| {
                b.iter(|| verifier.verify(Input::Text(black_box(&text)), at, Detail::default()))
            });
        }

        let mut trust = dgc::TrustList::default();
        let der = base64::engine::general_purpose::STANDARD.encode(dsc.certificate.der());
        trust.add_key_from_certificate(&der).unwrap();
        assert!(
            dgc::validate(&text, &trust).unwrap().1.is_valid(),
            "dgc verifies our certificate"
        );
        group.bench_function("dgc_0.0.7", |b| {
            b.iter(|| dgc::validate(black_box(&text), &trust).unwrap())
        });
        group.finish();
    }
}

/// Each stage of the pipeline on its own, to see where the time beyond the signature goes.
fn stages(c: &mut Criterion) {
    let dsc = &test_pki().es256;
    let text = certificate(dsc);
    let cose_bytes = hcert::decode_transport(&text).unwrap();
    let cose = hcert::CoseSign1::parse(&cose_bytes).unwrap();
    let claims = hcert::Claims::decode(cose.payload()).unwrap();
    let compressed = hcert::base45_decode(text.trim_start_matches("HC1:")).unwrap();
    let mut group = c.benchmark_group("stages");
    group.bench_function("base45", |b| {
        b.iter(|| hcert::base45_decode(black_box(&text[4..])).unwrap())
    });
    group.bench_function("inflate", |b| {
        b.iter(|| hcert::inflate(black_box(&compressed)).unwrap())
    });
    group.bench_function("cose_parse", |b| {
        b.iter(|| hcert::CoseSign1::parse(black_box(&cose_bytes)).unwrap())
    });
    group.bench_function("to_be_signed", |b| {
        b.iter(|| black_box(&cose).to_be_signed())
    });
    group.bench_function("claims_decode", |b| {
        b.iter(|| hcert::Claims::decode(black_box(cose.payload())).unwrap())
    });
    group.bench_function("schema", |b| {
        b.iter(|| hcert::validate_schema(black_box(&claims.dcc), None).unwrap())
    });
    group.finish();
}

criterion_group!(benches, bench, stages);
criterion_main!(benches);
