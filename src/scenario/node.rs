//! A YAML/JSON document tree that keeps what serde values lose: the source position of every
//! node and the original text and style of every scalar (`"010"`, `yes`, `'5'` stay as written).
//!
//! Built from granit-parser events (the parser engine behind serde-saphyr) so that duplicate
//! keys, aliases, depth and size are checked here, with positions, before anything else runs.

use std::collections::HashMap;

use granit_parser::{Event, Parser, ScalarStyle};

/// A 1-based line and column, and the byte offset, of a node in its file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Pos {
    pub line: u32,
    pub col: u32,
    pub offset: usize,
}

/// How a scalar was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScalarStyle2 {
    /// Plain: typed by the YAML 1.2 core schema (`true`, `5`, `null`).
    Plain,
    /// Quoted or block: always a string.
    Quoted,
}

/// One node of the document.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub pos: Pos,
    pub kind: NodeKind,
}

#[derive(Debug, Clone, PartialEq)]
pub enum NodeKind {
    Scalar {
        text: String,
        style: ScalarStyle2,
    },
    Seq(Vec<Node>),
    /// Keys are scalars (checked at build time); order is file order.
    Map(Vec<(Node, Node)>),
}

/// A scalar resolved by the YAML 1.2 core schema, except that integers written with leading
/// zeros stay text (they are identifiers far more often than octal numbers).
#[derive(Debug, Clone, PartialEq)]
pub enum Typed<'a> {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(&'a str),
}

/// Limits that keep untrusted YAML from exhausting memory or the stack.
#[derive(Debug, Clone, Copy)]
pub struct ParseLimits {
    /// Nodes per file, aliases expanded.
    pub max_nodes: usize,
    /// Nodes that aliases may add by expansion, per file (the corpus uses none).
    pub max_alias_nodes: usize,
    /// Nesting depth.
    pub max_depth: usize,
}

impl Default for ParseLimits {
    fn default() -> Self {
        ParseLimits { max_nodes: 1_000_000, max_alias_nodes: 100_000, max_depth: 128 }
    }
}

/// Why a document could not be built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    pub pos: Pos,
    pub message: String,
    pub hint: Option<Hint>,
}

/// What to do about a [`ParseError`], under a code (see `Diagnostic::code`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hint {
    pub code: &'static str,
    pub text: String,
}

impl Hint {
    pub(crate) fn new(code: &'static str, text: impl Into<String>) -> Self {
        Hint { code, text: text.into() }
    }
}

impl Node {
    pub fn as_map(&self) -> Option<&[(Node, Node)]> {
        match &self.kind {
            NodeKind::Map(entries) => Some(entries),
            _ => None,
        }
    }

    pub fn as_seq(&self) -> Option<&[Node]> {
        match &self.kind {
            NodeKind::Seq(items) => Some(items),
            _ => None,
        }
    }

    /// The raw text of a scalar.
    pub fn as_scalar_text(&self) -> Option<&str> {
        match &self.kind {
            NodeKind::Scalar { text, .. } => Some(text),
            _ => None,
        }
    }

    /// A string scalar (quoted, or plain text that the core schema does not type otherwise).
    pub fn as_str(&self) -> Option<&str> {
        match self.typed() {
            Some(Typed::Str(s)) => Some(s),
            _ => None,
        }
    }

