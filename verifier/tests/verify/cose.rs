//! adversarial.md, "CBOR / COSE": structure, headers, algorithm, signature format and validity.

use hcert::Algorithm;
use keys::Signer;
use verifier::{CheckState, Code};

use crate::support::*;

fn v() -> verifier::Verifier {
    verifier(&[&pki().es256, &pki().ps256, &pki().eddsa])
}

fn kid() -> Vec<u8> {
    pki().es256.certificate.kid().as_bytes().to_vec()
}

fn b45(bytes: &[u8]) -> String {
    hc1(bytes)
}

#[test]
fn malformed_cbor() {
    // Nesting deeper than the limit.
    let deep = [vec![0x81; 40], vec![0x00]].concat();
    check(&v(), &b45(&deep), Code::Cbor);
    // Declared lengths of 2^63.
    check(&v(), &b45(&[0x9b, 0x80, 0, 0, 0, 0, 0, 0, 0]), Code::Cbor);
    check(&v(), &b45(&[0x5b, 0x80, 0, 0, 0, 0, 0, 0, 0]), Code::Cbor);
    // A map of 100k entries declared, few present.
    check(
        &v(),
        &b45(&[0xba, 0x00, 0x01, 0x86, 0xa0, 0x01, 0x02]),
        Code::Cbor,
    );
    // Invalid UTF-8 in a text string inside the message.
    let bad_text = cose_raw(
        &[0xd2],
        &protected_alg_kid(Algorithm::Es256, &kid()),
        &[0xa1, 0x03, 0x62, 0xc3, 0x28],
        b"\xa0",
        &[0; 64],
    );
    check(&v(), &b45(&bad_text), Code::Cbor);
    // An integer followed by trailing bytes (CBO2).
    check(&v(), &b45(&[0x00, 0x91, 0x62]), Code::Cbor);
    // A valid message followed by trailing bytes.
    let mut trailing = sign(&pki().es256, &claims(&vaccination()));
    trailing.push(0x00);
    check(&v(), &b45(&trailing), Code::Cbor);
}

#[test]
fn wrong_structures() {
    let protected = protected_alg_kid(Algorithm::Es256, &kid());
    let payload = claims(&vaccination());
    for tags in [&[0xd8, 0x62][..], &[0xd1], &[0xd0], &[0xd8, 0x60]] {
        check(
            &v(),
            &b45(&cose_raw(tags, &protected, NO_HEADER, &payload, &[0; 64])),
            Code::CoseStructure,
        );
    }
    let mut three = cose_raw(&[0xd2], &protected, NO_HEADER, &payload, &[]);
    three[1] = 0x83;
    three.truncate(three.len() - 1);
    check(&v(), &b45(&three), Code::CoseStructure);
    check(&v(), &b45(&[0xd2, 0xa0]), Code::CoseStructure);
    check(&v(), &b45(&[0xd2, 0x01]), Code::CoseStructure);
    // Unprotected header as a byte string.
    check(
        &v(),
        &b45(&cose_raw(&[0xd2], &protected, &[0x40], &payload, &[0; 64])),
        Code::CoseStructure,
    );
}

#[test]
fn accepted_tags() {
    let dsc = &pki().es256;
    let protected = protected_alg_kid(Algorithm::Es256, &kid());
    for tags in [&[0xd2][..], &[], &[0xd8, 0x3d, 0xd2]] {
        check(
            &v(),
            &signed_with_headers(dsc, tags, &protected, NO_HEADER),
            Code::Ok,
        );
    }
}

#[test]
fn protected_header_failures() {
    let payload = claims(&vaccination());
    let message = |protected: &[u8]| {
        b45(&cose_raw(
            &[0xd2],
            protected,
            &unprotected_kid(&kid()),
            &payload,
            &[0; 64],
        ))
    };
    check(
        &v(),
        &message(&[0xa2, 0x01, 0x26, 0x01, 0x26]),
        Code::ProtectedHeader,
    ); // duplicate alg
    check(&v(), &message(&[0x80]), Code::ProtectedHeader); // a bstr that is not a map
    check(&v(), &message(&[0xa1, 0x01]), Code::ProtectedHeader); // truncated
    check(
        &v(),
        &message(&[0xa2, 0x01, 0x26, 0x02, 0x81, 0x18, 0x2a]),
        Code::ProtectedHeader,
    ); // crit [42]
    // The protected header not a byte string at all.
    let mut not_bstr = vec![0xd2, 0x84, 0xa1, 0x01, 0x26];
    not_bstr.extend(unprotected_kid(&kid()));
    not_bstr.extend(bstr(&payload));
    not_bstr.extend(bstr(&[0; 64]));
    check(&v(), &b45(&not_bstr), Code::ProtectedHeader);
}

