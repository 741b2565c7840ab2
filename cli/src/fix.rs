//! `--fix`: the policy's JSONPatch written into the YAML text it came from, editing only
//! the values it changes. Each operation is located on the document's tree (byte spans
//! from [`crate::yaml`]); a changed scalar keeps its style where the new value allows it
//! (plain, quoted, `|`/`>` block), a new key is inserted after its mapping's last entry
//! at that mapping's indentation, in block or flow style as the mapping is written.
//! Every other byte of the file is left as it was. The caller re-reads the result and
//! accepts it only if it parses to exactly the patched object.

use serde_json::Value;

use crate::yaml::{self, Kind, Node, Style};

/// Replace `start..end` of the file by `text`.
#[derive(Debug, Clone, PartialEq)]
pub struct Edit {
    pub start: usize,
    pub end: usize,
    pub text: String,
}

/// Edits in the order to apply: by position, and at one position the deeper path first
/// (a key added to an inner mapping goes before a key added to its parent after it).
fn order_edits(edits: &mut [(usize, Edit)]) {
    edits.sort_by_key(|(depth, e)| (e.start, std::cmp::Reverse(*depth)));
}

/// The edits that carry `patch` (JSONPatch operations, relative to `object`) into `file`.
pub fn edits_for(file: &str, object: &Node, patch: &[Value]) -> Result<Vec<Edit>, String> {
    let step = indent_step(object);
    let mut edits: Vec<(usize, Edit)> = Vec::new();
    // Entries already added to each collection (by its start): the second one added to an
    // empty flow collection needs a comma.
    let mut added: std::collections::HashMap<usize, usize> = std::collections::HashMap::new();
    for op in patch {
        let kind = op.get("op").and_then(Value::as_str).unwrap_or_default();
        let path = op.get("path").and_then(Value::as_str).unwrap_or_default();
        let steps = pointer_steps(path);
        let value = op.get("value").cloned().unwrap_or(Value::Null);
        let Some((last, parent_steps)) = steps.split_last() else {
            return Err("the patch replaces the whole object".into());
        };
        let parent = locate(object, parent_steps)
            .ok_or_else(|| format!("{path}: not found in the document"))?;
        if parent.aliased {
            return Err(format!("{path}: the value comes from a YAML alias"));
        }
        match kind {
            "replace" | "add" => {
                if let Some(target) = parent
                    .child(last)
                    .filter(|_| !is_seq_insert(parent, last, kind))
                {
                    let depth = steps.len();
                    edits.extend(
                        replace(file, parent, target, &value, step, path)?
                            .into_iter()
                            .map(|e| (depth, e)),
                    );
                } else if kind == "add" {
                    let before = added.entry(parent.start).or_default();
                    let edit = insert(file, parent, last, &value, step, path, *before > 0)?;
                    *before += 1;
                    edits.push((steps.len(), edit));
                } else {
                    return Err(format!("{path}: not found in the document"));
                }
            }
            "remove" => edits.push((steps.len(), remove(file, parent, last, path)?)),
            other => {
                return Err(format!(
                    "{path}: a {other:?} operation cannot be written back"
                ))
            }
        }
    }
    order_edits(&mut edits);
    Ok(edits.into_iter().map(|(_, e)| e).collect())
}

/// `add` into a sequence inserts before the index (or appends with `-`).
fn is_seq_insert(parent: &Node, _last: &str, kind: &str) -> bool {
    kind == "add" && matches!(parent.kind, Kind::Seq(_))
}

/// `file` with `edits` applied (they must not overlap; edits at the same position are
/// applied in the order given).
pub fn apply(file: &str, edits: &[Edit]) -> String {
    let mut order: Vec<usize> = (0..edits.len()).collect();
    order.sort_by_key(|&i| (edits[i].start, i));
    let mut out = String::with_capacity(file.len() + 256);
    let mut pos = 0;
    for i in order {
        let e = &edits[i];
        if e.start < pos {
            continue;
        }
        out.push_str(&file[pos..e.start]);
        out.push_str(&e.text);
        pos = e.end;
    }
    out.push_str(&file[pos..]);
    out
}