    /// Lookup of a key in a mapping.
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.as_map()?.iter().find(|(k, _)| k.as_scalar_text() == Some(key)).map(|(_, v)| v)
    }

    pub fn is_null(&self) -> bool {
        matches!(self.typed(), Some(Typed::Null))
    }

    /// The typed value of a scalar (`None` for collections).
    pub fn typed(&self) -> Option<Typed<'_>> {
        let NodeKind::Scalar { text, style } = &self.kind else { return None };
        if *style == ScalarStyle2::Quoted {
            return Some(Typed::Str(text));
        }
        Some(resolve_plain(text))
    }

    /// What kind of value this is, in words, for error messages.
    pub fn describe(&self) -> &'static str {
        match &self.kind {
            NodeKind::Map(_) => "a mapping",
            NodeKind::Seq(_) => "a list",
            NodeKind::Scalar { .. } => match self.typed() {
                Some(Typed::Null) => "null",
                Some(Typed::Bool(_)) => "a boolean",
                Some(Typed::Int(_) | Typed::Float(_)) => "a number",
                _ => "a string",
            },
        }
    }

    /// The node as JSON (typed by the core schema), for payloads and metadata.
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value;
        match &self.kind {
            NodeKind::Seq(items) => Value::Array(items.iter().map(Node::to_json).collect()),
            NodeKind::Map(entries) => Value::Object(
                entries
                    .iter()
                    .map(|(k, v)| (k.as_scalar_text().unwrap_or_default().to_owned(), v.to_json()))
                    .collect(),
            ),
            NodeKind::Scalar { .. } => match self.typed() {
                Some(Typed::Null) | None => Value::Null,
                Some(Typed::Bool(b)) => Value::Bool(b),
                Some(Typed::Int(i)) => Value::from(i),
                Some(Typed::Float(f)) => {
                    serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)
                }
                Some(Typed::Str(s)) => Value::String(s.to_owned()),
            },
        }
    }
}

fn resolve_plain(text: &str) -> Typed<'_> {
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return Typed::Null,
        "true" | "True" | "TRUE" => return Typed::Bool(true),
        "false" | "False" | "FALSE" => return Typed::Bool(false),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => {
            return Typed::Float(f64::INFINITY);
        }
        "-.inf" | "-.Inf" | "-.INF" => return Typed::Float(f64::NEG_INFINITY),
        ".nan" | ".NaN" | ".NAN" => return Typed::Float(f64::NAN),
        _ => {}
    }
    let bytes = text.as_bytes();
    let first = bytes[0];
    if !(first.is_ascii_digit() || matches!(first, b'-' | b'+' | b'.')) {
        return Typed::Str(text);
    }
    let digits = text.strip_prefix(['-', '+']).unwrap_or(text);
    if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        if digits.len() > 1 && digits.starts_with('0') {
            return Typed::Str(text);
        }
        return text.parse::<i64>().map_or_else(
            |_| text.parse::<f64>().map_or(Typed::Str(text), Typed::Float),
            Typed::Int,
        );
    }
    if let Some(hex) = text.strip_prefix("0x") {
        if let Ok(i) = i64::from_str_radix(hex, 16) {
            return Typed::Int(i);
        }
    }
    if let Some(oct) = text.strip_prefix("0o") {
        if let Ok(i) = i64::from_str_radix(oct, 8) {
            return Typed::Int(i);
        }
    }
    if is_core_float(digits) {
        if let Ok(f) = text.parse::<f64>() {
            return Typed::Float(f);
        }
    }
    Typed::Str(text)
}

/// `(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?`
fn is_core_float(s: &str) -> bool {
    let (mantissa, exponent) = match s.find(['e', 'E']) {
        Some(i) => (&s[..i], Some(&s[i + 1..])),
        None => (s, None),
    };
    let mantissa_ok = match mantissa.split_once('.') {
        Some((int, frac)) => {
            (!int.is_empty() || !frac.is_empty())
                && int.bytes().all(|b| b.is_ascii_digit())
                && frac.bytes().all(|b| b.is_ascii_digit())
                && !(int.is_empty() && frac.is_empty())
        }
        None => !mantissa.is_empty() && mantissa.bytes().all(|b| b.is_ascii_digit()),
    };
    let exponent_ok = exponent.is_none_or(|e| {
        let e = e.strip_prefix(['-', '+']).unwrap_or(e);
        !e.is_empty() && e.bytes().all(|b| b.is_ascii_digit())
    });
    mantissa_ok && exponent_ok
}

/// Line starts, for turning a (line, col) into a byte offset.
struct LineIndex<'a> {
    text: &'a str,
    starts: Vec<usize>,
}

