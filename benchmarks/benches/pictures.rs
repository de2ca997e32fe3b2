//! Reading the QR code of a picture, as `POST /v1/verify` does for an image body: the code as the issuer
//! renders it (PNG), as a phone photographs a printout (1280×960 JPEG) and as the scanner page posts a
//! camera frame (640×480 JPEG), and a photo without a code.
//!
//! `cargo bench -p vaxcert-benchmarks --bench pictures`

#![allow(clippy::unwrap_used, missing_docs)]

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use hcert::{ImageLimits, read_qr};
use vaxcert_examples::{Shot, photographed_qr};

/// A certificate-sized `HC1:` text (the length of one vaccination certificate).
fn certificate_text() -> String {
    let body: String = "NCFOXN%TS3DH0RGPJB/IB-OM7533SY1O0B8PGP1AUAU1ZOJ4H2".repeat(12);
    format!("HC1:{body}")
}

fn pictures(c: &mut Criterion) {
    let text = certificate_text();
    let png = hcert::render_png(&text, &hcert::RenderOptions::default()).unwrap();
    let photo = photographed_qr(&text, Shot::PHOTO).unwrap();
    let frame = photographed_qr(&text, Shot::CAMERA_FRAME).unwrap();
    let blank = {
        let white = image::RgbImage::from_pixel(1280, 960, image::Rgb([230, 220, 200]));
        let mut jpeg = Vec::new();
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, 85)
            .encode_image(&white)
            .unwrap();
        jpeg
    };
    let limits = ImageLimits::DEFAULT;
    assert_eq!(read_qr(&png, &limits).as_deref(), Ok(text.as_str()));
    assert_eq!(read_qr(&photo, &limits).as_deref(), Ok(text.as_str()));
    assert_eq!(read_qr(&frame, &limits).as_deref(), Ok(text.as_str()));
    assert!(read_qr(&blank, &limits).is_err());

    let mut group = c.benchmark_group("read_qr");
    group.bench_function("rendered_png", |b| {
        b.iter(|| read_qr(black_box(&png), &limits))
    });
    group.bench_function("photo_jpeg_1280x960", |b| {
        b.iter(|| read_qr(black_box(&photo), &limits))
    });
    group.bench_function("camera_frame_jpeg_640x480", |b| {
        b.iter(|| read_qr(black_box(&frame), &limits))
    });
    group.bench_function("photo_jpeg_1280x960_without_code", |b| {
        b.iter(|| read_qr(black_box(&blank), &limits))
    });
    group.finish();
}

criterion_group!(benches, pictures);
criterion_main!(benches);
