//! Signing and verifying cost per algorithm and backend: ES256, PS256 (RSA-2048) and EdDSA.
//!
//! Keys are generated once (by the default backend) and loaded into every backend from PKCS#8; verifying
//! keys are prepared once, so the numbers are the per-signature cost a verifier pays.

use criterion::{Criterion, criterion_group, criterion_main};
use keys::{Backend, SignatureAlgorithm, Signer as _, SigningKey};
use std::hint::black_box;

/// About the size of a COSE Sig_structure over a real DCC payload.
const MESSAGE: [u8; 400] = [0x5a; 400];

fn signatures(c: &mut Criterion) {
    for algorithm in [
        SignatureAlgorithm::Es256,
        SignatureAlgorithm::Ps256,
        SignatureAlgorithm::EdDsa,
    ] {
        let Ok(generated) = SigningKey::generate(Backend::default(), algorithm) else {
            eprintln!("skipped {}: key generation failed", algorithm.name());
            continue;
        };
        let pkcs8 = generated.to_pkcs8_der();
        let spki = generated.public_key_spki_der();
        let Ok(signature) = generated.sign(&MESSAGE) else {
            eprintln!("skipped {}: signing failed", algorithm.name());
            continue;
        };
        let mut group = c.benchmark_group(algorithm.name());
        for &backend in Backend::all() {
            let (Ok(signer), Ok(verifier)) = (
                SigningKey::from_pkcs8_der(backend, &pkcs8),
                backend.verifying_key_from_spki(&spki),
            ) else {
                eprintln!(
                    "skipped {} / {}: key not loaded",
                    algorithm.name(),
                    backend.name()
                );
                continue;
            };
            group.bench_function(format!("verify/{}", backend.name()), |b| {
                b.iter(|| verifier.verify(black_box(&MESSAGE), black_box(&signature)));
            });
            group.bench_function(format!("sign/{}", backend.name()), |b| {
                b.iter(|| signer.sign(black_box(&MESSAGE)));
            });
        }
        group.finish();
    }
}

criterion_group!(benches, signatures);
criterion_main!(benches);
