//! The citizen download's renderings of one certificate (issue 10): the printable PDF (goal ≤ 5 ms), and
//! for comparison the PNG and SVG of its QR code.
//!
//! `cargo bench -p issuer --bench printable`

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use hcert::{DccPayload, RenderOptions, render_png, render_svg};
use issuer::{Printable, render_pdf};

const PAYLOAD: &str = r#"{"ver": "1.3.0",
    "nam": {"fn": "Nguyễn", "fnt": "NGUYEN", "gn": "Thị Ánh Tuyết", "gnt": "THI<ANH<TUYET"},
    "dob": "1983-10-10",
    "v": [{"tg": "840539006", "vp": "1119349007", "mp": "EU/1/20/1528", "ma": "ORG-100030215",
           "dn": 2, "sd": 2, "dt": "2021-09-14", "co": "VN",
           "is": "Bộ Y tế Việt Nam (Ministry of Health of Viet Nam)",
           "ci": "URN:UVCI:01:VN:7B3Q9K2M4X8H6T1R#W"}]}"#;

/// A 600-character `HC1:` text, as in `hcert`'s QR benchmark.
fn hc1() -> String {
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let bytes: Vec<u8> = (0..396)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect();
    format!("HC1:{}", hcert::base45_encode(&bytes))
}

fn renderings(c: &mut Criterion) {
    let text = hc1();
    let payload: DccPayload<'_> = serde_json::from_str(PAYLOAD).unwrap();
    let printable = Printable::new(&text, &payload, 1_633_046_400, 1_664_582_400);
    let mut group = c.benchmark_group("download");
    group.bench_function("pdf", |b| {
        b.iter(|| render_pdf(black_box(&printable)).unwrap())
    });
    group.bench_function("png_4px_1bit", |b| {
        b.iter(|| render_png(black_box(&text), &RenderOptions::DEFAULT).unwrap())
    });
    group.bench_function("svg", |b| {
        b.iter(|| render_svg(black_box(&text), &RenderOptions::DEFAULT).unwrap())
    });
    group.finish();
}

criterion_group!(benches, renderings);
criterion_main!(benches);
