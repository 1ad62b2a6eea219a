//! Showing untrusted identifiers (scenario ids, categories, agent names, file names) where an
//! invisible or control character would mislead or break the output: a terminal table, a
//! JUnit test name.
//!
//! Such characters are written out as escapes instead of dropped, so two ids that differ only
//! by one stay distinguishable: `\n`, `\r`, `\t`, and `\u{XXXX}` for every other control
//! character (C0, DEL, C1), bidirectional control (U+061C, U+200E, U+200F, U+202A–U+202E,
//! U+2066–U+2069), line or paragraph separator (U+2028, U+2029) and XML non-character
//! (U+FFFE, U+FFFF). Everything else is kept as written.

use std::borrow::Cow;
use std::fmt::Write as _;

/// Whether `c` is written as an escape by [`escape_invisible`].
pub fn is_invisible(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{061C}'
                | '\u{200E}'
                | '\u{200F}'
                | '\u{202A}'..='\u{202E}'
                | '\u{2066}'..='\u{2069}'
                | '\u{2028}'
                | '\u{2029}'
                | '\u{FFFE}'
                | '\u{FFFF}'
        )
}

/// `text` with every [invisible](is_invisible) character escaped; borrowed when there is none.
pub fn escape_invisible(text: &str) -> Cow<'_, str> {
    if !text.chars().any(is_invisible) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            // Writing to a String cannot fail.
            c if is_invisible(c) => {
                let _infallible = write!(out, "\\u{{{:04X}}}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::escape_invisible;

    #[test]
    fn escapes_controls_bidi_and_non_characters_and_keeps_the_rest() {
        assert_eq!(escape_invisible("plain_id-1 ünïcødé 日本"), "plain_id-1 ünïcødé 日本");
        assert_eq!(
            escape_invisible("a\nb\tc\r\x1b[31md\u{7f}\u{85}"),
            "a\\nb\\tc\\r\\u{001B}[31md\\u{007F}\\u{0085}"
        );
        assert_eq!(
            escape_invisible("x\u{202E}y\u{2066}z\u{FFFE}\u{FFFF}\u{2028}"),
            "x\\u{202E}y\\u{2066}z\\u{FFFE}\\u{FFFF}\\u{2028}"
        );
        assert_ne!(escape_invisible("a\u{FFFE}"), escape_invisible("a\u{FFFF}"));
    }
}
