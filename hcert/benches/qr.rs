//! QR rendering and reading: the cost of one certificate picture each way.
//!
//! Goals: a PNG render in at most 0.5 ms, a read of a typical 400 px picture in at most 2 ms.
//! `cargo bench -p hcert --bench qr -- --quick`

// Benchmark code: a failed setup should stop the run loudly.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use fast_qr::{ECL, Mode, QRBuilder};
use hcert::{ImageLimits, QrMatrix, RenderOptions, read_qr, render_png, render_svg};
use image::imageops::{FilterType, resize};
use image::{GrayImage, ImageFormat, Luma};
use qrcodegen::{QrCode, QrCodeEcc, QrSegment, Version};

/// A 600-character `HC1:`-like string, the size of a typical vaccination certificate (QR version 19 at
/// error correction Q).
fn hc1_like() -> String {
    const ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:";
    let mut state: u64 = 0x2545_F491_4F6C_DD1D;
    let mut text = String::from("HC1:");
    while text.len() < 600 {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        text.push(char::from(ALPHABET[(state % 45) as usize]));
    }
    text
}

fn png(image: &GrayImage) -> Vec<u8> {
    let mut out = std::io::Cursor::new(Vec::new());
    image.write_to(&mut out, ImageFormat::Png).unwrap();
    out.into_inner()
}

fn render(c: &mut Criterion) {
    let text = hc1_like();
    let mut group = c.benchmark_group("render");
    // A/B of module-matrix builders, all at error correction Q in alphanumeric mode (issue 10).
    group.bench_function("matrix_fast_qr", |b| {
        b.iter(|| {
            QRBuilder::new(black_box(text.as_str()))
                .ecl(ECL::Q)
                .mode(Mode::Alphanumeric)
                .build()
                .unwrap()
        })
    });
    group.bench_function("matrix_fast_qr_mask_forced", |b| {
        b.iter(|| {
            QRBuilder::new(black_box(text.as_str()))
                .ecl(ECL::Q)
                .mode(Mode::Alphanumeric)
                .mask(fast_qr::Mask::Checkerboard)
                .build()
                .unwrap()
        })
    });
    group.bench_function("matrix_qrcodegen", |b| {
        b.iter(|| {
            let segments = [QrSegment::make_alphanumeric(black_box(text.as_str()))];
            QrCode::encode_segments_advanced(
                &segments,
                QrCodeEcc::Quartile,
                Version::MIN,
                Version::MAX,
                None,
                false,
            )
            .unwrap()
        })
    });
    group.bench_function("matrix_qrcodegen_mask_forced", |b| {
        b.iter(|| {
            let segments = [QrSegment::make_alphanumeric(black_box(text.as_str()))];
            QrCode::encode_segments_advanced(
                &segments,
                QrCodeEcc::Quartile,
                Version::MIN,
                Version::MAX,
                Some(qrcodegen::Mask::new(0)),
                false,
            )
            .unwrap()
        })
    });
    group.bench_function("matrix_qrcode", |b| {
        b.iter(|| {
            let mut bits = qrcode::bits::Bits::new(qrcode::Version::Normal(19));
            bits.push_alphanumeric_data(black_box(text.as_bytes()))
                .unwrap();
            bits.push_terminator(qrcode::EcLevel::Q).unwrap();
            qrcode::QrCode::with_bits(bits, qrcode::EcLevel::Q).unwrap()
        })
    });
    group.bench_function("matrix_ours_qrcodegen_mask_0_then_packed_selection", |b| {
        b.iter(|| QrMatrix::encode(black_box(&text)).unwrap())
    });
    group.bench_function("png_4px_1bit", |b| {
        b.iter(|| render_png(black_box(&text), &RenderOptions::DEFAULT).unwrap())
    });
    group.bench_function("svg", |b| {
        b.iter(|| render_svg(black_box(&text), &RenderOptions::DEFAULT).unwrap())
    });
    group.finish();
}

fn read(c: &mut Criterion) {
    let text = hc1_like();
    let own = render_png(&text, &RenderOptions::DEFAULT).unwrap();
    let decoded = image::load_from_memory(&own).unwrap().into_luma8();
    assert_eq!(decoded.width(), 404);
    let scaled = png(&resize(&decoded, 311, 311, FilterType::Triangle));
    let blank = png(&GrayImage::from_pixel(400, 400, Luma([255])));
    assert_eq!(read_qr(&own, &ImageLimits::DEFAULT).unwrap(), text);
    assert_eq!(read_qr(&scaled, &ImageLimits::DEFAULT).unwrap(), text);

    let mut group = c.benchmark_group("read");
    group.bench_function("own_png_404px", |b| {
        b.iter(|| read_qr(black_box(&own), &ImageLimits::DEFAULT).unwrap())
    });
    group.bench_function("scaled_png_311px", |b| {
        b.iter(|| read_qr(black_box(&scaled), &ImageLimits::DEFAULT).unwrap())
    });
    group.bench_function("blank_png_400px_not_found", |b| {
        b.iter(|| read_qr(black_box(&blank), &ImageLimits::DEFAULT).unwrap_err())
    });
    group.finish();
}

criterion_group!(benches, render, read);
criterion_main!(benches);
