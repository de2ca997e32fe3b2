//! COSE_Sign1 (RFC 8152 §4.2) framing: parse without re-encoding, build around a passed-in signer.
//!
//! The parser keeps the protected header exactly as received: the signature is checked over those bytes,
//! never over a re-encoding (hcert §3.3.1). It does no cryptography.

use minicbor::Decoder;
use minicbor::data::Type;

use crate::Error;
use crate::cbor::{self, Label};

/// COSE tag of a COSE_Sign1 message.
const TAG_COSE_SIGN1: u64 = 18;
/// CWT tag (RFC 8392 §6), allowed around a tagged COSE_Sign1 (dgc-testdata CO28).
const TAG_CWT: u64 = 61;
/// Header labels (RFC 8152 §3.1).
const LABEL_ALG: i128 = 1;
const LABEL_CRIT: i128 = 2;
const LABEL_KID: i128 = 4;

/// A signature algorithm of the HCERT format, by its COSE identifier.
///
/// Exhaustive on purpose (no `#[non_exhaustive]`): the `verifier` crate names every variant, so a new one
/// is a compile error there rather than a silently wrong check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Algorithm {
    /// ECDSA P-256 with SHA-256 (COSE -7), the primary algorithm.
    Es256,
    /// RSASSA-PSS with SHA-256 (COSE -37), the secondary algorithm.
    Ps256,
    /// Ed25519 (COSE -8): domestic use only, foreign verifiers reject it.
    EdDsa,
}

impl Algorithm {
    /// The algorithm with this COSE identifier, if supported.
    pub fn from_cose_id(id: i128) -> Option<Algorithm> {
        match id {
            -7 => Some(Algorithm::Es256),
            -37 => Some(Algorithm::Ps256),
            -8 => Some(Algorithm::EdDsa),
            _ => None,
        }
    }

    /// The COSE identifier.
    pub fn cose_id(self) -> i8 {
        match self {
            Algorithm::Es256 => -7,
            Algorithm::Ps256 => -37,
            Algorithm::EdDsa => -8,
        }
    }

    /// The JOSE/COSE name: "ES256", "PS256", "EdDSA".
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::Es256 => "ES256",
            Algorithm::Ps256 => "PS256",
            Algorithm::EdDsa => "EdDSA",
        }
    }
}

/// Which header a parameter was taken from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HeaderSource {
    /// The protected header, covered by the signature.
    Protected,
    /// The unprotected header, not covered by the signature.
    Unprotected,
}

/// A parsed COSE_Sign1 message, borrowing from the received bytes.
///
/// Parsing resolves `alg` and `kid` by the HCERT rules: the protected header wins; the unprotected one is
/// consulted only for what the protected one lacks (dgc-testdata CO18-CO23, CO20). Callers must still bind
/// an unprotected `alg` to the key type, which every verification does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CoseSign1<'a> {
    protected: &'a [u8],
    alg: Algorithm,
    alg_source: HeaderSource,
    kid: Option<(&'a [u8], HeaderSource)>,
    payload: &'a [u8],
    signature: &'a [u8],
}

/// The parameters of one header map that HCERT uses.
#[derive(Default)]
struct HeaderParams<'a> {
    alg: Option<AlgParam>,
    kid: Option<&'a [u8]>,
}

enum AlgParam {
    Known(Algorithm),
    Unsupported(String),
}

