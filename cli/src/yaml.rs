//! YAML (and JSON) streams read into located trees: every node keeps the byte range of
//! its text, so a report can name the line of any value and `--fix` can rewrite one value
//! without touching any other byte.
//!
//! A stream is first cut at its document markers (`---`/`...` at the start of a line; YAML
//! forbids them inside any scalar), and each document is parsed on its own: a broken
//! document is one located error and the others are still read.

use std::collections::HashMap;

use saphyr_parser::{Event, Parser, ScalarStyle, Span};
use serde_json::{Map, Number, Value};

/// Deepest nesting accepted in one document (Kubernetes objects are far shallower).
pub const MAX_DEPTH: usize = 200;
/// Most nodes one document may expand to, aliases included (no "billion laughs").
pub const MAX_NODES: usize = 2_000_000;
/// Most bytes of scalar text aliases may copy into one document: a node count alone lets
/// one anchored 200 KB string, aliased 150,000 times, ask for 30 GB.
pub const MAX_ALIASED_BYTES: usize = 16 << 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    Plain,
    SingleQuoted,
    DoubleQuoted,
    Literal,
    Folded,
    /// `[…]` or `{…}`.
    Flow,
    /// Indented block collection.
    Block,
}

#[derive(Debug, Clone)]
pub enum Kind {
    Scalar(Value),
    Seq(Vec<Node>),
    Map(Vec<(Node, Node)>),
}

/// A node and where its text is: `start..end` in bytes of the file (for a block
/// collection `end` is the end of its last value; for a block scalar it is the end of its
/// last non-blank content line). `line` is 1-based, `col` 0-based in characters.
#[derive(Debug, Clone)]
pub struct Node {
    pub kind: Kind,
    pub style: Style,
    pub start: usize,
    pub end: usize,
    pub line: usize,
    pub col: usize,
    /// A copy made by an alias (`*a`): its text is elsewhere, so it cannot be edited here.
    pub aliased: bool,
}

impl Node {
    pub fn value(&self) -> Value {
        match &self.kind {
            Kind::Scalar(v) => v.clone(),
            Kind::Seq(items) => Value::Array(items.iter().map(Node::value).collect()),
            Kind::Map(entries) => {
                let mut map = Map::new();
                for (k, v) in entries {
                    map.insert(key_string(k).unwrap_or_default(), v.value());
                }
                Value::Object(map)
            }
        }
    }

    /// The child at one JSON-pointer step.
    pub fn child(&self, step: &str) -> Option<&Node> {
        match &self.kind {
            Kind::Seq(items) => step.parse::<usize>().ok().and_then(|i| items.get(i)),
            Kind::Map(entries) => entries
                .iter()
                .find(|(k, _)| key_string(k).as_deref() == Some(step))
                .map(|(_, v)| v),
            Kind::Scalar(_) => None,
        }
    }

    /// The entry (key and value) of a mapping at `step`.
    pub fn entry(&self, step: &str) -> Option<&(Node, Node)> {
        match &self.kind {
            Kind::Map(entries) => entries
                .iter()
                .find(|(k, _)| key_string(k).as_deref() == Some(step)),
            _ => None,
        }
    }
}

/// A mapping key as JSON sees it (sigs.k8s.io/yaml turns scalar keys into strings).
pub fn key_string(key: &Node) -> Option<String> {
    match &key.kind {
        Kind::Scalar(Value::String(s)) => Some(s.clone()),
        Kind::Scalar(Value::Null) => Some("null".to_owned()),
        Kind::Scalar(v) => Some(v.to_string()),
        _ => None,
    }
}

/// One document of a stream.
#[derive(Debug)]
pub struct Document {
    /// Byte range of the document's text in the file (from its `---` line, if any, up to
    /// the next document marker).
    pub start: usize,
    pub end: usize,
    /// Line (1-based) where the document's text starts.
    pub first_line: usize,
    /// Line (1-based) of the document's first node.
    pub line: usize,
    /// Helm's `# Source: <template>` comment before the document, if any.
    pub helm_source: Option<String>,
    /// `None` for an empty document (only comments, or nothing).
    pub root: Option<Node>,
}

/// Why one document (or a whole file) could not be read, and where.
#[derive(Debug, Clone, PartialEq)]
pub struct LocatedError {
    pub line: usize,
    pub message: String,
}

/// The documents of `text`, each parsed or a located error.
pub fn parse_stream(text: &str) -> Vec<Result<Document, LocatedError>> {
    split_documents(text)
        .into_iter()
        .map(|(start, end, line)| parse_document(text, start, end, line))
        .collect()
}

