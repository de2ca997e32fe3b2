//! Trust-list benchmarks (issue 3, "Performance"):
//! - building and signing a national list of 10,000 DSCs (goal < 1 s), and verifying and loading it
//!   into a store (goal < 1 s); importing the same 10,000 against their CSCA, for scale;
//! - kid lookup, and lookup + ES256 verification, in stores of 10, 1,000 and 100,000 DSCs (flat).
//!
//! DSCs are generated cheaply: one CSCA, one DSC key reused, distinct serials and names — their DERs
//! differ, so their kids do.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    missing_docs
)]

use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use keys::{Backend, Certificate, SignatureAlgorithm, Signer, SigningKey};
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, IsCa, Issuer, KeyIdMethod,
    KeyPair, KeyUsagePurpose, SerialNumber,
};
use trust_list::{ImportEntry, PinnedKey, TrustList, TrustListBuilder, TrustStore, import};

const NOW: i64 = 1_700_000_000;

struct Pki {
    csca: Certificate,
    dscs: Vec<Certificate>,
    dsc_key: SigningKey,
}

fn name(common_name: &str) -> DistinguishedName {
    let mut name = DistinguishedName::new();
    name.push(DnType::CountryName, "VN");
    name.push(DnType::CommonName, common_name);
    name
}

/// A CSCA and `count` DSCs sharing one P-256 key.
fn pki(count: usize) -> Pki {
    let csca_key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let mut csca_params = CertificateParams::default();
    csca_params.distinguished_name = name("Bench CSCA");
    csca_params.not_before = keys::test_pki::CSCA_NOT_BEFORE_AT;
    csca_params.not_after = keys::test_pki::CSCA_NOT_AFTER_AT;
    csca_params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    csca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign];
    csca_params.key_identifier_method = KeyIdMethod::Sha256;
    let csca = Certificate::from_der(csca_params.self_signed(&csca_key).unwrap().der()).unwrap();
    let issuer = Issuer::from_params(&csca_params, &csca_key);

    let dsc_key = SigningKey::generate(Backend::default(), SignatureAlgorithm::Es256).unwrap();
    let dsc_rcgen_key = KeyPair::try_from(dsc_key.to_pkcs8_der().as_slice()).unwrap();
    let dscs = (0..count)
        .map(|i| {
            let mut params = CertificateParams::default();
            params.distinguished_name = name(&format!("Bench DSC {i}"));
            params.serial_number = Some(SerialNumber::from_slice(
                &[&[1u8][..], &(i as u64).to_be_bytes()].concat(),
            ));
            params.not_before = keys::test_pki::DSC_NOT_BEFORE_AT;
            params.not_after = keys::test_pki::DSC_NOT_AFTER_AT;
            params.is_ca = IsCa::ExplicitNoCa;
            params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
            params.use_authority_key_identifier_extension = true;
            let der = params.signed_by(&dsc_rcgen_key, &issuer).unwrap();
            Certificate::from_der(der.der()).unwrap()
        })
        .collect();
    Pki {
        csca,
        dscs,
        dsc_key,
    }
}

fn lists(c: &mut Criterion) {
    let pki = pki(10_000);
    let list_key = SigningKey::generate(Backend::default(), SignatureAlgorithm::Es256).unwrap();
    let spki = list_key.public_key_spki_der();
    let pinned = [PinnedKey::from_spki_der(Backend::default(), &spki).unwrap()];
    let build = |dscs: &[Certificate]| {
        let mut builder = TrustListBuilder::new("VN").unwrap();
        for dsc in dscs {
            builder.add(dsc.clone(), "VN").unwrap();
        }
        builder
            .build(1, NOW, NOW + 86_400, &list_key, &spki)
            .unwrap()
    };
    let document = build(&pki.dscs);
    eprintln!(
        "a list of {} DSCs: {} bytes",
        pki.dscs.len(),
        document.as_bytes().len()
    );

    let mut group = c.benchmark_group("national_list_10000");
    group.sample_size(10);
    group.bench_function("build_and_sign", |b| b.iter(|| build(black_box(&pki.dscs))));
    group.bench_function("verify", |b| {
        b.iter(|| TrustList::verify(black_box(document.as_bytes()), &pinned, NOW).unwrap())
    });
    group.bench_function("verify_and_load", |b| {
        b.iter(|| {
            TrustList::verify(black_box(document.as_bytes()), &pinned, NOW)
                .unwrap()
                .store(Backend::default())
        })
    });
    let list = TrustList::verify(document.as_bytes(), &pinned, NOW).unwrap();
    let entries: Vec<ImportEntry> = list.dscs().iter().map(ImportEntry::from).collect();
    let anchors = [pki.csca.clone()];
    group.bench_function("import", |b| {
        b.iter(|| {
            let outcome = import(black_box(&entries), &anchors, NOW, Backend::default());
            assert_eq!(outcome.accepted.len(), entries.len());
            outcome
        })
    });
    group.finish();
}

fn lookups(c: &mut Criterion) {
    let largest = pki(100_000);
    let message =
        b"a Sig_structure of typical length, some two hundred bytes once the CWT is in it";
    let signature = largest.dsc_key.sign(message).unwrap();
    let mut group = c.benchmark_group("store");
    for size in [10usize, 1_000, 100_000] {
        let mut store = TrustStore::new(Backend::default());
        for dsc in &largest.dscs[..size] {
            store.insert(dsc.clone());
        }
        let kids: Vec<[u8; 8]> = largest.dscs[..size]
            .iter()
            .map(|dsc| *dsc.kid().as_bytes())
            .collect();
        let mut next = 0usize;
        group.bench_with_input(BenchmarkId::new("lookup", size), &size, |b, _| {
            b.iter(|| {
                next = (next + 7919) % kids.len();
                black_box(store.get(black_box(&kids[next]))).len()
            })
        });
        group.bench_with_input(
            BenchmarkId::new("lookup_and_verify_es256", size),
            &size,
            |b, _| {
                b.iter(|| {
                    next = (next + 7919) % kids.len();
                    let dsc = &store.get(black_box(&kids[next]))[0];
                    dsc.key().unwrap().verify(message, &signature).unwrap();
                })
            },
        );
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(3));
    targets = lists, lookups
}
criterion_main!(benches);
