//! Unique vaccination certificate identifiers (spec-notes §5): `URN:UVCI:01:VN:` + 32 upper-case hex
//! digits + `#` + a Luhn mod N check character.

use std::fmt;

use crate::error::UvciError;

/// The prefix of every UVCI this issuer writes: version 01, country VN.
pub const UVCI_PREFIX: &str = "URN:UVCI:01:VN:";

/// The longest UVCI the DCC schema allows (`ci` maxLength).
pub const MAX_UVCI_CHARS: usize = 80;

/// The Luhn mod N alphabet of the EU reference implementation (eu-dcc-schema
/// `examples/Luhn-Mod-N/luhn_mod_n.py`, `_CODE_POINTS`): the order fixes each character's code point.
const CODE_POINTS: &[u8; 38] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/:";

const UNIQUE_HEX_DIGITS: usize = 32;

/// A UVCI of this issuer, well formed and with a correct check character.
///
/// Its `Debug` form is redacted: a UVCI identifies a person's certificate and is never logged; read it
/// with [`Uvci::as_str`].
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Uvci(String);

impl Uvci {
    /// A fresh UVCI from 16 bytes of operating-system randomness.
    ///
    /// # Errors
    /// [`UvciError::Randomness`] when the operating system gives no randomness.
    pub fn generate() -> Result<Uvci, UvciError> {
        let mut bytes = [0u8; 16];
        getrandom::fill(&mut bytes).map_err(|_| UvciError::Randomness)?;
        Ok(Uvci::from_bytes(bytes))
    }

    /// The UVCI whose unique part is `bytes` in upper-case hex: deterministic, for tests and for callers
    /// bringing their own randomness.
    pub fn from_bytes(bytes: [u8; 16]) -> Uvci {
        const HEX: &[u8; 16] = b"0123456789ABCDEF";
        let mut text = String::with_capacity(UVCI_PREFIX.len() + UNIQUE_HEX_DIGITS + 2);
        text.push_str(UVCI_PREFIX);
        for byte in bytes {
            for nibble in [byte >> 4, byte & 0x0f] {
                if let Some(&digit) = HEX.get(usize::from(nibble)) {
                    text.push(char::from(digit));
                }
            }
        }
        // The text is made of the alphabet only, so a check character always exists.
        if let Some(check) = luhn_mod_n_check_character(&text) {
            text.push('#');
            text.push(check);
        }
        Uvci(text)
    }

    /// Parses a UVCI of this issuer's form: [`UVCI_PREFIX`], exactly 32 upper-case hex digits, `#`, and
    /// the correct check character.
    ///
    /// # Errors
    /// [`UvciError::Malformed`] when the form is wrong, [`UvciError::CheckCharacter`] when only the check
    /// character is. The error never quotes the input.
    pub fn parse(text: &str) -> Result<Uvci, UvciError> {
        let rest = text.strip_prefix(UVCI_PREFIX).ok_or(UvciError::Malformed)?;
        let (unique, _check) = rest.split_once('#').ok_or(UvciError::Malformed)?;
        let hex_ok = unique.len() == UNIQUE_HEX_DIGITS
            && unique
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'A'..=b'F').contains(&b));
        if !hex_ok || rest.len() != UNIQUE_HEX_DIGITS + 2 {
            return Err(UvciError::Malformed);
        }
        check(text)?;
        Ok(Uvci(text.to_owned()))
    }

    /// Checks the check character of any country's UVCI: see [`check`](fn@check).
    ///
    /// # Errors
    /// As [`check`](fn@check).
    pub fn check(text: &str) -> Result<(), UvciError> {
        check(text)
    }

    /// The UVCI text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The UVCI text, owned.
    pub fn into_string(self) -> String {
        self.0
    }
}

impl fmt::Debug for Uvci {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Uvci([redacted])")
    }
}

/// Checks the check character of any UVCI that carries one (`…#C`, any country's format): the Luhn mod N
/// over everything before the `#` — the whole string, `URN:UVCI:` included — must give `C`.
///
/// # Errors
/// [`UvciError::Malformed`] when there is no `#`, a character outside the alphabet `A-Z0-9/:` comes
/// before it, or more than one character follows it, or the UVCI exceeds [`MAX_UVCI_CHARS`];
/// [`UvciError::CheckCharacter`] when the check character is wrong.
pub fn check(text: &str) -> Result<(), UvciError> {
    if text.len() > MAX_UVCI_CHARS {
        return Err(UvciError::Malformed);
    }
    let (body, given) = text.rsplit_once('#').ok_or(UvciError::Malformed)?;
    let mut given_chars = given.chars();
    let (Some(given), None) = (given_chars.next(), given_chars.next()) else {
        return Err(UvciError::Malformed);
    };
    let expected = luhn_mod_n_check_character(body).ok_or(UvciError::Malformed)?;
    if expected == given {
        Ok(())
    } else {
        Err(UvciError::CheckCharacter)
    }
}

