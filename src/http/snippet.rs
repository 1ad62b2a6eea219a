//! Short, printable excerpts of what a server sent, for error messages.

/// Longest excerpt of a body kept in an error message, in characters.
pub const SNIPPET_CHARS: usize = 200;

/// A one-line excerpt of `bytes`: lossy UTF-8, control characters turned into spaces,
/// whitespace runs collapsed, at most [`SNIPPET_CHARS`] characters (`…` marks a cut).
pub fn snippet(bytes: &[u8]) -> String {
    one_line(&String::from_utf8_lossy(bytes), SNIPPET_CHARS)
}

/// `text` on one line for an error message: [`crate::text::one_line`] keeping `max_chars`
/// characters before the cut mark, and `(empty body)` for nothing at all, so a message never
/// quotes an empty string.
pub fn one_line(text: &str, max_chars: usize) -> String {
    let line = crate::text::one_line(text, max_chars.saturating_add(1));
    if line.is_empty() { "(empty body)".to_owned() } else { line }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_control_characters_and_collapses_whitespace() {
        assert_eq!(
            snippet(b"  <html>\r\n\t<body>\x1b[31mboom\x00</body> "),
            "<html> <body> [31mboom </body>"
        );
    }

    #[test]
    fn cuts_long_bodies() {
        let long = "x".repeat(1000);
        let s = snippet(long.as_bytes());
        assert_eq!(s.chars().count(), SNIPPET_CHARS + 1);
        assert!(s.ends_with('…'));
    }

    #[test]
    fn empty_body_says_so() {
        assert_eq!(snippet(b" \r\n"), "(empty body)");
    }

    #[test]
    fn invalid_utf8_does_not_panic() {
        assert_eq!(snippet(&[0xff, b'o', b'k']), "\u{fffd}ok");
    }

    #[test]
    fn cuts_on_character_boundaries() {
        let s = one_line(&"é".repeat(10), 3);
        assert_eq!(s, "ééé…");
    }
}