impl<'a> LineIndex<'a> {
    fn new(text: &'a str) -> Self {
        // Line breaks as YAML counts them: LF, CRLF, and a lone CR.
        let bytes = text.as_bytes();
        let mut starts = vec![0];
        for (i, &b) in bytes.iter().enumerate() {
            if b == b'\n' || (b == b'\r' && bytes.get(i + 1) != Some(&b'\n')) {
                starts.push(i + 1);
            }
        }
        LineIndex { text, starts }
    }

    /// `line` 1-based, `col` 0-based in chars.
    fn pos(&self, line: usize, col: usize) -> Pos {
        // The parser may report the line just past the end (end of stream).
        let line = line.clamp(1, self.starts.len());
        let start = self.starts.get(line - 1).copied().unwrap_or(self.text.len());
        let rest = &self.text[start.min(self.text.len())..];
        let offset = start
            + rest
                .char_indices()
                .nth(col)
                .map_or_else(|| rest.find('\n').unwrap_or(rest.len()), |(i, _)| i);
        Pos { line: line as u32, col: col as u32 + 1, offset: offset.min(self.text.len()) }
    }
}

enum Frame {
    Seq { pos: Pos, items: Vec<Node>, anchor: usize },
    Map { pos: Pos, entries: Vec<(Node, Node)>, pending_key: Option<Node>, anchor: usize },
}

/// Parse one YAML (or JSON, which is YAML 1.2 flow) document into a [`Node`].
pub fn parse_document(text: &str, limits: ParseLimits) -> Result<Node, ParseError> {
    let index = LineIndex::new(text);
    let mut parser = Parser::new_from_str(text);
    let mut stack: Vec<Frame> = Vec::new();
    let mut anchors: HashMap<usize, Node> = HashMap::new();
    let mut root: Option<Node> = None;
    let mut documents = 0usize;
    let mut nodes = 0usize;
    let mut alias_nodes = 0usize;

    while let Some(next) = parser.next_event() {
        let (event, span) = next.map_err(|e| {
            let mark = e.marker();
            let pos = index.pos(mark.line(), mark.col());
            if matches!(e.kind(), granit_parser::ErrorKind::RecursionLimitExceeded) {
                // The parser's own limit, met before ours when it reads ahead: the same error.
                return nesting_error(pos, limits);
            }
            ParseError { pos, message: format!("invalid YAML: {}", e.info()), hint: None }
        })?;
        let pos = index.pos(span.start.line(), span.start.col());
        let node = match event {
            Event::DocumentStart(..) => {
                documents += 1;
                if documents > 1 {
                    return Err(ParseError {
                        pos,
                        message: "a second YAML document starts here".to_owned(),
                        hint: Some(Hint::new(
                            "yaml-second-document",
                            "put one document per file (remove the `---` line)",
                        )),
                    });
                }
                continue;
            }
            Event::Scalar(value, style, anchor, tag) => {
                let style = match style {
                    ScalarStyle::Plain => ScalarStyle2::Plain,
                    _ => ScalarStyle2::Quoted,
                };
                let style = match tag.as_deref() {
                    Some(tag) if tag.is_yaml_core_schema() && tag.suffix() == "str" => {
                        ScalarStyle2::Quoted
                    }
                    Some(tag) if !tag.is_yaml_core_schema() => {
                        return Err(ParseError {
                            pos,
                            message: format!("custom YAML tag `{tag}` is not supported"),
                            hint: Some(Hint::new(
                                "yaml-custom-tag",
                                "remove the tag; scenario files use plain YAML",
                            )),
                        });
                    }
                    _ => style,
                };
                let node = Node { pos, kind: NodeKind::Scalar { text: value.into_owned(), style } };
                if anchor != 0 {
                    anchors.insert(anchor, node.clone());
                }
                nodes += 1;
                node
            }
            Event::SequenceStart(_, anchor, _) => {
                push_frame(&mut stack, Frame::Seq { pos, items: Vec::new(), anchor }, limits)?;
                nodes += 1;
                continue;
            }
            Event::MappingStart(_, anchor, _) => {
                push_frame(
                    &mut stack,
                    Frame::Map { pos, entries: Vec::new(), pending_key: None, anchor },
                    limits,
                )?;
                nodes += 1;
                continue;
            }
            Event::SequenceEnd | Event::MappingEnd => {
                let Some(frame) = stack.pop() else { continue };
                let (node, anchor) = match frame {
                    Frame::Seq { pos, items, anchor } => {
                        (Node { pos, kind: NodeKind::Seq(items) }, anchor)
                    }
                    Frame::Map { pos, entries, anchor, .. } => {
                        (Node { pos, kind: NodeKind::Map(entries) }, anchor)
                    }
                };
                if anchor != 0 {
                    anchors.insert(anchor, node.clone());
                }
                node
            }
            Event::Alias(id) => {
                let Some(target) = anchors.get(&id) else {
                    return Err(ParseError {
                        pos,
                        message: "alias to an unknown anchor".to_owned(),
                        hint: None,
                    });
                };
                let size = count_nodes(target);
                nodes = nodes.saturating_add(size);
                alias_nodes = alias_nodes.saturating_add(size);
                if alias_nodes > limits.max_alias_nodes || nodes > limits.max_nodes {
                    return Err(too_many_nodes(pos, limits, true));
                }
                let mut copy = target.clone();
                copy.pos = pos;
                copy
            }
            // Comments and other presentation events carry no data.
            #[allow(unreachable_patterns)]
            _ => continue,
        };
        if nodes > limits.max_nodes {
            return Err(too_many_nodes(pos, limits, false));
        }
        attach(&mut stack, &mut root, node)?;
    }
    root.ok_or_else(|| ParseError {
        pos: Pos { line: 1, col: 1, offset: 0 },
        message: "the file is empty".to_owned(),
        hint: Some(Hint::new("empty-file", "add a `scenarios:` list, or remove the file")),
    })
}

