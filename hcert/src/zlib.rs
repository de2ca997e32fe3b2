//! zlib (RFC 1950) with a cap on the inflated size.
//!
//! hcert §4.2.1: the COSE message SHALL be zlib-compressed; uncompressed CBOR is invalid. Real payloads
//! inflate to less than 1 KiB, so a cap of 16 KiB refuses compression bombs long before they cost anything.

use miniz_oxide::inflate::TINFLStatus;
use miniz_oxide::inflate::core::inflate_flags::{
    TINFL_FLAG_COMPUTE_ADLER32, TINFL_FLAG_PARSE_ZLIB_HEADER,
    TINFL_FLAG_USING_NON_WRAPPING_OUTPUT_BUF,
};
use miniz_oxide::inflate::core::{DecompressorOxide, decompress};

use std::cell::RefCell;

use zlib_rs::{Deflate, DeflateFlush, Status};

use crate::Error;

/// The most bytes [`inflate`] produces.
pub const MAX_INFLATED_BYTES: usize = 16 * 1024;

/// The compression level of [`deflate`] for certificate-sized input (up to [`SMALL_INPUT_BYTES`]). Signed
/// CBOR barely compresses (the signature not at all). On our 380-byte ES256 messages, zlib-rs at level 1
/// gives 362.7 bytes on average in 5 µs; at level 9, 356.3 bytes in 16 µs; miniz_oxide (which this crate
/// used before) 368.4 bytes in 13.5 µs at level 9. Level 1 keeps the QR code smaller than it used to be,
/// for a third of the time.
const LEVEL: i32 = 1;

/// Beyond this many bytes, [`deflate`] compresses at level 9 with a compressor of its own: level 1 finds
/// only short runs (4 MiB of zeros become 40 KB instead of 4 KB), and no certificate is that long.
const SMALL_INPUT_BYTES: usize = 4096;

/// The LZ77 window of [`deflate`]: the standard 32 KiB, which every inflater accepts.
const WINDOW_BITS: u8 = 15;

/// Inflates exactly one zlib stream (RFC 1950) of at most [`MAX_INFLATED_BYTES`] bytes.
///
/// Fails with [`Error::Zlib`] on input that is not a zlib stream (raw deflate, uncompressed CBOR), a broken
/// or truncated stream, a wrong Adler-32 checksum or bytes after the stream, and with
/// [`Error::DecompressedTooLarge`] as soon as the output would exceed the cap. It inflates into a per-thread
/// buffer of the cap plus one byte, allocated once, and returns a copy of exactly the bytes produced.
pub fn inflate(compressed: &[u8]) -> Result<Vec<u8>, Error> {
    check_header(compressed)?;
    SCRATCH.with(|scratch| {
        let mut scratch = scratch.borrow_mut();
        let Scratch { state, out } = &mut *scratch;
        state.init();
        let flags = TINFL_FLAG_PARSE_ZLIB_HEADER
            | TINFL_FLAG_USING_NON_WRAPPING_OUTPUT_BUF
            | TINFL_FLAG_COMPUTE_ADLER32;
        let (status, consumed, produced) = decompress(state, compressed, &mut out[..], 0, flags);
        match status {
            TINFLStatus::Done if produced > MAX_INFLATED_BYTES => Err(too_large()),
            TINFLStatus::Done if consumed < compressed.len() => {
                Err(zlib("trailing bytes after the stream"))
            }
            TINFLStatus::Done => Ok(out.get(..produced).map(<[u8]>::to_vec).unwrap_or_default()),
            TINFLStatus::HasMoreOutput => Err(too_large()),
            TINFLStatus::Adler32Mismatch => Err(zlib("Adler-32 checksum mismatch")),
            TINFLStatus::FailedCannotMakeProgress | TINFLStatus::NeedsMoreInput => {
                Err(zlib("truncated stream"))
            }
            _ => Err(zlib("corrupt deflate data")),
        }
    })
}

/// Per-thread inflate state and output buffer, reused: a fresh 11 KiB decompressor and a zeroed 16 KiB buffer
/// per certificate cost more than inflating it (they evict the caches the signature check then needs).
/// Each call resets the state; only the bytes produced are copied out.
struct Scratch {
    state: Box<DecompressorOxide>,
    /// One byte beyond the cap tells "exactly the cap" from "more than the cap".
    out: Box<[u8; MAX_INFLATED_BYTES + 1]>,
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch {
        state: Box::default(),
        out: Box::new([0; MAX_INFLATED_BYTES + 1]),
    });
}

/// RFC 1950 §2.2: CM = 8 (deflate), CINFO ≤ 7, FCHECK makes `CMF × 256 + FLG` a multiple of 31, and no
/// preset dictionary (FDICT), which HCERT never uses.
fn check_header(compressed: &[u8]) -> Result<(), Error> {
    let &[cmf, flg, ..] = compressed else {
        return Err(zlib("truncated stream"));
    };
    let deflate = cmf & 0x0f == 8 && cmf >> 4 <= 7;
    let check = (u16::from(cmf) << 8 | u16::from(flg)) % 31 == 0;
    if !(deflate && check) {
        return Err(zlib("no zlib header"));
    }
    if flg & 0x20 != 0 {
        return Err(zlib("preset dictionary not supported"));
    }
    Ok(())
}

