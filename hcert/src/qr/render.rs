//! Drawing: text → module matrix (`qrcodegen`, our own mask selection) → PNG (`png`, written directly) or
//! SVG (written by hand).

use core::fmt::Write as _;

use qrcodegen::{QrCode, QrCodeEcc, QrSegment, Version};

use super::QrError;

/// Most characters an alphanumeric-mode QR code holds at error correction Q (version 40, ISO/IEC 18004
/// table 7). An HC1 string longer than this can only be shown at a lower error correction level.
pub const MAX_ALPHANUMERIC_CHARS: usize = 2420;

/// Largest accepted [`RenderOptions::module_px`]: a version-40 symbol then stays under 6,000 px a side.
const MAX_MODULE_PX: u32 = 32;

/// Largest accepted [`RenderOptions::quiet_zone`].
const MAX_QUIET_ZONE: u32 = 16;

/// The modules of one QR symbol (error correction Q, alphanumeric mode), without its quiet zone: for a
/// page layout that draws the symbol itself (the printable PDF draws each run of dark modules as a
/// rectangle).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QrMatrix {
    side: usize,
    dark: Vec<bool>,
}

impl QrMatrix {
    /// Encodes `text` at error correction Q in alphanumeric mode.
    ///
    /// # Errors
    /// As [`render_png`], less the options.
    pub fn encode(text: &str) -> Result<QrMatrix, QrError> {
        encode(text)
    }

    /// Modules a side (21 for version 1, 4 more per version).
    pub fn side(&self) -> usize {
        self.side
    }

    /// Whether the module at column `x`, row `y` is dark; false outside the symbol.
    pub fn is_dark(&self, x: usize, y: usize) -> bool {
        x < self.side && self.dark.get(y * self.side + x).copied().unwrap_or(false)
    }

    /// The rows, top to bottom, each `side` modules, `true` for dark.
    pub fn rows(&self) -> impl Iterator<Item = &[bool]> {
        self.dark.chunks_exact(self.side.max(1))
    }

    /// Every horizontal run of dark modules as `(x, y, length)`, row by row, left to right.
    pub fn dark_runs(&self) -> impl Iterator<Item = (usize, usize, usize)> + '_ {
        self.rows().enumerate().flat_map(|(y, row)| {
            let mut x = 0;
            core::iter::from_fn(move || {
                while x < row.len() {
                    let run = row
                        .get(x..)
                        .unwrap_or_default()
                        .iter()
                        .take_while(|dark| **dark)
                        .count();
                    let start = x;
                    x += run.max(1);
                    if run > 0 {
                        return Some((start, y, run));
                    }
                }
                None
            })
        })
    }
}

/// Sample depth of a rendered PNG.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum PngDepth {
    /// 1-bit grayscale: the smallest file; every PNG reader supports it.
    #[default]
    One,
    /// 8-bit grayscale, for consumers that handle only 8-bit samples.
    Eight,
}

/// How [`render_png`] and [`render_svg`] draw a symbol.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RenderOptions {
    /// Pixels per module side in a PNG, 1 to 32. The SVG is drawn in modules and ignores it.
    pub module_px: u32,
    /// White modules on each side of the symbol, at most 16. ISO/IEC 18004 requires 4; use less only
    /// where the page around the picture is itself white.
    pub quiet_zone: u32,
    /// Sample depth of a PNG.
    pub depth: PngDepth,
}

impl RenderOptions {
    /// 4 pixels per module, a 4-module quiet zone, 1-bit PNG: about 400 px a side for a typical
    /// vaccination certificate (550 to 600 characters: version 18 or 19, 97 or 101 modules a side with
    /// the quiet zone).
    pub const DEFAULT: Self = Self {
        module_px: 4,
        quiet_zone: 4,
        depth: PngDepth::One,
    };

