//! Writes the request bodies of `scripts/bench-verifier` for one `HC1:` certificate: the certificate as
//! JSON, its QR code as a PNG, as a photo-like JPEG and as a camera frame, the largest zlib bomb a QR code can carry, and
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
//!   module off-centre on a lit, noisy background, lower contrast, slightly blurred, JPEG quality 85;
//! - `frame.jpg`: the same as a frame of the camera's video that the scanner page posts: 640×480, the
//!   code at 3 px a module.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use vaxcert_examples::{Random, Shot, photographed_qr};

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

    let mut random = Random::new(0x5eed_cafe_f00d_d00d);
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
    std::fs::write(out.join("photo.jpg"), photographed_qr(&hc1, Shot::PHOTO)?)?;
    std::fs::write(
        out.join("frame.jpg"),
        photographed_qr(&hc1, Shot::CAMERA_FRAME)?,
    )?;
    eprintln!(
        "wrote good.json, bomb.json ({} chars), garbage.json, qr.png, photo.jpg, frame.jpg to {}",
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