#[test]
fn algorithm_rules() {
    let payload = claims(&vaccination());
    let message = |protected: &[u8], unprotected: &[u8]| {
        b45(&cose_raw(
            &[0xd2],
            protected,
            unprotected,
            &payload,
            &[0; 64],
        ))
    };
    let kid_header = unprotected_kid(&kid());
    check(&v(), &message(&[], &kid_header), Code::AlgMissing);
    check(
        &v(),
        &message(&[0xa1, 0x01, 0x00], &kid_header),
        Code::AlgUnsupported,
    ); // 0
    check(
        &v(),
        &message(&[0xa1, 0x01, 0x39, 0x01, 0x00], &kid_header),
        Code::AlgUnsupported,
    ); // RS256
    check(
        &v(),
        &message(&[0xa1, 0x01, 0x38, 0x22], &kid_header),
        Code::AlgUnsupported,
    ); // ES384
    check(
        &v(),
        &message(
            &[0xa1, 0x01, 0x65, b'E', b'S', b'2', b'5', b'6'],
            &kid_header,
        ),
        Code::AlgUnsupported,
    );
}

#[test]
fn unprotected_alg_is_used_only_without_a_protected_one() {
    let dsc = &pki().es256;
    // CO20: everything unprotected is valid.
    let mut unprotected = vec![0xa2, 0x01, 0x26, 0x04];
    unprotected.extend(bstr(&kid()));
    check(
        &v(),
        &signed_with_headers(dsc, &[0xd2], &[], &unprotected),
        Code::Ok,
    );
    // A protected PS256 is not overridden by an unprotected ES256: the ES256 key does not fit PS256.
    let protected = [vec![0xa1, 0x01, 0x38, 0x24]].concat();
    check(
        &v(),
        &signed_with_headers(dsc, &[0xd2], &protected, &unprotected),
        Code::AlgKeyMismatch,
    );
}

#[test]
fn algorithm_bound_to_key_type() {
    let pki = pki();
    let payload = claims(&vaccination());
    let forged = |alg: Algorithm, kid: &[u8], signature: Vec<u8>| {
        let protected = protected_alg_kid(alg, kid);
        b45(&cose_raw(
            &[0xd2],
            &protected,
            NO_HEADER,
            &payload,
            &signature,
        ))
    };
    // ES256 header with an RSA DSC.
    check(
        &v(),
        &forged(
            Algorithm::Es256,
            pki.ps256.certificate.kid().as_bytes(),
            vec![1; 64],
        ),
        Code::AlgKeyMismatch,
    );
    // PS256 with an EC key, EdDSA with a P-256 key.
    check(
        &v(),
        &forged(Algorithm::Ps256, &kid(), vec![1; 256]),
        Code::AlgKeyMismatch,
    );
    check(
        &v(),
        &forged(Algorithm::EdDsa, &kid(), vec![1; 64]),
        Code::AlgKeyMismatch,
    );
    // ES256 with a P-384 key (ES/401-403).
    let mut store = verifier::TrustStore::new(keys::Backend::default());
    store.insert(pki.p384.certificate.clone());
    let p384 = verifier::Verifier::new(std::sync::Arc::new(store), None);
    let p384_kid = pki.p384.certificate.kid();
    let protected = protected_alg_kid(Algorithm::Es256, p384_kid.as_bytes());
    let signature = pki.p384.sign(&to_be_signed(&protected, &payload)).unwrap();
    check(
        &p384,
        &b45(&cose_raw(
            &[0xd2],
            &protected,
            NO_HEADER,
            &payload,
            &signature,
        )),
        Code::AlgKeyMismatch,
    );
}

