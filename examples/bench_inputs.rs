//! Writes the request bodies of `scripts/bench-verifier` for one `HC1:` certificate: the certificate as
//! JSON, its QR code as a PNG and as a photo-like JPEG, the largest zlib bomb a QR code can carry, and
//! garbage.
//!
//! `cargo run --release -p vaxcert-examples --example bench_inputs -- <HC1:…> <out-dir>`
//!
//! Files written in `<out-dir>`:
//! - `good.json`: `{"hc1": "<the certificate>"}`;
//! - `bomb.json`: `HC1:` + Base45 of one zlib stream of as many zeros as fit the QR capacity (4,296
//!   characters): ≈ 2.9 MB once inflated, refused at the verifier's cap (`E_DECOMPRESSED_TOO_LARGE`);
//! - `garbage.json`: `HC1:` + 1,500 random characters of the Base45 alphabet (refused as `E_BASE45`: random
//!   triplets overflow);
//! - `qr.png`: the certificate's QR code as `hcert::render_png` draws it (4 px a module);
//! - `photo.jpg`: the QR code as a phone would photograph a printout: 1280×960, the code at 6 px a
//!   module off-centre on a lit, noisy background, lower contrast, slightly blurred, JPEG quality 85.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use image::codecs::jpeg::JpegEncoder;
use image::{GrayImage, ImageReader, Luma, Rgb, RgbImage, imageops};

/// The most characters the verifier takes: what a QR code can carry.
const QR_CAPACITY: usize = hcert::MAX_INPUT_CHARS;

fn main() -> Result<()> {
    let mut args = std::env::args().skip(1);
    let hc1 = args.next().context("usage: <HC1:…> <out-dir>")?;
    let out = PathBuf::from(args.next().context("missing <out-dir>")?);
    if !hc1.starts_with(hcert::HC1_PREFIX) {
        bail!("the first argument is not an HC1: string");
    }
    std::fs::create_dir_all(&out)?;
    let body = |text: &str| serde_json::json!({ "hc1": text }).to_string();
    std::fs::write(out.join("good.json"), body(&hc1))?;

    let bomb = largest_bomb();
    std::fs::write(out.join("bomb.json"), body(&bomb))?;

    let mut random = Random(0x5eed_cafe_f00d_d00d);
    let alphabet = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:";
    let garbage: String = (0..1_500)
        .filter_map(|_| {
            alphabet
                .get(random.below(alphabet.len()))
                .copied()
                .map(char::from)
        })
        .collect();
    std::fs::write(
        out.join("garbage.json"),
        body(&format!("{}{garbage}", hcert::HC1_PREFIX)),
    )?;

    let png = hcert::render_png(&hc1, &hcert::RenderOptions::default())?;
    std::fs::write(out.join("qr.png"), &png)?;
    std::fs::write(out.join("photo.jpg"), photo(&hc1, &mut random)?)?;
    eprintln!(
        "wrote good.json, bomb.json ({} chars), garbage.json, qr.png, photo.jpg to {}",
        bomb.len(),
        out.display()
    );
    Ok(())
}

/// `HC1:` + Base45 of a zlib stream of as many zeros as fit [`QR_CAPACITY`] characters.
fn largest_bomb() -> String {
    let encoded = |zeros: usize| {
        format!(
            "{}{}",
            hcert::HC1_PREFIX,
            hcert::base45_encode(&hcert::deflate(&vec![0; zeros]))
        )
    };
    let (mut fits, mut too_many) = (1_usize, 64 << 20);
    while too_many - fits > 1 {
        let middle = fits + (too_many - fits) / 2;
        if encoded(middle).len() <= QR_CAPACITY {
            fits = middle;
        } else {
            too_many = middle;
        }
    }
    encoded(fits)
}

/// The QR code of `hc1` as a phone photographs a printout (see the module's documentation).
fn photo(hc1: &str, random: &mut Random) -> Result<Vec<u8>> {
    let options = hcert::RenderOptions {
        module_px: 6,
        ..hcert::RenderOptions::default()
    };
    let png = hcert::render_png(hc1, &options)?;
    let code: GrayImage = ImageReader::new(std::io::Cursor::new(png))
        .with_guessed_format()?
        .decode()?
        .to_luma8();
    let (width, height) = (1280_u32, 960_u32);
    let (left, top) = (
        width / 2 - code.width() / 2 + 70,
        height / 2 - code.height() / 2 - 30,
    );
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

/// A small deterministic generator (xorshift64*), so that every run posts the same bytes.
struct Random(u64);

impl Random {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A number in `0..bound` (`bound` > 0).
    fn below(&mut self, bound: usize) -> usize {
        (self.next() % bound as u64) as usize
    }
}
