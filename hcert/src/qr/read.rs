//! Reading: PNG or JPEG bytes → luma pixels (`image`) → QR text (`rxing`).

use std::io::Cursor;

use image::imageops::{FilterType, resize};
use image::{DynamicImage, GrayImage, ImageFormat, ImageReader};
use rxing::common::{GlobalHistogramBinarizer, HybridBinarizer};
use rxing::qrcode::QRCodeReader;
use rxing::qrcode::cpp_port::QrReader;
use rxing::{Binarizer, BinaryBitmap, DecodeHints, Luma8Source, Reader};

use super::{ImageLimit, QrError};

/// Bounds a picture must respect to be decoded at all.
///
/// Both are checked before any pixel is decoded: the byte count on the input, the pixel count on the
/// dimensions declared by the picture's header. Decoding then allocates at most 8 bytes a pixel for the
/// decoder's output plus one byte a pixel of grayscale working copy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImageLimits {
    /// Most bytes of encoded picture accepted.
    pub max_bytes: usize,
    /// Most pixels (width × height, as declared by the header) decoded.
    pub max_pixels: u64,
}

impl ImageLimits {
    /// 8 MiB and 16 million pixels: a full-resolution photo from a 12- or 16-megapixel phone camera
    /// (4032×3024, 4608×3456) passes, as does any screenshot; a decompression bomb that declares
    /// 100,000×100,000 pixels in a few kilobytes does not. Worst case, decoding allocates about 150 MiB
    /// (16-bit RGBA) and scanning takes a fraction of a second.
    pub const DEFAULT: Self = Self {
        max_bytes: 8 << 20,
        max_pixels: 16_000_000,
    };
}

impl Default for ImageLimits {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// Reads the text of the QR code in a PNG or JPEG picture.
///
/// The format is sniffed from the bytes' magic number (a file name is never consulted, so a JPEG named
/// `.png` reads fine). Transparent pixels are read as white. The picture is searched hard: rotated,
/// inverted (light on dark) and noisy codes are found, at the cost of time when there is no code at all.
///
/// The text is returned as encoded; whether it is a valid `HC1:` string is for
/// [`decode_transport`](crate::decode_transport) to say.
///
/// # Errors
/// [`QrError::TooLarge`] past `limits` (before decoding), [`QrError::UnsupportedFormat`] for anything but
/// PNG or JPEG, [`QrError::Undecodable`] for a corrupt or truncated picture, [`QrError::NotFound`] when no
/// QR code can be read.
pub fn read_qr(picture: &[u8], limits: &ImageLimits) -> Result<String, QrError> {
    if picture.len() > limits.max_bytes {
        return Err(QrError::TooLarge {
            limit: ImageLimit::Bytes,
            actual: u64::try_from(picture.len()).unwrap_or(u64::MAX),
            max: u64::try_from(limits.max_bytes).unwrap_or(u64::MAX),
        });
    }
    let format = sniff(picture).ok_or(QrError::UnsupportedFormat)?;
    let luma = decode(picture, format, limits)?;
    scan(&luma).ok_or(QrError::NotFound)
}

/// PNG or JPEG from the first bytes (PNG signature, JPEG SOI marker followed by a marker).
fn sniff(picture: &[u8]) -> Option<ImageFormat> {
    if picture.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some(ImageFormat::Png)
    } else if picture.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some(ImageFormat::Jpeg)
    } else {
        None
    }
}

/// Decodes to 8-bit grayscale, checking the header's dimensions against `limits` first.
fn decode(picture: &[u8], format: ImageFormat, limits: &ImageLimits) -> Result<GrayImage, QrError> {
    let reader = || {
        let mut reader = ImageReader::with_format(Cursor::new(picture), format);
        reader.limits(decoder_limits(limits));
        reader
    };
    let (width, height) = reader().into_dimensions().map_err(|_| QrError::Undecodable)?;
    let pixels = u64::from(width) * u64::from(height);
    if pixels > limits.max_pixels {
        return Err(QrError::TooLarge {
            limit: ImageLimit::Pixels,
            actual: pixels,
            max: limits.max_pixels,
        });
    }
    let image = reader().decode().map_err(|_| QrError::Undecodable)?;
    flatten(image).ok_or(QrError::Undecodable)
}

