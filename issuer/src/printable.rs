//! The printable certificate: one A4 page in Vietnamese and English, with the QR code a phone scans back
//! to the same `HC1:` text (issue 10).
//!
//! [`render_pdf`] takes the certificate's data and returns the PDF's bytes; it does no I/O. The text is
//! set in Noto Sans (regular and bold), taken as bytes from the `notosans` crate and embedded as subsets
//! of the glyphs the page uses (CID fonts with a `ToUnicode` map, so the text can be searched and
//! copied). The QR code is drawn as vector rectangles, one per run of dark modules: crisp at any printer
//! resolution. Its symbol is [`QR_SIDE_MM`] a side (a diagonal of 56.6 mm), inside a white quiet zone of
//! four modules that nothing else on the page enters.

use std::fmt::Write as _;

use hcert::{DccEntry, DccPayload, QrError, QrMatrix, VaccinationEntry, ValueSetId, ValueSets};
use pdf_writer::types::{CidFontType, FontFlags, SystemInfo, UnicodeCmap};
use pdf_writer::{Content, Finish, Name, Pdf, Rect, Ref, Str, TextStr};
use sha2::Digest as _;
use subsetter::GlyphRemapper;
use time::OffsetDateTime;
use unicode_normalization::UnicodeNormalization as _;

/// Side of the printed QR symbol, quiet zone excluded, in millimetres: within the 35-60 mm of the
/// hcert specification whether that range is read as the side or as the diagonal (56.6 mm).
pub const QR_SIDE_MM: f32 = 40.0;

/// Modules of white around the symbol (ISO/IEC 18004).
const QUIET_ZONE_MODULES: f32 = 4.0;

/// A4 in points.
const PAGE_WIDTH: f32 = 595.276;
const PAGE_HEIGHT: f32 = 841.89;
/// 20 mm.
const MARGIN: f32 = 56.693;
/// Points per millimetre.
const PT_PER_MM: f32 = 72.0 / 25.4;

/// Width of the label column of the table.
const LABEL_WIDTH: f32 = 180.0;
/// Size and leading of a value in the table.
const VALUE_SIZE: f32 = 11.0;
const VALUE_LEADING: f32 = 14.0;

const REGULAR: Name<'static> = Name(b"R");
const BOLD: Name<'static> = Name(b"B");

/// Why a printable certificate could not be made. Never carries personal data.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PrintableError {
    /// The payload holds a test or recovery entry: only vaccination certificates are printed.
    #[error("only vaccination certificates have a printable form")]
    NotVaccination,
    /// The `HC1:` text cannot be drawn as a QR code.
    #[error("QR code: {0}")]
    Qr(#[from] QrError),
    /// The validity bounds are not representable dates.
    #[error("validity out of the representable range")]
    TimeOutOfRange,
    /// The embedded font could not be read or subset (a broken build, not bad input).
    #[error("the embedded font could not be used")]
    Font,
}

/// What the printable page shows: the certificate's text and its payload, and its validity.
#[derive(Debug, Clone, Copy)]
pub struct Printable<'a> {
    hc1: &'a str,
    payload: &'a DccPayload<'a>,
    valid_from: i64,
    valid_until: i64,
    value_sets: Option<&'a ValueSets>,
}

impl<'a> Printable<'a> {
    /// The certificate `hc1` (the `HC1:` text, drawn as the QR code), the payload it carries, and its
    /// validity: CWT `iat` and `exp`, seconds since the epoch.
    pub fn new(
        hc1: &'a str,
        payload: &'a DccPayload<'a>,
        valid_from: i64,
        valid_until: i64,
    ) -> Self {
        Self {
            hc1,
            payload,
            valid_from,
            valid_until,
            value_sets: None,
        }
    }

    /// Names the coded fields (disease, vaccine, manufacturer, country) by the display names of these
    /// value sets; without them, or for a code they do not name, the page shows the code alone.
    pub fn with_value_sets(mut self, value_sets: &'a ValueSets) -> Self {
        self.value_sets = Some(value_sets);
        self
    }

    fn named(&self, set: ValueSetId, code: &str) -> String {
        match self
            .value_sets
            .and_then(|sets| sets.display(set, code))
            .filter(|name| *name != code)
        {
            Some(name) => format!("{name} ({code})"),
            None => code.to_owned(),
        }
    }
}

