//! Reading: PNG or JPEG bytes (or raw RGBA pixels) → luma pixels (`zune-jpeg` for a colour JPEG's
//! luma channel alone, `image` for the rest) → QR text (`rxing`), searching a halved copy of a large
//! picture first.

use std::io::Cursor;

use image::{DynamicImage, GrayImage, ImageFormat, ImageReader};
use rxing::common::GlobalHistogramBinarizer;
use rxing::qrcode::QRCodeReader;
use rxing::qrcode::cpp_port::QrReader;
use rxing::{Binarizer, BinaryBitmap, DecodeHints, Luma8Source, Reader};
use zune_core::bytestream::ZCursor;
use zune_core::colorspace::ColorSpace;
use zune_core::options::DecoderOptions;
use zune_jpeg::JpegDecoder;

use super::binarize::LocalThreshold;
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
    /// (16-bit RGBA), and a 16-megapixel picture without a code takes about a second of one core to
    /// search (release build): a service reading untrusted uploads should bound how many run at once,
    /// or lower `max_pixels`.
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

/// Reads the text of the QR code in raw RGBA pixels (4 bytes a pixel, rows top to bottom, as a canvas's
/// `getImageData` gives them): a camera frame, with no picture format to decode. Searched as
/// [`read_qr`] searches; transparent pixels are read as white.
///
/// # Errors
/// [`QrError::TooLarge`] when `width × height` exceeds `limits.max_pixels` (nothing is read),
/// [`QrError::Undecodable`] when `rgba` is not exactly `width × height × 4` bytes, [`QrError::NotFound`]
/// when no QR code can be read.
pub fn read_qr_rgba(
    rgba: &[u8],
    width: u32,
    height: u32,
    limits: &ImageLimits,
) -> Result<String, QrError> {
    check_pixels(width, height, limits)?;
    let pixels = u64::from(width) * u64::from(height);
    if u64::try_from(rgba.len()).ok() != pixels.checked_mul(4) {
        return Err(QrError::Undecodable);
    }
    let luma = rgba
        .chunks_exact(4)
        .map(|pixel| match pixel {
            [r, g, b, a] => {
                // ITU-R BT.601 luma in 1/256ths, then composited over white.
                let l = (77 * u32::from(*r) + 150 * u32::from(*g) + 29 * u32::from(*b) + 128) >> 8;
                let a = u32::from(*a);
                u8::try_from((l * a + 255 * (255 - a) + 127) / 255).unwrap_or(u8::MAX)
            }
            _ => u8::MAX,
        })
        .collect();
    let luma = GrayImage::from_raw(width, height, luma).ok_or(QrError::Undecodable)?;
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
    if format == ImageFormat::Jpeg
        && let Some(luma) = decode_jpeg_luma(picture, limits)?
    {
        return Ok(luma);
    }
    let reader = || {
        let mut reader = ImageReader::with_format(Cursor::new(picture), format);
        reader.limits(decoder_limits(limits));
        reader
    };
    let (width, height) = reader()
        .into_dimensions()
        .map_err(|_| QrError::Undecodable)?;
    check_pixels(width, height, limits)?;
    let image = reader().decode().map_err(|_| QrError::Undecodable)?;
    flatten(image).ok_or(QrError::Undecodable)
}

/// A JPEG's luma channel alone, as the camera recorded it: the chroma channels are entropy-decoded (they
/// are interleaved with luma) but neither transformed, upsampled nor converted, which more than halves
/// the work on a colour photo. `None` for the rare JPEG that is neither YCbCr nor grayscale (RGB, CMYK,
/// YCCK), which [`decode`] then converts through `image`.
fn decode_jpeg_luma(picture: &[u8], limits: &ImageLimits) -> Result<Option<GrayImage>, QrError> {
    let side = usize::try_from(limits.max_pixels).unwrap_or(usize::MAX);
    let options = DecoderOptions::default()
        .set_max_width(side)
        .set_max_height(side)
        .jpeg_set_out_colorspace(ColorSpace::Luma);
    let mut decoder = JpegDecoder::new_with_options(ZCursor::new(picture), options);
    decoder.decode_headers().map_err(|_| QrError::Undecodable)?;
    let (width, height) = decoder.dimensions().ok_or(QrError::Undecodable)?;
    let (width, height) = (
        u32::try_from(width).map_err(|_| QrError::Undecodable)?,
        u32::try_from(height).map_err(|_| QrError::Undecodable)?,
    );
    check_pixels(width, height, limits)?;
    if !matches!(
        decoder.input_colorspace(),
        Some(ColorSpace::YCbCr | ColorSpace::Luma)
    ) {
        return Ok(None);
    }
    let luma = decoder.decode().map_err(|_| QrError::Undecodable)?;
    GrayImage::from_raw(width, height, luma)
        .map(Some)
        .ok_or(QrError::Undecodable)
}

