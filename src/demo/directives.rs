//! Parsing of the square-bracket directives the mock agent understands (listed in
//! [`super::mock_agent`]'s module documentation).

use std::time::Duration;

/// Longest delay a `[delay:…]` directive may ask for; longer values are clamped.
const MAX_DELAY: Duration = Duration::from_secs(600);

/// What kind of A2A result the reply takes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) enum Shape {
    /// A `Message` (the default).
    #[default]
    Message,
    /// A completed `Task` whose artifact holds the reply in three chunks (`[task]`).
    Task,
    /// A `Task` left `working`; the first `tasks/get` completes it (`[working]`).
    Working,
    /// A `Task` left `input-required`; the next message with its `taskId` completes it.
    InputRequired,
}

/// The directives found in one user message.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Directives {
    /// `[reply:TEXT]`: reply exactly this.
    pub reply: Option<String>,
    /// `[json:{…}]`: reply with this JSON text verbatim.
    pub json: Option<String>,
    /// `[delay:200ms]`: extra latency for this reply.
    pub delay: Option<Duration>,
    /// `[error:500]`: answer with this HTTP status.
    pub http_error: Option<u16>,
    /// `[rpc-error]`: answer JSON-RPC error -32603.
    pub rpc_error: bool,
    /// `[hang]`: never answer.
    pub hang: bool,
    /// `[garbage]`: answer a body that is not JSON.
    pub garbage: bool,
    /// `[task]`, `[working]`, `[input-required]`.
    pub shape: Shape,
    /// `[tokens:N]`: report N output tokens of usage.
    pub tokens: Option<u64>,
}

/// A user message split into its directives and the text left once they are removed.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Parsed {
    pub directives: Directives,
    /// The user's text without the directives, trimmed.
    pub text: String,
}

/// Splits `input` into directives and the remaining text. Brackets that are not a known
/// directive, or a directive with a malformed argument, are left in the text untouched.
pub(crate) fn parse(input: &str) -> Parsed {
    let mut directives = Directives::default();
    let mut text = String::with_capacity(input.len());
    let mut rest = input;
    while let Some(open) = rest.find('[') {
        text.push_str(&rest[..open]);
        let candidate = &rest[open..];
        if let Some(consumed) = directive_at(candidate, &mut directives) {
            rest = &candidate[consumed..];
            // Removing a token between two spaces leaves one space, not two.
            if text.ends_with([' ', '\t']) {
                rest = rest.trim_start_matches([' ', '\t']);
            }
        } else {
            text.push('[');
            rest = &candidate[1..];
        }
    }
    text.push_str(rest);
    Parsed { directives, text: text.trim().to_owned() }
}

