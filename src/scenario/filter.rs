//! Filter expressions (`-E`), in the manner of cargo-nextest's filtersets:
//! `priority(P0) and not agent(qa_*) and (tag(security) or category(edge_case))`.
//!
//! A hand-written recursive-descent parser over the text (the grammar is small, and a
//! predicate's argument is raw text up to its `)`, which a token stream would mangle):
//!
//! ```text
//! expr  := and (('or' | '|' | '+') and)*
//! and   := unary (('and' | '&' | '-') unary)*          a - b  is  a and not b
//! unary := ('not' | '!') unary | '(' expr ')' | NAME '(' ARG (',' ARG)* ')'
//! ```
//!
//! `not` binds tighter than `and`, which binds tighter than `or`; all associate left. An
//! argument is a glob by default (`#glob` says so explicitly), `=text` (equal), `~text`
//! (contains) or `/regex/`; `\)`,
//! `\,` and `\\` escape. `status()` reads the store: it is resolved into a [`StatusLookup`]
//! before anything is evaluated ([`FilterSet::resolve`]), so a missing store is an error,
//! never an empty selection.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::Arc;

use globset::{Glob, GlobMatcher};

use super::{Priority, Scenario};

/// A parsed expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    All,
    None,
    Predicate(Predicate),
    Not(Box<Expr>),
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
}

/// One predicate: what it looks at and the values it accepts (any of them matches).
#[derive(Debug, Clone, PartialEq)]
pub enum Predicate {
    Text(TextField, Vec<Matcher>),
    Priority(Vec<Priority>),
    Status(Vec<StatusFilter>),
}

/// The scenario fields text predicates read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextField {
    /// The scenario id.
    Id,
    /// The scenario's file: the glob matches the whole path or the file name.
    File,
    /// The agent the scenario names (empty when it names none).
    Agent,
    Category,
    /// Any of the scenario's tags.
    Tag,
}

impl TextField {
    fn name(self) -> &'static str {
        match self {
            TextField::Id => "id",
            TextField::File => "file",
            TextField::Agent => "agent",
            TextField::Category => "category",
            TextField::Tag => "tag",
        }
    }
}

/// The predicates, for "did you mean" and the list shown with an unknown one.
const PREDICATES: [&str; 9] =
    ["id", "file", "agent", "priority", "category", "tag", "status", "all", "none"];

/// How one argument matches a text.
#[derive(Clone)]
pub struct Matcher {
    kind: MatchKind,
    /// The pattern as written (after escapes, without its `=`, `~` or slashes).
    pattern: String,
    compiled: Compiled,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum MatchKind {
    Glob,
    Equal,
    Contains,
    Regex,
}

#[derive(Debug, Clone)]
enum Compiled {
    Text,
    Glob(GlobMatcher),
    Regex(regex::Regex),
}

impl fmt::Debug for Matcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // As written: the compiled glob or regex says nothing more to a reader.
        write!(f, "Matcher({self})")
    }
}

impl PartialEq for Matcher {
    fn eq(&self, other: &Self) -> bool {
        self.kind == other.kind && self.pattern == other.pattern
    }
}

impl Matcher {
    fn is_match(&self, text: &str) -> bool {
        match &self.compiled {
            Compiled::Glob(glob) => glob.is_match(text),
            Compiled::Regex(re) => re.is_match(text),
            Compiled::Text => match self.kind {
                MatchKind::Contains => text.contains(&self.pattern),
                MatchKind::Equal | MatchKind::Glob | MatchKind::Regex => text == self.pattern,
            },
        }
    }
}

/// What `status()` asks of the latest recorded run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StatusFilter {
    Recorded(RecordedStatus),
    /// The store's flaky detection flags it (its verdict flipped twice over the last runs).
    Flaky,
    /// Not in the latest recorded run.
    New,
}

/// A scenario's status in a recorded run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RecordedStatus {
    Passed,
    Failed,
    Error,
    Unassessed,
    Skipped,
}

