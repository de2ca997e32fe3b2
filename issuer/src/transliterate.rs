//! ICAO 9303 transliteration of names into the machine-readable form (`fnt`/`gnt`), done right for
//! Vietnamese.
//!
//! Rules (ICAO Doc 9303 part 3 §6, spec-notes §4): NFD-normalise, map `Đ`/`đ` to `D` explicitly (it has no
//! decomposition), drop combining marks (Vietnamese tone and vowel marks), upper-case, spaces and hyphens
//! to the filler `<`, apostrophes and full stops dropped ("H'Hen Niê" → `HHEN<NIE`), runs of fillers
//! collapsed and trimmed. Anything else — CJK, digits, control or bidirectional formatting characters,
//! line breaks, invisible characters, variation selectors, more than two combining marks on one letter —
//! does not transliterate and is refused.

use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

use crate::error::{TransliterationError, Untransliterable};

/// The longest machine-readable name the DCC schema allows (`fnt`/`gnt` maxLength).
pub const MAX_MRZ_NAME_CHARS: usize = 80;

/// The most combining marks one letter carries in a decomposed (NFD) Vietnamese name: a vowel mark and a
/// tone mark (`ậ` = `a` + U+0323 + U+0302). More is stacking ("Zalgo" text), not a name.
pub const MAX_COMBINING_MARKS_PER_LETTER: usize = 2;

/// Transliterates `name` (the value of the request field `field`, a JSON path such as `"person.fn"`) into
/// its ICAO 9303 machine-readable form, matching `^[A-Z<]*$`.
///
/// The output may be empty (a name made only of apostrophes) and is not length-checked: see
/// [`is_valid_mrz_name`].
///
/// # Errors
/// [`TransliterationError`] naming `field` when [`check_name_characters`] refuses the name or a character
/// has no transliteration. The error never quotes the name.
pub fn transliterate(field: &'static str, name: &str) -> Result<String, TransliterationError> {
    let fail = |reason| TransliterationError { field, reason };
    check_name_characters(field, name)?;
    let mut out = String::with_capacity(name.len());
    let mut push = |s: &str| {
        for c in s.chars() {
            if c == '<' && (out.is_empty() || out.ends_with('<')) {
                continue;
            }
            out.push(c);
        }
    };
    for c in name.nfd() {
        match c {
            'A'..='Z' => push(c.encode_utf8(&mut [0; 4])),
            'a'..='z' => push(c.to_ascii_uppercase().encode_utf8(&mut [0; 4])),
            // Đ/đ (and the Icelandic eth, drawn alike) have no decomposition: ICAO maps them to D.
            'Đ' | 'đ' | 'Ð' | 'ð' => push("D"),
            // ICAO 9303 part 3 table A: the multi-letter and stroked Latin letters.
            'Æ' | 'æ' => push("AE"),
            'Ø' | 'ø' | 'Œ' | 'œ' => push("OE"),
            'ß' => push("SS"),
            'Þ' | 'þ' => push("TH"),
            'Ł' | 'ł' => push("L"),
            'Ħ' | 'ħ' => push("H"),
            'ı' => push("I"),
            'Ĳ' | 'ĳ' => push("IJ"),
            '-' | '‐' | '‑' | '–' => push("<"),
            '\'' | '’' | '‘' | 'ʼ' | '`' | '´' | '.' => {}
            c if is_combining_mark(c) => {}
            c if c.is_whitespace() => push("<"),
            _ => return Err(fail(Untransliterable::Unsupported)),
        }
    }
    while out.ends_with('<') {
        out.pop();
    }
    Ok(out)
}

/// Refuses in a name (the value of the request field `field`) what no name contains and what could make
/// two names that look alike differ: control characters, line breaks, bidirectional formatting
/// characters, variation selectors, invisible characters, and more than
/// [`MAX_COMBINING_MARKS_PER_LETTER`] combining marks in a row once decomposed.
///
/// # Errors
/// [`TransliterationError`] naming `field` and the first kind of character found; never the name.
pub fn check_name_characters(field: &'static str, name: &str) -> Result<(), TransliterationError> {
    let fail = |reason| Err(TransliterationError { field, reason });
    if let Some(reason) = name.chars().find_map(forbidden_character) {
        return fail(reason);
    }
    let mut marks_in_a_row = 0;
    for c in name.nfd() {
        marks_in_a_row = if is_combining_mark(c) {
            marks_in_a_row + 1
        } else {
            0
        };
        if marks_in_a_row > MAX_COMBINING_MARKS_PER_LETTER {
            return fail(Untransliterable::TooManyCombiningMarks);
        }
    }
    Ok(())
}

