//! Small programs a newcomer runs first; see `cargo run -p vaxcert-examples --example issue_and_verify`.
//!
//! The library holds what both the examples and the benchmarks need: a photo-like picture of a QR code
//! and the small generator that makes its noise repeatable.

use anyhow::Result;
use image::codecs::jpeg::JpegEncoder;
use image::{GrayImage, ImageReader, Luma, Rgb, RgbImage, imageops};

/// The size of a photographed QR code: the picture's and the code's.
#[derive(Debug, Clone, Copy)]
pub struct Shot {
    /// The picture's width in pixels.
    pub width: u32,
    /// The picture's height in pixels.
    pub height: u32,
    /// Pixels a module of the code spans.
    pub module_px: u32,
}

impl Shot {
    /// A phone's photo of a printout: 1280×960, the code at 6 px a module.
    pub const PHOTO: Self = Self {
        width: 1280,
        height: 960,
        module_px: 6,
    };
    /// A frame of a camera's video, as the scanner page sends it: 640×480, the code at 3 px a module.
    pub const CAMERA_FRAME: Self = Self {
        width: 640,
        height: 480,
        module_px: 3,
    };
}

/// The QR code of `hc1` as a camera takes a printout: a JPEG (quality 85) of `shot`'s size, the code
/// off-centre on a beige sheet lit from the top left, ink never fully black, pixel noise, slightly
/// blurred. The same text and shot always give the same bytes.
///
/// # Errors
/// When `hc1` does not fit a QR code, or encoding the picture fails.
pub fn photographed_qr(hc1: &str, shot: Shot) -> Result<Vec<u8>> {
    let options = hcert::RenderOptions {
        module_px: shot.module_px,
        ..hcert::RenderOptions::default()
    };
    let png = hcert::render_png(hc1, &options)?;
    let code: GrayImage = ImageReader::new(std::io::Cursor::new(png))
        .with_guessed_format()?
        .decode()?
        .to_luma8();
    let (width, height) = (shot.width, shot.height);
    let (left, top) = (
        (width / 2 + width / 18).saturating_sub(code.width() / 2),
        (height / 2).saturating_sub(code.height() / 2 + height / 32),
    );
    let mut random = Random::new(0x9e37_79b9_7f4a_7c15);
    let mut picture = RgbImage::from_fn(width, height, |x, y| {
        // Light falling from the top left over a beige sheet.
        let light =
            1.0 - 0.35 * (f64::from(x) / f64::from(width) + f64::from(y) / f64::from(height)) / 2.0;
        let paper = [236.0, 226.0, 205.0].map(|channel: f64| channel * light);
        let ink = code
            .get_pixel_checked(x.wrapping_sub(left), y.wrapping_sub(top))
            .map_or(255, |Luma([value])| *value);
        // Ink is never fully black on paper.
        let shade = 0.22 + 0.78 * f64::from(ink) / 255.0;
        let noise = f64::from(random.below(25) as u8) - 12.0;
        Rgb(paper.map(|channel| (channel * shade + noise).clamp(0.0, 255.0) as u8))
    });
    picture = imageops::blur(&picture, 1.1);
    let mut jpeg = Vec::new();
    JpegEncoder::new_with_quality(&mut jpeg, 85).encode_image(&picture)?;
    Ok(jpeg)
}

/// A small deterministic generator (xorshift64*), so that every run makes the same bytes.
pub struct Random(u64);

impl Random {
    /// A generator started from `seed` (any value but 0).
    pub fn new(seed: u64) -> Self {
        Self(seed.max(1))
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A number in `0..bound` (`bound` > 0; 0 when `bound` is 0).
    pub fn below(&mut self, bound: usize) -> usize {
        match self.next_u64().checked_rem(bound as u64) {
            Some(value) => value as usize,
            None => 0,
        }
    }
}