impl<'a> CoseSign1<'a> {
    /// Parses a COSE_Sign1 message: tag 18, untagged, or tag 61 around tag 18.
    ///
    /// Errors name the first layer that fails: [`Error::Cbor`] for malformed CBOR or trailing bytes,
    /// [`Error::CoseStructure`] for well-formed CBOR of another shape, [`Error::ProtectedHeader`],
    /// [`Error::AlgMissing`] and [`Error::AlgUnsupported`].
    pub fn parse(bytes: &'a [u8]) -> Result<Self, Error> {
        cbor::check_single_item(bytes).map_err(|reason| Error::Cbor { reason })?;
        let structure = |reason| Error::CoseStructure { reason };
        let mut d = Decoder::new(bytes);
        read_tags(&mut d)?;
        if d.array().map_err(|_| structure("not an array"))? != Some(4) {
            return Err(structure("not an array of four items"));
        }
        let protected = d.bytes().map_err(|_| Error::ProtectedHeader {
            reason: "not a byte string",
        })?;
        let unprotected = read_unprotected(&mut d)?;
        let payload = d
            .bytes()
            .map_err(|_| structure("payload is not a byte string"))?;
        let signature = d
            .bytes()
            .map_err(|_| structure("signature is not a byte string"))?;
        let protected_params = read_protected(protected)?;

        let (alg, alg_source) = match (protected_params.alg, unprotected.alg) {
            (Some(alg), _) => (alg, HeaderSource::Protected),
            (None, Some(alg)) => (alg, HeaderSource::Unprotected),
            (None, None) => return Err(Error::AlgMissing),
        };
        let alg = match alg {
            AlgParam::Known(alg) => alg,
            AlgParam::Unsupported(alg) => return Err(Error::AlgUnsupported { alg }),
        };
        // hcert §3.3.1: a kid in the protected header wins over one in the unprotected header.
        let kid = protected_params
            .kid
            .map(|kid| (kid, HeaderSource::Protected))
            .or(unprotected.kid.map(|kid| (kid, HeaderSource::Unprotected)));
        Ok(CoseSign1 {
            protected,
            alg,
            alg_source,
            kid,
            payload,
            signature,
        })
    }

    /// The signature algorithm.
    pub fn algorithm(&self) -> Algorithm {
        self.alg
    }

    /// Which header the algorithm came from.
    pub fn algorithm_source(&self) -> HeaderSource {
        self.alg_source
    }

    /// The key identifier, if either header has one.
    pub fn kid(&self) -> Option<&'a [u8]> {
        self.kid.map(|(kid, _)| kid)
    }

    /// Which header the kid came from, if any.
    pub fn kid_source(&self) -> Option<HeaderSource> {
        self.kid.map(|(_, source)| source)
    }

    /// The payload: the CWT claims as CBOR bytes, unverified until the signature is checked.
    pub fn payload(&self) -> &'a [u8] {
        self.payload
    }

    /// The signature bytes as received.
    pub fn signature(&self) -> &'a [u8] {
        self.signature
    }

    /// The protected header exactly as received.
    pub fn protected_header(&self) -> &'a [u8] {
        self.protected
    }

    /// The bytes the signature covers: the `Signature1` Sig_structure over the received protected header,
    /// an empty external AAD and the payload (RFC 8152 §4.4).
    pub fn to_be_signed(&self) -> Vec<u8> {
        sig_structure(self.protected, self.payload)
    }
}

/// Reads the optional tags before the array: none, 18, or 61 then 18.
fn read_tags(d: &mut Decoder<'_>) -> Result<(), Error> {
    let structure = |reason| Error::CoseStructure { reason };
    let mut tags = [None; 2];
    for slot in &mut tags {
        if d.datatype().map_err(|_| structure("truncated"))? != Type::Tag {
            break;
        }
        *slot = Some(u64::from(d.tag().map_err(|_| structure("invalid tag"))?));
    }
    match tags {
        [None, _] | [Some(TAG_COSE_SIGN1), None] | [Some(TAG_CWT), Some(TAG_COSE_SIGN1)] => Ok(()),
        [Some(TAG_CWT), None] => Ok(()),
        _ => Err(structure("not tagged as COSE_Sign1 (tag 18)")),
    }
}

/// Parses the protected header: a byte string holding one map of unique labels, or nothing.
fn read_protected(bytes: &[u8]) -> Result<HeaderParams<'_>, Error> {
    let invalid = |reason| Error::ProtectedHeader { reason };
    if bytes.is_empty() {
        return Ok(HeaderParams::default());
    }
    cbor::check_single_item(bytes).map_err(invalid)?;
    let mut d = Decoder::new(bytes);
    read_header_map(&mut d, invalid, true)
}

/// Parses the unprotected header: a map of unique labels.
fn read_unprotected<'a>(d: &mut Decoder<'a>) -> Result<HeaderParams<'a>, Error> {
    read_header_map(d, |reason| Error::CoseStructure { reason }, false)
}