pub fn pointer_steps(path: &str) -> Vec<String> {
    if path.is_empty() {
        return Vec::new();
    }
    path.trim_start_matches('/')
        .split('/')
        .map(|s| s.replace("~1", "/").replace("~0", "~"))
        .collect()
}

pub fn locate<'a>(node: &'a Node, steps: &[String]) -> Option<&'a Node> {
    steps.iter().try_fold(node, |n, s| n.child(s))
}

/// The indentation step the document uses for nested mappings (2 when it shows none).
fn indent_step(node: &Node) -> usize {
    fn find(node: &Node) -> Option<usize> {
        match &node.kind {
            Kind::Map(entries) => entries.iter().find_map(|(k, v)| match &v.kind {
                Kind::Map(inner) if v.style == Style::Block && !inner.is_empty() => {
                    inner[0].0.col.checked_sub(k.col).filter(|d| *d > 0)
                }
                _ => find(v),
            }),
            Kind::Seq(items) => items.iter().find_map(find),
            Kind::Scalar(_) => None,
        }
    }
    find(node).unwrap_or(2)
}

fn replace(
    file: &str,
    parent: &Node,
    target: &Node,
    value: &Value,
    step: usize,
    path: &str,
) -> Result<Vec<Edit>, String> {
    if target.aliased {
        return Err(format!("{path}: the value comes from a YAML alias"));
    }
    let in_flow = parent.style == Style::Flow;
    match (&target.kind, value) {
        (Kind::Scalar(_), Value::Object(_) | Value::Array(_)) => {
            if target.start == target.end && !in_flow && !is_empty_collection(value) {
                // `key:` with nothing after it: the new collection goes below, indented.
                let indent = parent_key_col(parent) + step;
                let mut text = String::from("\n");
                render_block(value, indent, step, &mut text);
                trim_last_newline(&mut text);
                return Ok(vec![Edit {
                    start: target.start,
                    end: target.end,
                    text,
                }]);
            }
            let lead = if target.start == target.end { " " } else { "" };
            Ok(vec![Edit {
                start: target.start,
                end: target.end,
                text: format!("{lead}{}", flow_json(value)),
            }])
        }
        (Kind::Scalar(_), _) => scalar_edits(file, target, value, in_flow),
        _ => Ok(vec![Edit {
            start: target.start,
            end: target.end,
            text: flow_json(value),
        }]),
    }
}

fn is_empty_collection(v: &Value) -> bool {
    match v {
        Value::Object(m) => m.is_empty(),
        Value::Array(a) => a.is_empty(),
        _ => false,
    }
}

fn parent_key_col(parent: &Node) -> usize {
    match &parent.kind {
        Kind::Map(entries) => entries.first().map_or(parent.col, |(k, _)| k.col),
        _ => parent.col,
    }
}

fn trim_last_newline(text: &mut String) {
    if text.ends_with('\n') {
        text.pop();
    }
}

/// The edits that give scalar `target` the value `value`, in its own style if possible.
fn scalar_edits(
    file: &str,
    target: &Node,
    value: &Value,
    in_flow: bool,
) -> Result<Vec<Edit>, String> {
    let whole = |text: String| {
        let lead = if target.start == target.end { " " } else { "" };
        vec![Edit {
            start: target.start,
            end: target.end,
            text: format!("{lead}{text}"),
        }]
    };
    let Value::String(s) = value else {
        return Ok(whole(scalar_text(value, in_flow)));
    };
    match target.style {
        Style::SingleQuoted if is_single_line_printable(s) => {
            Ok(whole(format!("'{}'", s.replace('\'', "''"))))
        }
        Style::DoubleQuoted | Style::SingleQuoted => Ok(whole(double_quoted(s))),
        Style::Literal | Style::Folded => {
            let header = block_header(file, target)
                .ok_or_else(|| "a block scalar whose header cannot be found".to_owned())?;
            match block_body(s, target.style == Style::Folded, target.col) {
                Some((chomp, body)) => {
                    let indicator = if target.style == Style::Folded {
                        ">"
                    } else {
                        "|"
                    };
                    Ok(vec![
                        Edit {
                            start: header.0,
                            end: header.1,
                            text: format!("{indicator}{chomp}"),
                        },
                        Edit {
                            start: target.start,
                            end: target.end,
                            text: body,
                        },
                    ])
                }
                None => Ok(vec![Edit {
                    start: header.0,
                    end: target.end,
                    text: double_quoted(s),
                }]),
            }
        }
        _ => Ok(whole(scalar_text(value, in_flow))),
    }
}