fn too_many_nodes(pos: Pos, limits: ParseLimits, alias: bool) -> ParseError {
    ParseError {
        pos,
        message: if alias {
            format!(
                "aliases expand this document by more than {} nodes (an alias bomb?)",
                limits.max_alias_nodes
            )
        } else {
            format!("the document has more than {} nodes", limits.max_nodes)
        },
        hint: Some(if alias {
            Hint::new("yaml-alias-bomb", "write the repeated data out, or use fewer aliases")
        } else {
            Hint::new("yaml-too-many-nodes", "split the file into smaller files")
        }),
    }
}

fn push_frame(stack: &mut Vec<Frame>, frame: Frame, limits: ParseLimits) -> Result<(), ParseError> {
    if stack.len() >= limits.max_depth {
        let pos = match &frame {
            Frame::Seq { pos, .. } | Frame::Map { pos, .. } => *pos,
        };
        return Err(nesting_error(pos, limits));
    }
    stack.push(frame);
    Ok(())
}

fn nesting_error(pos: Pos, limits: ParseLimits) -> ParseError {
    ParseError {
        pos,
        message: format!("nesting is deeper than {} levels", limits.max_depth),
        hint: Some(Hint::new("nesting-too-deep", "flatten the structure")),
    }
}

fn count_nodes(node: &Node) -> usize {
    match &node.kind {
        NodeKind::Scalar { .. } => 1,
        NodeKind::Seq(items) => 1 + items.iter().map(count_nodes).sum::<usize>(),
        NodeKind::Map(entries) => {
            1 + entries.iter().map(|(k, v)| count_nodes(k) + count_nodes(v)).sum::<usize>()
        }
    }
}

