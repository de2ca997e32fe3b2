//! QR codes: drawing an `HC1:` string and reading one back from a picture.
//!
//! The string, not the picture, is the certificate (spec notes §9): pictures are renderings of it.
//! Rendering always uses error correction Q and alphanumeric mode, the encoding every HC1 string fits.
//! Reading accepts PNG and JPEG, sniffed from their magic numbers, and refuses a picture that exceeds its
//! [`ImageLimits`] before decoding any pixel.

mod binarize;
mod mask;
mod read;
mod render;

pub use read::{ImageLimits, read_qr, read_qr_rgba};
pub use render::{
    MAX_ALPHANUMERIC_CHARS, PngDepth, QrMatrix, RenderOptions, render_png, render_svg,
};

/// Which bound of [`ImageLimits`] a picture exceeded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ImageLimit {
    /// [`ImageLimits::max_bytes`]: the size of the encoded file.
    Bytes,
    /// [`ImageLimits::max_pixels`]: width × height as declared by the picture's header.
    Pixels,
}

impl core::fmt::Display for ImageLimit {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            Self::Bytes => "bytes",
            Self::Pixels => "pixels",
        })
    }
}

/// Why a QR code could not be rendered or read.
///
/// Messages never quote the text or the picture, so they are safe to log.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum QrError {
    /// The picture exceeds one of its [`ImageLimits`]; no pixel was decoded.
    #[error("picture of {actual} {limit} exceeds the limit of {max}")]
    TooLarge {
        /// Which limit was exceeded.
        limit: ImageLimit,
        /// The picture's size in that unit.
        actual: u64,
        /// The limit in that unit.
        max: u64,
    },
    /// The bytes are neither a PNG nor a JPEG picture.
    #[error("unsupported picture format (expected PNG or JPEG)")]
    UnsupportedFormat,
    /// The bytes claim to be a PNG or JPEG picture but could not be decoded.
    #[error("picture could not be decoded")]
    Undecodable,
    /// The picture was decoded but no readable QR code was found in it.
    #[error("no QR code found in the picture")]
    NotFound,
    /// The text holds a character outside the QR alphanumeric set `0-9A-Z $%*+-./:`.
    #[error("character at byte {position} is not QR alphanumeric")]
    NotAlphanumeric {
        /// Byte offset of the first offending character.
        position: usize,
    },
    /// The text does not fit in a QR code at error correction Q.
    #[error("text of {chars} characters exceeds the QR capacity of {max}")]
    TooLong {
        /// Length of the text in characters.
        chars: usize,
        /// The capacity, [`MAX_ALPHANUMERIC_CHARS`].
        max: usize,
    },
    /// The [`RenderOptions`] are out of range.
    #[error("render options out of range: {reason}")]
    InvalidOptions {
        /// Which option is out of range.
        reason: &'static str,
    },
    /// The encoder failed to produce the picture.
    #[error("QR picture could not be encoded")]
    Render,
}

/// A deterministic `HC1:`-like string of `len` characters from the QR alphanumeric set.
#[cfg(test)]
pub(crate) fn hc1_like(len: usize) -> String {
    const ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:";
    let mut state: u64 = 0x2545_F491_4F6C_DD1D;
    let mut text = String::from("HC1:");
    while text.len() < len {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        text.push(char::from(ALPHABET[(state % 45) as usize]));
    }
    text
}