impl StatusFilter {
    const ALL: [(&'static str, StatusFilter); 7] = [
        ("failed", StatusFilter::Recorded(RecordedStatus::Failed)),
        ("error", StatusFilter::Recorded(RecordedStatus::Error)),
        ("flaky", StatusFilter::Flaky),
        ("new", StatusFilter::New),
        ("passed", StatusFilter::Recorded(RecordedStatus::Passed)),
        ("unassessed", StatusFilter::Recorded(RecordedStatus::Unassessed)),
        ("skipped", StatusFilter::Recorded(RecordedStatus::Skipped)),
    ];

    fn name(self) -> &'static str {
        Self::ALL.iter().find(|(_, s)| *s == self).map_or("new", |(name, _)| name)
    }
}

/// The latest recorded run, as `status()` sees it.
#[derive(Debug, Clone, Default)]
pub struct StatusLookup {
    pub latest: HashMap<String, RecordedStatus>,
    pub flaky: HashSet<String>,
}

impl StatusLookup {
    fn matches(&self, id: &str, filter: StatusFilter) -> bool {
        match filter {
            StatusFilter::Recorded(status) => self.latest.get(id) == Some(&status),
            StatusFilter::Flaky => self.flaky.contains(id),
            StatusFilter::New => !self.latest.contains_key(id),
        }
    }
}

impl Expr {
    /// Parses one expression; errors point at the column.
    pub fn parse(text: &str) -> Result<Expr, Box<FilterError>> {
        let mut parser = Parser { text, pos: 0 };
        let expr = parser.expr()?;
        parser.skip_space();
        match parser.peek() {
            None => Ok(expr),
            Some(')') => {
                Err(parser.error_here(1, "unexpected `)`", "remove it, or add the `(` it closes"))
            }
            Some(_) => Err(parser.error_here(
                parser.word_len().max(1),
                "expected `and`, `or` or the end of the expression",
                "join predicates with `and`, `or` or `not`, e.g. `tag(a) and not tag(b)`",
            )),
        }
    }

    /// Whether any part of it reads the store.
    pub fn needs_status(&self) -> bool {
        match self {
            Expr::All | Expr::None => false,
            Expr::Predicate(p) => matches!(p, Predicate::Status(_)),
            Expr::Not(e) => e.needs_status(),
            Expr::And(a, b) | Expr::Or(a, b) => a.needs_status() || b.needs_status(),
        }
    }

    fn eval(&self, s: &Scenario, statuses: Option<&StatusLookup>) -> bool {
        match self {
            Expr::All => true,
            Expr::None => false,
            Expr::Not(e) => !e.eval(s, statuses),
            Expr::And(a, b) => a.eval(s, statuses) && b.eval(s, statuses),
            Expr::Or(a, b) => a.eval(s, statuses) || b.eval(s, statuses),
            Expr::Predicate(Predicate::Priority(ps)) => ps.contains(&s.priority),
            // Resolution guarantees a lookup whenever a status() is present.
            Expr::Predicate(Predicate::Status(fs)) => {
                statuses.is_some_and(|l| fs.iter().any(|f| l.matches(&s.id, *f)))
            }
            Expr::Predicate(Predicate::Text(field, ms)) => {
                let any = |text: &str| ms.iter().any(|m| m.is_match(text));
                match field {
                    TextField::Id => any(&s.id),
                    TextField::Agent => any(&s.agent.name),
                    TextField::Category => any(&s.category),
                    TextField::Tag => s.tags.iter().any(|t| any(t)),
                    TextField::File => {
                        let path = s.source.file.to_string_lossy();
                        any(&path)
                            || s.source.file.file_name().is_some_and(|n| any(&n.to_string_lossy()))
                    }
                }
            }
        }
    }

    /// Binding strength, for printing parentheses only where they are needed.
    fn strength(&self) -> u8 {
        match self {
            Expr::Or(..) => 0,
            Expr::And(..) => 1,
            Expr::Not(_) | Expr::All | Expr::None | Expr::Predicate(_) => 2,
        }
    }
}

impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Left operands of the same strength need no parentheses (left associative); right
        // operands do, so that printing and parsing again gives the same tree.
        let side = |f: &mut fmt::Formatter<'_>, e: &Expr, min: u8| {
            if e.strength() < min { write!(f, "({e})") } else { write!(f, "{e}") }
        };
        match self {
            Expr::All => f.write_str("all()"),
            Expr::None => f.write_str("none()"),
            Expr::Predicate(p) => write!(f, "{p}"),
            Expr::Not(e) => {
                f.write_str("not ")?;
                side(f, e, 2)
            }
            Expr::And(a, b) => {
                side(f, a, 1)?;
                f.write_str(" and ")?;
                side(f, b, 2)
            }
            Expr::Or(a, b) => {
                side(f, a, 0)?;
                f.write_str(" or ")?;
                side(f, b, 1)
            }
        }
    }
}