/// [`QrError::TooLarge`] when a picture of `width × height` exceeds `limits.max_pixels`.
fn check_pixels(width: u32, height: u32, limits: &ImageLimits) -> Result<(), QrError> {
    let pixels = u64::from(width) * u64::from(height);
    if pixels > limits.max_pixels {
        return Err(QrError::TooLarge {
            limit: ImageLimit::Pixels,
            actual: pixels,
            max: limits.max_pixels,
        });
    }
    Ok(())
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

/// Searches the picture for a QR code. A large picture is searched first at half its size (a quarter of
/// the pixels), where a photographed code's modules still span a few pixels and the camera's noise is
/// averaged away. Then, at full size: local thresholds first (they cope with uneven lighting), then one
/// global threshold (low contrast), then, for small pictures, an enlarged copy.
///
/// Above [`THOROUGH_MAX_PIXELS`] the full-size search stops after local thresholds: on a 16-megapixel
/// picture without a code the other passes would double the time, to about 1.8 s.
fn scan(luma: &GrayImage) -> Option<String> {
    let (width, height) = luma.dimensions();
    let pixels = u64::from(width) * u64::from(height);
    if pixels >= HALVED_FIRST_MIN_PIXELS
        && let Some(found) = halved(luma).and_then(|small| scan_hybrid(&small))
    {
        return Some(found);
    }
    let found = scan_hybrid(luma);
    if found.is_some() || pixels > THOROUGH_MAX_PIXELS {
        return found;
    }
    Luma8Source::new_with_slice(luma.as_raw(), width, height)
        .ok()
        .and_then(|s| decode_with(GlobalHistogramBinarizer::new(s)))
        .or_else(|| upscaled(luma))
}

/// One search with local thresholds.
fn scan_hybrid(luma: &GrayImage) -> Option<String> {
    let (width, height) = luma.dimensions();
    Luma8Source::new_with_slice(luma.as_raw(), width, height)
        .ok()
        .and_then(|s| decode_with(LocalThreshold::new(s)))
}

/// Pictures of at least this many pixels (a 1280×800 frame, a 1-megapixel photo) are searched at half
/// size first.
const HALVED_FIRST_MIN_PIXELS: u64 = 1 << 20;

/// The picture at half its width and height, each pixel the mean of a 2×2 block (an odd last row or
/// column is dropped).
fn halved(luma: &GrayImage) -> Option<GrayImage> {
    let (width, height) = luma.dimensions();
    let (half_width, half_height) = (width / 2, height / 2);
    let row_len = usize::try_from(width).ok()?;
    let mut out = Vec::with_capacity(luma.as_raw().len() / 4);
    let mut column_sums = vec![0_u16; row_len];
    let mut rows = luma.as_raw().chunks_exact(row_len);
    while let (Some(upper), Some(lower)) = (rows.next(), rows.next()) {
        for ((sum, &a), &b) in column_sums.iter_mut().zip(upper).zip(lower) {
            *sum = u16::from(a) + u16::from(b);
        }
        out.extend(column_sums.chunks_exact(2).map(|pair| {
            let sum = pair.iter().sum::<u16>();
            u8::try_from((sum + 2) / 4).unwrap_or(u8::MAX)
        }));
    }
    GrayImage::from_raw(half_width, half_height, out)
}

/// Pictures up to this many pixels (a 2048×2048 screenshot, a 4-megapixel photo) get every pass.
const THOROUGH_MAX_PIXELS: u64 = 1 << 22;

/// A small picture enlarged twice: modules barely over a pixel wide, as in a thumbnail or a downscaled
/// screenshot, then span enough pixels for the sampler to hit their centres.
fn upscaled(luma: &GrayImage) -> Option<String> {
    let (width, height) = luma.dimensions();
    if width.max(height) > UPSCALE_MAX_SIDE {
        return None;
    }
    let big = upscale2(luma)?;
    let (width, height) = big.dimensions();
    Luma8Source::new_with_slice(big.as_raw(), width, height)
        .ok()
        .and_then(|s| decode_with(LocalThreshold::new(s)))
}

/// Pictures up to this side get the [`upscaled`] pass: a version-40 code at 1.5 px a module.
const UPSCALE_MAX_SIDE: u32 = 300;

/// Catmull-Rom weights (in 128ths) of the four source pixels around the two output pixels that
/// doubling puts at a quarter pixel before and after each source pixel's centre.
const BEFORE: [i32; 4] = [-3, 29, 111, -9];
const AFTER: [i32; 4] = [-9, 111, 29, -3];

/// Doubles both dimensions with a Catmull-Rom cubic (sharper than bilinear, so module edges stay edges).
fn upscale2(luma: &GrayImage) -> Option<GrayImage> {
    let (width, height) = luma.dimensions();
    let w = usize::try_from(width).ok()?.max(1);
    let mut wide = Vec::with_capacity(luma.as_raw().len() * 2);
    let mut padded = Vec::with_capacity(w + 4);
    for row in luma.as_raw().chunks_exact(w) {
        pad(row, &mut padded);
        for (before, after) in padded.windows(4).zip(padded.windows(4).skip(1)) {
            wide.push(cubic(before.iter().map(|&p| i32::from(p)), BEFORE));
            wide.push(cubic(after.iter().map(|&p| i32::from(p)), AFTER));
        }
    }
    let rows: Vec<&[u8]> = wide.chunks_exact(2 * w).collect();
    let mut padded_rows = Vec::with_capacity(rows.len() + 4);
    pad(&rows, &mut padded_rows);
    let mut tall = Vec::with_capacity(wide.len() * 2);
    for (before, after) in padded_rows.windows(4).zip(padded_rows.windows(4).skip(1)) {
        for (window, weights) in [(before, BEFORE), (after, AFTER)] {
            if let [r0, r1, r2, r3] = window {
                let columns = r0.iter().zip(*r1).zip(*r2).zip(*r3);
                tall.extend(
                    columns.map(|(((&a, &b), &c), &d)| cubic([a, b, c, d].map(i32::from), weights)),
                );
            }
        }
    }
    GrayImage::from_raw(width.checked_mul(2)?, height.checked_mul(2)?, tall)
}

/// `line` with its first and last element repeated twice at either end, into `out`.
fn pad<T: Copy>(line: &[T], out: &mut Vec<T>) {
    out.clear();
    if let (Some(&first), Some(&last)) = (line.first(), line.last()) {
        out.extend([first, first]);
        out.extend_from_slice(line);
        out.extend([last, last]);
    }
}

/// Weighted sum of four samples in 128ths, rounded and clamped to a pixel value.
fn cubic(samples: impl IntoIterator<Item = i32>, weights: [i32; 4]) -> u8 {
    let sum: i32 = samples.into_iter().zip(weights).map(|(s, w)| s * w).sum();
    u8::try_from(((sum + 64) / 128).clamp(0, 255)).unwrap_or(u8::MAX)
}

/// One rxing pass: normal then inverted (light modules on a dark ground), each with both of rxing's QR
/// readers: the port of ZXing's first (the faster on a clean picture), then the port of zxing-cpp's.
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
        let found = QRCodeReader
            .decode_with_hints(&mut bitmap, &hints)
            .or_else(|_| QrReader.decode_with_hints(&mut bitmap, &hints));
        if let Ok(result) = found {
            return Some(result.getText().to_owned());
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use image::imageops::{FilterType, resize};
    use image::{GrayImage, ImageFormat, Luma, LumaA};
    use proptest::prelude::*;

    use super::*;
    use crate::qr::{RenderOptions, hc1_like, render_png};

    fn render(text: &str, module_px: u32, quiet_zone: u32) -> GrayImage {
        let options = RenderOptions {
            module_px,
            quiet_zone,
            ..RenderOptions::DEFAULT
        };
        image::load_from_memory(&render_png(text, &options).unwrap())
            .unwrap()
            .into_luma8()
    }

    fn png(image: &GrayImage) -> Vec<u8> {
        let mut out = Cursor::new(Vec::new());
        image.write_to(&mut out, ImageFormat::Png).unwrap();
        out.into_inner()
    }

    fn jpeg(image: &GrayImage, quality: u8) -> Vec<u8> {
        let mut out = Vec::new();
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, quality)
            .encode_image(image)
            .unwrap();
        out
    }

    fn read(picture: &[u8]) -> Result<String, QrError> {
        read_qr(picture, &ImageLimits::DEFAULT)
    }

    /// Scales by a non-integer ratio with a smooth filter, as a browser or an image editor would.
    fn scaled(image: &GrayImage, ratio: f64) -> GrayImage {
        let side = (f64::from(image.width()) * ratio).round() as u32;
        resize(image, side, side, FilterType::Triangle)
    }

    #[test]
    fn reads_its_own_renders() {
        let text = hc1_like(600);
        for module_px in [1, 2, 3, 4, 6] {
            let picture = render(&text, module_px, 4);
            assert_eq!(
                read(&png(&picture)),
                Ok(text.clone()),
                "{module_px} px a module"
            );
        }
    }

    #[test]
    fn reads_raw_rgba_frames_and_refuses_wrong_sizes() {
        let text = hc1_like(600);
        let picture = render(&text, 3, 4);
        let (width, height) = picture.dimensions();
        // Dark modules drawn in colour on an opaque canvas, as a camera frame arrives.
        let rgba: Vec<u8> = picture
            .as_raw()
            .iter()
            .flat_map(|&l| [l, l / 2, l, 255])
            .collect();
        let limits = ImageLimits::DEFAULT;
        assert_eq!(read_qr_rgba(&rgba, width, height, &limits), Ok(text));
        assert_eq!(
            read_qr_rgba(&rgba[4..], width, height, &limits),
            Err(QrError::Undecodable)
        );
        let blank = vec![255u8; rgba.len()];
        assert_eq!(
            read_qr_rgba(&blank, width, height, &limits),
            Err(QrError::NotFound)
        );
        let small = ImageLimits {
            max_bytes: limits.max_bytes,
            max_pixels: u64::from(width) * u64::from(height) - 1,
        };
        assert!(matches!(
            read_qr_rgba(&rgba, width, height, &small),
            Err(QrError::TooLarge {
                limit: ImageLimit::Pixels,
                ..
            })
        ));
    }

    #[test]
    fn reads_renders_scaled_by_non_integer_ratios() {
        let text = hc1_like(600);
        // Down to 1.4 px a module; below about 1.2 px a module the code is beyond any reader.
        for (module_px, ratio) in [
            (2, 0.7),
            (3, 0.61),
            (3, 0.83),
            (4, 0.37),
            (4, 0.77),
            (1, 1.37),
            (2, 1.71),
        ] {
            let picture = scaled(&render(&text, module_px, 4), ratio);
            assert_eq!(
                read(&png(&picture)),
                Ok(text.clone()),
                "{module_px} px × {ratio}"
            );
        }
    }

    #[test]
    fn reads_renders_with_a_one_module_quiet_zone() {
        let text = hc1_like(600);
        for (module_px, ratio) in [(1, 1.0), (3, 1.0), (3, 0.61), (4, 0.77)] {
            let picture = scaled(&render(&text, module_px, 1), ratio);
            assert_eq!(
                read(&png(&picture)),
                Ok(text.clone()),
                "{module_px} px × {ratio}"
            );
        }
    }

    #[test]
    fn reads_jpeg_at_quality_60() {
        let text = hc1_like(600);
        for (module_px, ratio) in [(2, 1.0), (3, 0.61), (4, 0.77), (1, 1.71)] {
            let picture = scaled(&render(&text, module_px, 4), ratio);
            assert_eq!(
                read(&jpeg(&picture, 60)),
                Ok(text.clone()),
                "{module_px} px × {ratio}"
            );
        }
    }

    /// `code` placed at (`left`, `top`) on a `width × height` page lit unevenly, as a colour JPEG.
    fn colour_photo(code: &GrayImage, width: u32, height: u32, left: u32, top: u32) -> Vec<u8> {
        let page = image::RgbImage::from_fn(width, height, |x, y| {
            let ink = code
                .get_pixel_checked(x.wrapping_sub(left), y.wrapping_sub(top))
                .map_or(255, |Luma([value])| u32::from(*value));
            let light = 200 + 55 * (width - x) / width;
            let value = |paper: u32| u8::try_from(paper * light / 255 * (40 + ink) / 295).unwrap();
            image::Rgb([value(240), value(228), value(205)])
        });
        let mut out = Vec::new();
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 85)
            .encode_image(&page)
            .unwrap();
        out
    }

    #[test]
    fn reads_colour_photos_large_and_small() {
        let text = hc1_like(600);
        // 1280×960: found in the halved copy.
        let photo = colour_photo(&render(&text, 5, 4), 1280, 960, 500, 200);
        assert_eq!(read(&photo), Ok(text.clone()));
        // 640×480 (a camera frame), searched at full size only.
        let frame = colour_photo(&render(&text, 3, 4), 640, 480, 200, 100);
        assert_eq!(read(&frame), Ok(text.clone()));
        // A code at 2 px a module in a 1280×960 picture: lost in the halved copy, found at full size.
        let photo = colour_photo(&render(&text, 2, 4), 1280, 960, 701, 501);
        let luma = decode(&photo, ImageFormat::Jpeg, &ImageLimits::DEFAULT).unwrap();
        assert_eq!(
            scan_hybrid(&halved(&luma).unwrap()),
            None,
            "too small once halved"
        );
        assert_eq!(read(&photo), Ok(text));
    }

    #[test]
    fn halving_averages_each_two_by_two_block() {
        let picture = GrayImage::from_raw(
            5,
            3,
            vec![0, 4, 10, 10, 99, 8, 4, 30, 31, 99, 7, 7, 7, 7, 7],
        )
        .unwrap();
        let half = halved(&picture).unwrap();
        assert_eq!(half.dimensions(), (2, 1));
        assert_eq!(half.as_raw(), &[4, 20]);
    }

    #[test]
    fn reads_inverted_rotated_and_transparent_pictures() {
        let text = hc1_like(300);
        let mut inverted = render(&text, 3, 4);
        image::imageops::invert(&mut inverted);
        assert_eq!(read(&png(&inverted)), Ok(text.clone()));

        let rotated = image::imageops::rotate90(&render(&text, 3, 4));
        assert_eq!(read(&png(&rotated)), Ok(text.clone()));

        // Black modules on a transparent ground (whose colour channels are black too).
        let drawn = render(&text, 3, 4);
        let transparent = image::ImageBuffer::from_fn(drawn.width(), drawn.height(), |x, y| {
            let Luma([l]) = *drawn.get_pixel(x, y);
            LumaA([0, 255 - l])
        });
        let mut out = Cursor::new(Vec::new());
        transparent.write_to(&mut out, ImageFormat::Png).unwrap();
        assert_eq!(read(&out.into_inner()), Ok(text));
    }

    #[test]
    fn reads_byte_mode_codes_too() {
        // Not what `render_png` draws, but what other issuers' apps may: the text is returned as read,
        // and the transport layer refuses what is not an HC1 string.
        let text = "hc1:Grüße, 漢字";
        let qr = fast_qr::QRBuilder::new(text)
            .mode(fast_qr::Mode::Byte)
            .build()
            .unwrap();
        let quiet = 4;
        let side = (qr.size + 2 * quiet) as u32 * 3;
        let picture = GrayImage::from_fn(side, side, |x, y| {
            let (col, row) = ((x / 3) as usize, (y / 3) as usize);
            let inside =
                (quiet..quiet + qr.size).contains(&col) && (quiet..quiet + qr.size).contains(&row);
            let dark = inside && qr[row - quiet][col - quiet].value();
            Luma([if dark { 0 } else { 255 }])
        });
        assert_eq!(read(&png(&picture)), Ok(text.to_owned()));
    }

    #[test]
    fn a_blank_picture_has_no_code() {
        let white = GrayImage::from_pixel(400, 300, Luma([255]));
        assert_eq!(read(&png(&white)), Err(QrError::NotFound));
        assert_eq!(read(&jpeg(&white, 90)), Err(QrError::NotFound));
        let tiny = GrayImage::from_pixel(1, 1, Luma([255]));
        assert_eq!(read(&png(&tiny)), Err(QrError::NotFound));
    }

    #[test]
    fn refuses_what_is_not_png_or_jpeg() {
        for garbage in [
            &b""[..],
            b"GIF89a",
            b"BM\0\0",
            b"<svg/>",
            &[0xFF, 0xD8],
            &[0x89, b'P', b'N'],
        ] {
            assert_eq!(read(garbage), Err(QrError::UnsupportedFormat));
        }
    }

    #[test]
    fn a_corrupt_picture_is_undecodable() {
        let mut fake_png = b"\x89PNG\r\n\x1a\n".to_vec();
        fake_png.extend_from_slice(&[0x5A; 64]);
        assert_eq!(read(&fake_png), Err(QrError::Undecodable));
        assert_eq!(
            read(&[0xFF, 0xD8, 0xFF, 0xE0, 0, 0, 1, 2, 3]),
            Err(QrError::Undecodable)
        );
        let picture = png(&render("HC1:ABC", 2, 4));
        assert_eq!(
            read(&picture[..picture.len() / 2]),
            Err(QrError::Undecodable)
        );
    }

    #[test]
    fn refuses_too_many_bytes_before_looking_at_them() {
        let picture = png(&render("HC1:ABC", 2, 4));
        let limits = ImageLimits {
            max_bytes: picture.len() - 1,
            ..ImageLimits::DEFAULT
        };
        assert_eq!(
            read_qr(&picture, &limits),
            Err(QrError::TooLarge {
                limit: ImageLimit::Bytes,
                actual: picture.len() as u64,
                max: picture.len() as u64 - 1,
            })
        );
        let limits = ImageLimits {
            max_bytes: picture.len(),
            ..ImageLimits::DEFAULT
        };
        assert_eq!(read_qr(&picture, &limits), Ok("HC1:ABC".to_owned()));
    }

    #[test]
    fn refuses_too_many_pixels_at_the_limit_plus_one() {
        let picture = png(&GrayImage::from_pixel(100, 100, Luma([255])));
        let limits = |max_pixels| ImageLimits {
            max_pixels,
            ..ImageLimits::DEFAULT
        };
        assert_eq!(read_qr(&picture, &limits(10_000)), Err(QrError::NotFound));
        assert_eq!(
            read_qr(&picture, &limits(9_999)),
            Err(QrError::TooLarge {
                limit: ImageLimit::Pixels,
                actual: 10_000,
                max: 9_999,
            })
        );
    }

    /// CRC-32 (ISO-HDLC), as PNG chunks carry it.
    fn crc32(bytes: &[u8]) -> u32 {
        !bytes.iter().fold(!0u32, |crc, &byte| {
            (0..8).fold(crc ^ u32::from(byte), |c, _| {
                (c >> 1) ^ (0xEDB8_8320 & (c & 1).wrapping_neg())
            })
        })
    }

    #[test]
    fn refuses_a_png_declaring_100000_by_100000_before_decoding() {
        let mut picture = png(&GrayImage::from_pixel(8, 8, Luma([255])));
        // Signature (8), IHDR length (4), "IHDR" (4), width (4), height (4), 5 more bytes, CRC (4).
        picture[16..20].copy_from_slice(&100_000u32.to_be_bytes());
        picture[20..24].copy_from_slice(&100_000u32.to_be_bytes());
        let crc = crc32(&picture[12..29]);
        picture[29..33].copy_from_slice(&crc.to_be_bytes());
        assert_eq!(
            read(&picture),
            Err(QrError::TooLarge {
                limit: ImageLimit::Pixels,
                actual: 10_000_000_000,
                max: ImageLimits::DEFAULT.max_pixels,
            })
        );
    }

    #[test]
    fn refuses_a_jpeg_declaring_65535_by_65535_before_decoding() {
        let mut picture = jpeg(&GrayImage::from_pixel(8, 8, Luma([255])), 90);
        let sof = picture.windows(2).position(|w| w == [0xFF, 0xC0]).unwrap();
        // Marker (2), length (2), precision (1), height (2), width (2).
        picture[sof + 5..sof + 9].copy_from_slice(&[0xFF; 4]);
        assert!(matches!(
            read(&picture),
            Err(QrError::TooLarge {
                limit: ImageLimit::Pixels,
                ..
            })
        ));
    }

    #[test]
    fn upscaling_doubles_and_keeps_flat_areas_flat() {
        let grey = GrayImage::from_pixel(5, 3, Luma([77]));
        let big = upscale2(&grey).unwrap();
        assert_eq!(big.dimensions(), (10, 6));
        assert!(big.pixels().all(|p| p.0 == [77]));
        let edge = GrayImage::from_fn(6, 1, |x, _| Luma([if x < 3 { 0 } else { 255 }]));
        let row: Vec<u8> = upscale2(&edge)
            .unwrap()
            .pixels()
            .take(12)
            .map(|p| p.0[0])
            .collect();
        assert_eq!(row, [0, 0, 0, 0, 0, 52, 203, 255, 255, 255, 255, 255]);
    }

    #[test]
    fn error_messages_do_not_echo_the_picture() {
        let errors = [
            read(b"HC1:secret"),
            read(b"\x89PNG\r\n\x1a\nHC1:secret"),
            read(&png(&GrayImage::from_pixel(9, 9, Luma([255])))),
        ];
        for error in errors {
            assert!(!error.unwrap_err().to_string().contains("secret"));
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]

        /// Render then read gives back the text, for HC1-like Base45 strings of the lengths real
        /// certificates have (one dose ≈ 550-650 characters; up to a long name and issuer).
        #[test]
        fn renders_read_back_to_the_same_hc1_text(
            body in proptest::string::string_regex("[0-9A-Z $%*+./:-]{300,1100}").unwrap(),
            module_px in 2u32..5,
            wide_quiet_zone in any::<bool>(),
        ) {
            let text = format!("HC1:{body}");
            let picture = render(&text, module_px, if wide_quiet_zone { 6 } else { 4 });
            prop_assert_eq!(read(&png(&picture)), Ok(text));
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(96))]

        #[test]
        fn damaged_files_never_panic(
            as_jpeg in any::<bool>(),
            flips in prop::collection::vec((any::<prop::sample::Index>(), 0u8..8), 0..4),
            cut in any::<prop::sample::Index>(),
        ) {
            let picture = render("HC1:NCFOXN%TS3DH", 2, 2);
            let mut bytes = if as_jpeg { jpeg(&picture, 80) } else { png(&picture) };
            for (at, bit) in flips {
                let at = at.index(bytes.len());
                bytes[at] ^= 1 << bit;
            }
            bytes.truncate(cut.index(bytes.len() + 1));
            let _ = read(&bytes);
        }

        #[test]
        fn damaged_pixels_never_panic_nor_misread(
            spots in prop::collection::vec((any::<prop::sample::Index>(), any::<prop::sample::Index>(), any::<u8>()), 0..200),
        ) {
            let text = "HC1:NCFOXN%TS3DH";
            let mut picture = render(text, 2, 2);
            for (x, y, value) in spots {
                let (x, y) = (x.index(picture.width() as usize), y.index(picture.height() as usize));
                picture.put_pixel(x as u32, y as u32, Luma([value]));
            }
            match read(&png(&picture)) {
                Ok(found) => prop_assert_eq!(found, text),
                Err(error) => prop_assert_eq!(error, QrError::NotFound),
            }
        }
    }
}