fn zlib(reason: &'static str) -> Error {
    Error::Zlib { reason }
}

fn too_large() -> Error {
    Error::DecompressedTooLarge {
        max: MAX_INFLATED_BYTES,
    }
}

/// Compresses bytes as one zlib stream (RFC 1950) with zlib-rs, at level 1 up to [`SMALL_INPUT_BYTES`]
/// (its fastest, which still finds the repeats a certificate has) and at level 9 beyond, which [`inflate`]
/// accepts whenever `bytes` is no longer than [`MAX_INFLATED_BYTES`].
///
/// It reuses a per-thread compressor, reset for each stream: the output is byte for byte what a fresh
/// compressor at the same level gives, without allocating ≈ 300 KiB of tables for every certificate.
pub fn deflate(bytes: &[u8]) -> Vec<u8> {
    if bytes.len() > SMALL_INPUT_BYTES {
        return deflate_with(&mut Deflate::new(9, true, WINDOW_BITS), bytes)
            .unwrap_or_else(|| miniz_oxide::deflate::compress_to_vec_zlib(bytes, 9));
    }
    COMPRESSOR
        .try_with(|compressor| {
            let mut compressor = compressor.try_borrow_mut().ok()?;
            deflate_with(&mut compressor, bytes)
        })
        .ok()
        .flatten()
        // Only while the thread is being torn down (or from inside a compression, which never happens):
        // a compressor of its own.
        .or_else(|| deflate_with(&mut Deflate::new(LEVEL, true, WINDOW_BITS), bytes))
        .unwrap_or_else(|| miniz_oxide::deflate::compress_to_vec_zlib(bytes, 9))
}

/// One zlib stream of `bytes` through `compressor`, reset first, into a buffer of the worst-case size;
/// `None` if it did not finish.
fn deflate_with(compressor: &mut Deflate, bytes: &[u8]) -> Option<Vec<u8>> {
    compressor.reset();
    let mut out = vec![0; zlib_rs::compress_bound(bytes.len())];
    match compressor.compress(bytes, &mut out, DeflateFlush::Finish) {
        Ok(Status::StreamEnd) => {
            out.truncate(usize::try_from(compressor.total_out()).ok()?);
            Some(out)
        }
        _ => None,
    }
}

