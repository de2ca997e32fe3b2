//! Strict Base45 (RFC 9285), written by hand: the `base45` crate accepts values RFC 9285 forbids.
//!
//! RFC 9285 §4: every two bytes `[a, b]` become the value `n = a × 256 + b`, written as three symbols
//! `c d e` with `n = c + d × 45 + e × 45²`; a final single byte becomes two symbols `c d`. Decoding is the
//! exact inverse, so a string decodes only if it is the one encoding of its bytes.

use crate::Error;

/// RFC 9285 §4.2: the 45 symbols, in value order.
const ALPHABET: &[u8; 45] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:";

/// The value [`DECODE`] gives a byte that is not a Base45 symbol: any group holding one exceeds 65535, and
/// no sum of three overflows.
const INVALID: u32 = 1 << 16;

/// The value of every byte as a Base45 symbol, or [`INVALID`].
const DECODE: [u32; 256] = {
    let mut table = [INVALID; 256];
    let mut value = 0;
    while value < ALPHABET.len() {
        #[expect(
            clippy::indexing_slicing,
            reason = "evaluated at compile time, where an index out of range does not compile"
        )]
        {
            table[ALPHABET[value] as usize] = value as u32;
        }
        value += 1;
    }
    table
};

/// Encodes bytes as Base45 text (RFC 9285 §4). Every output is accepted by [`decode`], which returns the
/// same bytes.
pub fn encode(bytes: &[u8]) -> String {
    let (pairs, tail) = bytes.as_chunks::<2>();
    let mut text = vec![0; pairs.len() * 3 + tail.len() * 2];
    let (triplets, last) = text.as_chunks_mut::<3>();
    for (triplet, &pair) in triplets.iter_mut().zip(pairs) {
        let n = usize::from(u16::from_be_bytes(pair));
        let (high, low) = (n / 45, n % 45);
        *triplet = [symbol(low), symbol(high % 45), symbol(high / 45)];
    }
    if let (&[byte], [c, d]) = (tail, last) {
        let n = usize::from(byte);
        (*c, *d) = (symbol(n % 45), symbol(n / 45));
    }
    // Every byte is an ASCII symbol: the conversion cannot fail.
    String::from_utf8(text).unwrap_or_default()
}

/// The symbol of a digit below 45.
fn symbol(digit: usize) -> u8 {
    ALPHABET.get(digit).copied().unwrap_or(b'0')
}

/// The value of a byte as a Base45 symbol, or [`INVALID`].
fn digit(symbol: u8) -> u32 {
    DECODE.get(usize::from(symbol)).copied().unwrap_or(INVALID)
}

/// Decodes strict Base45 text; rejects what RFC 9285 rejects.
///
/// Fails with [`Error::Base45`] on a byte outside the alphabet (lowercase letters, control characters and
/// any non-ASCII character included), a triplet whose value exceeds 65535, a two-symbol tail whose value
/// exceeds 255, or a length of 1 mod 3. The error's `position` is the byte offset of the first offending
/// symbol, or of the first symbol of the first offending group.
pub fn decode(text: &str) -> Result<Vec<u8>, Error> {
    decode_bytes(text.as_bytes())
}

/// [`decode`] over raw bytes, so that callers holding text of unknown content never slice it on a char
/// boundary.
pub(crate) fn decode_bytes(text: &[u8]) -> Result<Vec<u8>, Error> {
    let (triplets, tail) = text.as_chunks::<3>();
    let mut bytes = vec![0; triplets.len() * 2 + tail.len().saturating_sub(1)];
    let (pairs, last) = bytes.as_chunks_mut::<2>();
    // No branch while the text is valid: every group's excess over 65535 is collected, and a defect is
    // located only once the loop is done.
    let mut excess = 0;
    for (pair, &[c, d, e]) in pairs.iter_mut().zip(triplets) {
        let n = digit(c) + digit(d) * 45 + digit(e) * 45 * 45;
        excess |= n >> 16;
        let [_, _, high, low] = n.to_be_bytes();
        *pair = [high, low];
    }
    match (tail, last) {
        ([], []) if excess == 0 => Ok(bytes),
        (&[c, d], [byte]) if excess == 0 => match u8::try_from(digit(c) + digit(d) * 45) {
            Ok(value) => {
                *byte = value;
                Ok(bytes)
            }
            Err(_) => Err(first_defect(text)),
        },
        _ => Err(first_defect(text)),
    }
}