/// Byte ranges (and first lines) of the documents of a stream: cut before every line that
/// starts with `---` or after every `...` line, as YAML's document markers.
fn split_documents(text: &str) -> Vec<(usize, usize, usize)> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut start_line = 1;
    let mut pos = 0;
    let mut line = 1;
    for raw in text.split_inclusive('\n') {
        let trimmed = raw.trim_end_matches(['\n', '\r']);
        let marker = |m: &str| {
            trimmed == m
                || trimmed
                    .strip_prefix(m)
                    .is_some_and(|rest| rest.starts_with([' ', '\t']))
        };
        if marker("---") && pos > start {
            out.push((start, pos, start_line));
            start = pos;
            start_line = line;
        }
        pos += raw.len();
        line += 1;
        if marker("...") {
            out.push((start, pos, start_line));
            start = pos;
            start_line = line;
        }
    }
    if pos > start || out.is_empty() {
        out.push((start, pos, start_line));
    }
    out
}

/// Character index to byte offset within one document, for a parser that counts chars.
struct Offsets<'a> {
    text: &'a str,
    ascii: bool,
    char_idx: usize,
    byte_idx: usize,
}

impl Offsets<'_> {
    fn byte(&mut self, char_idx: usize) -> usize {
        if self.ascii {
            return char_idx.min(self.text.len());
        }
        while self.char_idx < char_idx {
            match self.text[self.byte_idx..].chars().next() {
                Some(c) => {
                    self.byte_idx += c.len_utf8();
                    self.char_idx += 1;
                }
                None => break,
            }
        }
        while self.char_idx > char_idx {
            match self.text[..self.byte_idx].chars().next_back() {
                Some(c) => {
                    self.byte_idx -= c.len_utf8();
                    self.char_idx -= 1;
                }
                None => break,
            }
        }
        self.byte_idx
    }
}

enum Open {
    Seq(Node, Vec<Node>, usize),
    /// The mapping, its entries, the key awaiting its value, the anchor, and the line of
    /// each key so far (a duplicate is found without rescanning: 40,000 keys were
    /// quadratic).
    Map(
        Node,
        Vec<(Node, Node)>,
        Option<Node>,
        usize,
        HashMap<Option<String>, usize>,
    ),
}