/// `image`'s own limits, a second line behind the pixel count: no side longer than the pixel budget, no
/// allocation beyond 8 bytes (16-bit RGBA) a pixel of it.
fn decoder_limits(limits: &ImageLimits) -> image::Limits {
    let side = u32::try_from(limits.max_pixels).unwrap_or(u32::MAX);
    let mut decoder = image::Limits::default();
    decoder.max_image_width = Some(side);
    decoder.max_image_height = Some(side);
    decoder.max_alloc = Some(limits.max_pixels.saturating_mul(8).max(1 << 20));
    decoder
}

/// Grayscale, with transparency composited over white (QR codes are often drawn on a transparent page).
fn flatten(image: DynamicImage) -> Option<GrayImage> {
    if !image.color().has_alpha() {
        return Some(image.into_luma8());
    }
    let with_alpha = image.into_luma_alpha8();
    let (width, height) = with_alpha.dimensions();
    let luma = with_alpha
        .pixels()
        .map(|pixel| {
            let [l, a] = pixel.0.map(u32::from);
            u8::try_from((l * a + 255 * (255 - a) + 127) / 255).unwrap_or(u8::MAX)
        })
        .collect();
    GrayImage::from_raw(width, height, luma)
}

/// Searches the picture for a QR code.
fn scan(luma: &GrayImage) -> Option<String> {
    let (width, height) = luma.dimensions();
    let pixels = luma.as_raw().as_slice();
    let source = || Luma8Source::new_with_slice(pixels, width, height).ok();
    source()
        .and_then(|s| decode_with(HybridBinarizer::new(s)))
        .or_else(|| source().and_then(|s| decode_with(GlobalHistogramBinarizer::new(s))))
        .or_else(|| upscaled(luma))
}

/// A small picture enlarged twice with a smooth filter: modules barely over a pixel wide, as in a
/// thumbnail or a downscaled screenshot, then span enough pixels for the sampler to hit their centres.
fn upscaled(luma: &GrayImage) -> Option<String> {
    let (width, height) = luma.dimensions();
    if width.max(height) > UPSCALE_MAX_SIDE {
        return None;
    }
    let big = resize(luma, width * 2, height * 2, FilterType::CatmullRom);
    let (width, height) = big.dimensions();
    Luma8Source::new_with_slice(big.as_raw(), width, height)
        .ok()
        .and_then(|s| decode_with(HybridBinarizer::new(s)))
}

/// Pictures up to this side get the [`upscaled`] pass: a version-40 code at 1.5 px a module.
const UPSCALE_MAX_SIDE: u32 = 300;

/// One rxing pass: normal then inverted (light modules on a dark ground), each with both QR readers.
fn decode_with<B: Binarizer>(binarizer: B) -> Option<String> {
    let hints = DecodeHints {
        TryHarder: Some(true),
        ..DecodeHints::default()
    };
    let mut bitmap = BinaryBitmap::new(binarizer);
    for invert in [false, true] {
        if invert {
            bitmap.invert();
        }
        let order = std::env::var("QRORDER").is_ok();
        let found = if order {
            QrReader
                .decode_with_hints(&mut bitmap, &hints)
                .or_else(|_| QRCodeReader.decode_with_hints(&mut bitmap, &hints))
        } else {
            QRCodeReader
                .decode_with_hints(&mut bitmap, &hints)
                .or_else(|_| QrReader.decode_with_hints(&mut bitmap, &hints))
        };
        if let Ok(result) = found {
            return Some(result.getText().to_owned());
        }
    }
    None
}