/// Tries to read one directive at the start of `s` (which starts with `[`). On success,
/// records it and returns the number of bytes it spans.
fn directive_at(s: &str, directives: &mut Directives) -> Option<usize> {
    let body = &s[1..];
    let name_len = body.find(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_'))?;
    let name = body[..name_len].to_ascii_lowercase();
    let after_name = &body[name_len..];
    // Bytes taken by `[` and the name.
    let head = 1 + name_len;
    if after_name.starts_with(']') {
        match name.as_str() {
            "rpc-error" => directives.rpc_error = true,
            "hang" => directives.hang = true,
            "garbage" => directives.garbage = true,
            "task" => directives.shape = Shape::Task,
            "working" => directives.shape = Shape::Working,
            "input-required" => directives.shape = Shape::InputRequired,
            _ => return None,
        }
        return Some(head + 1);
    }
    let arg_area = after_name.strip_prefix(':')?;
    let head = head + 1;
    if name == "json" {
        let leading_ws = arg_area.len() - arg_area.trim_start().len();
        let json_start = &arg_area[leading_ws..];
        let json_len = balanced_object_len(json_start)?;
        let after_json = &json_start[json_len..];
        let trailing_ws = after_json.len() - after_json.trim_start().len();
        after_json[trailing_ws..].strip_prefix(']')?;
        directives.json = Some(json_start[..json_len].to_owned());
        return Some(head + leading_ws + json_len + trailing_ws + 1);
    }
    let close = arg_area.find(']')?;
    let arg = &arg_area[..close];
    match name.as_str() {
        "reply" => directives.reply = Some(arg.to_owned()),
        "delay" => directives.delay = Some(parse_delay(arg)?),
        "error" => {
            let status: u16 = arg.trim().parse().ok()?;
            if !(400..=599).contains(&status) {
                return None;
            }
            directives.http_error = Some(status);
        }
        "tokens" => directives.tokens = Some(arg.trim().parse().ok()?),
        _ => return None,
    }
    Some(head + close + 1)
}

/// Length in bytes of the JSON object at the start of `s` (`{` … matching `}`), honouring
/// strings and escapes; `None` when `s` does not start with `{` or the braces never balance.
fn balanced_object_len(s: &str) -> Option<usize> {
    if !s.starts_with('{') {
        return None;
    }
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    for (i, b) in s.bytes().enumerate() {
        if in_string {
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'{' | b'[' => depth += 1,
            b'}' | b']' => {
                depth = depth.checked_sub(1)?;
                if depth == 0 {
                    return (b == b'}').then_some(i + 1);
                }
            }
            _ => {}
        }
    }
    None
}

/// `200ms`, `1.5s`, `2m`, or a bare number of milliseconds.
fn parse_delay(arg: &str) -> Option<Duration> {
    let arg = arg.trim();
    let split = arg.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(arg.len());
    let number: f64 = arg[..split].parse().ok()?;
    let seconds = match arg[split..].trim() {
        "" | "ms" => number / 1_000.0,
        "s" | "sec" => number,
        "m" | "min" => number * 60.0,
        _ => return None,
    };
    Duration::try_from_secs_f64(seconds).ok().map(|d| d.min(MAX_DELAY))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_text_has_no_directives() {
        let p = parse("  hello [world] a[b ");
        assert_eq!(p.text, "hello [world] a[b");
        assert_eq!(p.directives, Directives::default());
    }

    #[test]
    fn flags_are_removed_from_the_echo() {
        let p = parse("book a flight [input-required] please [delay:1.5s]");
        assert_eq!(p.text, "book a flight please");
        assert_eq!(p.directives.shape, Shape::InputRequired);
        assert_eq!(p.directives.delay, Some(Duration::from_millis(1500)));
        let p = parse("[TASK][hang][garbage][rpc-error][error:503][tokens:42]x");
        assert_eq!(p.text, "x");
        assert_eq!(p.directives.shape, Shape::Task);
        assert!(p.directives.hang && p.directives.garbage && p.directives.rpc_error);
        assert_eq!(p.directives.http_error, Some(503));
        assert_eq!(p.directives.tokens, Some(42));
    }

    #[test]
    fn reply_takes_text_up_to_the_bracket() {
        let p = parse("ignored [reply:Refunds within 30 days, sure.] also ignored");
        assert_eq!(p.directives.reply.as_deref(), Some("Refunds within 30 days, sure."));
    }

    #[test]
    fn json_takes_balanced_braces() {
        let p = parse(r#"go [json: {"a": {"b": "}]"}, "c": [1, 2]} ] now"#);
        assert_eq!(p.directives.json.as_deref(), Some(r#"{"a": {"b": "}]"}, "c": [1, 2]}"#));
        assert_eq!(p.text, "go now");
        // Unbalanced: left alone.
        let p = parse(r#"[json:{"a": 1]"#);
        assert_eq!(p.directives.json, None);
        assert_eq!(p.text, r#"[json:{"a": 1]"#);
    }

    #[test]
    fn malformed_arguments_stay_in_the_text() {
        let p = parse("[error:200] [error:abc] [delay:soon] [tokens:-1]");
        assert_eq!(p.directives, Directives::default());
        assert_eq!(p.text, "[error:200] [error:abc] [delay:soon] [tokens:-1]");
    }

    #[test]
    fn delays_parse_and_clamp() {
        assert_eq!(parse_delay("200ms"), Some(Duration::from_millis(200)));
        assert_eq!(parse_delay("250"), Some(Duration::from_millis(250)));
        assert_eq!(parse_delay("2s"), Some(Duration::from_secs(2)));
        assert_eq!(parse_delay("99999m"), Some(MAX_DELAY));
        assert_eq!(parse_delay("1e3"), None);
    }

    #[test]
    fn multibyte_text_around_directives() {
        let p = parse("héllo [task] wörld ✓ [");
        assert_eq!(p.text, "héllo wörld ✓ [");
        assert_eq!(p.directives.shape, Shape::Task);
    }
}