fn parse_document(
    file: &str,
    start: usize,
    end: usize,
    first_line: usize,
) -> Result<Document, LocatedError> {
    let text = &file[start..end];
    let mut offsets = Offsets {
        text,
        ascii: text.is_ascii(),
        char_idx: 0,
        byte_idx: 0,
    };
    // An error at the end of the text (an unclosed bracket) is shown on its last line,
    // not on the next document's marker.
    let last_line = first_line + text.trim_end().matches('\n').count();
    let line_of = |l: usize| (first_line + l.saturating_sub(1)).min(last_line);
    let mut stack: Vec<Open> = Vec::new();
    let mut anchors: HashMap<usize, Node> = HashMap::new();
    let mut root: Option<Node> = None;
    let mut nodes = 0usize;
    let mut aliased_bytes = 0usize;
    let mut documents = 0usize;

    for item in Parser::new_from_str(text) {
        let (event, span) = item.map_err(|e| LocatedError {
            line: line_of(e.marker().line()),
            message: format!("invalid YAML: {}", e.info()),
        })?;
        let located = |offsets: &mut Offsets, span: &Span| {
            (
                start + offsets.byte(span.start.index()),
                start + offsets.byte(span.end.index()),
                line_of(span.start.line()),
                span.start.col(),
            )
        };
        let finished: Option<(Node, usize)> = match event {
            Event::DocumentStart(_) => {
                documents += 1;
                if documents > 1 {
                    return Err(LocatedError {
                        line: line_of(span.start.line()),
                        message: "a second document without a `---` line before it".into(),
                    });
                }
                None
            }
            Event::Scalar(value, style, anchor, tag) => {
                let (s, e, line, col) = located(&mut offsets, &span);
                let resolved = resolve(&value, style, tag.as_deref().map(|t| &t.suffix[..]))
                    .map_err(|message| LocatedError { line, message })?;
                let (style, end) = match style {
                    ScalarStyle::Plain => (Style::Plain, e),
                    ScalarStyle::SingleQuoted => (Style::SingleQuoted, e),
                    ScalarStyle::DoubleQuoted => (Style::DoubleQuoted, e),
                    ScalarStyle::Literal => (Style::Literal, s + file[s..e].trim_end().len()),
                    ScalarStyle::Folded => (Style::Folded, s + file[s..e].trim_end().len()),
                };
                Some((
                    Node {
                        kind: Kind::Scalar(resolved),
                        style,
                        start: s,
                        end,
                        line,
                        col,
                        aliased: false,
                    },
                    anchor,
                ))
            }
            Event::SequenceStart(anchor, _) | Event::MappingStart(anchor, _) => {
                if stack.len() >= MAX_DEPTH {
                    return Err(LocatedError {
                        line: line_of(span.start.line()),
                        message: format!("nested deeper than {MAX_DEPTH} levels"),
                    });
                }
                let (s, e, line, col) = located(&mut offsets, &span);
                let node = Node {
                    kind: Kind::Scalar(Value::Null),
                    style: if e > s { Style::Flow } else { Style::Block },
                    start: s,
                    end: e,
                    line,
                    col,
                    aliased: false,
                };
                if matches!(event, Event::SequenceStart(..)) {
                    stack.push(Open::Seq(node, Vec::new(), anchor));
                } else {
                    stack.push(Open::Map(node, Vec::new(), None, anchor, HashMap::new()));
                }
                None
            }
            Event::SequenceEnd | Event::MappingEnd => {
                let (_, e, _, _) = located(&mut offsets, &span);
                match stack.pop() {
                    Some(Open::Seq(mut node, items, anchor)) => {
                        node.end = if node.style == Style::Flow {
                            e
                        } else {
                            items.last().map_or(node.end, |n| n.end)
                        };
                        node.kind = Kind::Seq(items);
                        Some((node, anchor))
                    }
                    Some(Open::Map(mut node, entries, _, anchor, _)) => {
                        node.end = if node.style == Style::Flow {
                            e
                        } else {
                            entries.last().map_or(node.end, |(_, v)| v.end.max(v.start))
                        };
                        node.kind = Kind::Map(entries);
                        Some((node, anchor))
                    }
                    None => None,
                }
            }
            Event::Alias(id) => {
                let (s, e, line, col) = located(&mut offsets, &span);
                let Some(target) = anchors.get(&id) else {
                    return Err(LocatedError {
                        line,
                        message: "an alias to an unknown anchor".into(),
                    });
                };
                // Sized before it is copied: the copy is what a bomb would make us pay.
                let (target_nodes, target_bytes) = size(target);
                nodes += target_nodes;
                aliased_bytes += target_bytes;
                if aliased_bytes > MAX_ALIASED_BYTES || nodes > MAX_NODES {
                    return Err(LocatedError {
                        line,
                        message: format!(
                            "aliases expand past {MAX_NODES} nodes or {} MiB of text in one document",
                            MAX_ALIASED_BYTES >> 20
                        ),
                    });
                }
                let mut copy = target.clone();
                mark_aliased(&mut copy);
                copy.start = s;
                copy.end = e;
                copy.line = line;
                copy.col = col;
                Some((copy, 0))
            }
            _ => None,
        };
        let Some((node, anchor)) = finished else {
            continue;
        };
        nodes += 1;
        if nodes > MAX_NODES {
            return Err(LocatedError {
                line: node.line,
                message: format!("more than {MAX_NODES} nodes in one document"),
            });
        }
        if anchor != 0 {
            anchors.insert(anchor, node.clone());
        }
        match stack.last_mut() {
            None => root = Some(node),
            Some(Open::Seq(_, items, _)) => items.push(node),
            Some(Open::Map(_, entries, pending, _, keys)) => match pending.take() {
                None => {
                    if !matches!(node.kind, Kind::Scalar(_)) {
                        return Err(LocatedError {
                            line: node.line,
                            message: "a mapping key that is not a scalar".into(),
                        });
                    }
                    let name = key_string(&node);
                    if let Some(first) = keys.get(&name) {
                        return Err(LocatedError {
                            line: node.line,
                            message: format!(
                                "duplicate key {:?} (first at line {first})",
                                name.unwrap_or_default(),
                            ),
                        });
                    }
                    keys.insert(name, node.line);
                    *pending = Some(node);
                }
                Some(key) => entries.push((key, node)),
            },
        }
    }

    let root = root.filter(|r| !matches!(r.kind, Kind::Scalar(Value::Null)));
    let line = match &root {
        Some(r) => r.line,
        None => first_line,
    };
    let head_end = root.as_ref().map_or(end, |r| r.start);
    let helm_source = file[start..head_end]
        .lines()
        .filter_map(|l| l.trim().strip_prefix("# Source:"))
        .map(|s| s.trim().to_owned())
        .next_back();
    Ok(Document {
        start,
        end,
        first_line,
        line,
        helm_source,
        root,
    })
}