/// Byte range of a block scalar's `|`/`>` indicator and its modifiers: on the last
/// non-blank line before the content.
fn block_header(file: &str, target: &Node) -> Option<(usize, usize)> {
    let before = &file[..target.start];
    let content_line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let mut search_end = content_line_start;
    loop {
        let head = &file[..search_end.checked_sub(1)?];
        let line_start = head.rfind('\n').map_or(0, |i| i + 1);
        let line = &file[line_start..search_end - 1];
        if line.trim().is_empty() {
            search_end = line_start;
            continue;
        }
        let bytes = line.as_bytes();
        for (i, &b) in bytes.iter().enumerate() {
            if b != b'|' && b != b'>' {
                continue;
            }
            let preceded = i == 0 || matches!(bytes[i - 1], b' ' | b'\t' | b':' | b'-');
            let mut j = i + 1;
            while j < bytes.len() && matches!(bytes[j], b'+' | b'-' | b'0'..=b'9') {
                j += 1;
            }
            let followed = j == bytes.len() || matches!(bytes[j], b' ' | b'\t' | b'\r');
            if preceded && followed {
                return Some((line_start + i, line_start + j));
            }
        }
        return None;
    }
}

/// Chomping indicator and content text (first line unindented: the edit starts at the
/// content's first character) for `s` as a block scalar indented by `indent`, or `None`
/// when the block style cannot hold it exactly.
fn block_body(s: &str, folded: bool, indent: usize) -> Option<(&'static str, String)> {
    let trimmed = s.trim_end_matches('\n');
    let chomp = match s.len() - trimmed.len() {
        0 => "-",
        1 => "",
        _ => return None,
    };
    if trimmed.is_empty()
        || indent == 0
        || trimmed
            .chars()
            .any(|c| (c.is_control() && c != '\n' && c != '\t') || c == '\u{feff}')
    {
        return None;
    }
    let lines: Vec<&str> = trimmed.split('\n').collect();
    // A first line starting with a space would need an indentation indicator; in a
    // folded block, more-indented lines are not folded.
    if lines
        .first()
        .is_some_and(|l| l.is_empty() || l.starts_with([' ', '\t']))
        || lines
            .iter()
            .any(|l| l.ends_with([' ', '\t', '\r']) || (folded && l.starts_with([' ', '\t'])))
    {
        return None;
    }
    let pad = " ".repeat(indent);
    let mut body = String::new();
    for (i, line) in lines.iter().enumerate() {
        if i > 0 {
            body.push('\n');
            // Folding turns one line break between two lines into a space: a break in
            // the value takes an empty line.
            if folded && !line.is_empty() && !lines[i - 1].is_empty() {
                body.push('\n');
            }
            if folded && line.is_empty() {
                body.push('\n');
                continue;
            }
            if !line.is_empty() {
                body.push_str(&pad);
            }
        }
        body.push_str(line);
    }
    if folded && lines.iter().any(|l| l.is_empty()) {
        // Runs of empty lines fold in ways not worth reproducing here.
        return None;
    }
    Some((chomp, body))
}

fn is_single_line_printable(s: &str) -> bool {
    !s.chars().any(|c| c.is_control() || c == '\u{feff}')
}

pub fn double_quoted(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| format!("{s:?}"))
}

/// A scalar's text: plain where YAML reads it back as the same string, else quoted.
pub fn scalar_text(v: &Value, in_flow: bool) -> String {
    match v {
        Value::String(s) if plain_safe(s, in_flow) => s.clone(),
        Value::String(s) => double_quoted(s),
        Value::Null => "null".into(),
        other => other.to_string(),
    }
}

