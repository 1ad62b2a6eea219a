//! The one redaction policy: what of a URL, a header or a free text never reaches stderr, a
//! report, the store or a log, and the secrets the run knows (see README, "Security model").
//!
//! Two layers, both replacing with [`MASK`]:
//! - **by shape**, for every URL and header wherever it appears in a text: the userinfo of a
//!   URL (`https://user:token@host` → `https://***@host`: the user part alone is the usual
//!   place of a bearer token), the value of a secret-looking query parameter (`api_key`,
//!   `token`, `sig`, … case-insensitive), and the value of a credential header
//!   (`Authorization: …`, `X-Api-Key: …`, `Bearer …`);
//! - **by value**, with [`Secrets`]: every credential the run was configured with, wherever it
//!   appears (an agent that echoes its request headers, an error body quoting the key).
//!
//! A bottom layer: nothing else of the crate is imported here.

use std::borrow::Cow;
use std::sync::LazyLock;

use regex::{Captures, Regex};

/// What a redacted value is replaced with (the replacements below write it literally).
pub const MASK: &str = "***";

/// Query parameter names whose values are secrets (compared case-insensitively, `-` and `_`
/// alike).
const SECRET_PARAMS: &str = r"(?:x[-_]?)?(?:api[-_]?key|apikey|key|token|access[-_]?token|refresh[-_]?token|id[-_]?token|auth|auth[-_]?token|authorization|secret|client[-_]?secret|password|passwd|pwd|sig|signature|amz[-_]signature|goog[-_]signature|credential|session[-_]?token|private[-_]?token|code)";

/// Header names whose values are secrets, as written in free text (`Authorization: Bearer x`).
const SECRET_HEADERS: [&str; 8] = [
    "authorization",
    "proxy-authorization",
    "x-api-key",
    "api-key",
    "x-auth-token",
    "cookie",
    "set-cookie",
    "ocp-apim-subscription-key",
];

/// The rules by shape, one regex each so that each has a literal to skip ahead to (a `:`, a
/// `=`, `[?&;]`, `bearer`); case-insensitive in ASCII only, which keeps them on the fast
/// path. Agent replies are long and many, and most hold no credential.
struct Rules {
    /// `scheme://userinfo@`.
    userinfo: Regex,
    /// `?name=value` (also `&`, `;`).
    param: Regex,
    /// `Name: value` to the end of the line.
    header: Regex,
    /// `Bearer token`.
    bearer: Regex,
}

static RULES: LazyLock<Option<Rules>> = LazyLock::new(|| {
    let headers = SECRET_HEADERS.map(regex::escape).join("|");
    Some(Rules {
        userinfo: Regex::new(r"(?-u:\b)((?i-u:[a-z][a-z0-9+.-]*)://)[^/?#@\s]+@").ok()?,
        param: Regex::new(&format!(r"([?&;](?i-u:{SECRET_PARAMS})=)[^&#;\s]+")).ok()?,
        header: Regex::new(&format!(r#"((?i-u:{headers})[ \t]*:[ \t]*)[^\r\n"]+"#)).ok()?,
        bearer: Regex::new(r"(?-u:\b)((?i-u:bearer)[ \t]+)([A-Za-z0-9._~+/=-]{8,})").ok()?,
    })
});

static SECRET_HEADER_NAME: LazyLock<Option<Regex>> = LazyLock::new(|| {
    Regex::new(&format!(
        r"(?i)^(?:{})$|token|secret|password|passwd|api[-_]?key|signature|credential",
        SECRET_HEADERS.map(regex::escape).join("|")
    ))
    .ok()
});

/// `text` with every credential written into a URL, a query string or a header line
/// replaced by [`MASK`]: userinfo, secret-looking query parameters, credential headers,
/// bearer tokens. Borrowed when there is nothing to hide.
pub fn redact_text(text: &str) -> Cow<'_, str> {
    let Some(rules) = RULES.as_ref() else { return Cow::Borrowed(text) };
    let mut out = Cow::Borrowed(text);
    if out.contains("://") && out.contains('@') {
        out = owned_if_changed(out, |t| rules.userinfo.replace_all(t, "${1}***@"));
    }
    if out.contains('=') {
        out = owned_if_changed(out, |t| rules.param.replace_all(t, "${1}***"));
    }
    if out.contains(':') {
        out = owned_if_changed(out, |t| rules.header.replace_all(t, "${1}***"));
    }
    out = owned_if_changed(out, |t| {
        rules.bearer.replace_all(t, |caps: &Captures<'_>| {
            // "bearer instruments" is prose: a token has a digit or a symbol in it.
            if caps[2].chars().all(char::is_alphabetic) {
                caps[0].to_owned()
            } else {
                format!("{}{MASK}", &caps[1])
            }
        })
    });
    out
}