/// Nodes in `node`'s tree, and the bytes of its string scalars.
fn size(node: &Node) -> (usize, usize) {
    let add = |(n, b): (usize, usize), (m, c): (usize, usize)| (n + m, b + c);
    match &node.kind {
        Kind::Scalar(Value::String(text)) => (1, text.len()),
        Kind::Scalar(_) => (1, 0),
        Kind::Seq(items) => items.iter().map(size).fold((1, 0), add),
        Kind::Map(entries) => entries
            .iter()
            .map(|(k, v)| add(size(k), size(v)))
            .fold((1, 0), add),
    }
}

fn mark_aliased(node: &mut Node) {
    node.aliased = true;
    match &mut node.kind {
        Kind::Scalar(_) => {}
        Kind::Seq(items) => items.iter_mut().for_each(mark_aliased),
        Kind::Map(entries) => entries.iter_mut().for_each(|(k, v)| {
            mark_aliased(k);
            mark_aliased(v);
        }),
    }
}

/// A scalar's JSON value as `kubectl` reads YAML (sigs.k8s.io/yaml, YAML 1.1 scalars:
/// `yes`/`no`/`on`/`off` are booleans, `0x1F` and `0o17` integers). Quoted and block
/// scalars are strings.
pub fn resolve(text: &str, style: ScalarStyle, tag: Option<&str>) -> Result<Value, String> {
    match tag {
        Some("str") => return Ok(Value::String(text.to_owned())),
        Some("null") => return Ok(Value::Null),
        Some("bool") | Some("int") | Some("float") => {
            let v = resolve_plain(text);
            return if v.is_string() {
                Err(format!("{text:?} is not a !!{}", tag.unwrap_or_default()))
            } else {
                Ok(v)
            };
        }
        _ => {}
    }
    if style != ScalarStyle::Plain {
        return Ok(Value::String(text.to_owned()));
    }
    Ok(resolve_plain(text))
}

/// The value of a plain scalar.
pub fn resolve_plain(text: &str) -> Value {
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return Value::Null,
        "y" | "Y" | "yes" | "Yes" | "YES" | "true" | "True" | "TRUE" | "on" | "On" | "ON" => {
            return Value::Bool(true)
        }
        "n" | "N" | "no" | "No" | "NO" | "false" | "False" | "FALSE" | "off" | "Off" | "OFF" => {
            return Value::Bool(false)
        }
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" | "-.inf" | "-.Inf" | "-.INF"
        | ".nan" | ".NaN" | ".NAN" => {
            // JSON has no infinities: kubectl fails on them; keep the text.
            return Value::String(text.to_owned());
        }
        _ => {}
    }
    if let Some(n) = parse_int(text) {
        return Value::Number(n);
    }
    if looks_like_float(text) {
        if let Ok(f) = text.replace('_', "").parse::<f64>() {
            if let Some(n) = Number::from_f64(f) {
                return Value::Number(n);
            }
        }
    }
    Value::String(text.to_owned())
}

fn parse_int(text: &str) -> Option<Number> {
    let (negative, body) = match text.as_bytes().first()? {
        b'-' => (true, &text[1..]),
        b'+' => (false, &text[1..]),
        _ => (false, text),
    };
    let clean = body.replace('_', "");
    if clean.is_empty() || body.starts_with('_') {
        return None;
    }
    let magnitude = if let Some(hex) = clean.strip_prefix("0x") {
        u64::from_str_radix(hex, 16).ok()?
    } else if let Some(oct) = clean.strip_prefix("0o") {
        u64::from_str_radix(oct, 8).ok()?
    } else if let Some(bin) = clean.strip_prefix("0b") {
        u64::from_str_radix(bin, 2).ok()?
    } else if clean.len() > 1 && clean.starts_with('0') {
        u64::from_str_radix(&clean[1..], 8).ok()?
    } else if clean.bytes().all(|b| b.is_ascii_digit()) {
        clean.parse::<u64>().ok()?
    } else {
        return None;
    };
    if negative {
        let signed = i64::try_from(magnitude).ok()?;
        Some(Number::from(-signed))
    } else {
        Some(Number::from(magnitude))
    }
}

