//! Small encodings shared by every document of this crate: base64 flavours, hex thumbprints, country codes.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};

/// Standard base64 as written: padded (`rawData`, `kid`, revocation hashes, gateway signatures).
pub(crate) fn b64_encode(bytes: &[u8]) -> String {
    STANDARD.encode(bytes)
}

/// Standard base64 as read from lists others publish: padding optional, nothing else tolerated.
pub(crate) fn b64_decode(text: &str) -> Option<Vec<u8>> {
    B64_LENIENT_PADDING.decode(text).ok()
}

/// base64url without padding (RFC 7515 §2), as written.
pub(crate) fn b64url_encode(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// base64url without padding, strictly: padding or non-canonical trailing bits are refused.
pub(crate) fn b64url_decode(text: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(text).ok()
}

const B64_LENIENT_PADDING: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Lower-case hex of a SHA-256 digest (the EU gateway's `thumbprint`).
pub(crate) fn hex_encode(bytes: &[u8; 32]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut text = String::with_capacity(64);
    for byte in bytes {
        for nibble in [byte >> 4, byte & 0x0f] {
            text.push(char::from(
                DIGITS.get(usize::from(nibble)).copied().unwrap_or(b'0'),
            ));
        }
    }
    text
}

/// Exactly 64 hex digits, either case, as 32 bytes.
pub(crate) fn hex_decode_32(text: &str) -> Option<[u8; 32]> {
    let digits = text.as_bytes();
    if digits.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (byte, pair) in out.iter_mut().zip(digits.chunks_exact(2)) {
        let (high, low) = match pair {
            [high, low] => (hex_value(*high)?, hex_value(*low)?),
            _ => return None,
        };
        *byte = (high << 4) | low;
    }
    Some(out)
}

fn hex_value(digit: u8) -> Option<u8> {
    match digit {
        b'0'..=b'9' => Some(digit - b'0'),
        b'a'..=b'f' => Some(digit - b'a' + 10),
        b'A'..=b'F' => Some(digit - b'A' + 10),
        _ => None,
    }
}

/// Whether `code` has the form of an ISO 3166-1 alpha-2 code: two upper-case ASCII letters. Whether the
/// code is assigned is not checked (test PKIs use the user-assigned "XX").
pub(crate) fn is_country_code(code: &str) -> bool {
    code.len() == 2 && code.bytes().all(|byte| byte.is_ascii_uppercase())
}

/// At most 64 characters of a string read from a list, for a rejection a caller may log.
pub(crate) fn bounded(text: &str) -> String {
    const MAX_CHARS: usize = 64;
    match text.char_indices().nth(MAX_CHARS) {
        Some((cut, _)) => format!("{}…", text.get(..cut).unwrap_or_default()),
        None => text.to_owned(),
    }
}

/// Where a JSON document stopped making sense, as `(line, column)`.
pub(crate) fn json_position(error: &serde_json::Error) -> (usize, usize) {
    (error.line(), error.column())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trips_and_refuses_garbage() {
        let bytes: [u8; 32] = core::array::from_fn(|i| (i * 9) as u8);
        let text = hex_encode(&bytes);
        assert_eq!(text.len(), 64);
        assert_eq!(hex_decode_32(&text), Some(bytes));
        assert_eq!(hex_decode_32(&text.to_uppercase()), Some(bytes));
        assert_eq!(hex_decode_32(&text[..62]), None);
        assert_eq!(hex_decode_32(&format!("{}zz", &text[..62])), None);
        assert_eq!(hex_decode_32(&"é".repeat(32)), None);
    }

    #[test]
    fn base64_flavours() {
        assert_eq!(b64_decode("AAE="), Some(vec![0, 1]));
        assert_eq!(b64_decode("AAE"), Some(vec![0, 1]));
        assert_eq!(b64_decode("AA E="), None);
        assert_eq!(b64url_decode("AAE"), Some(vec![0, 1]));
        assert_eq!(b64url_decode("AAE="), None);
        assert_eq!(b64url_decode("AAF"), None, "non-canonical trailing bits");
        assert_eq!(b64url_encode(&[0xfb, 0xff]), "-_8");
    }

    #[test]
    fn country_codes_and_bounded_text() {
        for (code, ok) in [
            ("VN", true),
            ("XX", true),
            ("vn", false),
            ("VNM", false),
            ("", false),
            ("É", false),
        ] {
            assert_eq!(is_country_code(code), ok, "{code}");
        }
        assert_eq!(bounded("VN"), "VN");
        let long = "é".repeat(100);
        assert_eq!(bounded(&long).chars().count(), 65);
    }
}
