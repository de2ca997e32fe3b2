//! Bounded, zero-copy CBOR reading on top of `minicbor`'s decoder.
//!
//! Every walk over untrusted CBOR goes through here, so the limits live in one place: nesting depth,
//! the number of data items, and "exactly one item, nothing after it". Nothing here allocates in
//! proportion to a declared length; only [`to_json`] allocates, in proportion to the items it reads.

use std::fmt::Write;

use minicbor::Decoder;
use minicbor::data::Type;
use serde_json::{Map, Number, Value};

use crate::dcc::PayloadDefect;

/// Deepest nesting of arrays, maps and tags accepted (a DCC needs 6).
pub(crate) const MAX_DEPTH: usize = 16;
/// Most data items accepted in one CBOR document (a DCC has about 40).
pub(crate) const MAX_ITEMS: usize = 4096;

/// Why CBOR could not be read, for the caller to wrap in the error of its layer.
pub(crate) type Reason = &'static str;

/// A map key as the headers and claims use them: an integer label or a text label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Label<'a> {
    /// An integer label (CBOR major types 0 and 1).
    Int(i128),
    /// A text label.
    Text(&'a str),
}

/// Checks that `bytes` hold exactly one well-formed CBOR item within the limits, with valid UTF-8 text.
pub(crate) fn check_single_item(bytes: &[u8]) -> Result<(), Reason> {
    let mut decoder = Decoder::new(bytes);
    let mut budget = MAX_ITEMS;
    skip_item(&mut decoder, 0, &mut budget)?;
    if decoder.position() != bytes.len() {
        return Err("trailing bytes after the CBOR item");
    }
    Ok(())
}

/// Skips one data item, validating it.
pub(crate) fn skip_item(
    d: &mut Decoder<'_>,
    depth: usize,
    budget: &mut usize,
) -> Result<(), Reason> {
    if depth > MAX_DEPTH {
        return Err("nesting too deep");
    }
    *budget = budget.checked_sub(1).ok_or("too many data items")?;
    match d.datatype().map_err(|_| "truncated or invalid item")? {
        Type::Bool | Type::Null | Type::Undefined | Type::Simple => {
            d.skip().map_err(|_| "invalid simple value")?
        }
        Type::U8
        | Type::U16
        | Type::U32
        | Type::U64
        | Type::I8
        | Type::I16
        | Type::I32
        | Type::I64
        | Type::Int => d.int().map(drop).map_err(|_| "invalid integer")?,
        Type::F16 | Type::F32 | Type::F64 => d.f64().map(drop).map_err(|_| "invalid float")?,
        Type::Bytes => drop(d.bytes().map_err(|_| "invalid byte string")?),
        Type::BytesIndef => {
            for chunk in d.bytes_iter().map_err(|_| "invalid byte string")? {
                chunk.map_err(|_| "invalid byte string")?;
            }
        }
        Type::String => drop(d.str().map_err(|_| "invalid text string (UTF-8)")?),
        Type::StringIndef => {
            for chunk in d.str_iter().map_err(|_| "invalid text string")? {
                chunk.map_err(|_| "invalid text string (UTF-8)")?;
            }
        }
        Type::Array | Type::ArrayIndef => {
            let len = d.array().map_err(|_| "invalid array")?;
            skip_entries(d, len, 1, depth, budget)?;
        }
        Type::Map | Type::MapIndef => {
            let len = d.map().map_err(|_| "invalid map")?;
            skip_entries(d, len, 2, depth, budget)?;
        }
        Type::Tag => {
            d.tag().map_err(|_| "invalid tag")?;
            skip_item(d, depth + 1, budget)?;
        }
        Type::Break | Type::Unknown(_) => return Err("unexpected break or reserved byte"),
    }
    Ok(())
}

/// Skips the entries of an array (`per_entry` 1) or map (`per_entry` 2) of definite or indefinite length;
/// a break may only stand between entries (never between a key and its value).
fn skip_entries(
    d: &mut Decoder<'_>,
    len: Option<u64>,
    per_entry: u64,
    depth: usize,
    budget: &mut usize,
) -> Result<(), Reason> {
    for_each_entry(d, len, |d| {
        for _ in 0..per_entry {
            skip_item(d, depth + 1, budget)?;
        }
        Ok(())
    })
}

/// Whether the next byte is the break of an indefinite-length item; consumes it if so.
pub(crate) fn at_break(d: &mut Decoder<'_>) -> Result<bool, Reason> {
    if d.datatype()
        .map_err(|_| "truncated indefinite-length item")?
        == Type::Break
    {
        d.set_position(d.position() + 1);
        return Ok(true);
    }
    Ok(false)
}

