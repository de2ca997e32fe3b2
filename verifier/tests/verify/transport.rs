//! adversarial.md, "Transport", "Base45" and "zlib": every layer below COSE.

use verifier::{CheckState, Code};

use crate::support::*;

fn v() -> verifier::Verifier {
    verifier(&[&pki().es256])
}

fn valid() -> String {
    issue(&pki().es256, &vaccination())
}

#[test]
fn prefixes() {
    let body = valid().trim_start_matches("HC1:").to_owned();
    for input in ["", "HC1:", "HC1", "HC2:ABC", "HL0:ABC", "hc1:ABC"] {
        check(&v(), input, Code::Prefix);
    }
    for prefix in ["HC2:", "HL0:", "hc1:", ""] {
        let report = check(&v(), &format!("{prefix}{body}"), Code::Prefix);
        assert_eq!(report.checks.image, CheckState::NotApplicable);
        assert_eq!(report.checks.base45, CheckState::Skipped);
    }
}

#[test]
fn oversized_input_is_refused_before_decoding() {
    let long = format!("HC1:{}", "A".repeat(4293));
    check(&v(), &long, Code::InputTooLarge);
    let exactly = format!("HC1:{}", "0".repeat(4292));
    assert_ne!(run(&v(), &exactly).code, Code::InputTooLarge);
    check(&v(), &"x".repeat(1 << 20), Code::InputTooLarge);
}

#[test]
fn characters_outside_base45() {
    let body = valid().trim_start_matches("HC1:").to_owned();
    let middle = body.len() / 2 / 3 * 3;
    for intruder in ["\0", "\u{feff}", "\n", "a", "é", "€", "😀", "_"] {
        let mut text = format!("HC1:{body}");
        text.insert_str(4 + middle, intruder);
        let report = check(&v(), &text, Code::Base45);
        assert_eq!(report.checks.prefix, CheckState::Pass);
    }
    // A multi-byte character right after the prefix must not split a char boundary.
    check(&v(), "HC1:ế", Code::Base45);
    check(&v(), "HC1:\u{feff}ABC", Code::Base45);
}

#[test]
fn base45_groups() {
    check(&v(), "HC1:GGW", Code::Base45); // 65536
    check(&v(), "HC1:::", Code::Base45); // two-char tail > 255
    check(&v(), "HC1:0000", Code::Base45); // length ≡ 1 mod 3
    // "FGW" decodes to ff ff: valid Base45, broken zlib.
    let report = check(&v(), "HC1:FGW", Code::Zlib);
    assert_eq!(report.checks.base45, CheckState::Pass);
}

#[test]
fn zlib_failures() {
    let cose = sign(&pki().es256, &claims(&vaccination()));
    let compressed = hcert::deflate(&cose);
    let b45 = |bytes: &[u8]| format!("HC1:{}", hcert::base45_encode(bytes));
    // Not compressed (Z2).
    check(&v(), &b45(&cose), Code::Zlib);
    // Truncated stream.
    check(&v(), &b45(&compressed[..compressed.len() - 6]), Code::Zlib);
    // Bad Adler-32.
    let mut bad_adler = compressed.clone();
    *bad_adler.last_mut().unwrap() ^= 1;
    check(&v(), &b45(&bad_adler), Code::Zlib);
    // Raw deflate without the zlib header.
    check(&v(), &b45(&compressed[2..compressed.len() - 4]), Code::Zlib);
    // A valid stream followed by garbage.
    let mut trailing = compressed.clone();
    trailing.extend_from_slice(b"junk");
    check(&v(), &b45(&trailing), Code::Zlib);
    // Broken in the middle (Z1).
    let mut broken = compressed;
    broken[10] ^= 0xff;
    broken[11] ^= 0xff;
    assert!(matches!(
        run(&v(), &b45(&broken)).code,
        Code::Zlib | Code::DecompressedTooLarge
    ));
}

#[test]
fn zlib_bomb_stops_at_the_cap() {
    // The largest bomb that fits a QR code: 2 MiB of zeros in about 2 KB (4 MiB needs 4 KB, over the
    // 4,296-character text limit; hcert's own tests take that one).
    let bomb = hcert::deflate(&vec![0u8; 2 << 20]);
    assert!(
        bomb.len() < 4296 * 2 / 3,
        "a 2 MiB bomb compresses to {} bytes",
        bomb.len()
    );
    let report = check(
        &v(),
        &format!("HC1:{}", hcert::base45_encode(&bomb)),
        Code::DecompressedTooLarge,
    );
    assert_eq!(report.checks.decompress, CheckState::Fail);
    let at_cap = hcert::deflate(&vec![0u8; hcert::MAX_INFLATED_BYTES]);
    assert_ne!(
        run(&v(), &format!("HC1:{}", hcert::base45_encode(&at_cap))).code,
        Code::DecompressedTooLarge
    );
    let over_cap = hcert::deflate(&vec![0u8; hcert::MAX_INFLATED_BYTES + 1]);
    check(
        &v(),
        &format!("HC1:{}", hcert::base45_encode(&over_cap)),
        Code::DecompressedTooLarge,
    );
}