impl fmt::Display for Predicate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let list = |items: Vec<String>| items.join(", ");
        match self {
            Predicate::Priority(ps) => {
                write!(f, "priority({})", list(ps.iter().map(ToString::to_string).collect()))
            }
            Predicate::Status(ss) => {
                write!(f, "status({})", list(ss.iter().map(|s| s.name().to_owned()).collect()))
            }
            Predicate::Text(field, ms) => {
                write!(
                    f,
                    "{}({})",
                    field.name(),
                    list(ms.iter().map(ToString::to_string).collect())
                )
            }
        }
    }
}

impl fmt::Display for Matcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let escaped: String = self
            .pattern
            .chars()
            .flat_map(|c| {
                // A regex keeps its own escapes; only its delimiter is escaped.
                let escape = match self.kind {
                    MatchKind::Regex => c == '/',
                    MatchKind::Glob | MatchKind::Equal | MatchKind::Contains => {
                        matches!(c, '\\' | ')' | ',')
                    }
                };
                escape.then_some('\\').into_iter().chain(std::iter::once(c))
            })
            .collect();
        match self.kind {
            // A glob that starts like another matcher is written with the explicit `#`.
            MatchKind::Glob if escaped.is_empty() || escaped.starts_with(['=', '~', '#', '/']) => {
                write!(f, "#{escaped}")
            }
            MatchKind::Glob => f.write_str(&escaped),
            MatchKind::Equal => write!(f, "={escaped}"),
            MatchKind::Contains => write!(f, "~{escaped}"),
            MatchKind::Regex => write!(f, "/{escaped}/"),
        }
    }
}

/// The `-E` expressions of one command: a scenario is selected when any of them matches
/// (as nextest does with repeated `-E`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FilterSet {
    exprs: Vec<Expr>,
}

impl FilterSet {
    /// Parses each `-E` text; the first error is returned with its source.
    pub fn parse(texts: &[String]) -> Result<FilterSet, Box<FilterError>> {
        let exprs = texts.iter().map(|t| Expr::parse(t)).collect::<Result<_, _>>()?;
        Ok(FilterSet { exprs })
    }

    pub fn is_empty(&self) -> bool {
        self.exprs.is_empty()
    }

    pub fn needs_status(&self) -> bool {
        self.exprs.iter().any(Expr::needs_status)
    }

    /// Binds the store's latest run to the `status()` predicates. `None` when there is no
    /// recorded run: an error if some `status()` needs it.
    pub fn resolve(self, statuses: Option<StatusLookup>) -> Result<ResolvedFilter, NeedsStore> {
        if self.needs_status() && statuses.is_none() {
            return Err(NeedsStore);
        }
        Ok(ResolvedFilter { exprs: self.exprs, statuses: statuses.map(Arc::new) })
    }
}

/// A `status()` predicate was given but no recorded run can answer it.
#[derive(Debug, Clone, Copy, thiserror::Error)]
#[error("status() reads the latest recorded run, and there is none")]
pub struct NeedsStore;

/// A [`FilterSet`] whose `status()` predicates have their answers: ready to evaluate.
#[derive(Debug, Clone, Default)]
pub struct ResolvedFilter {
    exprs: Vec<Expr>,
    statuses: Option<Arc<StatusLookup>>,
}

impl ResolvedFilter {
    /// True when no expression was given (everything matches) or any of them matches.
    pub fn matches(&self, scenario: &Scenario) -> bool {
        self.exprs.is_empty()
            || self.exprs.iter().any(|e| e.eval(scenario, self.statuses.as_deref()))
    }

    pub fn is_empty(&self) -> bool {
        self.exprs.is_empty()
    }
}

/// A filter expression that does not parse: shown by miette with the expression and a
/// label at the column.
#[derive(Debug, Clone, thiserror::Error, miette::Diagnostic)]
#[error("invalid filter expression: {message}")]
#[diagnostic(code(rogue_runner::filter))]
pub struct FilterError {
    pub message: String,
    #[source_code]
    pub source_code: miette::NamedSource<String>,
    #[label("{label}")]
    pub span: miette::SourceSpan,
    pub label: String,
    #[help]
    pub help: String,
}