/// Why `c` is refused in any text field, if it is: line breaks, control, bidirectional formatting and
/// invisible characters, variation selectors.
pub(crate) fn forbidden_character(c: char) -> Option<Untransliterable> {
    if is_line_break(c) {
        Some(Untransliterable::LineBreak)
    } else if c.is_control() {
        Some(Untransliterable::Control)
    } else if is_bidi_control(c) {
        Some(Untransliterable::Bidi)
    } else if is_variation_selector(c) {
        Some(Untransliterable::VariationSelector)
    } else if is_invisible(c) {
        Some(Untransliterable::Invisible)
    } else {
        None
    }
}

/// Whether `c` ends a line (Unicode mandatory breaks: LF, VT, FF, CR, NEL, LINE and PARAGRAPH
/// SEPARATOR).
fn is_line_break(c: char) -> bool {
    matches!(
        c,
        '\n' | '\u{0B}' | '\u{0C}' | '\r' | '\u{85}' | '\u{2028}' | '\u{2029}'
    )
}

/// Whether `c` is a variation selector: the standardised ones, their supplement, and the Mongolian free
/// variation selectors.
fn is_variation_selector(c: char) -> bool {
    matches!(
        c,
        '\u{180B}'..='\u{180D}' | '\u{180F}' | '\u{FE00}'..='\u{FE0F}' | '\u{E0100}'..='\u{E01EF}'
    )
}

/// Whether `c` shows nothing: the Unicode Default_Ignorable_Code_Points (less the bidi controls and
/// variation selectors, refused under their own names) and the interlinear annotation characters.
fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}'
            | '\u{034F}'
            | '\u{115F}'
            | '\u{1160}'
            | '\u{17B4}'
            | '\u{17B5}'
            | '\u{180E}'
            | '\u{200B}'..='\u{200D}'
            | '\u{2060}'..='\u{206F}'
            | '\u{3164}'
            | '\u{FEFF}'
            | '\u{FFA0}'
            | '\u{FFF0}'..='\u{FFFB}'
            | '\u{1BCA0}'..='\u{1BCA3}'
            | '\u{1D173}'..='\u{1D17A}'
            | '\u{E0000}'..='\u{E0FFF}'
    )
}

/// Whether `name` is a valid machine-readable name for the DCC: `^[A-Z<]*$` and at most
/// [`MAX_MRZ_NAME_CHARS`] characters.
pub fn is_valid_mrz_name(name: &str) -> bool {
    name.len() <= MAX_MRZ_NAME_CHARS && name.bytes().all(|b| b.is_ascii_uppercase() || b == b'<')
}