fn attach(stack: &mut [Frame], root: &mut Option<Node>, node: Node) -> Result<(), ParseError> {
    match stack.last_mut() {
        None => *root = Some(node),
        Some(Frame::Seq { items, .. }) => items.push(node),
        Some(Frame::Map { entries, pending_key, .. }) => match pending_key.take() {
            None => {
                let NodeKind::Scalar { text, .. } = &node.kind else {
                    return Err(ParseError {
                        pos: node.pos,
                        message: format!("a mapping key must be text, found {}", node.describe()),
                        hint: None,
                    });
                };
                if let Some((first, _)) =
                    entries.iter().find(|(k, _)| k.as_scalar_text() == Some(text))
                {
                    return Err(ParseError {
                        pos: node.pos,
                        message: format!("duplicate key `{text}`"),
                        hint: Some(Hint::new(
                            "yaml-duplicate-key",
                            format!(
                                "the first `{text}` is at line {}; remove or rename one of them",
                                first.pos.line
                            ),
                        )),
                    });
                }
                *pending_key = Some(node);
            }
            Some(key) => entries.push((key, node)),
        },
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Node {
        parse_document(text, ParseLimits::default()).unwrap()
    }

    fn err(text: &str) -> ParseError {
        parse_document(text, ParseLimits::default()).unwrap_err()
    }

    #[test]
    fn keeps_positions_and_raw_text() {
        let doc = parse("a: 1\nb:\n  - yes\n  - '010'\n  - 010\n");
        let b = doc.get("b").unwrap();
        assert_eq!((b.pos.line, b.pos.col), (3, 3));
        let items = b.as_seq().unwrap();
        assert_eq!(items[0].typed(), Some(Typed::Str("yes")));
        assert_eq!(items[1].typed(), Some(Typed::Str("010")));
        assert_eq!(items[2].typed(), Some(Typed::Str("010")));
        assert_eq!(doc.get("a").unwrap().typed(), Some(Typed::Int(1)));
    }

    #[test]
    fn core_schema_types() {
        let doc = parse("[true, 3.0e-05, -2, 1.5, null, ~, .inf, 0x1F, 1e3, abc, '1']");
        let types: Vec<_> = doc.as_seq().unwrap().iter().map(Node::describe).collect();
        assert_eq!(
            types,
            [
                "a boolean",
                "a number",
                "a number",
                "a number",
                "null",
                "null",
                "a number",
                "a number",
                "a number",
                "a string",
                "a string"
            ]
        );
    }

    #[test]
    fn duplicate_keys_are_errors_with_both_lines() {
        let e = err("id: a\nname: x\nid: b\n");
        assert_eq!((e.pos.line, e.pos.col), (3, 1));
        assert!(e.message.contains("duplicate key `id`"));
        assert!(e.hint.unwrap().text.contains("line 1"));
    }

    #[test]
    fn alias_bombs_are_bounded() {
        use std::fmt::Write;
        let mut text = String::from("a: &a [x, x, x, x, x, x, x, x, x, x]\n");
        let mut prev = 'a';
        for name in ['b', 'c', 'd', 'e', 'f', 'g', 'h', 'i'] {
            let _ = writeln!(
                text,
                "{name}: &{name} [*{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}]"
            );
            prev = name;
        }
        let e = err(&text);
        assert!(e.message.contains("alias bomb"), "{}", e.message);
    }

    #[test]
    fn deep_nesting_is_bounded() {
        // The parser's own recursion limit or ours, whichever comes first: never a crash.
        let e = err(&"[".repeat(100_000));
        assert_eq!(e.message, "nesting is deeper than 128 levels");
        let e = err(&format!("{}1{}", "[".repeat(200), "]".repeat(200)));
        assert!(e.message.contains("nesting"), "{}", e.message);
    }

    #[test]
    fn multiple_documents_are_rejected() {
        let e = err("a: 1\n---\nb: 2\n");
        assert_eq!(e.pos.line, 2);
    }

    #[test]
    fn empty_document_is_reported() {
        assert!(err("").message.contains("empty"));
        assert!(err("# only a comment\n").message.contains("empty"));
    }

    #[test]
    fn offsets_point_at_the_node() {
        let text = "x: 1\ny: héllo\nz: 2\n";
        let doc = parse(text);
        let z = doc.as_map().unwrap()[2].0.pos;
        assert!(text[z.offset..].starts_with('z'));
    }
}