/// The Luhn mod N check character of `text` over the alphabet `A-Z0-9/:` (N = 38), exactly as the EU
/// reference `generate_check_character`; `None` when `text` holds a character outside the alphabet.
pub fn luhn_mod_n_check_character(text: &str) -> Option<char> {
    let n = CODE_POINTS.len();
    let mut factor = 2;
    let mut total = 0usize;
    for byte in text.bytes().rev() {
        let code_point = CODE_POINTS.iter().position(|&c| c == byte)?;
        let addend = factor * code_point;
        factor = if factor == 2 { 1 } else { 2 };
        total += addend / n + addend % n;
    }
    let check = (n - total % n) % n;
    CODE_POINTS.get(check).map(|&c| char::from(c))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Check characters from the EU reference implementation (eu-dcc-schema `examples/Luhn-Mod-N`,
    /// `luhn_mod_n.py` run on these inputs; the first is the input of its `usage.py`).
    #[test]
    fn reference_examples() {
        for (text, expected) in [
            ("URN:UVCI:01:NL:187/37512422923", 'Z'),
            ("URN:UVCI:01:NL:MY/INPUT/STRING", 'H'),
            ("URN:UVCI:01:VN:0123456789ABCDEF0123456789ABCDEF", 'X'),
            ("URN:UVCI:01:VN:00000000000000000000000000000000", 'D'),
            ("URN:UVCI:01:VN:FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF", 'B'),
        ] {
            assert_eq!(luhn_mod_n_check_character(text), Some(expected), "{text}");
            assert_eq!(check(&format!("{text}#{expected}")), Ok(()));
        }
    }

    #[test]
    fn from_bytes_is_deterministic_and_parses() {
        let bytes = [
            0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef, 0x01, 0x23, 0x45, 0x67, 0x89, 0xab,
            0xcd, 0xef,
        ];
        let uvci = Uvci::from_bytes(bytes);
        assert_eq!(
            uvci.as_str(),
            "URN:UVCI:01:VN:0123456789ABCDEF0123456789ABCDEF#X"
        );
        assert_eq!(Uvci::parse(uvci.as_str()), Ok(uvci.clone()));
        assert_eq!(format!("{uvci:?}"), "Uvci([redacted])");
        assert_eq!(Uvci::from_bytes([0; 16]).as_str().len(), 49);
    }

    #[test]
    fn generate_gives_distinct_valid_uvcis() {
        let a = Uvci::generate();
        let b = Uvci::generate();
        assert!(a.is_ok() && b.is_ok());
        if let (Ok(a), Ok(b)) = (a, b) {
            assert_ne!(a, b);
            assert_eq!(Uvci::parse(a.as_str()), Ok(a.clone()));
        }
    }

    #[test]
    fn parse_refusals() {
        let good = "URN:UVCI:01:VN:0123456789ABCDEF0123456789ABCDEF#X";
        assert_eq!(
            Uvci::parse(good).map(|u| u.into_string()).as_deref(),
            Ok(good)
        );
        for (text, err) in [
            (
                "URN:UVCI:01:VN:0123456789ABCDEF0123456789ABCDEF#A",
                UvciError::CheckCharacter,
            ),
            (
                "URN:UVCI:01:VN:0123456789ABCDEF0123456789ABCDEF",
                UvciError::Malformed,
            ),
            (
                "URN:UVCI:01:VN:0123456789abcdef0123456789ABCDEF#X",
                UvciError::Malformed,
            ),
            (
                "URN:UVCI:01:VN:0123456789ABCDEF0123456789ABCDE#X",
                UvciError::Malformed,
            ),
            (
                "URN:UVCI:01:NL:0123456789ABCDEF0123456789ABCDEF#X",
                UvciError::Malformed,
            ),
            (
                "URN:UVCI:01:VN:0123456789ABCDEF0123456789ABCDEF#XX",
                UvciError::Malformed,
            ),
            ("", UvciError::Malformed),
        ] {
            assert_eq!(Uvci::parse(text), Err(err), "{text}");
        }
        // Any country's UVCI can be checked, not parsed.
        assert_eq!(check("URN:UVCI:01:NL:187/37512422923#Z"), Ok(()));
        assert_eq!(
            check("URN:UVCI:01:NL:187/37512422923#Y"),
            Err(UvciError::CheckCharacter)
        );
        assert_eq!(check("urn:uvci:01:NL:187#A"), Err(UvciError::Malformed));
    }
}