/// Iterates over the entries of a map or array whose header has been read: calls `entry` until the
/// declared count is reached or, for indefinite length, until the break.
pub(crate) fn for_each_entry<'b>(
    d: &mut Decoder<'b>,
    len: Option<u64>,
    mut entry: impl FnMut(&mut Decoder<'b>) -> Result<(), Reason>,
) -> Result<(), Reason> {
    let mut remaining = len;
    loop {
        match remaining {
            Some(0) => return Ok(()),
            Some(ref mut n) => *n -= 1,
            None if at_break(d)? => return Ok(()),
            None => {}
        }
        entry(d)?;
    }
}

/// Reads a header or claim label: an integer or a text string.
pub(crate) fn read_label<'b>(d: &mut Decoder<'b>) -> Result<Option<Label<'b>>, Reason> {
    match d.datatype().map_err(|_| "truncated label")? {
        Type::U8
        | Type::U16
        | Type::U32
        | Type::U64
        | Type::I8
        | Type::I16
        | Type::I32
        | Type::I64
        | Type::Int => {
            let int = d.int().map_err(|_| "invalid integer label")?;
            Ok(Some(Label::Int(i128::from(int))))
        }
        Type::String => Ok(Some(Label::Text(
            d.str().map_err(|_| "invalid text label")?,
        ))),
        _ => Ok(None),
    }
}

/// Converts one CBOR item to JSON, losslessly where JSON can hold it.
///
/// Tags are unwrapped (tag 0 around a date-time becomes its text). What JSON cannot hold as the DCC
/// schema expects is recorded in `defect` (the first one only) and rendered as `null`, so that the payload
/// can still be shown while the `schema` check fails. The input must have passed [`check_single_item`].
pub(crate) fn to_json(
    d: &mut Decoder<'_>,
    path: &mut String,
    defect: &mut Option<PayloadDefect>,
) -> Result<Value, Reason> {
    let value = match d.datatype().map_err(|_| "truncated item")? {
        Type::Bool => Value::Bool(d.bool().map_err(|_| "invalid bool")?),
        Type::Null => {
            d.skip().map_err(|_| "invalid null")?;
            Value::Null
        }
        Type::U8
        | Type::U16
        | Type::U32
        | Type::U64
        | Type::I8
        | Type::I16
        | Type::I32
        | Type::I64
        | Type::Int => {
            let int = i128::from(d.int().map_err(|_| "invalid integer")?);
            match (u64::try_from(int), i64::try_from(int)) {
                (Ok(n), _) => Value::Number(n.into()),
                (_, Ok(n)) => Value::Number(n.into()),
                _ => non_json(path, defect),
            }
        }
        Type::F16 | Type::F32 | Type::F64 => {
            let float = d.f64().map_err(|_| "invalid float")?;
            Number::from_f64(float).map_or_else(|| non_json(path, defect), Value::Number)
        }
        Type::String | Type::StringIndef => Value::String(read_text(d)?),
        Type::Array | Type::ArrayIndef => {
            let len = d.array().map_err(|_| "invalid array")?;
            let mut items = Vec::with_capacity(len.map_or(0, |n| n.min(16)) as usize);
            for_each_entry(d, len, |d| {
                let mark = path.len();
                // Writing to a String cannot fail.
                let _ = write!(path, "/{}", items.len());
                items.push(to_json(d, path, defect)?);
                path.truncate(mark);
                Ok(())
            })?;
            Value::Array(items)
        }
        Type::Map | Type::MapIndef => {
            let len = d.map().map_err(|_| "invalid map")?;
            let mut map = Map::new();
            for_each_entry(d, len, |d| {
                let mark = path.len();
                let key = match d.datatype().map_err(|_| "truncated key")? {
                    Type::String | Type::StringIndef => read_text(d)?,
                    _ => {
                        let mut ignored = None;
                        let key = to_json(d, path, &mut ignored)?;
                        record(defect, || PayloadDefect::NonTextKey(path.clone()));
                        key.to_string()
                    }
                };
                path.push('/');
                escape_pointer(&key, path);
                let value = to_json(d, path, defect)?;
                if map.insert(key, value).is_some() {
                    record(defect, || PayloadDefect::DuplicateKey(path.clone()));
                }
                path.truncate(mark);
                Ok(())
            })?;
            Value::Object(map)
        }
        Type::Tag => {
            d.tag().map_err(|_| "invalid tag")?;
            to_json(d, path, defect)?
        }
        Type::Bytes | Type::BytesIndef | Type::Undefined | Type::Simple => {
            d.skip().map_err(|_| "invalid item")?;
            non_json(path, defect)
        }
        Type::Break | Type::Unknown(_) => return Err("unexpected break or reserved byte"),
    };
    Ok(value)
}