/// Renders the printable certificate: a one-page A4 PDF.
///
/// # Errors
/// [`PrintableError::NotVaccination`] for a test or recovery payload, [`PrintableError::Qr`] when the
/// text cannot be a QR code, [`PrintableError::TimeOutOfRange`] for impossible validity bounds.
pub fn render_pdf(printable: &Printable<'_>) -> Result<Vec<u8>, PrintableError> {
    let DccEntry::Vaccination([entry]) = &printable.payload.entry else {
        return Err(PrintableError::NotVaccination);
    };
    let qr = QrMatrix::encode(printable.hc1)?;
    let rows = table_rows(printable, entry)?;

    let mut page = PageWriter::new()?;
    let mut y = PAGE_HEIGHT - MARGIN;

    // Title.
    y -= 16.0;
    page.centered(
        Face::Bold,
        16.0,
        y,
        "GIẤY CHỨNG NHẬN TIÊM CHỦNG COVID-19",
        0.0,
    );
    y -= 18.0;
    page.centered(
        Face::Regular,
        12.5,
        y,
        "COVID-19 VACCINATION CERTIFICATE",
        0.0,
    );
    y -= 15.0;
    page.centered(
        Face::Regular,
        9.0,
        y,
        "Chứng nhận COVID kỹ thuật số theo chuẩn EU · EU Digital COVID Certificate",
        0.35,
    );
    y -= 12.0;
    page.rule(y, 0.8, 0.0);

    // The QR code, centred, its quiet zone kept clear.
    let place = QrPlace::new(qr.side(), QR_TOP);
    page.qr(
        &qr,
        place.left + place.quiet,
        place.top - place.quiet,
        place.module,
    );
    page.frame(
        place.left,
        place.top - place.outer,
        place.outer,
        place.outer,
    );
    y = place.top - place.outer - 13.0;
    page.centered(
        Face::Regular,
        8.5,
        y,
        "Quét mã QR để xác thực chứng nhận · Scan the QR code to verify the certificate",
        0.35,
    );
    y -= 14.0;
    page.rule(y, 0.5, 0.6);

    // The fields.
    for row in &rows {
        let value_lines = page.wrap(
            Face::Regular,
            VALUE_SIZE,
            PAGE_WIDTH - 2.0 * MARGIN - LABEL_WIDTH,
            &row.value,
        );
        let first = y - 14.0;
        page.text(Face::Bold, 9.5, MARGIN, first, row.vietnamese, 0.0);
        page.text(Face::Regular, 8.0, MARGIN, first - 11.0, row.english, 0.4);
        let mut line_y = first;
        for line in &value_lines {
            page.text(
                Face::Regular,
                VALUE_SIZE,
                MARGIN + LABEL_WIDTH,
                line_y,
                line,
                0.0,
            );
            line_y -= VALUE_LEADING;
        }
        let height = 25.0_f32.max(VALUE_LEADING * value_lines.len() as f32) + 7.0;
        y -= height;
        page.rule(y, 0.4, 0.8);
    }

    // What the paper is worth.
    page.text(
        Face::Regular,
        8.0,
        MARGIN,
        MARGIN + 12.0,
        "Giá trị của chứng nhận nằm ở mã QR đã ký số: hãy quét mã để kiểm tra, không dựa vào phần chữ.",
        0.35,
    );
    page.text(
        Face::Regular,
        8.0,
        MARGIN,
        MARGIN + 2.0,
        "The certificate is its digitally signed QR code: scan it to check; do not rely on the printed text.",
        0.35,
    );

    page.finish(printable)
}

/// Where the QR code sits on the page, in points from the bottom left corner.
#[derive(Debug, Clone, Copy)]
struct QrPlace {
    /// Left edge of the quiet zone.
    left: f32,
    /// Top edge of the quiet zone.
    top: f32,
    /// Side of the symbol with its quiet zone.
    outer: f32,
    /// Width of the quiet zone.
    quiet: f32,
    /// Side of one module.
    module: f32,
}