/// `text` through `rule`, keeping the borrow when the rule changed nothing.
fn owned_if_changed<'a>(
    text: Cow<'a, str>,
    rule: impl for<'t> FnOnce(&'t str) -> Cow<'t, str>,
) -> Cow<'a, str> {
    match rule(text.as_ref()) {
        Cow::Borrowed(_) => text,
        Cow::Owned(changed) => Cow::Owned(changed),
    }
}

/// A URL, redacted by [`redact_text`]'s rules: `https://bob:s3cr3t@h/x?api_key=k` →
/// `https://***@h/x?api_key=***`.
pub fn redact_url(url: &str) -> String {
    redact_text(url).into_owned()
}

/// Whether a header named `name` carries a secret: `Authorization`, `Cookie`, `X-Api-Key`,
/// or any name with `token`, `secret`, `password`, `key`, `signature` or `credential` in it.
pub fn is_secret_header(name: &str) -> bool {
    SECRET_HEADER_NAME.as_ref().is_none_or(|re| re.is_match(&name.to_ascii_lowercase()))
}

/// A header's value as it may be shown: [`MASK`] for a secret header, else the value redacted
/// by [`redact_text`].
pub fn redact_header<'a>(name: &str, value: &'a str) -> Cow<'a, str> {
    if is_secret_header(name) { Cow::Borrowed(MASK) } else { redact_text(value) }
}

/// Secrets shorter than this are not scrubbed by value: they would mangle ordinary words more
/// than they could leak.
pub const MIN_SECRET_CHARS: usize = 4;

/// Every secret value the run knows (credentials from the environment: agent auth, extra
/// headers, the judge and driver key, a password in a URL), built once at start-up, and
/// replaced by [`MASK`] wherever it appears in a text.
#[derive(Clone, Default)]
pub struct Secrets {
    matcher: Option<Regex>,
    count: usize,
}

impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Secrets({} value(s))", self.count)
    }
}

impl Secrets {
    /// The set of `values` (shorter than [`MIN_SECRET_CHARS`] characters are left out).
    pub fn new<'a>(values: impl IntoIterator<Item = &'a str>) -> Self {
        let mut values: Vec<&str> =
            values.into_iter().filter(|v| v.chars().count() >= MIN_SECRET_CHARS).collect();
        // Longest first, so that a secret containing another is replaced whole.
        values.sort_by_key(|v| std::cmp::Reverse(v.len()));
        values.dedup();
        if values.is_empty() {
            return Secrets::default();
        }
        let pattern: Vec<String> = values.iter().map(|v| regex::escape(v)).collect();
        let matcher = Regex::new(&pattern.join("|")).ok();
        Secrets { matcher, count: values.len() }
    }

    /// The values of HTTP basic credentials: the password, and `user:password` in base64 as an
    /// `Authorization: Basic` header carries it (what an agent echoing its headers shows).
    pub fn basic_auth_forms(user: &str, password: &str) -> [String; 2] {
        [password.to_owned(), base64(&format!("{user}:{password}"))]
    }

    /// The user part and password of `url`, percent-decoded as well as written, when it has any.
    pub fn url_credentials(url: &str) -> Vec<String> {
        let Ok(parsed) = reqwest::Url::parse(url) else { return Vec::new() };
        let mut out = Vec::new();
        for part in [parsed.username(), parsed.password().unwrap_or("")] {
            if part.is_empty() {
                continue;
            }
            out.push(part.to_owned());
            if let Some(decoded) = percent_decode(part).filter(|d| d != part) {
                out.push(decoded);
            }
        }
        out
    }

    pub fn is_empty(&self) -> bool {
        self.matcher.is_none()
    }

    /// `text` with every known secret replaced by [`MASK`]. Borrowed when there is none.
    pub fn scrub<'a>(&self, text: &'a str) -> Cow<'a, str> {
        match &self.matcher {
            Some(re) => re.replace_all(text, MASK),
            None => Cow::Borrowed(text),
        }
    }

    /// Scrubs `text` in place.
    pub fn scrub_in_place(&self, text: &mut String) {
        if let Cow::Owned(clean) = self.scrub(text) {
            *text = clean;
        }
    }
}