pub fn plain_safe(s: &str, in_flow: bool) -> bool {
    let Some(first) = s.chars().next() else {
        return false;
    };
    if s.trim() != s
        || s.chars().any(|c| c.is_control() || c == '\u{feff}')
        || "?:,[]{}#&*!|>'\"%@`".contains(first)
        || (first == '-' && !s[1..].starts_with(|c: char| c.is_ascii_alphanumeric()))
        || s.contains(": ")
        || s.contains(" #")
        || s.ends_with(':')
        || s.starts_with("---")
        || s.starts_with("...")
        || (in_flow && s.contains([',', '[', ']', '{', '}']))
    {
        return false;
    }
    yaml::resolve_plain(s) == Value::String(s.to_owned())
}

/// A value in flow style (JSON, which YAML reads as the same value).
pub fn flow_json(v: &Value) -> String {
    serde_json::to_string(v).unwrap_or_default()
}

/// `value` as block lines at `indent` (each ending in a newline): a mapping's entries, or
/// a sequence's items.
pub fn render_block(value: &Value, indent: usize, step: usize, out: &mut String) {
    let pad = " ".repeat(indent);
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                out.push_str(&pad);
                out.push_str(&scalar_text(&Value::String(k.clone()), false));
                out.push(':');
                render_value_after_key(v, indent, step, out);
            }
        }
        Value::Array(items) => {
            for item in items {
                out.push_str(&pad);
                out.push('-');
                match item {
                    Value::Object(m) if !m.is_empty() => {
                        let mut inner = String::new();
                        render_block(item, indent + 2, step, &mut inner);
                        out.push(' ');
                        out.push_str(inner.trim_start_matches(' '));
                    }
                    Value::Array(a) if !a.is_empty() => {
                        out.push(' ');
                        out.push_str(&flow_json(item));
                        out.push('\n');
                    }
                    _ => {
                        out.push(' ');
                        out.push_str(&scalar_or_empty(item));
                        out.push('\n');
                    }
                }
            }
        }
        other => {
            out.push_str(&pad);
            out.push_str(&scalar_or_empty(other));
            out.push('\n');
        }
    }
}

fn render_value_after_key(v: &Value, indent: usize, step: usize, out: &mut String) {
    match v {
        Value::Object(m) if !m.is_empty() => {
            out.push('\n');
            render_block(v, indent + step, step, out);
        }
        Value::Array(a) if !a.is_empty() => {
            out.push('\n');
            render_block(v, indent + step, step, out);
        }
        _ => {
            out.push(' ');
            out.push_str(&scalar_or_empty(v));
            out.push('\n');
        }
    }
}

fn scalar_or_empty(v: &Value) -> String {
    match v {
        Value::Object(_) => "{}".into(),
        Value::Array(_) => "[]".into(),
        other => scalar_text(other, false),
    }
}

/// A new entry (`key` in a mapping, or an item appended to a sequence).
fn insert(
    file: &str,
    parent: &Node,
    key: &str,
    value: &Value,
    step: usize,
    path: &str,
    not_first: bool,
) -> Result<Edit, String> {
    let empty_sep = if not_first { ", " } else { "" };
    match (&parent.kind, parent.style) {
        (Kind::Map(entries), Style::Flow) => {
            let (pos, sep) = match entries.last() {
                Some((_, v)) => (v.end.max(v.start), ", "),
                None => (parent.end.saturating_sub(1), empty_sep),
            };
            Ok(Edit {
                start: pos,
                end: pos,
                text: format!(
                    "{sep}{}: {}",
                    scalar_text(&Value::String(key.to_owned()), true),
                    flow_value(value)
                ),
            })
        }
        (Kind::Seq(items), Style::Flow) if key == "-" || key == items.len().to_string() => {
            let (pos, sep) = match items.last() {
                Some(v) => (v.end.max(v.start), ", "),
                None => (parent.end.saturating_sub(1), empty_sep),
            };
            Ok(Edit {
                start: pos,
                end: pos,
                text: format!("{sep}{}", flow_value(value)),
            })
        }
        (Kind::Map(entries), Style::Block) => {
            let Some((first_key, _)) = entries.first() else {
                return Err(format!("{path}: an empty block mapping"));
            };
            let last_end = entries
                .last()
                .map_or(parent.end, |(_, v)| v.end.max(v.start));
            let (pos, lead) = after_line(file, last_end);
            let mut text = lead.to_owned();
            let mut entry = serde_json::Map::new();
            entry.insert(key.to_owned(), value.clone());
            render_block(&Value::Object(entry), first_key.col, step, &mut text);
            Ok(Edit {
                start: pos,
                end: pos,
                text,
            })
        }
        (Kind::Seq(items), Style::Block) if key == "-" || key == items.len().to_string() => {
            let Some(last) = items.last() else {
                return Err(format!("{path}: an empty block sequence"));
            };
            let line_start = file[..last.start].rfind('\n').map_or(0, |i| i + 1);
            let dash = file[line_start..last.start]
                .rfind('-')
                .ok_or_else(|| format!("{path}: cannot find the sequence's `-`"))?;
            let (pos, lead) = after_line(file, last.end.max(last.start));
            let mut text = lead.to_owned();
            render_block(&Value::Array(vec![value.clone()]), dash, step, &mut text);
            Ok(Edit {
                start: pos,
                end: pos,
                text,
            })
        }
        _ => Err(format!("{path}: cannot insert here")),
    }
}