impl QrPlace {
    /// A symbol of `side` modules, [`QR_SIDE_MM`] wide, centred, its quiet zone's top at `top`.
    fn new(side: usize, top: f32) -> Self {
        let module = QR_SIDE_MM * PT_PER_MM / side.max(1) as f32;
        let quiet = QUIET_ZONE_MODULES * module;
        let outer = module * side as f32 + 2.0 * quiet;
        Self {
            left: (PAGE_WIDTH - outer) / 2.0,
            top,
            outer,
            quiet,
            module,
        }
    }
}

/// The top of the QR code's quiet zone: below the title block.
const QR_TOP: f32 = PAGE_HEIGHT - MARGIN - 16.0 - 18.0 - 15.0 - 12.0 - 8.0;

/// One line of the table: a label in both languages and the value.
struct Row {
    vietnamese: &'static str,
    english: &'static str,
    value: String,
}

fn table_rows(
    printable: &Printable<'_>,
    entry: &VaccinationEntry<'_>,
) -> Result<Vec<Row>, PrintableError> {
    let name = &printable.payload.nam;
    let written = [name.family.as_deref(), name.given.as_deref()]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" ");
    let transliterated = format!(
        "{}<<{}",
        name.family_transliterated.as_deref().unwrap_or_default(),
        name.given_transliterated.as_deref().unwrap_or_default()
    );
    let row = |vietnamese, english, value: String| Row {
        vietnamese,
        english,
        value,
    };
    Ok(vec![
        row("Họ và tên", "Name", written),
        row(
            "Họ và tên (chuẩn ICAO)",
            "Name (ICAO transliteration)",
            transliterated,
        ),
        row(
            "Ngày sinh",
            "Date of birth",
            printable.payload.dob.to_string(),
        ),
        row(
            "Bệnh phòng ngừa",
            "Disease targeted",
            printable.named(ValueSetId::DiseaseAgentTargeted, &entry.tg),
        ),
        row(
            "Vắc xin",
            "Vaccine",
            printable.named(ValueSetId::VaccineMedicinalProduct, &entry.mp),
        ),
        row(
            "Loại vắc xin",
            "Vaccine type",
            printable.named(ValueSetId::VaccineProphylaxis, &entry.vp),
        ),
        row(
            "Nhà sản xuất",
            "Manufacturer",
            printable.named(ValueSetId::VaccineMahManf, &entry.ma),
        ),
        row("Mũi tiêm", "Dose", format!("{}/{}", entry.dn, entry.sd)),
        row("Ngày tiêm", "Date of vaccination", entry.dt.to_string()),
        row(
            "Quốc gia tiêm",
            "Country of vaccination",
            printable.named(ValueSetId::Country, &entry.co),
        ),
        row("Đơn vị cấp", "Certificate issuer", entry.is.to_string()),
        row(
            "Mã chứng nhận",
            "Certificate identifier",
            entry.ci.to_string(),
        ),
        row(
            "Hiệu lực",
            "Valid",
            format!(
                "từ / from {} đến / until {} (UTC)",
                date(printable.valid_from)?,
                date(printable.valid_until)?
            ),
        ),
    ])
}

fn date(seconds: i64) -> Result<String, PrintableError> {
    OffsetDateTime::from_unix_timestamp(seconds)
        .map(|at| at.date().to_string())
        .map_err(|_| PrintableError::TimeOutOfRange)
}

/// Which of the two embedded faces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Face {
    Regular,
    Bold,
}

/// One embedded font: its parsed face, and the glyphs the page has used so far.
struct FontUse {
    face: ttf_parser::Face<'static>,
    data: &'static [u8],
    postscript_name: &'static str,
    units_per_em: f32,
    glyphs: GlyphRemapper,
    /// For each glyph used (by its new id), the text it stands for.
    unicode: Vec<(u16, char)>,
}

impl FontUse {
    fn new(data: &'static [u8], postscript_name: &'static str) -> Result<Self, PrintableError> {
        let face = ttf_parser::Face::parse(data, 0).map_err(|_| PrintableError::Font)?;
        let units_per_em = f32::from(face.units_per_em());
        Ok(Self {
            face,
            data,
            postscript_name,
            units_per_em,
            glyphs: GlyphRemapper::new(),
            unicode: Vec::new(),
        })
    }

    fn glyph(&self, c: char) -> u16 {
        self.face.glyph_index(c).map_or(0, |glyph| glyph.0)
    }

