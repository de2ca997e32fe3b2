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

use hcert::{DccEntry, DccPayload, QrError, QrMatrix, ValueSetId, ValueSets, VaccinationEntry};
use pdf_writer::types::{CidFontType, FontFlags, SystemInfo, UnicodeCmap};
use pdf_writer::{Content, Filter, Finish, Name, Pdf, Rect, Ref, Str, TextStr};
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
    let module = QR_SIDE_MM * PT_PER_MM / qr.side().max(1) as f32;
    let quiet = QUIET_ZONE_MODULES * module;
    let symbol = module * qr.side() as f32;
    let outer = symbol + 2.0 * quiet;
    let left = (PAGE_WIDTH - outer) / 2.0;
    let top = y - 8.0;
    page.qr(&qr, left + quiet, top - quiet, module);
    page.frame(left, top - outer, outer, outer);
    y = top - outer - 13.0;
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
            page.text(Face::Regular, VALUE_SIZE, MARGIN + LABEL_WIDTH, line_y, line, 0.0);
            line_y -= VALUE_LEADING;
        }
        let height = (14.0 + 11.0).max(VALUE_LEADING * value_lines.len() as f32) + 7.0;
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
        row("Họ và tên (chuẩn ICAO)", "Name (ICAO transliteration)", transliterated),
        row("Ngày sinh", "Date of birth", printable.payload.dob.to_string()),
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
        row("Mũi tiêm", "Dose", format!("{} / {}", entry.dn, entry.sd)),
        row("Ngày tiêm", "Date of vaccination", entry.dt.to_string()),
        row(
            "Quốc gia tiêm",
            "Country of vaccination",
            printable.named(ValueSetId::Country, &entry.co),
        ),
        row("Đơn vị cấp", "Certificate issuer", entry.is.to_string()),
        row("Mã chứng nhận", "Certificate identifier", entry.ci.to_string()),
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
        let mut fonts = page_writer.resources().fonts();
        fonts.pair(REGULAR, regular).pair(BOLD, bold);
        fonts.finish();
        page_writer.finish();

        let stream = self.content.finish();
        let compressed = hcert::deflate(&stream);
        pdf.stream(contents, &compressed).filter(Filter::FlateDecode);

        let mut title = String::from("COVID-19 vaccination certificate ");
        if let DccEntry::Vaccination([entry]) = &printable.payload.entry {
            let _ = write!(title, "{} / {}", entry.dn, entry.sd);
        }
        pdf.document_info(info)
            .title(TextStr(&title))
            .producer(TextStr("vaxcert"));
        pdf.set_file_id((title.clone().into_bytes(), Vec::new()));
        Ok(pdf.finish())
    }
}