#[test]
fn es256_signature_format() {
    let dsc = &pki().es256;
    let payload = claims(&vaccination());
    let protected = protected_alg_kid(Algorithm::Es256, &kid());
    let good = dsc.key.sign(&to_be_signed(&protected, &payload)).unwrap();
    let with = |signature: &[u8]| {
        b45(&cose_raw(
            &[0xd2],
            &protected,
            NO_HEADER,
            &payload,
            signature,
        ))
    };
    check(&v(), &with(&good), Code::Ok);
    // DER instead of r‖s.
    let mut der = vec![0x30, 0x44, 0x02, 0x20];
    der.extend_from_slice(&good[..32]);
    der.extend_from_slice(&[0x02, 0x20]);
    der.extend_from_slice(&good[32..]);
    check(&v(), &with(&der), Code::SigFormat);
    check(&v(), &with(b"foo"), Code::SigFormat); // CO5
    check(&v(), &with(&good[..63]), Code::SigFormat);
    check(
        &v(),
        &with(&[good.clone(), vec![0]].concat()),
        Code::SigFormat,
    );
    check(&v(), &with(&[]), Code::SigFormat);
    let r_zero = [vec![0; 32], good[32..].to_vec()].concat();
    check(&v(), &with(&r_zero), Code::SigFormat);
    let s_is_n = [good[..32].to_vec(), hex::decode(P256_N).unwrap()].concat();
    check(&v(), &with(&s_is_n), Code::SigFormat);
    let s_max = [good[..32].to_vec(), vec![0xff; 32]].concat();
    check(&v(), &with(&s_max), Code::SigFormat);
}

pub const P256_N: &str = "ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551";

/// s → n − s, the high-S twin of an ECDSA signature, which is equally valid.
pub fn high_s_twin(signature: &[u8]) -> Vec<u8> {
    let n = hex::decode(P256_N).unwrap();
    let s = &signature[32..];
    let mut twin = vec![0u8; 32];
    let mut borrow = 0i16;
    for i in (0..32).rev() {
        let mut digit = i16::from(n[i]) - i16::from(s[i]) - borrow;
        borrow = i16::from(digit < 0);
        if digit < 0 {
            digit += 256;
        }
        twin[i] = digit as u8;
    }
    [signature[..32].to_vec(), twin].concat()
}

#[test]
fn high_s_twin_is_valid() {
    let dsc = &pki().es256;
    let payload = claims(&vaccination());
    let protected = protected_alg_kid(Algorithm::Es256, &kid());
    let good = dsc.key.sign(&to_be_signed(&protected, &payload)).unwrap();
    let twin = high_s_twin(&good);
    assert_ne!(twin, good);
    for backend in keys::Backend::all() {
        let v = verifier_in(*backend, &[dsc]);
        check(
            &v,
            &b45(&cose_raw(&[0xd2], &protected, NO_HEADER, &payload, &twin)),
            Code::Ok,
        );
    }
}

#[test]
fn flipped_bits_invalidate() {
    let dsc = &pki().es256;
    let payload = claims(&vaccination());
    // A harmless extra protected parameter (content type 3) whose value can be flipped.
    let mut protected = vec![0xa3, 0x01, 0x26, 0x03, 0x18, 0x3c, 0x04];
    protected.extend(bstr(&kid()));
    let signature = dsc.key.sign(&to_be_signed(&protected, &payload)).unwrap();
    check(
        &v(),
        &b45(&cose_raw(
            &[0xd2],
            &protected,
            NO_HEADER,
            &payload,
            &signature,
        )),
        Code::Ok,
    );

    let mut in_protected = protected.clone();
    in_protected[5] ^= 0x01;
    check(
        &v(),
        &b45(&cose_raw(
            &[0xd2],
            &in_protected,
            NO_HEADER,
            &payload,
            &signature,
        )),
        Code::SigInvalid,
    );
    for byte in [0, payload.len() / 2, payload.len() - 1] {
        let mut flipped = payload.clone();
        flipped[byte] ^= 0x01;
        check(
            &v(),
            &b45(&cose_raw(
                &[0xd2],
                &protected,
                NO_HEADER,
                &flipped,
                &signature,
            )),
            Code::SigInvalid,
        );
    }
    for byte in [5, 40, 63] {
        let mut flipped = signature.clone();
        flipped[byte] ^= 0x01;
        let report = run(
            &v(),
            &b45(&cose_raw(
                &[0xd2],
                &protected,
                NO_HEADER,
                &payload,
                &flipped,
            )),
        );
        assert!(
            matches!(report.code, Code::SigInvalid | Code::SigFormat),
            "{:?}",
            report.code
        );
        assert_eq!(report.checks.claims, CheckState::Skipped);
        assert!(
            report.holder.is_none(),
            "nothing from an unverified payload is shown"
        );
    }
}