/// Reads a header map, keeping `alg` and `kid`; `crit` is honoured only in the protected header.
fn read_header_map<'a>(
    d: &mut Decoder<'a>,
    invalid: fn(&'static str) -> Error,
    protected: bool,
) -> Result<HeaderParams<'a>, Error> {
    let len = d.map().map_err(|_| invalid("header is not a map"))?;
    let mut params = HeaderParams::default();
    let mut seen: Vec<Label<'a>> = Vec::new();
    let mut crit_ok = true;
    cbor::for_each_entry(d, len, |d| {
        let label = cbor::read_label(d)?.ok_or("header label is neither an integer nor text")?;
        if seen.contains(&label) {
            return Err("duplicate header label");
        }
        seen.push(label);
        match label {
            Label::Int(LABEL_ALG) => params.alg = Some(read_alg(d)?),
            Label::Int(LABEL_KID) => {
                params.kid = Some(d.bytes().map_err(|_| "kid is not a byte string")?)
            }
            Label::Int(LABEL_CRIT) if protected => crit_ok = read_crit(d)?,
            _ => d.skip().map_err(|_| "invalid header value")?,
        }
        Ok(())
    })
    .map_err(invalid)?;
    if !crit_ok {
        return Err(invalid(
            "crit names a header parameter this verifier does not process",
        ));
    }
    Ok(params)
}