    /// Width of `text` at `size` points.
    fn width(&self, text: &str, size: f32) -> f32 {
        let units: u32 = text
            .nfc()
            .map(|c| {
                u32::from(
                    self.face
                        .glyph_hor_advance(ttf_parser::GlyphId(self.glyph(c)))
                        .unwrap_or(0),
                )
            })
            .sum();
        units as f32 * size / self.units_per_em
    }

    /// The text as two-byte glyph codes of the subset (Identity-H), recording the glyphs it uses.
    fn encode(&mut self, text: &str) -> Vec<u8> {
        let mut codes = Vec::with_capacity(text.len() * 2);
        for c in text.nfc() {
            let old = self.glyph(c);
            let known = self.glyphs.get(old).is_some();
            let new = self.glyphs.remap(old);
            if !known && old != 0 {
                self.unicode.push((new, c));
            }
            codes.extend_from_slice(&new.to_be_bytes());
        }
        codes
    }

    /// Writes the Type 0 font `id` (and its descendant, descriptor, subset and `ToUnicode` map).
    fn write(&self, pdf: &mut Pdf, alloc: &mut Ref) -> Result<Ref, PrintableError> {
        let [type0, cid, descriptor, file, cmap] = [(); 5].map(|()| alloc.bump());
        let subset =
            subsetter::subset(self.data, 0, &self.glyphs).map_err(|_| PrintableError::Font)?;
        let base_name = format!("{}+{}", self.subset_tag(), self.postscript_name);
        let base_font = Name(base_name.as_bytes());
        let scale = 1000.0 / self.units_per_em;

        pdf.type0_font(type0)
            .base_font(base_font)
            .encoding_predefined(Name(b"Identity-H"))
            .descendant_font(cid)
            .to_unicode(cmap);
        let system_info = SystemInfo {
            registry: Str(b"Adobe"),
            ordering: Str(b"Identity"),
            supplement: 0,
        };
        let widths = self
            .glyphs
            .remapped_gids()
            .map(|old| {
                f32::from(
                    self.face
                        .glyph_hor_advance(ttf_parser::GlyphId(old))
                        .unwrap_or(0),
                ) * scale
            })
            .collect::<Vec<_>>();
        let mut cid_font = pdf.cid_font(cid);
        cid_font
            .subtype(CidFontType::Type2)
            .base_font(base_font)
            .system_info(system_info)
            .font_descriptor(descriptor)
            .default_width(0.0)
            .cid_to_gid_map_predefined(Name(b"Identity"));
        cid_font.widths().consecutive(0, widths);
        cid_font.finish();

        let bbox = self.face.global_bounding_box();
        pdf.font_descriptor(descriptor)
            .name(base_font)
            .flags(FontFlags::NON_SYMBOLIC)
            .bbox(Rect::new(
                f32::from(bbox.x_min) * scale,
                f32::from(bbox.y_min) * scale,
                f32::from(bbox.x_max) * scale,
                f32::from(bbox.y_max) * scale,
            ))
            .italic_angle(0.0)
            .ascent(f32::from(self.face.ascender()) * scale)
            .descent(f32::from(self.face.descender()) * scale)
            .cap_height(f32::from(self.face.capital_height().unwrap_or(714)) * scale)
            .stem_v(if self.postscript_name.ends_with("Bold") {
                140.0
            } else {
                80.0
            })
            .font_file2(file);
        pdf.stream(file, &subset);

        let mut unicode = UnicodeCmap::new(Name(b"Custom"), system_info);
        for (glyph, c) in &self.unicode {
            unicode.pair(*glyph, *c);
        }
        pdf.cmap(cmap, &unicode.finish());
        Ok(type0)
    }

    /// Six capitals derived from the glyph set (PDF 32000-1 §9.6.4: a subset's name carries a tag).
    fn subset_tag(&self) -> String {
        let mut hash: u32 = 0x811C_9DC5;
        for glyph in self.glyphs.remapped_gids() {
            for byte in glyph.to_be_bytes() {
                hash = (hash ^ u32::from(byte)).wrapping_mul(0x0100_0193);
            }
        }
        (0..6)
            .map(|_| {
                let letter = char::from(b'A' + (hash % 26) as u8);
                hash /= 26;
                letter
            })
            .collect()
    }
}