fn looks_like_float(text: &str) -> bool {
    let body = text.strip_prefix(['-', '+']).unwrap_or(text);
    let mut digits = 0;
    let mut dot = false;
    let mut exp = false;
    let mut chars = body.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '0'..='9' => digits += 1,
            '_' if digits > 0 => {}
            '.' if !dot && !exp => dot = true,
            'e' | 'E' if digits > 0 && !exp => {
                exp = true;
                if matches!(chars.peek(), Some('+' | '-')) {
                    chars.next();
                }
                if !matches!(chars.peek(), Some('0'..='9')) {
                    return false;
                }
            }
            _ => return false,
        }
    }
    digits > 0 && (dot || exp)
}

/// 1-based line of byte offset `pos` in `text`.
pub fn line_at(text: &str, pos: usize) -> usize {
    1 + text.as_bytes()[..pos.min(text.len())]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
}

/// What a JSON value is, for messages ("found a list").
pub fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "nothing",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a mapping",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_are_cut_at_markers() {
        let docs = parse_stream("a: 1\n---\n# Source: c/t.yaml\nb: [1, 2]\n...\n---\nc: |\n  x\n");
        assert_eq!(docs.len(), 3);
        let d1 = docs[1].as_ref().unwrap();
        assert_eq!(d1.line, 4);
        assert_eq!(d1.helm_source.as_deref(), Some("c/t.yaml"));
        assert_eq!(
            d1.root.as_ref().unwrap().value(),
            serde_json::json!({"b": [1, 2]})
        );
    }

    #[test]
    fn broken_documents_are_located_and_others_still_read() {
        let docs = parse_stream("a: 1\n---\nb: [\n---\nc: 1\nc: 2\n");
        assert!(docs[0].is_ok());
        assert_eq!(docs[1].as_ref().unwrap_err().line, 3);
        let dup = docs[2].as_ref().unwrap_err();
        assert_eq!(dup.line, 6);
        assert!(dup.message.contains("duplicate key"), "{}", dup.message);
    }

    #[test]
    fn scalars_resolve_as_kubectl_reads_them() {
        let docs = parse_stream("a: yes\nb: '1'\nc: 0x1F\nd: 1.5\ne: ~\nf: 1e3\ng: 10m\n");
        let v = docs[0].as_ref().unwrap().root.as_ref().unwrap().value();
        assert_eq!(
            v,
            serde_json::json!({"a": true, "b": "1", "c": 31, "d": 1.5, "e": null, "f": 1000.0, "g": "10m"})
        );
    }

    #[test]
    fn aliases_are_bounded_by_the_text_they_copy_as_well_as_their_nodes() {
        // One anchored 1 MiB string aliased 17 times copies 17 MiB: refused before the
        // copy that crosses the bound, with the alias's line.
        let big = "x".repeat(1 << 20);
        let aliases = vec!["*a"; 17].join(", ");
        let bomb = format!("a: &a {big}\nb: [{aliases}]\n");
        let refused = parse_stream(&bomb).remove(0).unwrap_err();
        assert_eq!(refused.line, 2);
        assert_eq!(
            refused.message,
            format!("aliases expand past {MAX_NODES} nodes or 16 MiB of text in one document")
        );
        // 15 copies and the anchored string itself: within the bound.
        let aliases = vec!["*a"; 15].join(", ");
        let fine = format!("a: &a {big}\nb: [{aliases}]\n");
        assert!(parse_stream(&fine).remove(0).is_ok());
        // Nodes count too: 1,000 nodes aliased past the node bound.
        let list = vec!["1"; 999].join(", ");
        let aliases = vec!["*a"; MAX_NODES / 1000 + 1].join(", ");
        let wide = format!("a: &a [{list}]\nb: [{aliases}]\n");
        let refused = parse_stream(&wide).remove(0).unwrap_err();
        assert!(
            refused.message.starts_with("aliases expand past"),
            "{}",
            refused.message
        );
    }

    #[test]
    fn a_duplicate_key_is_found_among_many_with_its_first_line() {
        let mut text = String::from("m:\n");
        for i in 0..40_000 {
            text.push_str(&format!("  k{i}: v\n"));
        }
        text.push_str("  k17: again\n");
        let refused = parse_stream(&text).remove(0).unwrap_err();
        assert_eq!(refused.line, 40_002);
        assert_eq!(refused.message, "duplicate key \"k17\" (first at line 19)");
    }

    #[test]
    fn spans_are_bytes_even_after_multibyte_text() {
        let text = "a: \"é€\"\nb: x\n";
        let docs = parse_stream(text);
        let root = docs[0].as_ref().unwrap().root.as_ref().unwrap();
        let b = root.child("b").unwrap();
        assert_eq!(&text[b.start..b.end], "x");
    }
}