impl FilterError {
    /// The 1-based column the error points at (in characters).
    pub fn column(&self) -> usize {
        let text = self.source_code.inner();
        text.get(..self.span.offset()).map_or(0, |t| t.chars().count()) + 1
    }
}

struct Parser<'a> {
    text: &'a str,
    /// Byte offset of the next character.
    pos: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<char> {
        self.text.get(self.pos..).and_then(|rest| rest.chars().next())
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += c.len_utf8();
        Some(c)
    }

    fn skip_space(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.bump();
        }
    }

    /// The length in bytes of the word at the cursor (an identifier), 0 if none.
    fn word_len(&self) -> usize {
        self.text.get(self.pos..).map_or(0, |rest| {
            rest.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(rest.len())
        })
    }

    fn word(&self) -> &str {
        self.text.get(self.pos..self.pos + self.word_len()).unwrap_or("")
    }

    /// Consumes keyword `kw` (or `symbol`) when it is next, as a whole word.
    fn eat_operator(&mut self, kw: &str, symbols: &[char]) -> bool {
        self.skip_space();
        if !kw.is_empty() && self.word() == kw {
            self.pos += kw.len();
            return true;
        }
        if self.peek().is_some_and(|c| symbols.contains(&c)) {
            self.bump();
            return true;
        }
        false
    }

    fn error(
        &self,
        start: usize,
        len: usize,
        message: &str,
        help: impl Into<String>,
    ) -> Box<FilterError> {
        let label = match message.split_once(':') {
            Some((head, _)) => head.to_owned(),
            None => message.to_owned(),
        };
        Box::new(FilterError {
            message: message.to_owned(),
            source_code: miette::NamedSource::new("-E", self.text.to_owned()),
            span: (start, len).into(),
            label,
            help: help.into(),
        })
    }

    fn error_here(&self, len: usize, message: &str, help: impl Into<String>) -> Box<FilterError> {
        // A one-character span covers the whole character, however many bytes it takes.
        let len = if len == 1 { self.peek().map_or(0, char::len_utf8) } else { len };
        let len = len.min(self.text.len().saturating_sub(self.pos));
        self.error(self.pos, len, message, help)
    }

    fn expr(&mut self) -> Result<Expr, Box<FilterError>> {
        let mut left = self.and()?;
        while self.eat_operator("or", &['|', '+']) {
            let right = self.and()?;
            left = Expr::Or(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Expr, Box<FilterError>> {
        let mut left = self.unary()?;
        loop {
            if self.eat_operator("and", &['&']) {
                let right = self.unary()?;
                left = Expr::And(Box::new(left), Box::new(right));
            } else if self.eat_operator("", &['-']) {
                let right = self.unary()?;
                left = Expr::And(Box::new(left), Box::new(Expr::Not(Box::new(right))));
            } else {
                return Ok(left);
            }
        }
    }

    fn unary(&mut self) -> Result<Expr, Box<FilterError>> {
        if self.eat_operator("not", &['!']) {
            return Ok(Expr::Not(Box::new(self.unary()?)));
        }
        self.skip_space();
        let start = self.pos;
        match self.peek() {
            Some('(') => {
                self.bump();
                let inner = self.expr()?;
                self.skip_space();
                if self.peek() == Some(')') {
                    self.bump();
                    Ok(inner)
                } else {
                    Err(self.error(
                        start,
                        1,
                        "this `(` is never closed",
                        "add a `)` where the group ends",
                    ))
                }
            }
            None => Err(self.error(
                self.text.len(),
                0,
                "expected a predicate such as tag(security), here at the end",
                help_predicates(),
            )),
            Some(_) if self.word_len() == 0 => Err(self.error_here(
                1,
                "expected a predicate such as tag(security)",
                help_predicates(),
            )),
            Some(_) => self.predicate(),
        }
    }

    fn predicate(&mut self) -> Result<Expr, Box<FilterError>> {
        let start = self.pos;
        let name = self.word().to_owned();
        self.pos += name.len();
        let known = PREDICATES.contains(&name.as_str());
        if !known {
            let help = match closest(&name) {
                Some(best) => format!("did you mean {best}(…)? {}", help_predicates()),
                None => help_predicates(),
            };
            return Err(self.error(
                start,
                name.len(),
                &format!("unknown predicate `{name}`"),
                help,
            ));
        }
        self.skip_space();
        if self.peek() != Some('(') {
            return Err(self.error(
                start,
                name.len(),
                &format!("`{name}` needs its argument in parentheses"),
                format!("write e.g. {}", example(&name)),
            ));
        }
        let open = self.pos;
        self.bump();
        let args = self.arguments(open)?;
        let non_empty: Vec<&(usize, String, bool)> =
            args.iter().filter(|(_, text, _)| !text.trim().is_empty()).collect();
        match name.as_str() {
            "all" | "none" => {
                if let Some((at, text, _)) = non_empty.first() {
                    return Err(self.error(
                        *at,
                        text.len().max(1),
                        &format!("{name}() takes no argument"),
                        format!("write {name}()"),
                    ));
                }
                return Ok(if name == "all" { Expr::All } else { Expr::None });
            }
            _ => {}
        }
        if non_empty.is_empty() || non_empty.len() != args.len() {
            let at =
                args.iter().find(|(_, t, _)| t.trim().is_empty()).map_or(open, |(at, _, _)| *at);
            return Err(self.error(
                at,
                1,
                &format!("{name}() needs a value here"),
                format!("write e.g. {}", example(&name)),
            ));
        }
        let predicate = match name.as_str() {
            "priority" => Predicate::Priority(
                args.iter()
                    .map(|(at, text, _)| {
                        text.trim().parse::<Priority>().map_err(|_| {
                            self.error(
                                *at,
                                text.len(),
                                &format!("unknown priority `{}`", text.trim()),
                                "priorities are P0, P1 and P2, e.g. priority(P0, P1)",
                            )
                        })
                    })
                    .collect::<Result<_, _>>()?,
            ),
            "status" => Predicate::Status(
                args.iter()
                    .map(|(at, text, _)| {
                        let want = text.trim();
                        StatusFilter::ALL.iter().find(|(n, _)| *n == want).map(|(_, s)| *s).ok_or_else(
                            || {
                                self.error(
                                    *at,
                                    text.len(),
                                    &format!("unknown status `{want}`"),
                                    "statuses are failed, error, flaky, new, passed, unassessed and skipped, e.g. status(failed, error)",
                                )
                            },
                        )
                    })
                    .collect::<Result<_, _>>()?,
            ),
            other => {
                let field = match other {
                    "id" => TextField::Id,
                    "file" => TextField::File,
                    "agent" => TextField::Agent,
                    "category" => TextField::Category,
                    _ => TextField::Tag,
                };
                Predicate::Text(
                    field,
                    args.iter()
                        .map(|(at, text, regex)| self.matcher(*at, text, *regex))
                        .collect::<Result<_, _>>()?,
                )
            }
        };
        Ok(Expr::Predicate(predicate))
    }

    /// The comma-separated arguments up to the closing `)`, escapes resolved: (byte offset,
    /// text, whether it was a `/regex/`).
    fn arguments(&mut self, open: usize) -> Result<Vec<(usize, String, bool)>, Box<FilterError>> {
        let mut args = Vec::new();
        loop {
            while self.peek().is_some_and(char::is_whitespace) {
                self.bump();
            }
            let at = self.pos;
            let mut text = String::new();
            let regex = self.peek() == Some('/');
            if regex {
                self.bump();
                text.push('/');
                loop {
                    match self.bump() {
                        None => {
                            return Err(self.error(
                                at,
                                1,
                                "this regex is never closed",
                                "end it with `/`, e.g. /^qa_\\d+$/",
                            ));
                        }
                        Some('\\') if self.peek() == Some('/') => {
                            self.bump();
                            text.push('/');
                        }
                        Some('/') => break,
                        Some(c) => text.push(c),
                    }
                }
                text.push('/');
                while self.peek().is_some_and(char::is_whitespace) {
                    self.bump();
                }
            } else {
                loop {
                    match self.peek() {
                        None => {
                            return Err(self.error(
                                open,
                                1,
                                "this `(` is never closed",
                                "add the `)` that ends the argument (write `\\)` for a literal one)",
                            ));
                        }
                        Some(')' | ',') => break,
                        Some('\\') => {
                            let escape_at = self.pos;
                            self.bump();
                            match self.bump() {
                                Some(c @ ('\\' | ')' | ',' | '/')) => text.push(c),
                                _ => {
                                    return Err(self.error(
                                        escape_at,
                                        self.pos - escape_at,
                                        "unknown escape",
                                        "escape only `\\)`, `\\,`, `\\/` and `\\\\`",
                                    ));
                                }
                            }
                        }
                        Some(c) => {
                            self.bump();
                            text.push(c);
                        }
                    }
                }
                let trimmed = text.trim_end().len();
                text.truncate(trimmed);
            }
            args.push((at, text, regex));
            match self.bump() {
                Some(',') => {}
                Some(')') => return Ok(args),
                _ => {
                    return Err(self.error_here(
                        1,
                        "expected `,` or `)` after the regex",
                        "separate values with `,` and close with `)`",
                    ));
                }
            }
        }
    }

    fn matcher(&self, at: usize, text: &str, regex: bool) -> Result<Matcher, Box<FilterError>> {
        let len = text.len().max(1);
        if regex {
            let pattern = text.get(1..text.len().saturating_sub(1)).unwrap_or("").to_owned();
            let re = regex::Regex::new(&pattern).map_err(|e| {
                self.error(at, len, "invalid regex", format!("{e}").replace('\n', " "))
            })?;
            return Ok(Matcher { kind: MatchKind::Regex, pattern, compiled: Compiled::Regex(re) });
        }
        // Values are trimmed after their prefix too: `= a` is `=a`.
        let (text, forced_glob) = match text.strip_prefix('#') {
            Some(rest) => (rest.trim(), true),
            None => (text, false),
        };
        if let Some(rest) = text.strip_prefix('=').filter(|_| !forced_glob) {
            return Ok(Matcher {
                kind: MatchKind::Equal,
                pattern: rest.trim().to_owned(),
                compiled: Compiled::Text,
            });
        }
        if let Some(rest) = text.strip_prefix('~').filter(|_| !forced_glob) {
            return Ok(Matcher {
                kind: MatchKind::Contains,
                pattern: rest.trim().to_owned(),
                compiled: Compiled::Text,
            });
        }
        let glob = Glob::new(text).map_err(|e| {
            self.error(
                at,
                len,
                &format!("invalid glob: {}", e.kind()),
                "use shell-style globs such as `qa_*`, or `=text` for an exact match",
            )
        })?;
        Ok(Matcher {
            kind: MatchKind::Glob,
            pattern: text.to_owned(),
            compiled: Compiled::Glob(glob.compile_matcher()),
        })
    }
}

fn help_predicates() -> String {
    "predicates: id(GLOB), file(GLOB), agent(GLOB), priority(P0), category(GLOB), tag(GLOB), \
     status(failed|error|flaky|new|passed|unassessed|skipped), all(), none(); combine with \
     and, or, not and ( )"
        .to_owned()
}

fn example(name: &str) -> &'static str {
    match name {
        "id" => "id(qa_*)",
        "file" => "file(*security*)",
        "agent" => "agent(qa_agent)",
        "priority" => "priority(P0, P1)",
        "category" => "category(edge_case)",
        "status" => "status(failed, error)",
        "all" => "all()",
        "none" => "none()",
        _ => "tag(security)",
    }
}

/// The known predicate closest to `name` (edit distance at most 2, or a prefix).
fn closest(name: &str) -> Option<&'static str> {
    let lower = name.to_ascii_lowercase();
    PREDICATES
        .iter()
        .map(|p| (edit_distance(&lower, p), *p))
        .filter(|(d, p)| {
            *d <= 2 || (lower.len() >= 3 && (p.starts_with(&lower) || lower.starts_with(p)))
        })
        .min_by_key(|(d, _)| *d)
        .map(|(_, p)| p)
}

/// Levenshtein distance, for "did you mean".
pub(crate) fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            let next = (row[j + 1] + 1).min(row[j] + 1).min(prev + cost);
            prev = row[j + 1];
            row[j + 1] = next;
        }
    }
    row[b.len()]
}

#[cfg(test)]
#[path = "filter_tests.rs"]
mod tests;