/// `%XX` sequences decoded, `None` when the result is not UTF-8.
fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| char::from(b).to_digit(16);
        if bytes[i] == b'%'
            && let (Some(h), Some(l)) =
                (bytes.get(i + 1).and_then(|b| hex(*b)), bytes.get(i + 2).and_then(|b| hex(*b)))
        {
            out.push((h * 16 + l) as u8);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8(out).ok()
}

/// Standard base64 with padding.
fn base64(text: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hides_userinfo_user_part_and_password() {
        assert_eq!(redact_url("http://u:hunter2@h/x"), "http://***@h/x");
        assert_eq!(redact_url("http://TOKEN123@127.0.0.1:9/a2a"), "http://***@127.0.0.1:9/a2a");
        assert_eq!(
            redact_text("GET https://bob:s3cr3t@agent.example.com/a2a failed"),
            "GET https://***@agent.example.com/a2a failed"
        );
        assert_eq!(redact_url("http://h/x"), "http://h/x");
        assert_eq!(redact_url("not a url"), "not a url");
        assert_eq!(redact_text("mail bob@example.com"), "mail bob@example.com");
    }

    #[test]
    fn hides_secret_query_parameters_case_insensitively() {
        assert_eq!(
            redact_url("https://h/x?api_key=K1&page=2&Token=T2#frag"),
            "https://h/x?api_key=***&page=2&Token=***#frag"
        );
        assert_eq!(
            redact_text("see https://s3/x?X-Amz-Signature=abc&sig=def&API-KEY=ghi done"),
            "see https://s3/x?X-Amz-Signature=***&sig=***&API-KEY=*** done"
        );
        assert_eq!(
            redact_url("https://h/x?keyboard=1&monkey=2"),
            "https://h/x?keyboard=1&monkey=2"
        );
        assert_eq!(redact_url("https://h/x?access_token=a.b.c"), "https://h/x?access_token=***");
    }

    #[test]
    fn hides_credential_headers_in_text() {
        assert_eq!(
            redact_text("headers: {\"authorization\": \"Bearer abcdefgh123\"}"),
            "headers: {\"authorization\": \"Bearer ***\"}"
        );
        assert_eq!(redact_text("X-Api-Key: k-123\nnext line"), "X-Api-Key: ***\nnext line");
        assert_eq!(redact_text("use Bearer sk-abcdefgh1234"), "use Bearer ***");
        assert_eq!(redact_text("the bearer instruments"), "the bearer instruments");
        assert!(matches!(redact_text("nothing to hide here"), Cow::Borrowed(_)));
    }

    #[test]
    fn secret_header_names() {
        for name in ["Authorization", "x-api-key", "X-Auth-Token", "Cookie", "my-secret", "Api_Key"]
        {
            assert!(is_secret_header(name), "{name}");
            assert_eq!(redact_header(name, "v"), MASK);
        }
        for name in ["Content-Type", "Accept", "X-Request-Id"] {
            assert!(!is_secret_header(name), "{name}");
        }
        assert_eq!(redact_header("Location", "https://u:p@h/"), "https://***@h/");
    }

    #[test]
    fn scrubs_known_values_longest_first() {
        let s = Secrets::new(["sk-canary-1", "sk-canary-12345", "abc", ""]);
        assert_eq!(s.scrub("a sk-canary-12345 b sk-canary-1 c abc"), "a *** b *** c abc");
        assert!(Secrets::new(["ab"]).is_empty());
        assert!(matches!(s.scrub("clean"), Cow::Borrowed(_)));
        assert!(!format!("{s:?}").contains("canary"));
        let mut t = "x sk-canary-1".to_owned();
        s.scrub_in_place(&mut t);
        assert_eq!(t, "x ***");
    }

    #[test]
    fn knows_the_forms_a_credential_is_echoed_in() {
        assert_eq!(
            Secrets::basic_auth_forms("Aladdin", "open sesame")[1],
            "QWxhZGRpbjpvcGVuIHNlc2FtZQ=="
        );
        assert_eq!(
            Secrets::url_credentials("http://us%40er:p%2Fw@h/"),
            ["us%40er", "us@er", "p%2Fw", "p/w"]
        );
        assert!(Secrets::url_credentials("http://h/").is_empty());
    }
}