thread_local! {
    /// The compressor of [`deflate`], allocated on a thread's first call and reset for every stream.
    static COMPRESSOR: RefCell<Deflate> = RefCell::new(Deflate::new(LEVEL, true, WINDOW_BITS));
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn reason(result: Result<Vec<u8>, Error>) -> &'static str {
        match result {
            Err(Error::Zlib { reason }) => reason,
            other => panic!("expected a zlib error, got {other:?}"),
        }
    }

    /// A CWT-like payload: a COSE_Sign1 shape with text, dates and a 64-byte signature.
    fn payload(len: usize) -> Vec<u8> {
        let mut bytes =
            b"\xd2\x84\x43\xa1\x01\x26\xa1\x04\x48\x12\x34\x56\x78\x9a\xbc\xde\xf0".to_vec();
        let text = b"v\x81\xa9bcixURN:UVCI:01:VN:0123456789ABCDEF#Kbcoblvnbdn\x02bdtj2021-08-01";
        bytes.extend(text.iter().cycle().take(len));
        bytes
    }

    #[test]
    fn round_trips() {
        for bytes in [
            Vec::new(),
            vec![0],
            payload(300),
            vec![0xa5; MAX_INFLATED_BYTES],
        ] {
            assert_eq!(inflate(&deflate(&bytes)), Ok(bytes));
        }
    }

    #[test]
    fn the_reused_compressor_gives_what_a_fresh_one_gives() {
        // Each stream after a longer, a shorter or an empty one: the reset leaves nothing behind.
        let inputs = [
            payload(300),
            vec![0xa5; MAX_INFLATED_BYTES],
            payload(40),
            Vec::new(),
            payload(300),
            (0..=255).cycle().take(70_000).collect(),
            payload(1000),
        ];
        for bytes in &inputs {
            let level = if bytes.len() > SMALL_INPUT_BYTES {
                9
            } else {
                LEVEL
            };
            let fresh = deflate_with(&mut Deflate::new(level, true, WINDOW_BITS), bytes);
            let reused = deflate(bytes);
            assert_eq!(Some(&reused), fresh.as_ref(), "{} bytes", bytes.len());
            assert_eq!(
                inflate(&reused).ok().as_ref(),
                (bytes.len() <= MAX_INFLATED_BYTES).then_some(bytes)
            );
        }
    }

    #[test]
    fn streams_start_with_a_standard_zlib_header() {
        // CMF 0x78 (deflate, 32 KiB window), FLG 0x01 (fastest, no dictionary): what zlib writes.
        for bytes in [payload(300), Vec::new()] {
            assert_eq!(deflate(&bytes).get(..2), Some(&[0x78, 0x01][..]));
        }
    }

    #[test]
    fn each_thread_has_its_own_compressor() {
        let streams: Vec<_> = (0..4)
            .map(|n| std::thread::spawn(move || deflate(&payload(100 * n))))
            .collect();
        for (n, stream) in streams.into_iter().enumerate() {
            assert_eq!(
                stream.join().ok().map(|s| inflate(&s)),
                Some(Ok(payload(100 * n)))
            );
        }
    }

    #[test]
    fn accepts_exactly_the_cap_and_rejects_one_more_byte() {
        for level in [0, 1, 9] {
            let at_cap = vec![7; MAX_INFLATED_BYTES];
            let stream = miniz_oxide::deflate::compress_to_vec_zlib(&at_cap, level);
            assert_eq!(inflate(&stream), Ok(at_cap), "level {level}");

            let over = vec![7; MAX_INFLATED_BYTES + 1];
            let stream = miniz_oxide::deflate::compress_to_vec_zlib(&over, level);
            assert_eq!(inflate(&stream), Err(too_large()), "level {level}");
        }
    }

    #[test]
    fn stops_a_bomb_at_the_cap() {
        let stream = deflate(&vec![0; 4 << 20]);
        assert!(stream.len() < 5000, "the bomb is {} bytes", stream.len());
        assert_eq!(inflate(&stream), Err(too_large()));
    }

    #[test]
    fn rejects_uncompressed_cbor() {
        // dgc-testdata Z2: the COSE_Sign1 bytes themselves, tag 18 = 0xd2.
        assert_eq!(reason(inflate(&payload(300))), "no zlib header");
    }

    #[test]
    fn rejects_raw_deflate() {
        let raw = miniz_oxide::deflate::compress_to_vec(&payload(300), 9);
        assert_eq!(reason(inflate(&raw)), "no zlib header");
    }

    #[test]
    fn rejects_short_input() {
        assert_eq!(reason(inflate(&[])), "truncated stream");
        assert_eq!(reason(inflate(&[0x78])), "truncated stream");
        assert_eq!(reason(inflate(&[0x78, 0xda])), "truncated stream");
    }

    #[test]
    fn rejects_header_defects() {
        assert_eq!(reason(inflate(&[0x78, 0xdb, 0x03, 0x00])), "no zlib header");
        assert_eq!(reason(inflate(&[0x88, 0x98, 0x03, 0x00])), "no zlib header");
        assert_eq!(
            reason(inflate(&[0x78, 0xbb, 0, 0, 0, 1])),
            "preset dictionary not supported"
        );
    }

    #[test]
    fn rejects_every_truncation() {
        let stream = deflate(&payload(300));
        for len in 0..stream.len() {
            assert!(
                matches!(inflate(&stream[..len]), Err(Error::Zlib { .. })),
                "truncated to {len} bytes"
            );
        }
    }

    #[test]
    fn rejects_a_broken_stream() {
        // dgc-testdata Z1: deflate data that is not deflate. 0xff starts a block of the reserved type 3.
        assert_eq!(
            reason(inflate(&[0x78, 0xda, 0xff, 0xff, 0xff])),
            "corrupt deflate data"
        );
    }

    #[test]
    fn rejects_a_wrong_checksum() {
        let mut stream = deflate(&payload(300));
        if let Some(last) = stream.last_mut() {
            *last ^= 1;
        }
        assert_eq!(reason(inflate(&stream)), "Adler-32 checksum mismatch");
    }

    #[test]
    fn rejects_trailing_bytes() {
        let stream = deflate(&payload(300));
        for garbage in [&[0][..], b"x", &stream] {
            let mut input = stream.clone();
            input.extend_from_slice(garbage);
            assert_eq!(reason(inflate(&input)), "trailing bytes after the stream");
        }
    }

    proptest! {
        // Level 9 on 16 KiB takes tens of milliseconds in a debug build: fewer, larger cases.
        #![proptest_config(ProptestConfig::with_cases(32))]

        #[test]
        fn inflate_inverts_deflate(bytes in proptest::collection::vec(any::<u8>(), 0..=MAX_INFLATED_BYTES)) {
            prop_assert_eq!(inflate(&deflate(&bytes)), Ok(bytes));
        }

        #[test]
        fn inflate_inverts_deflate_on_compressible_bytes(
            bytes in proptest::collection::vec(0..4_u8, 0..=MAX_INFLATED_BYTES)
        ) {
            prop_assert_eq!(inflate(&deflate(&bytes)), Ok(bytes));
        }
    }

    proptest! {
        #[test]
        fn arbitrary_streams_error_or_stay_under_the_cap(
            body in proptest::collection::vec(any::<u8>(), 0..64)
        ) {
            let stream = [&[0x78, 0xda][..], &body].concat();
            if let Ok(out) = inflate(&stream) {
                prop_assert!(out.len() <= MAX_INFLATED_BYTES);
            }
        }
    }
}
