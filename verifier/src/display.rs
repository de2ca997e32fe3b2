//! Showing payload text safely: the schema allows any string in a name, so what a verifier shows must not
//! let control or bidirectional-override characters reorder or hide what an officer reads.

/// Returns `text` with control and bidirectional formatting characters escaped as `\u{XXXX}`.
pub fn escape_for_display(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_control() || is_bidi_control(c) {
            out.push_str(&format!("\\u{{{:04X}}}", u32::from(c)));
        } else {
            out.push(c);
        }
    }
    out
}

/// Unicode's bidirectional formatting characters (UAX #9 §2).
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

#[cfg(test)]
mod tests {
    use super::escape_for_display;

    #[test]
    fn escapes_controls_and_bidi_overrides_only() {
        assert_eq!(escape_for_display("Nguyễn Bảo Duy"), "Nguyễn Bảo Duy");
        assert_eq!(escape_for_display("A\u{202E}B"), "A\\u{202E}B");
        assert_eq!(escape_for_display("A\nB\u{0}"), "A\\u{000A}B\\u{0000}");
        assert_eq!(
            escape_for_display("\u{2067}x\u{2069}"),
            "\\u{2067}x\\u{2069}"
        );
    }
}