/// Reads an `alg` value: an integer naming a supported algorithm, or anything else (unsupported).
fn read_alg(d: &mut Decoder<'_>) -> Result<AlgParam, &'static str> {
    match cbor::read_label(d)? {
        Some(Label::Int(id)) => Ok(Algorithm::from_cose_id(id)
            .map(AlgParam::Known)
            .unwrap_or_else(|| AlgParam::Unsupported(id.to_string()))),
        Some(Label::Text(_)) => Ok(AlgParam::Unsupported("text".to_owned())),
        None => {
            d.skip().map_err(|_| "invalid alg value")?;
            Ok(AlgParam::Unsupported("non-integer".to_owned()))
        }
    }
}

/// Reads `crit` (RFC 8152 §3.1): true when every label it lists is one this parser processes.
fn read_crit(d: &mut Decoder<'_>) -> Result<bool, &'static str> {
    let len = d.array().map_err(|_| "crit is not an array")?;
    if len == Some(0) {
        return Err("crit is empty");
    }
    let mut all_known = true;
    cbor::for_each_entry(d, len, |d| {
        let label = cbor::read_label(d)?.ok_or("crit holds a non-label")?;
        all_known &= matches!(label, Label::Int(LABEL_ALG | LABEL_KID));
        Ok(())
    })?;
    Ok(all_known)
}

/// Builds the `Signature1` Sig_structure: `["Signature1", protected, h'', payload]`.
fn sig_structure(protected: &[u8], payload: &[u8]) -> Vec<u8> {
    sig_structure_with(
        protected.len(),
        |out| out.extend_from_slice(protected),
        payload,
    )
}

/// [`sig_structure`] with the protected header, of `protected_len` bytes, written by `push_protected`.
fn sig_structure_with(
    protected_len: usize,
    push_protected: impl FnOnce(&mut Vec<u8>),
    payload: &[u8],
) -> Vec<u8> {
    const CONTEXT: &[u8] = b"Signature1";
    let mut out = Vec::with_capacity(protected_len + payload.len() + 32);
    out.push(0x84);
    push_head(&mut out, 3, CONTEXT.len() as u64);
    out.extend_from_slice(CONTEXT);
    push_head(&mut out, 2, protected_len as u64);
    push_protected(&mut out);
    out.push(0x40);
    push_head(&mut out, 2, payload.len() as u64);
    out.extend_from_slice(payload);
    out
}

/// Appends a CBOR head (major type and argument) in its shortest form.
pub(crate) fn push_head(out: &mut Vec<u8>, major: u8, value: u64) {
    let major = major << 5;
    match value {
        0..=23 => out.push(major | value as u8),
        24..=0xff => out.extend_from_slice(&[major | 24, value as u8]),
        0x100..=0xffff => {
            out.push(major | 25);
            out.extend_from_slice(&(value as u16).to_be_bytes());
        }
        0x1_0000..=0xffff_ffff => {
            out.push(major | 26);
            out.extend_from_slice(&(value as u32).to_be_bytes());
        }
        _ => {
            out.push(major | 27);
            out.extend_from_slice(&value.to_be_bytes());
        }
    }
}

/// Builds a tagged COSE_Sign1 message over `payload`, with `alg` and `kid` in the protected header and an
/// empty unprotected header, signing through `sign` (which receives the Sig_structure bytes).
///
/// The signer is passed in, so keys and HSMs stay out of this crate. ES256 signers must return raw `r‖s`.
/// Two buffers in all, the Sig_structure and the message, each allocated once at its final size.
pub fn sign1<E>(
    alg: Algorithm,
    kid: &[u8],
    payload: &[u8],
    sign: impl FnOnce(&[u8]) -> Result<Vec<u8>, E>,
) -> Result<Vec<u8>, E> {
    let protected_len = 1 + 1 + alg_len(alg) + 1 + head_len(kid.len() as u64) + kid.len();
    let signature = sign(&sig_structure_with(
        protected_len,
        |out| push_protected(out, alg, kid),
        payload,
    ))?;

    let mut out =
        Vec::with_capacity(protected_len + payload.len() + signature.len() + 2 + 3 * 9 + 1);
    out.push(0xd2); // tag 18
    out.push(0x84);
    push_head(&mut out, 2, protected_len as u64);
    push_protected(&mut out, alg, kid);
    out.push(0xa0);
    push_head(&mut out, 2, payload.len() as u64);
    out.extend_from_slice(payload);
    push_head(&mut out, 2, signature.len() as u64);
    out.extend_from_slice(&signature);
    Ok(out)
}

/// The protected header of [`sign1`]: `{1: alg, 4: kid}`, `protected_len` bytes.
fn push_protected(out: &mut Vec<u8>, alg: Algorithm, kid: &[u8]) {
    out.push(0xa2);
    push_head(out, 0, 1);
    push_alg(out, alg);
    push_head(out, 0, 4);
    push_head(out, 2, kid.len() as u64);
    out.extend_from_slice(kid);
}

/// The length of a CBOR head (major type and argument) in its shortest form, as [`push_head`] writes it.
fn head_len(value: u64) -> usize {
    match value {
        0..=23 => 1,
        24..=0xff => 2,
        0x100..=0xffff => 3,
        0x1_0000..=0xffff_ffff => 5,
        _ => 9,
    }
}

/// The length of `alg` as [`push_alg`] writes it.
fn alg_len(alg: Algorithm) -> usize {
    head_len((-1 - i64::from(alg.cose_id())) as u64)
}

fn push_alg(out: &mut Vec<u8>, alg: Algorithm) {
    let id = i64::from(alg.cose_id());
    // Negative integers are major type 1 with argument -1 - n.
    push_head(out, 1, (-1 - id) as u64);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signed(alg: Algorithm, kid: &[u8], payload: &[u8]) -> Vec<u8> {
        sign1(alg, kid, payload, |tbs| {
            Ok::<_, ()>(tbs.iter().rev().copied().collect())
        })
        .unwrap()
    }

    #[test]
    fn round_trip_keeps_alg_kid_payload_and_signature() {
        let bytes = signed(Algorithm::Es256, b"kid12345", b"\xa0");
        let cose = CoseSign1::parse(&bytes).unwrap();
        assert_eq!(cose.algorithm(), Algorithm::Es256);
        assert_eq!(cose.algorithm_source(), HeaderSource::Protected);
        assert_eq!(cose.kid(), Some(&b"kid12345"[..]));
        assert_eq!(cose.payload(), b"\xa0");
        let tbs = cose.to_be_signed();
        assert_eq!(
            cose.signature(),
            tbs.iter().rev().copied().collect::<Vec<_>>()
        );
        assert_eq!(
            cose.protected_header(),
            hex::decode("a201260448")
                .unwrap()
                .iter()
                .chain(b"kid12345")
                .copied()
                .collect::<Vec<_>>()
        );
    }

    #[test]
    fn sign1_writes_the_expected_bytes() {
        // kid of 8 bytes, payload {}, a 4-byte stand-in signature.
        let bytes = sign1(Algorithm::Es256, b"kid12345", b"\xa0", |tbs| {
            assert_eq!(
                hex::encode(tbs),
                "846a5369676e617475726531 4d a201260448 6b69643132333435 40 41a0".replace(' ', "")
            );
            Ok::<_, ()>(vec![1, 2, 3, 4])
        })
        .unwrap();
        assert_eq!(
            hex::encode(bytes),
            "d284 4d a201260448 6b69643132333435 a0 41a0 4401020304".replace(' ', "")
        );
        // Long kids and PS256's two-byte alg: the protected header's length is still right.
        for (alg, kid_len) in [
            (Algorithm::Ps256, 0),
            (Algorithm::Ps256, 24),
            (Algorithm::EdDsa, 300),
        ] {
            let kid = vec![7; kid_len];
            let bytes = signed(alg, &kid, b"\xa0");
            let cose = CoseSign1::parse(&bytes).unwrap();
            assert_eq!((cose.algorithm(), cose.kid()), (alg, Some(&kid[..])));
        }
    }

    #[test]
    fn head_len_matches_push_head() {
        for value in [
            0,
            23,
            24,
            255,
            256,
            65_535,
            65_536,
            u32::MAX.into(),
            u64::from(u32::MAX) + 1,
            u64::MAX,
        ] {
            let mut out = Vec::new();
            push_head(&mut out, 2, value);
            assert_eq!(head_len(value), out.len(), "{value}");
        }
    }

    #[test]
    fn ps256_and_eddsa_ids_encode() {
        for alg in [Algorithm::Ps256, Algorithm::EdDsa] {
            let bytes = signed(alg, b"k", b"");
            assert_eq!(CoseSign1::parse(&bytes).unwrap().algorithm(), alg);
        }
    }

    /// Builds `[protected, unprotected, payload, signature]` from hex parts, with an optional tag prefix.
    fn message(tags: &str, protected_map: &str, unprotected: &str) -> Vec<u8> {
        let protected = hex::decode(protected_map).unwrap();
        let mut out = hex::decode(tags).unwrap();
        out.push(0x84);
        push_head(&mut out, 2, protected.len() as u64);
        out.extend(protected);
        out.extend(hex::decode(unprotected).unwrap());
        out.extend(hex::decode("41a0").unwrap());
        out.extend(hex::decode("4100").unwrap());
        out
    }

    fn check(bytes: &[u8], expected: Result<(), Error>) {
        let got = CoseSign1::parse(bytes).map(drop);
        match (&got, &expected) {
            (Ok(()), Ok(())) => {}
            (Err(got), Err(want)) => assert_eq!(
                std::mem::discriminant(got),
                std::mem::discriminant(want),
                "{got}"
            ),
            _ => panic!("{} → {got:?}, expected {expected:?}", hex::encode(bytes)),
        }
    }

    const ALG_ES256_KID: &str = "a201260442aabb";
    fn structure() -> Result<(), Error> {
        Err(Error::CoseStructure { reason: "" })
    }
    fn protected() -> Result<(), Error> {
        Err(Error::ProtectedHeader { reason: "" })
    }

    #[test]
    fn tags_accepted_and_refused() {
        check(&message("d2", ALG_ES256_KID, "a0"), Ok(()));
        check(&message("", ALG_ES256_KID, "a0"), Ok(()));
        check(&message("d83dd2", ALG_ES256_KID, "a0"), Ok(()));
        check(&message("d862", ALG_ES256_KID, "a0"), structure()); // COSE_Sign (98)
        check(&message("d1", ALG_ES256_KID, "a0"), structure()); // COSE_Mac0 (17)
        check(&message("d0", ALG_ES256_KID, "a0"), structure()); // COSE_Encrypt0 (16)
        check(&message("d2d2", ALG_ES256_KID, "a0"), structure());
    }

    #[test]
    fn shapes_refused() {
        check(&hex::decode("d28340a040").unwrap(), structure());
        check(&hex::decode("d2a0").unwrap(), structure());
        check(&hex::decode("d2854040a04040").unwrap(), structure());
        check(&hex::decode("d28440a0f640").unwrap(), structure()); // detached payload
        check(
            &hex::decode("0001").unwrap(),
            Err(Error::Cbor { reason: "" }),
        ); // CBO2
        let mut trailing = message("d2", ALG_ES256_KID, "a0");
        trailing.push(0);
        check(&trailing, Err(Error::Cbor { reason: "" }));
    }

    #[test]
    fn protected_header_rules() {
        check(&message("d2", "", "a201260442aabb"), Ok(())); // CO20: all unprotected
        check(&message("d2", "a2012604", "a0"), protected()); // truncated map
        check(&message("d2", "a201260126", "a0"), protected()); // duplicate alg
        check(&message("d2", "80", "a0"), protected()); // not a map
        check(&message("d2", "a1012600", "a0"), protected()); // trailing byte
        check(&message("d2", "a201260201", "a0"), protected()); // crit not an array
        check(&message("d2", "a301260281182a0442aabb", "a0"), protected()); // unknown crit label 42
        check(&message("d2", "a30126028101044100", "a0"), Ok(())); // crit [alg]
        check(&message("d2", "a2012604f6", "a0"), protected()); // kid not bytes
        // The protected header as a map instead of a byte string.
        check(&hex::decode("d284a10126a041a04100").unwrap(), protected());
    }

    #[test]
    fn alg_rules() {
        let unsupported = || Err(Error::AlgUnsupported { alg: String::new() });
        check(&message("d2", "a10442aabb", "a0"), Err(Error::AlgMissing));
        check(&message("d2", "a10100", "a0"), unsupported()); // alg 0
        check(&message("d2", "a101390100", "a0"), unsupported()); // RS256 (-257)
        check(&message("d2", "a1013822", "a0"), unsupported()); // ES384 (-35)
        check(&message("d2", "a101654553323536", "a0"), unsupported()); // "ES256" as text
        // An unprotected alg never overrides a protected one.
        let bytes = message("d2", "a10126", "a2013824044142");
        let cose = CoseSign1::parse(&bytes).unwrap();
        assert_eq!(cose.algorithm(), Algorithm::Es256);
        assert_eq!(cose.kid(), Some(&[0x42][..]));
        assert_eq!(cose.kid_source(), Some(HeaderSource::Unprotected));
    }

    #[test]
    fn protected_kid_wins() {
        let bytes = message("d2", "a201260441aa", "a10441bb");
        let cose = CoseSign1::parse(&bytes).unwrap();
        assert_eq!(cose.kid(), Some(&[0xaa][..]));
        assert_eq!(cose.kid_source(), Some(HeaderSource::Protected));
        let bytes = message("d2", "a10126", "a0");
        assert_eq!(CoseSign1::parse(&bytes).unwrap().kid(), None);
    }

    #[test]
    fn sig_structure_matches_rfc_8152() {
        let tbs = sig_structure(&[0xa1, 0x01, 0x26], b"ab");
        assert_eq!(
            hex::encode(tbs),
            "846a5369676e61747572653143a10126404261".to_owned() + "62"
        );
    }
}

#[cfg(test)]
mod properties {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// parse(sign1(x)) gives back x, for any kid, payload and signature.
        #[test]
        fn sign1_then_parse_round_trips(
            kid in proptest::collection::vec(any::<u8>(), 0..16),
            payload in proptest::collection::vec(any::<u8>(), 0..2000),
            signature in proptest::collection::vec(any::<u8>(), 0..300),
            alg in prop_oneof![Just(Algorithm::Es256), Just(Algorithm::Ps256), Just(Algorithm::EdDsa)],
        ) {
            let mut signed_over = Vec::new();
            let bytes = sign1(alg, &kid, &payload, |tbs| {
                signed_over = tbs.to_vec();
                Ok::<_, ()>(signature.clone())
            }).unwrap();
            let cose = CoseSign1::parse(&bytes).unwrap();
            prop_assert_eq!(cose.algorithm(), alg);
            prop_assert_eq!(cose.kid(), Some(&kid[..]));
            prop_assert_eq!(cose.payload(), &payload[..]);
            prop_assert_eq!(cose.signature(), &signature[..]);
            prop_assert_eq!(cose.to_be_signed(), signed_over);
        }

        /// Arbitrary bytes either parse or give an error; never a panic.
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = CoseSign1::parse(&bytes);
        }
    }
}