/// The page being drawn: its content stream and the two faces.
struct PageWriter {
    content: Content,
    regular: FontUse,
    bold: FontUse,
}

impl PageWriter {
    fn new() -> Result<Self, PrintableError> {
        Ok(Self {
            content: Content::new(),
            regular: FontUse::new(notosans::REGULAR_TTF, "NotoSans-Regular")?,
            bold: FontUse::new(notosans::BOLD_TTF, "NotoSans-Bold")?,
        })
    }

    fn font(&mut self, face: Face) -> (&mut FontUse, Name<'static>) {
        match face {
            Face::Regular => (&mut self.regular, REGULAR),
            Face::Bold => (&mut self.bold, BOLD),
        }
    }

    /// `text` with its baseline's left end at (`x`, `y`), in `gray` (0 black, 1 white).
    fn text(&mut self, face: Face, size: f32, x: f32, y: f32, text: &str, gray: f32) {
        let (font, name) = self.font(face);
        let codes = font.encode(text);
        self.content
            .set_fill_gray(gray)
            .begin_text()
            .set_font(name, size)
            .next_line(x, y)
            .show(Str(&codes))
            .end_text();
    }

    fn centered(&mut self, face: Face, size: f32, y: f32, text: &str, gray: f32) {
        let width = self.font(face).0.width(text, size);
        self.text(face, size, (PAGE_WIDTH - width) / 2.0, y, text, gray);
    }

    /// Splits `text` into lines no wider than `width` at spaces; a word wider than a line is cut.
    fn wrap(&mut self, face: Face, size: f32, width: f32, text: &str) -> Vec<String> {
        let font = &*self.font(face).0;
        let mut lines = Vec::new();
        let mut line = String::new();
        for word in text.split(' ') {
            let candidate = if line.is_empty() {
                word.to_owned()
            } else {
                format!("{line} {word}")
            };
            if font.width(&candidate, size) <= width {
                line = candidate;
                continue;
            }
            if !line.is_empty() {
                lines.push(std::mem::take(&mut line));
            }
            for c in word.chars() {
                line.push(c);
                if font.width(&line, size) > width {
                    line.pop();
                    lines.push(std::mem::take(&mut line));
                    line.push(c);
                }
            }
        }
        lines.push(line);
        lines
    }

    /// A horizontal line across the text column at height `y`.
    fn rule(&mut self, y: f32, width: f32, gray: f32) {
        self.content
            .set_stroke_gray(gray)
            .set_line_width(width)
            .move_to(MARGIN, y)
            .line_to(PAGE_WIDTH - MARGIN, y)
            .stroke();
    }

    /// A thin grey frame just outside the quiet zone.
    fn frame(&mut self, x: f32, y: f32, width: f32, height: f32) {
        self.content
            .set_stroke_gray(0.75)
            .set_line_width(0.5)
            .rect(x - 0.5, y - 0.5, width + 1.0, height + 1.0)
            .stroke();
    }

    /// The symbol with its top left corner at (`left`, `top`), `module` points a module: one
    /// rectangle per run of dark modules, filled together.
    fn qr(&mut self, qr: &QrMatrix, left: f32, top: f32, module: f32) {
        self.content.set_fill_gray(0.0);
        for (x, y, run) in qr.dark_runs() {
            self.content.rect(
                left + x as f32 * module,
                top - (y + 1) as f32 * module,
                run as f32 * module,
                module,
            );
        }
        self.content.fill_nonzero();
    }