/// Reads a text string, definite (one exact allocation) or indefinite (chunks joined).
fn read_text(d: &mut Decoder<'_>) -> Result<String, Reason> {
    if d.datatype().map_err(|_| "truncated text")? == Type::String {
        return d.str().map(str::to_owned).map_err(|_| "invalid text");
    }
    let mut text = String::new();
    for chunk in d.str_iter().map_err(|_| "invalid text")? {
        text.push_str(chunk.map_err(|_| "invalid text")?);
    }
    Ok(text)
}

fn non_json(path: &str, defect: &mut Option<PayloadDefect>) -> Value {
    record(defect, || PayloadDefect::NonJsonValue(path.to_owned()));
    Value::Null
}

fn record(defect: &mut Option<PayloadDefect>, found: impl FnOnce() -> PayloadDefect) {
    if defect.is_none() {
        *defect = Some(found());
    }
}

/// Appends a key to a JSON pointer, escaped per RFC 6901.
fn escape_pointer(key: &str, path: &mut String) {
    for c in key.chars() {
        match c {
            '~' => path.push_str("~0"),
            '/' => path.push_str("~1"),
            c => path.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(hex_input: &str, expected: Result<(), Reason>) {
        let bytes = hex::decode(hex_input).unwrap();
        assert_eq!(
            check_single_item(&bytes).is_ok(),
            expected.is_ok(),
            "{hex_input}"
        );
    }

    #[test]
    fn well_formed_items() {
        check("00", Ok(()));
        check("a201020304", Ok(()));
        check("bf0102ff", Ok(()));
        check("9f01ff", Ok(()));
        check("7f6161ff", Ok(()));
        check("d28401020304", Ok(()));
    }

    #[test]
    fn malformed_items() {
        check("", Err("empty"));
        check("0001", Err("trailing"));
        check("61ff", Err("invalid utf-8"));
        check("ff", Err("break"));
        check("9f01", Err("unterminated"));
        check("bf01ff", Err("break between a key and its value"));
        check("1c", Err("reserved"));
        check("8201", Err("truncated"));
        // An array declaring 2^63 entries ends at the end of input, allocating nothing.
        check("9b8000000000000000", Err("huge length"));
        check("5b8000000000000000", Err("huge byte string"));
    }

    #[test]
    fn depth_is_limited() {
        let deep = "81".repeat(MAX_DEPTH + 1) + "00";
        check(&deep, Err("too deep"));
        let ok = "81".repeat(MAX_DEPTH) + "00";
        check(&ok, Ok(()));
    }

    #[test]
    fn item_count_is_limited() {
        let mut bytes = vec![0x9f];
        bytes.extend(std::iter::repeat_n(0u8, MAX_ITEMS));
        bytes.push(0xff);
        assert!(check_single_item(&bytes).is_err());
        let mut bytes = vec![0x9f];
        bytes.extend(std::iter::repeat_n(0u8, MAX_ITEMS - 1));
        bytes.push(0xff);
        assert!(check_single_item(&bytes).is_ok());
    }

    fn json_of(hex_input: &str) -> (Value, Option<PayloadDefect>) {
        let bytes = hex::decode(hex_input).unwrap();
        let mut defect = None;
        let value = to_json(&mut Decoder::new(&bytes), &mut String::new(), &mut defect).unwrap();
        (value, defect)
    }

    #[test]
    fn json_conversion_keeps_values_and_finds_defects() {
        assert_eq!(json_of("a1616101").0, serde_json::json!({"a": 1}));
        assert_eq!(json_of("bf61618120ff").0, serde_json::json!({"a": [-1]}));
        assert_eq!(
            json_of("c074323032312d30352d30335431303a30303a30305a").0,
            "2021-05-03T10:00:00Z"
        );
        let (_, defect) = json_of("a2616101616102");
        assert_eq!(defect, Some(PayloadDefect::DuplicateKey("/a".into())));
        let (_, defect) = json_of("a1616141ff");
        assert_eq!(defect, Some(PayloadDefect::NonJsonValue("/a".into())));
        let (_, defect) = json_of("a10101");
        assert!(matches!(defect, Some(PayloadDefect::NonTextKey(_))));
    }
}