/// Where text that failed to decode first breaks RFC 9285 §4: at its first byte outside the alphabet, or
/// at the start of its first group whose value is out of range: above 65535 for a triplet, which encodes
/// two bytes ("GGW"), above 255 for a final pair, which encodes one ("::"), and any value for a final lone
/// symbol, which encodes nothing (a length of 1 mod 3).
#[cold]
fn first_defect(text: &[u8]) -> Error {
    let position = text
        .chunks(3)
        .enumerate()
        .find_map(|(index, group)| {
            let start = index * 3;
            if let Some(offset) = group.iter().position(|&b| digit(b) == INVALID) {
                return Some(start + offset);
            }
            let n = group.iter().rev().fold(0, |n, &b| n * 45 + digit(b));
            let max = match group.len() {
                3 => 0xffff,
                2 => 0xff,
                _ => return Some(start),
            };
            (n > max).then_some(start)
        })
        .unwrap_or(0);
    Error::Base45 { position }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Decodes `text` and compares with `expected` (hex), or with the error position.
    fn check(text: &str, expected: Result<&str, usize>) {
        let got = decode(text).map(hex::encode);
        let expected = expected
            .map(str::to_owned)
            .map_err(|position| Error::Base45 { position });
        assert_eq!(got, expected, "decoding {text:?}");
    }

    #[test]
    fn rfc_9285_examples() {
        // RFC 9285 §4.3 and §4.4.
        for (bytes, text) in [
            (&b"AB"[..], "BB8"),
            (b"Hello!!", "%69 VD92EX0"),
            (b"base-45", "UJCLQE7W581"),
            (b"ietf!", "QED8WEX0"),
        ] {
            assert_eq!(encode(bytes), text);
            assert_eq!(decode(text).as_deref(), Ok(bytes));
        }
    }

    #[test]
    fn accepts_edges_of_the_value_range() {
        check("", Ok(""));
        check("00", Ok("00"));
        check("000", Ok("0000"));
        check("FGW", Ok("ffff"));
        check("U5", Ok("ff"));
        check("FGWU5", Ok("ffffff"));
        check(" 0", Ok("24"));
        check("  0", Ok("0678"));
        check("%69 VD92EX0", Ok("48656c6c6f2121"));
    }

    #[test]
    fn rejects_values_out_of_range() {
        check("GGW", Err(0));
        check("FGWGGW", Err(3));
        check(":::", Err(0));
        check("::", Err(0));
        check("V5", Err(0));
        check("   ", Err(0));
        check("FGW::", Err(3));
    }

    #[test]
    fn rejects_a_length_of_one_mod_three() {
        check("0", Err(0));
        check("0000", Err(3));
        check("FGWFGW0", Err(6));
    }

    #[test]
    fn rejects_bytes_outside_the_alphabet() {
        check("a00", Err(0));
        check("0a0", Err(1));
        check("00a", Err(2));
        check("000bb", Err(3));
        check("000\0", Err(3));
        check("00\n", Err(2));
        check("0\t0", Err(1));
        check("00_", Err(2));
        check("00=", Err(2));
        check("00#", Err(2));
        check("\u{feff}0", Err(0));
        check("0é", Err(1));
        check("00€", Err(2));
        // The first offending byte wins, whatever its kind.
        check("GGWa", Err(0));
        check("a", Err(0));
    }

    #[test]
    fn every_symbol_has_its_value() {
        for (value, &symbol) in ALPHABET.iter().enumerate() {
            assert_eq!(DECODE[usize::from(symbol)] as usize, value);
            assert_eq!(usize::from(symbol), usize::from(ALPHABET[value]));
        }
        let valid = DECODE.iter().filter(|&&digit| digit != INVALID).count();
        assert_eq!(valid, 45);
    }

    proptest! {
        #[test]
        fn decode_inverts_encode(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            let text = encode(&bytes);
            prop_assert_eq!(text.len(), bytes.len() / 2 * 3 + bytes.len() % 2 * 2);
            prop_assert_eq!(decode(&text), Ok(bytes));
        }

        #[test]
        fn alphabet_text_errors_or_round_trips(text in "[0-9A-Z $%*+./:-]{0,40}") {
            if let Ok(bytes) = decode(&text) {
                prop_assert_eq!(encode(&bytes), text);
            }
        }

        #[test]
        fn any_text_errors_or_round_trips(text in any::<String>()) {
            match decode(&text) {
                Ok(bytes) => prop_assert_eq!(encode(&bytes), text),
                Err(Error::Base45 { position }) => prop_assert!(position < text.len()),
                Err(other) => prop_assert!(false, "unexpected error {other:?}"),
            }
        }
    }
}