#[test]
fn other_key_under_a_trusted_kid() {
    let pki = pki();
    let payload = claims(&vaccination());
    let protected = protected_alg_kid(Algorithm::Es256, &kid());
    let impostor = pki
        .es256_no_eku
        .key
        .sign(&to_be_signed(&protected, &payload))
        .unwrap();
    check(
        &v(),
        &b45(&cose_raw(
            &[0xd2],
            &protected,
            NO_HEADER,
            &payload,
            &impostor,
        )),
        Code::SigInvalid,
    );
}

#[test]
fn signature_context_must_be_signature1() {
    let dsc = &pki().es256;
    let payload = claims(&vaccination());
    let protected = protected_alg_kid(Algorithm::Es256, &kid());
    let mut wrong_context = vec![0x85, 0x69];
    wrong_context.extend_from_slice(b"Signature");
    wrong_context.extend(bstr(&protected));
    wrong_context.extend(bstr(&protected));
    wrong_context.push(0x40);
    wrong_context.extend(bstr(&payload));
    let signature = dsc.key.sign(&wrong_context).unwrap();
    check(
        &v(),
        &b45(&cose_raw(
            &[0xd2],
            &protected,
            NO_HEADER,
            &payload,
            &signature,
        )),
        Code::SigInvalid,
    );
}

#[test]
fn claims_failures_after_a_valid_signature() {
    let dsc = &pki().es256;
    let with_claims = |claims: Vec<u8>| hc1(&sign(dsc, &claims));
    let dcc = hex::decode("390103a101a0").unwrap(); // -260: {1: {}}
    let map = |entries: &[&str]| {
        let mut out = vec![0xa0 | (entries.len() as u8 + 1)];
        for entry in entries {
            out.extend(hex::decode(entry).unwrap());
        }
        out.extend(&dcc);
        out
    };
    for entries in [
        &["01624154", "01624154", "041a70000000", "061a60000000"][..], // duplicate iss
        &["04623130", "061a60000000"],                                 // exp as text
        &["0420", "061a60000000"],                                     // exp negative
        &["04fb7ff8000000000000", "061a60000000"],                     // NaN
        &["04fb7ff0000000000000", "061a60000000"],                     // infinity
        &["041b0020000000000001", "061a60000000"],                     // > 2^53
        &["041a50000000", "061a60000000"],                             // exp < iat
        &["061a60000000"],                                             // no exp
    ] {
        let report = check(
            &verifier(&[dsc]),
            &with_claims(map(entries)),
            Code::CwtClaims,
        );
        assert_eq!(report.checks.signature, CheckState::Pass);
        assert_eq!(report.checks.expiry, CheckState::Skipped);
    }
    // A bignum date.
    let bignum = map(&["04c249010000000000000000", "061a60000000"]);
    check(&verifier(&[dsc]), &with_claims(bignum), Code::CwtClaims);
    // A signed CWT whose hcert is garbage bytes (CBO1).
    check(
        &verifier(&[dsc]),
        &with_claims(b"\xff\xff\x49garbage".to_vec()),
        Code::CwtClaims,
    );
    // Finite non-negative float dates are accepted and truncated (ES/701-703).
    let floats = map(&["04fb41dad27480200000", "06fb41d8964020100000"]);
    let report = run(&verifier(&[dsc]), &with_claims(floats));
    assert_eq!(report.checks.claims, CheckState::Pass);
    assert_eq!(
        (report.iat, report.exp),
        (Some(1_650_000_000), Some(1_800_000_000))
    );
}

#[test]
fn duplicate_keys_inside_the_dcc_fail_the_schema() {
    let dsc = &pki().es256;
    let mut claims = hex::decode("a3041a70000000061a600000000162564e").unwrap();
    claims[0] = 0xa4;
    claims.extend(hex::decode("390103a101").unwrap());
    // {"ver": "1.3.0", "ver": "1.3.0"}: a DCC with a duplicated key.
    claims.extend(hex::decode("a26376657265312e332e306376657265312e332e30").unwrap());
    let report = run(&verifier(&[dsc]), &hc1(&sign(dsc, &claims)));
    assert_eq!(report.checks.claims, CheckState::Pass);
    assert_eq!(report.checks.schema, CheckState::Fail);
    assert_eq!(report.code, Code::Schema);
}