/// Whether `c` is an explicit bidirectional formatting character (Unicode Bidi_Control), which can make a
/// displayed name read differently from its stored text.
pub(crate) fn is_bidi_control(c: char) -> bool {
    matches!(
        c,
        '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}'
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[track_caller]
    fn check(input: &str, expected: &str) {
        assert_eq!(
            transliterate("person.fn", input).as_deref(),
            Ok(expected),
            "{input:?}"
        );
    }

    #[track_caller]
    fn check_err(input: &str, reason: Untransliterable) {
        assert_eq!(
            transliterate("person.gn", input),
            Err(TransliterationError {
                field: "person.gn",
                reason
            }),
            "{input:?}"
        );
    }

    #[test]
    fn every_tone_on_every_vowel() {
        // Six tones (level, sắc ́, huyền ̀, hỏi ̉, ngã ̃, nặng ̣) on the twelve Vietnamese vowels.
        let table: [(&str, char); 12] = [
            ("aáàảãạ", 'A'),
            ("ăắằẳẵặ", 'A'),
            ("âấầẩẫậ", 'A'),
            ("eéèẻẽẹ", 'E'),
            ("êếềểễệ", 'E'),
            ("iíìỉĩị", 'I'),
            ("oóòỏõọ", 'O'),
            ("ôốồổỗộ", 'O'),
            ("ơớờởỡợ", 'O'),
            ("uúùủũụ", 'U'),
            ("ưứừửữự", 'U'),
            ("yýỳỷỹỵ", 'Y'),
        ];
        for (vowels, base) in table {
            assert_eq!(vowels.chars().count(), 6);
            for v in vowels.chars() {
                for s in [v.to_string(), v.to_uppercase().to_string()] {
                    check(&s, &base.to_string());
                    // Decomposed input transliterates the same.
                    check(&s.nfd().collect::<String>(), &base.to_string());
                }
            }
        }
    }

    #[test]
    fn real_vietnamese_names() {
        check("Nguyễn", "NGUYEN");
        check("Bảo Duy", "BAO<DUY");
        check("Thị Minh Khai", "THI<MINH<KHAI");
        check("Đặng", "DANG");
        check("đỗ", "DO");
        check("Đoàn Thị Điểm", "DOAN<THI<DIEM");
        check("Trần Hưng Đạo", "TRAN<HUNG<DAO");
        check("Lê Quý Đôn", "LE<QUY<DON");
        check("Hồ Xuân Hương", "HO<XUAN<HUONG");
        check("Phạm Ngũ Lão", "PHAM<NGU<LAO");
        check("Huỳnh Thúc Kháng", "HUYNH<THUC<KHANG");
        check("Võ Nguyên Giáp", "VO<NGUYEN<GIAP");
        check("Dương Vân Nga", "DUONG<VAN<NGA");
        check("Lý Thường Kiệt", "LY<THUONG<KIET");
        check("Ngô Sĩ Liên", "NGO<SI<LIEN");
        check("Bùi Thị Xuân", "BUI<THI<XUAN");
        check("Quách Ngọc Tuyên", "QUACH<NGOC<TUYEN");
        check("Ỷ Lan", "Y<LAN");
        check("Ưng Hoàng Phúc", "UNG<HOANG<PHUC");
        check("NGUYỄN THỊ ÁNH", "NGUYEN<THI<ANH");
        check("nguyễn văn an", "NGUYEN<VAN<AN");
    }

    #[test]
    fn ethnic_minority_names_with_apostrophes() {
        check("H'Hen Niê", "HHEN<NIE");
        check("H’Hen Niê", "HHEN<NIE");
        check("Y Moan Ênuôl", "Y<MOAN<ENUOL");
        check("Ksor H'Bơ Khăp", "KSOR<HBO<KHAP");
        check("Rơ Mah H'Lan", "RO<MAH<HLAN");
        check("Byă", "BYA");
        check("Hà Thị Mlô", "HA<THI<MLO");
    }

    #[test]
    fn separators_collapse_and_trim() {
        check("  Thị   Minh  ", "THI<MINH");
        check("Anne-Marie", "ANNE<MARIE");
        check("Jean - Pierre", "JEAN<PIERRE");
        check("O'Neil", "ONEIL");
        check("'", "");
        check("", "");
        check("Jr.", "JR");
    }

    #[test]
    fn other_latin_letters() {
        check("Ærøskøbing", "AEROESKOEBING");
        check("Straße", "STRASSE");
        check("Łódź", "LODZ");
        check("Þór", "THOR");
        check("Müller", "MULLER");
    }

    #[test]
    fn refusals_name_the_field() {
        check_err("阮", Untransliterable::Unsupported);
        check_err("Nguyen2", Untransliterable::Unsupported);
        check_err("An\u{0}h", Untransliterable::Control);
        check_err("An\u{1F}h", Untransliterable::Control);
        check_err("An\nh", Untransliterable::LineBreak);
        check_err("An\u{2028}h", Untransliterable::LineBreak);
        check_err("An\u{200B}h", Untransliterable::Invisible);
        check_err("An\u{AD}h", Untransliterable::Invisible);
        check_err("Anh\u{FE0F}", Untransliterable::VariationSelector);
        check_err(
            "An\u{301}\u{301}\u{301}h",
            Untransliterable::TooManyCombiningMarks,
        );
        check_err("An\u{202E}h", Untransliterable::Bidi);
        check_err("An\u{2066}h", Untransliterable::Bidi);
        let err = transliterate("person.gn", "Thị 阮").err();
        assert_eq!(
            err.map(|e| e.to_string()).as_deref(),
            Some("person.gn: a character has no ICAO 9303 transliteration")
        );
    }

    #[test]
    fn mrz_name_validity() {
        assert!(is_valid_mrz_name(""));
        assert!(is_valid_mrz_name("NGUYEN<VAN<AN"));
        assert!(!is_valid_mrz_name("Nguyen"));
        assert!(!is_valid_mrz_name("NGUYEN VAN"));
        assert!(!is_valid_mrz_name("NGUYỄN"));
        assert!(is_valid_mrz_name(&"A".repeat(80)));
        assert!(!is_valid_mrz_name(&"A".repeat(81)));
    }

    proptest! {
        #[test]
        fn output_is_always_mrz(input in any::<String>()) {
            if let Ok(out) = transliterate("person.fn", &input) {
                prop_assert!(out.bytes().all(|b| b.is_ascii_uppercase() || b == b'<'), "{out}");
                prop_assert!(!out.starts_with('<') && !out.ends_with('<') && !out.contains("<<"));
            }
        }

        #[test]
        fn vietnamese_alphabet_always_transliterates(
            input in "[a-zA-ZàáảãạăằắẳẵặâầấẩẫậđèéẻẽẹêềếểễệìíỉĩịòóỏõọôồốổỗộơờớởỡợùúủũụưừứửữựỳýỷỹỵĐ' -]{0,40}"
        ) {
            let out = transliterate("person.fn", &input);
            prop_assert!(out.is_ok());
            if let Ok(out) = out {
                prop_assert!(out.bytes().all(|b| b.is_ascii_uppercase() || b == b'<'));
            }
        }
    }
}