    fn finish(self, printable: &Printable<'_>) -> Result<Vec<u8>, PrintableError> {
        let mut alloc = Ref::new(1);
        let [catalog, tree, page, contents, info] = [(); 5].map(|()| alloc.bump());
        let mut pdf = Pdf::new();
        let regular = self.regular.write(&mut pdf, &mut alloc)?;
        let bold = self.bold.write(&mut pdf, &mut alloc)?;

        pdf.catalog(catalog).pages(tree);
        pdf.pages(tree).kids([page]).count(1);
        let mut page_writer = pdf.page(page);
        page_writer
            .parent(tree)
            .media_box(Rect::new(0.0, 0.0, PAGE_WIDTH, PAGE_HEIGHT))
            .contents(contents);
        page_writer
            .resources()
            .fonts()
            .pair(REGULAR, regular)
            .pair(BOLD, bold);
        page_writer.finish();

        // Not compressed: level-9 deflate (the only one `hcert::deflate` uses at this size) cost more
        // than the rest of the page, for ≈ 40 KB saved (BENCHMARKS.md, issue 10).
        let stream = self.content.finish();
        pdf.stream(contents, &stream);

        let mut title = String::from("COVID-19 vaccination certificate ");
        if let DccEntry::Vaccination([entry]) = &printable.payload.entry {
            let _ = write!(title, "{} / {}", entry.dn, entry.sd);
        }
        pdf.document_info(info)
            .title(TextStr(&title))
            .producer(TextStr("vaxcert"));
        // The same certificate gives the same file: its identifier is a digest of the `HC1:` text.
        let id = sha2::Sha256::digest(printable.hc1.as_bytes()).to_vec();
        pdf.set_file_id((id.clone(), id));
        Ok(pdf.finish())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use std::path::{Path, PathBuf};
    use std::process::Command;

    use hcert::ImageLimits;

    use super::*;

    /// 150 dpi: an office scanner's or a phone photo's resolution of a printed page.
    const DPI: f32 = 150.0;

    const PAYLOAD: &str = r#"{"ver": "1.3.0",
        "nam": {"fn": "Nguyễn", "fnt": "NGUYEN", "gn": "Thị Ánh Tuyết", "gnt": "THI<ANH<TUYET"},
        "dob": "1983-10-10",
        "v": [{"tg": "840539006", "vp": "1119349007", "mp": "EU/1/20/1528", "ma": "ORG-100030215",
               "dn": 2, "sd": 2, "dt": "2021-09-14", "co": "VN",
               "is": "Bộ Y tế Việt Nam (Ministry of Health of Viet Nam)",
               "ci": "URN:UVCI:01:VN:7B3Q9K2M4X8H6T1R#W"}]}"#;

    /// 2021-10-01 and 2022-10-01, 00:00 UTC.
    const IAT: i64 = 1_633_046_400;
    const EXP: i64 = 1_664_582_400;