fn flow_value(v: &Value) -> String {
    match v {
        Value::Object(_) | Value::Array(_) => flow_json(v),
        other => scalar_text(other, true),
    }
}

/// The position after the line holding `pos` (and the newline to write first when that
/// line is the file's last and has none).
fn after_line(file: &str, pos: usize) -> (usize, &'static str) {
    match file[pos..].find('\n') {
        Some(i) => (pos + i + 1, ""),
        None => (file.len(), "\n"),
    }
}

/// Removes a block mapping's entry when it fills whole lines.
fn remove(file: &str, parent: &Node, key: &str, path: &str) -> Result<Edit, String> {
    let cannot = || format!("{path}: this removal cannot be written back");
    if parent.style != Style::Block {
        return Err(cannot());
    }
    let (k, v) = parent.entry(key).ok_or_else(cannot)?;
    let line_start = file[..k.start].rfind('\n').map_or(0, |i| i + 1);
    if !file[line_start..k.start].trim().is_empty() {
        return Err(cannot());
    }
    let (end, _) = after_line(file, v.end.max(v.start));
    Ok(Edit {
        start: line_start,
        end,
        text: String::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::yaml::parse_stream;
    use serde_json::json;

    fn fix(text: &str, patch: Value) -> String {
        let docs = parse_stream(text);
        let root = docs[0].as_ref().unwrap().root.as_ref().unwrap();
        let edits = edits_for(text, root, patch.as_array().unwrap()).unwrap();
        apply(text, &edits)
    }

    #[test]
    fn a_key_is_inserted_at_its_mapping_indentation() {
        let text = "a:\n    b: 1  # one\n    # next is c\nc: 2\n";
        let out = fix(
            text,
            json!([{"op": "add", "path": "/a/x", "value": {"key": "z"}}]),
        );
        assert_eq!(
            out,
            "a:\n    b: 1  # one\n    x:\n        key: z\n    # next is c\nc: 2\n"
        );
    }

    #[test]
    fn scalars_keep_their_style() {
        let text = "a: 'x'\nb: \"y\"\nc: |\n  one\n  two\nd: >-\n  long\n";
        let out = fix(
            text,
            json!([
                {"op": "replace", "path": "/a", "value": "it's"},
                {"op": "replace", "path": "/b", "value": "q\""},
                {"op": "replace", "path": "/c", "value": "one\nthree\n"},
                {"op": "replace", "path": "/d", "value": "https://x/"},
            ]),
        );
        assert_eq!(
            out,
            "a: 'it''s'\nb: \"q\\\"\"\nc: |\n  one\n  three\nd: >-\n  https://x/\n"
        );
    }

    #[test]
    fn flow_mappings_stay_flow() {
        let text = "labels: {a: b}\nempty: {}\n";
        let out = fix(
            text,
            json!([
                {"op": "add", "path": "/labels/namespace", "value": "ns"},
                {"op": "add", "path": "/empty/k", "value": true},
            ]),
        );
        assert_eq!(out, "labels: {a: b, namespace: ns}\nempty: {k: true}\n");
    }
}
