//! The text transport: `HC1:` + Base45( zlib( COSE ) ).

use crate::{Error, base45, zlib};

/// The context identifier of an EU DCC.
pub const HC1_PREFIX: &str = "HC1:";
/// The most characters accepted: the alphanumeric capacity of a version-40 QR code.
pub const MAX_INPUT_CHARS: usize = 4296;

/// Unwraps the transport: checks size and prefix, decodes Base45, inflates; returns the COSE bytes.
///
/// Fails with [`Error::InputTooLarge`] on text longer than [`MAX_INPUT_CHARS`] bytes before looking at
/// it, with [`Error::Prefix`] unless it starts with exactly `HC1:` followed by at least one character,
/// then with the errors of strict Base45 (positions counted from after the prefix) and of a capped
/// inflate. The returned bytes are at most [`crate::MAX_INFLATED_BYTES`] long.
pub fn decode_transport(text: &str) -> Result<Vec<u8>, Error> {
    if text.len() > MAX_INPUT_CHARS {
        return Err(Error::InputTooLarge {
            len: text.len(),
            max: MAX_INPUT_CHARS,
        });
    }
    // hcert §4.2.2: the context identifier is exactly "HC1:", case included. Bytes, not chars, from here
    // on: the text after it may hold anything, and is never sliced.
    let body = text
        .as_bytes()
        .strip_prefix(HC1_PREFIX.as_bytes())
        .filter(|body| !body.is_empty())
        .ok_or(Error::Prefix)?;
    let compressed = base45::decode_bytes(body)?;
    zlib::inflate(&compressed)
}

/// Wraps COSE bytes for transport: zlib, Base45, `HC1:`. [`decode_transport`] returns the same bytes
/// whenever the result fits in [`MAX_INPUT_CHARS`] and `cose` in [`crate::MAX_INFLATED_BYTES`].
pub fn encode_transport(cose: &[u8]) -> String {
    let text = base45::encode(&zlib::deflate(cose));
    let mut transport = String::with_capacity(HC1_PREFIX.len() + text.len());
    transport.push_str(HC1_PREFIX);
    transport.push_str(&text);
    transport
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::MAX_INFLATED_BYTES;
    use proptest::prelude::*;

    /// A small COSE_Sign1-shaped message.
    const COSE: &[u8] = b"\xd2\x84\x43\xa1\x01\x26\xa0\x44\xa1\x01\x62VN\x40";

    fn check(text: &str, expected: Error) {
        assert_eq!(decode_transport(text), Err(expected), "decoding {text:?}");
    }

    #[test]
    fn round_trips() {
        let text = encode_transport(COSE);
        assert!(text.starts_with("HC1:"));
        assert_eq!(decode_transport(&text).as_deref(), Ok(COSE));
    }

    #[test]
    fn rejects_a_missing_or_wrong_prefix() {
        // dgc-testdata H1-H3.
        let body = encode_transport(COSE).split_off(HC1_PREFIX.len());
        check("", Error::Prefix);
        check("HC1:", Error::Prefix);
        check("HC1", Error::Prefix);
        check(&body, Error::Prefix);
        for prefix in [
            "HC2:",
            "HL0:",
            "hc1:",
            "Hc1:",
            "HC1 ",
            " HC1:",
            "\u{feff}HC1:",
        ] {
            check(&format!("{prefix}{body}"), Error::Prefix);
        }
    }

    #[test]
    fn checks_the_size_before_anything_else() {
        let too_large = |len| Error::InputTooLarge {
            len,
            max: MAX_INPUT_CHARS,
        };
        check(
            &"x".repeat(MAX_INPUT_CHARS + 1),
            too_large(MAX_INPUT_CHARS + 1),
        );
        check(&"HC1:".repeat(1 << 18), too_large(1 << 20));
        // Counted in bytes: 1,433 three-byte characters are 4,299 bytes.
        check(&"€".repeat(1433), too_large(4299));
        let at_limit = format!("HC1:{}", "0".repeat(MAX_INPUT_CHARS - 4));
        assert!(matches!(
            decode_transport(&at_limit),
            Err(Error::Base45 { .. } | Error::Zlib { .. })
        ));
    }

    #[test]
    fn rejects_bytes_outside_base45_after_the_prefix() {
        let body = encode_transport(COSE).split_off(HC1_PREFIX.len());
        for (position, intruder) in [
            (0, "\0"),
            (0, "\u{feff}"),
            (0, "\n"),
            (0, "a"),
            (0, "é"),
            (0, "😀"),
        ] {
            check(&format!("HC1:{intruder}{body}"), Error::Base45 { position });
        }
        for intruder in ["\0", "\u{feff}", "\n", "\r\n", "b", "é", "€", "😀", "\t"] {
            check(
                &format!("HC1:{body}{intruder}"),
                Error::Base45 {
                    position: body.len(),
                },
            );
        }
    }

    #[test]
    fn accepts_spaces_inside_base45() {
        // The space is the Base45 symbol of value 36, and real HC1 strings contain it.
        let text = (0..=u8::MAX)
            .map(|n| encode_transport(&[n]))
            .find(|text| text.contains(' '))
            .expect("some one-byte message encodes with a space");
        assert!(decode_transport(&text).is_ok());
    }

    #[test]
    fn rejects_uncompressed_cose() {
        // dgc-testdata Z2.
        let text = format!("HC1:{}", crate::base45::encode(COSE));
        assert!(matches!(decode_transport(&text), Err(Error::Zlib { .. })));
    }

    #[test]
    fn rejects_a_bomb() {
        // 2 MiB of zeros is the largest round bomb that fits a QR code: 2,055 bytes, 3,087 characters.
        let bomb = format!(
            "HC1:{}",
            crate::base45::encode(&zlib::deflate(&vec![0; 2 << 20]))
        );
        assert!(bomb.len() <= MAX_INPUT_CHARS);
        check(
            &bomb,
            Error::DecompressedTooLarge {
                max: MAX_INFLATED_BYTES,
            },
        );
    }

    proptest! {
        #[test]
        fn decode_inverts_encode(cose in proptest::collection::vec(any::<u8>(), 0..1500)) {
            prop_assert_eq!(decode_transport(&encode_transport(&cose)), Ok(cose));
        }

        #[test]
        fn any_text_decodes_or_errors(text in "HC1:[0-9A-Z $%*+./:a-z-]{0,60}") {
            if let Ok(cose) = decode_transport(&text) {
                prop_assert!(cose.len() <= MAX_INFLATED_BYTES);
            }
        }
    }
}