    /// An `HC1:` text of a typical certificate's length (≈ 630 characters, version 20).
    fn hc1() -> String {
        let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
        let bytes: Vec<u8> = (0..420)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                state as u8
            })
            .collect();
        format!("HC1:{}", hcert::base45_encode(&bytes))
    }

    fn value_sets() -> ValueSets {
        let set = |id: &str, code: &str, display: &str| {
            serde_json::json!({"valueSetId": id,
                "valueSetValues": {code: {"display": display, "active": true}}})
            .to_string()
        };
        let docs = [
            set("disease-agent-targeted", "840539006", "COVID-19"),
            set(
                "sct-vaccines-covid-19",
                "1119349007",
                "SARS-CoV-2 mRNA vaccine",
            ),
            set("vaccines-covid-19-names", "EU/1/20/1528", "Comirnaty"),
            set(
                "vaccines-covid-19-auth-holders",
                "ORG-100030215",
                "Biontech Manufacturing GmbH",
            ),
            set("country-2-codes", "VN", "Viet Nam"),
        ];
        ValueSets::from_documents(docs.iter().map(String::as_str)).unwrap()
    }

    fn pdf(hc1: &str, value_sets: Option<&ValueSets>) -> Vec<u8> {
        let payload: DccPayload<'_> = serde_json::from_str(PAYLOAD).unwrap();
        let mut printable = Printable::new(hc1, &payload, IAT, EXP);
        if let Some(sets) = value_sets {
            printable = printable.with_value_sets(sets);
        }
        render_pdf(&printable).unwrap()
    }

    /// Where the test leaves its PDF and page picture: the workspace's `target/`, for people to look at.
    fn artefacts() -> PathBuf {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/test-artefacts/printable");
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    /// Whether the poppler tool `name` runs; without it the test is skipped, unless in CI.
    fn have(name: &str) -> bool {
        let found = Command::new(name).arg("-v").output().is_ok();
        if !found {
            assert!(
                std::env::var_os("CI").is_none(),
                "{name} (poppler-utils) is required in CI: scripts/install-pdf-tools"
            );
            eprintln!("skipped: {name} not installed (scripts/install-pdf-tools)");
        }
        found
    }

    #[test]
    fn the_printed_qr_code_scans_back_and_is_35_to_60_mm() {
        if !have("pdftoppm") {
            return;
        }
        let text = hc1();
        let dir = artefacts();
        let pdf_path = dir.join("certificate.pdf");
        std::fs::write(&pdf_path, pdf(&text, Some(&value_sets()))).unwrap();
        let status = Command::new("pdftoppm")
            .args(["-r", "150", "-gray", "-png", "-singlefile"])
            .arg(&pdf_path)
            .arg(dir.join("certificate"))
            .status()
            .unwrap();
        assert!(status.success());
        let picture = std::fs::read(dir.join("certificate.png")).unwrap();
        assert_eq!(
            hcert::read_qr(&picture, &ImageLimits::DEFAULT).as_deref(),
            Ok(text.as_str())
        );

        // The printed size, from the pixels: the dark extent inside the frame around the quiet zone.
        let page = image::load_from_memory(&picture).unwrap().into_luma8();
        let side = QrMatrix::encode(&text).unwrap().side();
        let place = QrPlace::new(side, QR_TOP);
        let px = |pt: f32| (pt * DPI / 72.0).round() as u32;
        let (x0, y0) = (px(place.left) + 2, px(PAGE_HEIGHT - place.top) + 2);
        let span = px(place.outer) - 4;
        let dark: Vec<(u32, u32)> = (y0..y0 + span)
            .flat_map(|y| (x0..x0 + span).map(move |x| (x, y)))
            .filter(|&(x, y)| page.get_pixel(x, y).0[0] < 128)
            .collect();
        let extent = |axis: fn(&(u32, u32)) -> u32| {
            let (min, max) = (dark.iter().map(axis).min(), dark.iter().map(axis).max());
            (max.unwrap() - min.unwrap() + 1) as f32 * 25.4 / DPI
        };
        let (width_mm, height_mm) = (extent(|p| p.0), extent(|p| p.1));
        for mm in [width_mm, height_mm] {
            assert!((35.0..=60.0).contains(&mm), "side {mm} mm");
            assert!((mm - QR_SIDE_MM).abs() < 1.0, "side {mm} mm");
        }
        let diagonal = width_mm.hypot(height_mm);
        assert!((35.0..=60.0).contains(&diagonal), "diagonal {diagonal} mm");
        // The quiet zone is white: nothing dark between the frame and the symbol.
        let quiet_px = px(place.quiet) - 3;
        assert!(
            dark.iter()
                .all(|&(x, y)| x >= x0 + quiet_px && y >= y0 + quiet_px),
            "a dark pixel in the quiet zone"
        );
    }

    #[test]
    fn the_text_holds_every_field_in_both_languages() {
        if !have("pdftotext") {
            return;
        }
        let dir = artefacts();
        let pdf_path = dir.join("fields.pdf");
        std::fs::write(&pdf_path, pdf(&hc1(), Some(&value_sets()))).unwrap();
        let out = Command::new("pdftotext")
            .args(["-layout", "-enc", "UTF-8"])
            .arg(&pdf_path)
            .arg("-")
            .output()
            .unwrap();
        assert!(out.status.success());
        let text = String::from_utf8(out.stdout).unwrap();
        for expected in [
            "GIẤY CHỨNG NHẬN TIÊM CHỦNG COVID-19",
            "COVID-19 VACCINATION CERTIFICATE",
            "Họ và tên",
            "Name",
            "Nguyễn Thị Ánh Tuyết",
            "NGUYEN<<THI<ANH<TUYET",
            "Ngày sinh",
            "Date of birth",
            "1983-10-10",
            "COVID-19 (840539006)",
            "Comirnaty (EU/1/20/1528)",
            "SARS-CoV-2 mRNA vaccine (1119349007)",
            "Biontech Manufacturing GmbH (ORG-100030215)",
            "Mũi tiêm",
            "2/2",
            "Ngày tiêm",
            "2021-09-14",
            "Quốc gia tiêm",
            "Viet Nam (VN)",
            "Đơn vị cấp",
            "Bộ Y tế Việt Nam",
            "Mã chứng nhận",
            "URN:UVCI:01:VN:7B3Q9K2M4X8H6T1R#W",
            "Hiệu lực",
            "2021-10-01",
            "2022-10-01",
        ] {
            assert!(
                text.contains(expected),
                "{expected:?} missing from:\n{text}"
            );
        }
    }

    #[test]
    fn codes_stand_alone_without_value_sets() {
        let payload: DccPayload<'_> = serde_json::from_str(PAYLOAD).unwrap();
        let printable = Printable::new("HC1:X", &payload, IAT, EXP);
        let rows = match &payload.entry {
            DccEntry::Vaccination([entry]) => table_rows(&printable, entry).unwrap(),
            _ => unreachable!(),
        };
        let vaccine = rows.iter().find(|row| row.english == "Vaccine").unwrap();
        assert_eq!(vaccine.value, "EU/1/20/1528");
    }

    #[test]
    fn the_font_has_every_vietnamese_letter() {
        let letters = "aàáảãạăằắẳẵặâầấẩẫậeèéẻẽẹêềếểễệiìíỉĩịoòóỏõọôồốổỗộơờớởỡợuùúủũụưừứửữựyỳýỷỹỵđ";
        let upper = letters.to_uppercase();
        for font in [notosans::REGULAR_TTF, notosans::BOLD_TTF] {
            let face = ttf_parser::Face::parse(font, 0).unwrap();
            for c in letters.chars().chain(upper.chars()) {
                assert!(face.glyph_index(c).is_some(), "no glyph for {c}");
            }
        }
    }

    #[test]
    fn a_test_certificate_has_no_printable_form() {
        let json = r#"{"ver": "1.3.0", "nam": {"fnt": "A"}, "dob": "1990",
            "t": [{"tg": "840539006", "tt": "LP6464-4", "sc": "2021-09-14T10:00:00Z", "tr": "260415000",
                   "tc": "X", "co": "VN", "is": "X", "ci": "URN:UVCI:01:VN:X"}]}"#;
        let payload: DccPayload<'_> = serde_json::from_str(json).unwrap();
        assert_eq!(
            render_pdf(&Printable::new("HC1:X", &payload, IAT, EXP)),
            Err(PrintableError::NotVaccination)
        );
    }

    #[test]
    fn the_pdf_is_one_page_with_subset_fonts() {
        let bytes = pdf(&hc1(), None);
        let text = String::from_utf8_lossy(&bytes);
        assert!(bytes.starts_with(b"%PDF-"));
        assert_eq!(
            text.matches("/Type /Page\n").count() + text.matches("/Type /Page ").count(),
            1
        );
        assert_eq!(
            text.matches("+NotoSans-Regular").count(),
            3,
            "font, CID font, descriptor"
        );
        assert!(text.contains("+NotoSans-Bold"));
        // Subsets: the two whole fonts alone are 407 KB (the page's drawing is ≈ 60 KB, uncompressed).
        assert!(bytes.len() < 200_000, "{} bytes", bytes.len());
    }

    #[test]
    fn the_same_certificate_gives_the_same_bytes() {
        let text = hc1();
        assert_eq!(pdf(&text, None), pdf(&text, None));
        assert_ne!(pdf(&text, None), pdf(&format!("{text}A"), None));
    }

    #[test]
    fn long_values_wrap_within_the_value_column() {
        let mut page = PageWriter::new().unwrap();
        let width = PAGE_WIDTH - 2.0 * MARGIN - LABEL_WIDTH;
        let long = "Trung tâm Kiểm soát Bệnh tật Thành phố Hồ Chí Minh (Ho Chi Minh City Center for Disease Control)";
        let lines = page.wrap(Face::Regular, VALUE_SIZE, width, long);
        assert!(lines.len() >= 2);
        assert_eq!(lines.join(" "), long);
        let unbroken = "URN:UVCI:01:VN:".repeat(8);
        let lines = page.wrap(Face::Regular, VALUE_SIZE, width, &unbroken);
        assert!(lines.len() >= 2);
        assert_eq!(lines.concat(), unbroken);
        for line in &lines {
            assert!(page.regular.width(line, VALUE_SIZE) <= width);
        }
    }
}