    fn check(&self) -> Result<(), QrError> {
        if !(1..=MAX_MODULE_PX).contains(&self.module_px) {
            return Err(QrError::InvalidOptions {
                reason: "module_px must be 1 to 32",
            });
        }
        if self.quiet_zone > MAX_QUIET_ZONE {
            return Err(QrError::InvalidOptions {
                reason: "quiet_zone must be at most 16",
            });
        }
        Ok(())
    }
}

impl Default for RenderOptions {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// Renders `text` as a grayscale PNG QR code (error correction Q, alphanumeric mode).
///
/// The module matrix is written straight into PNG rows, `module_px` pixels per module, black on white.
///
/// # Errors
/// [`QrError::NotAlphanumeric`] if `text` holds a character outside `0-9A-Z $%*+-./:` (there is no
/// fallback to byte mode), [`QrError::TooLong`] past [`MAX_ALPHANUMERIC_CHARS`],
/// [`QrError::InvalidOptions`] for options out of range.
pub fn render_png(text: &str, options: &RenderOptions) -> Result<Vec<u8>, QrError> {
    options.check()?;
    let qr = encode(text)?;
    let module_px = usize::try_from(options.module_px).map_err(|_| QrError::Render)?;
    let quiet = usize::try_from(options.quiet_zone).map_err(|_| QrError::Render)?;
    let side_px = (qr.side + 2 * quiet) * module_px;
    let row_bytes = match options.depth {
        PngDepth::One => side_px.div_ceil(8),
        PngDepth::Eight => side_px,
    };

    let white_row = vec![0xFF; row_bytes];
    let mut pixels = Vec::with_capacity(row_bytes * side_px);
    for _ in 0..quiet * module_px {
        pixels.extend_from_slice(&white_row);
    }
    let mut row = white_row.clone();
    for modules in qr.rows() {
        row.fill(0xFF);
        for (x, _) in modules.iter().enumerate().filter(|(_, dark)| **dark) {
            paint_black(&mut row, (quiet + x) * module_px, module_px, options.depth);
        }
        for _ in 0..module_px {
            pixels.extend_from_slice(&row);
        }
    }
    for _ in 0..quiet * module_px {
        pixels.extend_from_slice(&white_row);
    }

    let side = u32::try_from(side_px).map_err(|_| QrError::Render)?;
    let mut png = Vec::with_capacity(pixels.len() / 8 + 128);
    let mut encoder = png::Encoder::new(&mut png, side, side);
    encoder.set_color(png::ColorType::Grayscale);
    encoder.set_depth(match options.depth {
        PngDepth::One => png::BitDepth::One,
        PngDepth::Eight => png::BitDepth::Eight,
    });
    encoder.set_compression(png::Compression::Fast);
    // Rows repeat `module_px` times: the Up filter turns every repeat into zeros.
    encoder.set_filter(png::Filter::Up);
    let mut writer = encoder.write_header().map_err(|_| QrError::Render)?;
    writer
        .write_image_data(&pixels)
        .map_err(|_| QrError::Render)?;
    writer.finish().map_err(|_| QrError::Render)?;
    Ok(png)
}

/// Renders `text` as an SVG QR code (error correction Q, alphanumeric mode).
///
/// The viewBox counts modules, quiet zone included, and the SVG has no fixed size: it fills whatever box
/// it is placed in. Dark modules are one `<path>` of horizontal runs over a white background, drawn with
/// `shape-rendering="crispEdges"`. [`RenderOptions::module_px`] and [`RenderOptions::depth`] are ignored.
///
/// # Errors
/// As [`render_png`].
pub fn render_svg(text: &str, options: &RenderOptions) -> Result<String, QrError> {
    options.check()?;
    let qr = encode(text)?;
    let quiet = usize::try_from(options.quiet_zone).map_err(|_| QrError::Render)?;
    let side = qr.side + 2 * quiet;

    let mut svg = String::with_capacity(qr.side * qr.side * 4 + 256);
    write!(
        svg,
        r##"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {side} {side}" shape-rendering="crispEdges"><rect width="{side}" height="{side}" fill="#fff"/><path fill="#000" d=""##
    )
    .map_err(|_| QrError::Render)?;
    for (x, y, run) in qr.dark_runs() {
        svg.push('M');
        push_number(&mut svg, x + quiet);
        svg.push(' ');
        push_number(&mut svg, y + quiet);
        svg.push('h');
        push_number(&mut svg, run);
        svg.push_str("v1h-");
        push_number(&mut svg, run);
        svg.push('z');
    }
    svg.push_str("\"/></svg>");
    Ok(svg)
}

/// Appends `n` in decimal (without the formatting machinery: an SVG holds thousands of numbers).
fn push_number(out: &mut String, n: usize) {
    if n >= 10 {
        push_number(out, n / 10);
    }
    out.extend(char::from_digit((n % 10) as u32, 10));
}

/// Builds the module matrix: error correction Q, alphanumeric mode forced.
fn encode(text: &str) -> Result<QrMatrix, QrError> {
    if let Some(position) = text.bytes().position(|b| !is_alphanumeric(b)) {
        return Err(QrError::NotAlphanumeric { position });
    }
    if text.len() > MAX_ALPHANUMERIC_CHARS {
        return Err(QrError::TooLong {
            chars: text.len(),
            max: MAX_ALPHANUMERIC_CHARS,
        });
    }
    // Mask 0 forced: `qrcodegen`'s own mask selection is what costs; `mask::choose_mask` does it faster.
    let segments = [QrSegment::make_alphanumeric(text)];
    let qr = QrCode::encode_segments_advanced(
        &segments,
        QrCodeEcc::Quartile,
        Version::MIN,
        Version::MAX,
        Some(qrcodegen::Mask::new(0)),
        false,
    )
    .map_err(|_| QrError::TooLong {
        chars: text.len(),
        max: MAX_ALPHANUMERIC_CHARS,
    })?;
    let side = usize::try_from(qr.size()).map_err(|_| QrError::Render)?;
    let size = qr.size();
    let mut dark = Vec::with_capacity(side * side);
    for y in 0..size {
        for x in 0..size {
            dark.push(qr.get_module(x, y));
        }
    }
    super::mask::choose_mask(&mut dark, side);
    Ok(QrMatrix { side, dark })
}

/// The QR alphanumeric set, ISO/IEC 18004 table 5.
fn is_alphanumeric(b: u8) -> bool {
    matches!(b, b'0'..=b'9' | b'A'..=b'Z' | b' ' | b'$' | b'%' | b'*' | b'+' | b'-' | b'.' | b'/' | b':')
}

/// Blackens pixels `start..start + len` of one packed PNG row.
fn paint_black(row: &mut [u8], start: usize, len: usize, depth: PngDepth) {
    match depth {
        PngDepth::Eight => {
            if let Some(span) = row.get_mut(start..start + len) {
                span.fill(0);
            }
        }
        PngDepth::One => {
            for px in start..start + len {
                if let Some(byte) = row.get_mut(px / 8) {
                    *byte &= !(0x80 >> (px % 8));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::qr::hc1_like;

    #[test]
    fn png_renders_at_every_depth_and_size() {
        let text = hc1_like(600);
        for depth in [PngDepth::One, PngDepth::Eight] {
            for module_px in [1, 3, 4, 7] {
                let options = RenderOptions {
                    module_px,
                    quiet_zone: 4,
                    depth,
                };
                let png = render_png(&text, &options).unwrap();
                let decoded = image::load_from_memory(&png).unwrap().into_luma8();
                let qr = encode(&text).unwrap();
                assert_eq!(decoded.width(), (qr.side as u32 + 8) * module_px);
                // The top left pixel of the finder pattern is black, the quiet zone white.
                assert_eq!(decoded.get_pixel(4 * module_px, 4 * module_px).0, [0]);
                assert_eq!(decoded.get_pixel(4 * module_px - 1, 4 * module_px).0, [255]);
            }
        }
    }

    #[test]
    fn svg_is_compact_and_framed() {
        let text = hc1_like(600);
        let svg = render_svg(&text, &RenderOptions::DEFAULT).unwrap();
        let side = encode(&text).unwrap().side + 8;
        assert!(svg.starts_with("<svg "));
        assert!(svg.contains(&format!(r#"viewBox="0 0 {side} {side}""#)));
        assert!(svg.contains(r#"shape-rendering="crispEdges""#));
        assert_eq!(svg.matches("<path").count(), 1);
        assert!(
            svg.contains("M4 4h7v1h-7z"),
            "the finder pattern's top row is one run"
        );
        assert!(svg.ends_with("\"/></svg>"));
    }

    #[test]
    fn svg_runs_match_the_png_pixels() {
        let text = hc1_like(120);
        let options = RenderOptions {
            module_px: 1,
            quiet_zone: 2,
            depth: PngDepth::One,
        };
        let png = image::load_from_memory(&render_png(&text, &options).unwrap())
            .unwrap()
            .into_luma8();
        let svg = render_svg(&text, &options).unwrap();
        let path = svg
            .split(" d=\"")
            .nth(1)
            .unwrap()
            .trim_end_matches("\"/></svg>");
        let mut drawn = image::GrayImage::from_pixel(png.width(), png.height(), image::Luma([255]));
        for segment in path.split('M').skip(1) {
            let (x, rest) = segment.split_once(' ').unwrap();
            let (y, rest) = rest.split_once('h').unwrap();
            let run: u32 = rest.split_once('v').unwrap().0.parse().unwrap();
            let (x, y): (u32, u32) = (x.parse().unwrap(), y.parse().unwrap());
            for dx in 0..run {
                drawn.put_pixel(x + dx, y, image::Luma([0]));
            }
        }
        assert_eq!(drawn, png);
    }

    #[test]
    fn refuses_text_outside_the_alphanumeric_set() {
        for (text, position) in [("HC1:abc", 4), ("HC1:\u{e9}", 4), ("A\nB", 1), ("=", 0)] {
            assert_eq!(
                render_png(text, &RenderOptions::DEFAULT),
                Err(QrError::NotAlphanumeric { position })
            );
            assert_eq!(
                render_svg(text, &RenderOptions::DEFAULT),
                Err(QrError::NotAlphanumeric { position })
            );
        }
    }

    #[test]
    fn empty_text_renders() {
        assert!(render_png("", &RenderOptions::DEFAULT).is_ok());
        assert!(render_svg("", &RenderOptions::DEFAULT).is_ok());
    }

    #[test]
    fn capacity_at_q_is_the_limit() {
        let fits = "A".repeat(MAX_ALPHANUMERIC_CHARS);
        assert!(render_svg(&fits, &RenderOptions::DEFAULT).is_ok());
        let over = "A".repeat(MAX_ALPHANUMERIC_CHARS + 1);
        assert_eq!(
            render_png(&over, &RenderOptions::DEFAULT),
            Err(QrError::TooLong {
                chars: MAX_ALPHANUMERIC_CHARS + 1,
                max: MAX_ALPHANUMERIC_CHARS
            })
        );
    }

    #[test]
    fn refuses_options_out_of_range() {
        for options in [
            RenderOptions {
                module_px: 0,
                ..RenderOptions::DEFAULT
            },
            RenderOptions {
                module_px: 33,
                ..RenderOptions::DEFAULT
            },
            RenderOptions {
                quiet_zone: 17,
                ..RenderOptions::DEFAULT
            },
        ] {
            assert!(matches!(
                render_png("HC1:", &options),
                Err(QrError::InvalidOptions { .. })
            ));
        }
    }

    #[test]
    fn error_messages_do_not_echo_the_text() {
        let err = render_png("HC1:secret name", &RenderOptions::DEFAULT).unwrap_err();
        assert!(!err.to_string().contains("secret"));
    }
}
