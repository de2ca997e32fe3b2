//! CWT claims (RFC 8392) as HCERT uses them: `iss`, `iat`, `exp` and the `hcert` claim holding the DCC.

use minicbor::Decoder;
use minicbor::data::Type;
use serde_json::Value;

use crate::Error;
use crate::cbor::{self, Label};
use crate::cose::push_head;
use crate::dcc::{Dcc, DccEntry, DccPayload, PersonName};

const CLAIM_ISS: i128 = 1;
const CLAIM_EXP: i128 = 4;
const CLAIM_IAT: i128 = 6;
const CLAIM_HCERT: i128 = -260;
/// Key of the EU DCC inside the `hcert` claim.
const HCERT_EU_DCC: i128 = 1;
/// The largest NumericDate accepted: 2^53, beyond which a float cannot count seconds exactly.
const MAX_NUMERIC_DATE: f64 = 9_007_199_254_740_992.0;

/// Seconds since the Unix epoch, UTC (RFC 8392 NumericDate), never negative.
pub type NumericDate = i64;

/// The claims of an HCERT, decoded from the COSE payload.
///
/// Only a payload whose signature has been verified should be treated as fact.
#[derive(Debug, Clone, PartialEq)]
pub struct Claims {
    /// `iss` (1): the issuing country, ISO 3166-1 alpha-2, when present.
    pub issuer: Option<String>,
    /// `iat` (6): when the certificate was signed.
    pub issued_at: Option<NumericDate>,
    /// `exp` (4): after this instant the certificate must be rejected.
    pub expires_at: Option<NumericDate>,
    /// `hcert` (-260) → 1: the DCC payload.
    pub dcc: Dcc,
}

impl Claims {
    /// Decodes the claims from a COSE payload.
    ///
    /// Strict: the payload must be one well-formed CBOR map with unique keys; `iss` text; `iat`/`exp`
    /// non-negative integers or finite non-negative floats (truncated: dgc-testdata ES/701-703 carry
    /// floats) up to 2^53; `hcert` a map with unique keys whose key 1 holds the DCC map. Every failure is
    /// [`Error::Claims`]; defects inside the DCC itself are left for the schema check.
    pub fn decode(payload: &[u8]) -> Result<Claims, Error> {
        Self::decode_inner(payload).map_err(|reason| Error::Claims { reason })
    }

    fn decode_inner(payload: &[u8]) -> Result<Claims, &'static str> {
        cbor::check_single_item(payload).map_err(|_| "payload is not one well-formed CBOR item")?;
        let mut d = Decoder::new(payload);
        let len = d.map().map_err(|_| "payload is not a map")?;
        let mut seen = Vec::new();
        let (mut issuer, mut issued_at, mut expires_at, mut dcc) = (None, None, None, None);
        cbor::for_each_entry(&mut d, len, |d| {
            let label = cbor::read_label(d)?.ok_or("claim key is neither an integer nor text")?;
            if seen.contains(&label) {
                return Err("duplicate claim");
            }
            seen.push(label);
            match label {
                Label::Int(CLAIM_ISS) => {
                    issuer = Some(d.str().map_err(|_| "iss is not text")?.to_owned())
                }
                Label::Int(CLAIM_IAT) => issued_at = Some(read_numeric_date(d)?),
                Label::Int(CLAIM_EXP) => expires_at = Some(read_numeric_date(d)?),
                Label::Int(CLAIM_HCERT) => dcc = Some(read_hcert(d)?),
                _ => d.skip().map_err(|_| "invalid claim value")?,
            }
            Ok(())
        })?;
        if let (Some(iat), Some(exp)) = (issued_at, expires_at)
            && exp < iat
        {
            return Err("exp is before iat");
        }
        Ok(Claims {
            issuer,
            issued_at,
            expires_at,
            dcc: dcc.ok_or("no hcert claim")?,
        })
    }
}

/// Reads a NumericDate: an unsigned integer, or a finite non-negative float, truncated; at most 2^53.
fn read_numeric_date(d: &mut Decoder<'_>) -> Result<NumericDate, &'static str> {
    let seconds = match d.datatype().map_err(|_| "truncated date")? {
        Type::U8 | Type::U16 | Type::U32 | Type::U64 => {
            let n = d.u64().map_err(|_| "invalid date")?;
            i64::try_from(n).map_err(|_| "date out of range")?
        }
        Type::F16 | Type::F32 | Type::F64 => {
            let f = d.f64().map_err(|_| "invalid date")?;
            if !f.is_finite() || !(0.0..=MAX_NUMERIC_DATE).contains(&f) {
                return Err("date is not a finite non-negative number");
            }
            f.trunc() as i64
        }
        _ => return Err("date is not a number of seconds"),
    };
    if seconds > 1 << 53 {
        return Err("date out of range");
    }
    Ok(seconds)
}

/// Reads the `hcert` claim map and converts its EU DCC (key 1) to lossless JSON.
fn read_hcert(d: &mut Decoder<'_>) -> Result<Dcc, &'static str> {
    let len = d.map().map_err(|_| "hcert is not a map")?;
    let mut seen = Vec::new();
    let mut dcc = None;
    cbor::for_each_entry(d, len, |d| {
        let label = cbor::read_label(d)?.ok_or("hcert key is neither an integer nor text")?;
        if seen.contains(&label) {
            return Err("duplicate key in hcert");
        }
        seen.push(label);
        if label == Label::Int(HCERT_EU_DCC) {
            if !matches!(d.datatype(), Ok(Type::Map | Type::MapIndef)) {
                return Err("the DCC is not a map");
            }
            let mut defect = None;
            let value = cbor::to_json(d, &mut String::new(), &mut defect)?;
            dcc = Some(Dcc::with_defect(value, defect));
        } else {
            d.skip().map_err(|_| "invalid hcert value")?;
        }
        Ok(())
    })?;
    dcc.ok_or("hcert holds no EU DCC (key 1)")
}

/// Builds CWT claims for issuing; the output is deterministic CBOR with integer dates.
#[derive(Debug, Clone)]
pub struct ClaimsBuilder {
    issuer: String,
    issued_at: NumericDate,
    expires_at: NumericDate,
}

impl ClaimsBuilder {
    /// Claims for a certificate issued by `issuer` (ISO 3166-1 alpha-2) at `issued_at`, expiring at
    /// `expires_at` (both seconds since the epoch).
    pub fn new(issuer: &str, issued_at: NumericDate, expires_at: NumericDate) -> Self {
        ClaimsBuilder {
            issuer: issuer.to_owned(),
            issued_at,
            expires_at,
        }
    }

    /// Encodes the claims with `dcc` as the EU DCC: `{1: iss, 4: exp, 6: iat, -260: {1: dcc}}`.
    ///
    /// Fails when the DCC holds something CBOR cannot carry as the schema expects (a float where an
    /// integer is due is kept as a float) — that is, never for a JSON object; the error names the reason.
    pub fn encode(&self, dcc: &Value) -> Result<Vec<u8>, Error> {
        if !dcc.is_object() {
            return Err(Error::Claims {
                reason: "the DCC is not an object",
            });
        }
        let mut out = self.head(512);
        push_json(&mut out, dcc);
        Ok(out)
    }

    /// Encodes the claims with `payload` as the EU DCC, written straight from the typed payload with no
    /// JSON in between: the claims [`ClaimsBuilder::encode`] makes of [`DccPayload::to_dcc`] (unset
    /// optional fields left out, `dn` and `sd` as integers), with each map's keys in the deterministic
    /// order of RFC 8949 §4.2.1 (shorter keys first, then bytewise), so equal payloads give equal bytes.
    pub fn encode_payload(&self, payload: &DccPayload<'_>) -> Vec<u8> {
        let nam = &payload.nam;
        let names = [
            &nam.family,
            &nam.family_transliterated,
            &nam.given,
            &nam.given_transliterated,
        ];
        // Room for the claims of any payload whose names and codes are of the usual lengths.
        let capacity = 384
            + names
                .iter()
                .flat_map(|name| name.as_deref())
                .map(str::len)
                .sum::<usize>();
        let mut out = self.head(capacity);
        // One-letter group first, then `dob`, `nam`, `ver`.
        out.push(0xa4);
        push_entry(&mut out, &payload.entry);
        push_field(&mut out, "dob", &payload.dob);
        push_text(&mut out, "nam");
        push_name(&mut out, nam);
        push_field(&mut out, "ver", &payload.ver);
        out
    }

    /// The claims map up to the EU DCC: `{1: iss, 4: exp, 6: iat, -260: {1: …`, in a buffer of `capacity`.
    fn head(&self, capacity: usize) -> Vec<u8> {
        let mut out = Vec::with_capacity(capacity);
        out.push(0xa4);
        push_head(&mut out, 0, CLAIM_ISS as u64);
        push_text(&mut out, &self.issuer);
        push_head(&mut out, 0, CLAIM_EXP as u64);
        push_head(&mut out, 0, self.expires_at.max(0) as u64);
        push_head(&mut out, 0, CLAIM_IAT as u64);
        push_head(&mut out, 0, self.issued_at.max(0) as u64);
        push_head(&mut out, 1, (-1 - CLAIM_HCERT) as u64);
        out.push(0xa1);
        push_head(&mut out, 0, HCERT_EU_DCC as u64);
        out
    }
}

/// `nam`: `fn`, `gn`, `fnt`, `gnt`, each when set.
fn push_name(out: &mut Vec<u8>, nam: &PersonName<'_>) {
    push_fields(
        out,
        &[
            ("fn", nam.family.as_deref()),
            ("gn", nam.given.as_deref()),
            ("fnt", nam.family_transliterated.as_deref()),
            ("gnt", nam.given_transliterated.as_deref()),
        ],
    );
}

/// The group holding the single entry: `"v": [{…}]`, `"t": [{…}]` or `"r": [{…}]`.
fn push_entry(out: &mut Vec<u8>, entry: &DccEntry<'_>) {
    match entry {
        DccEntry::Vaccination([v]) => {
            push_text(out, "v");
            out.push(0x81);
            push_head(out, 5, 10);
            push_field(out, "ci", &v.ci);
            push_field(out, "co", &v.co);
            push_text(out, "dn");
            push_head(out, 0, u64::from(v.dn));
            push_field(out, "dt", &v.dt);
            push_field(out, "is", &v.is);
            push_field(out, "ma", &v.ma);
            push_field(out, "mp", &v.mp);
            push_text(out, "sd");
            push_head(out, 0, u64::from(v.sd));
            push_field(out, "tg", &v.tg);
            push_field(out, "vp", &v.vp);
        }
        DccEntry::Test([t]) => {
            push_text(out, "t");
            out.push(0x81);
            push_fields(
                out,
                &[
                    ("ci", Some(&t.ci)),
                    ("co", Some(&t.co)),
                    ("is", Some(&t.is)),
                    ("ma", t.ma.as_deref()),
                    ("nm", t.nm.as_deref()),
                    ("sc", Some(&t.sc)),
                    ("tc", t.tc.as_deref()),
                    ("tg", Some(&t.tg)),
                    ("tr", Some(&t.tr)),
                    ("tt", Some(&t.tt)),
                ],
            );
        }
        DccEntry::Recovery([r]) => {
            push_text(out, "r");
            out.push(0x81);
            push_fields(
                out,
                &[
                    ("ci", Some(&r.ci)),
                    ("co", Some(&r.co)),
                    ("df", Some(&r.df)),
                    ("du", Some(&r.du)),
                    ("fr", Some(&r.fr)),
                    ("is", Some(&r.is)),
                    ("tg", Some(&r.tg)),
                ],
            );
        }
    }
}

/// A text-keyed map of the fields that are set, in the order given.
fn push_fields(out: &mut Vec<u8>, fields: &[(&str, Option<&str>)]) {
    let set = fields.iter().filter(|(_, value)| value.is_some()).count();
    push_head(out, 5, set as u64);
    for (key, value) in fields {
        if let Some(value) = value {
            push_field(out, key, value);
        }
    }
}

fn push_field(out: &mut Vec<u8>, key: &str, value: &str) {
    push_text(out, key);
    push_text(out, value);
}

fn push_text(out: &mut Vec<u8>, text: &str) {
    push_head(out, 3, text.len() as u64);
    out.extend_from_slice(text.as_bytes());
}

/// Encodes JSON as CBOR: integers as integers, other numbers as 64-bit floats, objects as text-keyed maps.
fn push_json(out: &mut Vec<u8>, value: &Value) {
    match value {
        Value::Null => out.push(0xf6),
        Value::Bool(false) => out.push(0xf4),
        Value::Bool(true) => out.push(0xf5),
        Value::Number(n) => match (n.as_u64(), n.as_i64(), n.as_f64()) {
            (Some(u), _, _) => push_head(out, 0, u),
            (None, Some(i), _) => push_head(out, 1, (-1 - i) as u64),
            (None, None, Some(f)) => {
                out.push(0xfb);
                out.extend_from_slice(&f.to_be_bytes());
            }
            (None, None, None) => out.push(0xf6),
        },
        Value::String(s) => push_text(out, s),
        Value::Array(items) => {
            push_head(out, 4, items.len() as u64);
            items.iter().for_each(|item| push_json(out, item));
        }
        Value::Object(map) => {
            push_head(out, 5, map.len() as u64);
            for (key, item) in map {
                push_text(out, key);
                push_json(out, item);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dcc::{RecoveryEntry, TestEntry, VaccinationEntry};
    use serde_json::json;

    fn dcc() -> Value {
        json!({"ver": "1.3.0", "nam": {"fnt": "NGUYEN", "gnt": "BAO<DUY", "fn": "Nguyễn", "gn": "Bảo Duy"},
               "dob": "1983-10-10", "v": [{"dn": 2, "sd": 2, "ci": "URN:UVCI:01:VN:X"}]})
    }

    #[test]
    fn encode_then_decode_round_trips() {
        let bytes = ClaimsBuilder::new("VN", 1_640_000_000, 1_671_536_000)
            .encode(&dcc())
            .unwrap();
        let claims = Claims::decode(&bytes).unwrap();
        assert_eq!(claims.issuer.as_deref(), Some("VN"));
        assert_eq!(claims.issued_at, Some(1_640_000_000));
        assert_eq!(claims.expires_at, Some(1_671_536_000));
        assert_eq!(claims.dcc.as_json(), &dcc());
        assert_eq!(claims.dcc.defect(), None);
    }

    fn vaccination() -> DccPayload<'static> {
        DccPayload {
            ver: "1.3.0".into(),
            nam: PersonName {
                family: Some("Nguyễn".into()),
                family_transliterated: Some("NGUYEN".into()),
                given: Some("Bảo Duy".into()),
                given_transliterated: Some("BAO<DUY".into()),
            },
            dob: "1983-10-10".into(),
            entry: DccEntry::Vaccination([VaccinationEntry {
                tg: "840539006".into(),
                vp: "1119349007".into(),
                mp: "EU/1/20/1528".into(),
                ma: "ORG-100030215".into(),
                dn: 2,
                sd: 2,
                dt: "2021-09-14".into(),
                co: "VN".into(),
                is: "Ministry of Health of Viet Nam".into(),
                ci: "URN:UVCI:01:VN:0123456789ABCDEF0123456789ABCDEF#X".into(),
            }]),
        }
    }

    fn test_entry(nm: Option<&'static str>, ma: Option<&'static str>) -> DccEntry<'static> {
        DccEntry::Test([TestEntry {
            tg: "840539006".into(),
            tt: "LP6464-4".into(),
            nm: nm.map(Into::into),
            ma: ma.map(Into::into),
            sc: "2021-06-11T17:30:00Z".into(),
            tr: "260415000".into(),
            tc: Some("Bach Mai".into()),
            co: "VN".into(),
            is: "Ministry of Health".into(),
            ci: "URN:UVCI:01:VN:1#1".into(),
        }])
    }

    fn recovery_entry() -> DccEntry<'static> {
        DccEntry::Recovery([RecoveryEntry {
            tg: "840539006".into(),
            fr: "2021-06-01".into(),
            co: "VN".into(),
            is: "Ministry of Health".into(),
            df: "2021-06-12".into(),
            du: "2021-12-01".into(),
            ci: "URN:UVCI:01:VN:2#2".into(),
        }])
    }

    /// Every map key of the CBOR item at `d`, checked to be in RFC 8949 §4.2.1 order, recursively.
    fn assert_deterministic(d: &mut Decoder<'_>) {
        match d.datatype().unwrap() {
            Type::Map => {
                let len = d.map().unwrap().unwrap();
                let mut previous: Option<Vec<u8>> = None;
                for _ in 0..len {
                    let start = d.position();
                    d.skip().unwrap();
                    let key = d.input()[start..d.position()].to_vec();
                    if let Some(previous) = &previous {
                        assert!(
                            (previous.len(), previous) < (key.len(), &key),
                            "{} before {}",
                            hex::encode(previous),
                            hex::encode(&key)
                        );
                    }
                    previous = Some(key);
                    assert_deterministic(d);
                }
            }
            Type::Array => {
                for _ in 0..d.array().unwrap().unwrap() {
                    assert_deterministic(d);
                }
            }
            _ => d.skip().unwrap(),
        }
    }

    #[test]
    fn typed_payloads_encode_as_their_json() {
        let names = [
            PersonName::default(),
            PersonName {
                given_transliterated: Some("BAO".into()),
                ..PersonName::default()
            },
            vaccination().nam,
        ];
        let entries = [
            vaccination().entry,
            test_entry(None, None),
            test_entry(Some("PCR"), Some("1232")),
            recovery_entry(),
        ];
        for (nam, entry) in names
            .iter()
            .flat_map(|nam| entries.iter().map(move |e| (nam, e)))
        {
            let payload = DccPayload {
                nam: nam.clone(),
                entry: entry.clone(),
                ..vaccination()
            };
            let bytes =
                ClaimsBuilder::new("VN", 1_640_000_000, 1_671_536_000).encode_payload(&payload);
            let claims = Claims::decode(&bytes).unwrap();
            assert_eq!(claims.issuer.as_deref(), Some("VN"));
            assert_eq!(claims.issued_at, Some(1_640_000_000));
            assert_eq!(claims.expires_at, Some(1_671_536_000));
            assert_eq!(claims.dcc.defect(), None);
            assert_eq!(claims.dcc.as_json(), payload.to_dcc().unwrap().as_json());
            assert_deterministic(&mut Decoder::new(&bytes));
        }
    }

    #[test]
    fn a_vaccination_payload_validates() {
        let bytes =
            ClaimsBuilder::new("VN", 1_640_000_000, 1_671_536_000).encode_payload(&vaccination());
        let claims = Claims::decode(&bytes).unwrap();
        assert_eq!(
            crate::dcc::validate_schema(&claims.dcc, None),
            Ok(crate::CertType::Vaccination)
        );
        // `-260: {1: {"v": [{"ci": …`: the DCC map starts with its one-letter group.
        let dcc = b"\x39\x01\x03\xa1\x01\xa4\x61v\x81\xaa\x62ci";
        assert!(bytes.windows(dcc.len()).any(|w| w == dcc));
    }

    /// Claims map from hex entries; the DCC is a minimal map `{"a": 1}` under -260 → 1.
    fn claims_hex(entries: &[&str]) -> Vec<u8> {
        let mut out = vec![0xa0 | (entries.len() as u8 + 1)];
        for entry in entries {
            out.extend(hex::decode(entry).unwrap());
        }
        out.extend(hex::decode("390103a101a1616101").unwrap());
        out
    }

    fn check(entries: &[&str], ok: bool) {
        let got = Claims::decode(&claims_hex(entries));
        assert_eq!(got.is_ok(), ok, "{entries:?} → {got:?}");
        if let Err(err) = got {
            assert!(matches!(err, Error::Claims { .. }));
        }
    }

    #[test]
    fn claim_rules() {
        check(&["01624154", "041a60000000", "061a50000000"], true);
        check(&["01624154", "01624154"], false); // duplicate iss
        check(&["041a60000000", "041a60000001"], false); // duplicate exp
        check(&["0141aa"], false); // iss as bytes
        check(&["04623130"], false); // exp as text
        check(&["0420"], false); // exp negative
        check(&["04fb7ff8000000000000"], false); // NaN
        check(&["04fb7ff0000000000000"], false); // infinity
        check(&["04fbc000000000000000"], false); // -2.0
        check(&["04c2420100"], false); // bignum
        check(&["041b0020000000000001"], false); // 2^53 + 1
        check(&["041b0020000000000000"], true); // 2^53
        check(&["04fb41d8000000200000", "061a60000000"], true); // float 1610612736.5, truncated
        check(&["041a50000000", "061a60000000"], false); // exp < iat
        check(&["0af6"], true); // unknown claims are ignored
    }

    #[test]
    fn float_dates_are_truncated() {
        let claims = Claims::decode(&claims_hex(&["04fb41d8000000200000"])).unwrap();
        assert_eq!(claims.expires_at, Some(1_610_612_736));
        let claims = Claims::decode(&claims_hex(&["04fa4f000000"])).unwrap();
        assert_eq!(claims.expires_at, Some(2_147_483_648));
    }

    #[test]
    fn garbage_or_missing_dcc_is_a_claims_error() {
        assert!(matches!(
            Claims::decode(b"\x01\x02"),
            Err(Error::Claims { .. })
        )); // CBO1-like
        assert!(matches!(
            Claims::decode(&hex::decode("a10162").unwrap()),
            Err(Error::Claims { .. })
        ));
        assert!(matches!(
            Claims::decode(&hex::decode("a1390103a10201").unwrap()),
            Err(Error::Claims { .. })
        ));
        assert!(matches!(
            Claims::decode(&hex::decode("a1390103a10101").unwrap()),
            Err(Error::Claims { .. })
        ));
        let dup = hex::decode("a1390103a201a001a0").unwrap();
        assert!(matches!(Claims::decode(&dup), Err(Error::Claims { .. })));
    }

    #[test]
    fn duplicates_inside_the_dcc_are_left_for_the_schema() {
        let bytes = hex::decode("a1390103a101a2616101616102").unwrap();
        let claims = Claims::decode(&bytes).unwrap();
        assert!(claims.dcc.defect().is_some());
    }
}

#[cfg(test)]
mod properties {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    proptest! {
        /// decode(encode(claims)) gives back the claims and the DCC, for any dates and text.
        #[test]
        fn encode_then_decode_round_trips(
            iss in "[A-Z]{2}",
            iat in 0i64..(1 << 40),
            validity in 0i64..(1 << 30),
            name in "\\PC{0,80}",
            dn in 1u64..10,
        ) {
            let dcc = json!({"ver": "1.3.0", "nam": {"fn": name, "fnt": "X"}, "dob": "", "v": [{"dn": dn}]});
            let bytes = ClaimsBuilder::new(&iss, iat, iat + validity).encode(&dcc).unwrap();
            let claims = Claims::decode(&bytes).unwrap();
            prop_assert_eq!(claims.issuer.as_deref(), Some(iss.as_str()));
            prop_assert_eq!(claims.issued_at, Some(iat));
            prop_assert_eq!(claims.expires_at, Some(iat + validity));
            prop_assert_eq!(claims.dcc.as_json(), &dcc);
        }

        /// Arbitrary bytes either decode or give a claims error; never a panic.
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            if let Err(err) = Claims::decode(&bytes) {
                let is_claims_error = matches!(err, Error::Claims { .. });
                prop_assert!(is_claims_error);
            }
        }
    }
}
