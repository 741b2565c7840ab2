//! A parser of Go's `text/template` action grammar, as Prometheus uses it (delimiters
//! `{{` and `}}`) for alert labels and annotations.
//!
//! Written from the language's rules, with no dependency beyond std:
//!
//! - text and actions: an action runs from `{{` to the next `}}` that is not inside a
//!   string, raw string or character constant; `{{- ` and ` -}}` (a space, tab, CR or LF
//!   next to the `-`) are trim markers, not a minus sign; `{{/* … */}}` is a comment (the
//!   `/*` right after the delimiter or its trim marker). The text between actions, and
//!   so what trimming takes from it, is not kept: it cannot refer to anything;
//! - inside an action: strings `"…"` with Go escapes, raw strings `` `…` ``, character
//!   constants `'…'`, numbers, `true`/`false`, `nil`, `.`, fields `.Name`, variables `$`,
//!   `$name`, chains `$x.A.B`, `(pipeline).A`, function identifiers, `|`, `:=`, `=`, `,`;
//! - keywords: `if else end range with define block template break continue` (`and`,
//!   `or`, `not` are functions);
//! - the checks Go's parser makes: every control closed by `{{end}}`, `{{else}}`,
//!   `{{else if}}` where they belong (`{{else with}}` is Go 1.23's, newer than
//!   Prometheus 2.42's Go, which refuses it), `{{break}}`/`{{continue}}` only in
//!   `{{range}}`, `{{define}}` only at the top level, variables declared before use
//!   (scoped to the control structure that declares them; `{{define}}` and `{{block}}`
//!   bodies start afresh), no empty pipelines or commands, literals not executed as later
//!   pipeline stages, string and number literals well formed.
//!
//! Whether a function exists is not decided here: [`Template::functions`] lists every
//! identifier called, for the caller to judge against the functions it knows.
//!
//! Work is bounded: at most [`MAX_TEMPLATE_BYTES`] of input, [`MAX_NESTING`] levels of
//! control structures and parentheses, linear in the input otherwise. Malformed input is
//! a [`ParseError`] with the byte offset where Go's parser would stop, never a panic.

use std::fmt;

pub mod prometheus;

/// Longest template parsed; a label or annotation longer than this is refused.
pub const MAX_TEMPLATE_BYTES: usize = 64 * 1024;

/// Deepest nesting of control structures and parentheses.
pub const MAX_NESTING: usize = 64;

/// Why a template does not parse, and where (a byte offset into the template).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    pub offset: usize,
    pub message: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at byte {}", self.message, self.offset)
    }
}

/// One parsed template: its main body, the bodies of its `{{define}}`/`{{block}}`s, and
/// every function and variable/field reference in text order.
#[derive(Debug, Clone, PartialEq)]
pub struct Template {
    pub body: Vec<Node>,
    pub defines: Vec<Define>,
    pub functions: Vec<Name>,
    pub references: Vec<Reference>,
}

/// An identifier and where it stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Name {
    pub name: String,
    pub offset: usize,
}

/// A use of a variable (`$value`, `$labels.namespace`, `$`) or of the cursor (`.`,
/// `.Value`, `.Labels.x`), written as in the template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    pub kind: ReferenceKind,
    pub text: String,
    pub offset: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReferenceKind {
    Variable,
    Field,
}

/// `{{define "name"}}body{{end}}`, or the body of `{{block "name" pipeline}}`.
#[derive(Debug, Clone, PartialEq)]
pub struct Define {
    pub name: String,
    pub offset: usize,
    pub body: Vec<Node>,
    /// Go's `IsEmptyTree`: no action and no text but white space. An empty definition
    /// may be defined again; two that are not are an error.
    pub empty: bool,
}

/// What a template does (text between actions is not kept: it cannot refer to anything).
#[derive(Debug, Clone, PartialEq)]
pub enum Node {
    /// `{{pipeline}}`: prints the pipeline's value, unless it declares variables.
    Action(Pipeline),
    If(Control),
    With(Control),
    Range(Control),
    /// `{{template "name" pipeline}}` (also the call half of `{{block}}`).
    Template {
        name: String,
        offset: usize,
        pipe: Option<Pipeline>,
    },
    Break(usize),
    Continue(usize),
}

/// `{{if|with|range pipeline}}then{{else}}otherwise{{end}}`; `else if` is an
/// `otherwise` holding one `If`.
#[derive(Debug, Clone, PartialEq)]
pub struct Control {
    pub pipe: Pipeline,
    pub then: Vec<Node>,
    pub otherwise: Vec<Node>,
}

/// `$x := cmd | cmd`; `decl` is empty when nothing is declared.
#[derive(Debug, Clone, PartialEq)]
pub struct Pipeline {
    pub offset: usize,
    pub decl: Vec<Name>,
    /// `=` (assignment to existing variables) rather than `:=`.
    pub assign: bool,
    pub commands: Vec<Command>,
}

/// Operands separated by spaces: a function and its arguments, or one value.
#[derive(Debug, Clone, PartialEq)]
pub struct Command {
    pub offset: usize,
    pub args: Vec<Operand>,
}

/// A term and the fields read from it: `.Labels.x` is `Dot` with `["Labels", "x"]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Operand {
    pub offset: usize,
    pub term: Term,
    pub fields: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Term {
    /// The cursor, `.`.
    Dot,
    /// `$`, `$name`.
    Variable(String),
    /// A function name.
    Function(String),
    /// `( pipeline )`.
    Pipe(Box<Pipeline>),
    Bool(bool),
    Number(String),
    /// A string or raw string, unquoted.
    String(String),
    Nil,
}

/// Parses `text` as the body of a template named `name` in which `predeclared`
/// variables (besides `$`) are already declared, as Prometheus declares `$labels`,
/// `$externalLabels`, `$externalURL` and `$value` before an alert's template, which it
/// names `__alert_<alert name>`. (Those declarations make the template itself never
/// empty, so a non-empty `{{define}}` of its own name is a second definition.)
pub fn parse(text: &str, predeclared: &[&str], name: &str) -> Result<Template, ParseError> {
    if text.len() > MAX_TEMPLATE_BYTES {
        return Err(ParseError {
            offset: MAX_TEMPLATE_BYTES,
            message: format!(
                "the template is {} bytes long; the limit is {MAX_TEMPLATE_BYTES}",
                text.len()
            ),
        });
    }
    let tokens = lex(text)?;
    let mut vars = vec!["$".to_owned()];
    vars.extend(predeclared.iter().map(|v| (*v).to_owned()));
    let mut parser = Parser {
        src: text,
        tokens,
        at: 0,
        vars,
        range_depth: 0,
        depth: 0,
        text_seen: false,
        defines: Vec::new(),
        functions: Vec::new(),
        references: Vec::new(),
    };
    let body = parser.top_level()?;
    if let Some(define) = parser.defines.iter().find(|d| d.name == name && !d.empty) {
        return error(define.offset, multiple_definition(name));
    }
    Ok(Template {
        body,
        defines: parser.defines,
        functions: parser.functions,
        references: parser.references,
    })
}

// ---------------------------------------------------------------------------------------
// Lexer

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Text,
    LeftDelim,
    RightDelim,
    Space,
    Declare,
    Assign,
    Pipe,
    LeftParen,
    RightParen,
    /// Any other printable ASCII character (`,` among them).
    Char,
    String,
    RawString,
    CharConstant,
    Number,
    Complex,
    Bool,
    Nil,
    Dot,
    Field,
    Variable,
    Identifier,
    Block,
    Break,
    Continue,
    Define,
    Else,
    End,
    If,
    Range,
    Template,
    With,
    Eof,
}

#[derive(Debug, Clone, Copy)]
struct Token {
    kind: Kind,
    start: usize,
    end: usize,
}

/// Go's message for a second definition of a template.
fn multiple_definition(name: &str) -> String {
    format!("template: multiple definition of template {name:?}")
}

fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

/// A character of a name (field, variable, function). Go takes any Unicode letter or
/// decimal digit, by the tables of the Go that built Prometheus (2.42's knows neither
/// `x²` nor letters newer than Unicode 13); the policy takes ASCII only, and says so
/// (see `bad_character`): label names, all a field can usefully name, are ASCII.
fn is_alphanumeric(c: char) -> bool {
    c == '_' || c.is_ascii_alphanumeric()
}

/// `-` followed by a space: `{{- `.
fn has_left_trim_marker(rest: &[u8]) -> bool {
    matches!(rest, [b'-', space, ..] if is_space(*space))
}

/// A space followed by `-`: ` -}}`.
fn has_right_trim_marker(rest: &[u8]) -> bool {
    matches!(rest, [space, b'-', ..] if is_space(*space))
}

fn error<T>(offset: usize, message: impl Into<String>) -> Result<T, ParseError> {
    Err(ParseError {
        offset,
        message: message.into(),
    })
}

struct Lexer<'s> {
    src: &'s str,
    bytes: &'s [u8],
    pos: usize,
    tokens: Vec<Token>,
}

impl<'s> Lexer<'s> {
    /// The input from `at` on (empty past its end).
    fn rest(&self, at: usize) -> &'s [u8] {
        self.bytes.get(at..).unwrap_or_default()
    }

    fn push(&mut self, kind: Kind, start: usize, end: usize) {
        self.tokens.push(Token { kind, start, end });
    }

    fn peek_char(&self) -> Option<char> {
        self.src
            .get(self.pos..)
            .and_then(|rest| rest.chars().next())
    }

    /// `(delimiter here, with trim marker)`.
    fn at_right_delim(&self, pos: usize) -> (bool, bool) {
        let rest = self.bytes.get(pos..).unwrap_or_default();
        if has_right_trim_marker(rest) && rest.get(2..).is_some_and(|r| r.starts_with(b"}}")) {
            return (true, true);
        }
        (rest.starts_with(b"}}"), false)
    }

    /// After an identifier, field or variable: a space, `.`, `,`, `|`, `:`, `(`, `)`,
    /// the end of input or the right delimiter.
    fn at_terminator(&self) -> bool {
        match self.bytes.get(self.pos) {
            None => true,
            Some(&b) if is_space(b) => true,
            Some(b'.' | b',' | b'|' | b':' | b')' | b'(') => true,
            Some(_) => self.rest(self.pos).starts_with(b"}}"),
        }
    }

    fn skip_alphanumeric(&mut self) {
        while let Some(c) = self.peek_char() {
            if !is_alphanumeric(c) {
                break;
            }
            self.pos += c.len_utf8();
        }
    }

    fn bad_character(&self) -> ParseError {
        let message = match self.peek_char() {
            Some(c) if !c.is_ascii() && c.is_alphanumeric() => format!(
                "the name holds {c:?}, which is not ASCII: which such characters are letters or digits depends on the Unicode tables of the Go that built Prometheus (Prometheus 2.42 refuses `x²`, for one); label names are ASCII, so write the name in ASCII"
            ),
            Some(c) => format!("bad character {c:?}"),
            None => "bad character".to_owned(),
        };
        ParseError {
            offset: self.pos,
            message,
        }
    }

    /// Text between actions is one token, as written: the parser only asks whether it is
    /// all white space (trim markers take only white space, so they cannot change that).
    fn run(mut self) -> Result<Vec<Token>, ParseError> {
        let len = self.bytes.len();
        loop {
            // (A text token may be empty: it is white space to the parser.)
            let Some(found) = self.src[self.pos..].find("{{") else {
                self.push(Kind::Text, self.pos, len);
                self.push(Kind::Eof, len, len);
                return Ok(self.tokens);
            };
            let delim = self.pos + found;
            self.push(Kind::Text, self.pos, delim);
            let after = delim + 2;
            let inside = if has_left_trim_marker(self.rest(after)) {
                after + 2
            } else {
                after
            };
            if self.rest(inside).starts_with(b"/*") {
                self.pos = self.comment(delim, inside + 2)?;
                continue;
            }
            self.push(Kind::LeftDelim, delim, after);
            self.pos = inside;
            self.action()?;
        }
    }

    /// Skips a comment whose `/*` ends at `body`; returns where the text resumes.
    fn comment(&self, delim: usize, body: usize) -> Result<usize, ParseError> {
        let Some(close) = self.src[body..].find("*/") else {
            return error(delim, "unclosed comment");
        };
        let end = body + close + 2;
        match self.at_right_delim(end) {
            // Past ` -}}` or `}}`.
            (true, trim) => Ok(end + if trim { 4 } else { 2 }),
            (false, _) => error(delim, "comment ends before closing delimiter"),
        }
    }

    /// Lexes one action, from after `{{` (and its trim marker) past `}}`.
    fn action(&mut self) -> Result<(), ParseError> {
        let mut parens: usize = 0;
        loop {
            let (at_delim, trim) = self.at_right_delim(self.pos);
            if at_delim {
                if parens > 0 {
                    return error(self.pos, "unclosed left paren");
                }
                if trim {
                    self.pos += 2;
                }
                self.push(Kind::RightDelim, self.pos, self.pos + 2);
                self.pos += 2;
                return Ok(());
            }
            let start = self.pos;
            let Some(c) = self.peek_char() else {
                return error(start, "unclosed action");
            };
            self.pos += c.len_utf8();
            match c {
                ' ' | '\t' | '\r' | '\n' => {
                    while self.bytes.get(self.pos).copied().is_some_and(is_space) {
                        self.pos += 1;
                    }
                    // ` -}}`: the last space belongs to the trim marker, and the parser
                    // skips the space before `}}`, so no space token.
                    let last = self.pos - 1;
                    if has_right_trim_marker(self.rest(last))
                        && self.rest(last + 2).starts_with(b"}}")
                    {
                        self.pos = last;
                        continue;
                    }
                    self.push(Kind::Space, start, self.pos);
                }
                '=' => self.push(Kind::Assign, start, self.pos),
                ':' => {
                    if self.bytes.get(self.pos) != Some(&b'=') {
                        return error(start, "expected :=");
                    }
                    self.pos += 1;
                    self.push(Kind::Declare, start, self.pos);
                }
                '|' => self.push(Kind::Pipe, start, self.pos),
                '"' => {
                    self.quoted(start, '"', "unterminated quoted string")?;
                    self.push(Kind::String, start, self.pos);
                }
                '\'' => {
                    self.quoted(start, '\'', "unterminated character constant")?;
                    self.push(Kind::CharConstant, start, self.pos);
                }
                '`' => {
                    let Some(close) = self.src[self.pos..].find('`') else {
                        return error(start, "unterminated raw quoted string");
                    };
                    self.pos += close + 1;
                    self.push(Kind::RawString, start, self.pos);
                }
                '$' => {
                    if !self.at_terminator() {
                        self.skip_alphanumeric();
                        if !self.at_terminator() {
                            return Err(self.bad_character());
                        }
                    }
                    self.push(Kind::Variable, start, self.pos);
                }
                '.' if !self.bytes.get(self.pos).is_some_and(u8::is_ascii_digit) => {
                    if self.at_terminator() {
                        self.push(Kind::Dot, start, self.pos);
                    } else {
                        self.skip_alphanumeric();
                        if !self.at_terminator() {
                            return Err(self.bad_character());
                        }
                        self.push(Kind::Field, start, self.pos);
                    }
                }
                '.' | '+' | '-' | '0'..='9' => {
                    self.pos = start;
                    let kind = self.number(start)?;
                    self.push(kind, start, self.pos);
                }
                '(' => {
                    parens += 1;
                    if parens > MAX_NESTING {
                        return error(start, format!("more than {MAX_NESTING} nested parentheses"));
                    }
                    self.push(Kind::LeftParen, start, self.pos);
                }
                ')' => {
                    let Some(fewer) = parens.checked_sub(1) else {
                        return error(start, "unexpected right paren");
                    };
                    parens = fewer;
                    self.push(Kind::RightParen, start, self.pos);
                }
                c if is_alphanumeric(c) => {
                    self.skip_alphanumeric();
                    if !self.at_terminator() {
                        return Err(self.bad_character());
                    }
                    let kind = match &self.src[start..self.pos] {
                        "block" => Kind::Block,
                        "break" => Kind::Break,
                        "continue" => Kind::Continue,
                        "define" => Kind::Define,
                        "else" => Kind::Else,
                        "end" => Kind::End,
                        "if" => Kind::If,
                        "range" => Kind::Range,
                        "nil" => Kind::Nil,
                        "template" => Kind::Template,
                        "with" => Kind::With,
                        "true" | "false" => Kind::Bool,
                        _ => Kind::Identifier,
                    };
                    self.push(kind, start, self.pos);
                }
                c if c.is_ascii() && !c.is_ascii_control() => {
                    self.push(Kind::Char, start, self.pos)
                }
                c => {
                    return error(
                        start,
                        format!("unrecognized character in action: U+{:04X}", c as u32),
                    )
                }
            }
        }
    }

    /// Scans to the closing `quote`; a backslash escapes the next character, and neither
    /// may be a newline or the end of input.
    fn quoted(&mut self, start: usize, quote: char, unterminated: &str) -> Result<(), ParseError> {
        loop {
            let Some(c) = self.peek_char() else {
                return error(start, unterminated);
            };
            self.pos += c.len_utf8();
            match c {
                '\\' => match self.peek_char() {
                    None | Some('\n') => return error(start, unterminated),
                    Some(escaped) => self.pos += escaped.len_utf8(),
                },
                '\n' => return error(start, unterminated),
                c if c == quote => return Ok(()),
                _ => {}
            }
        }
    }

    fn accept(&mut self, valid: &[u8]) -> bool {
        match self.bytes.get(self.pos) {
            Some(b) if valid.contains(b) => {
                self.pos += 1;
                true
            }
            _ => false,
        }
    }

    fn accept_run(&mut self, valid: &[u8]) {
        while self.accept(valid) {}
    }

    /// One number: sign, `0x`/`0o`/`0b` prefix, digits with `_`, fraction, exponent
    /// (`e` for decimal, `p` for hexadecimal), imaginary `i`; not followed by a letter.
    fn scan_number(&mut self) -> bool {
        self.accept(b"+-");
        let mut digits: &[u8] = b"0123456789_";
        let mut decimal = true;
        let mut hex = false;
        if self.accept(b"0") {
            if self.accept(b"xX") {
                digits = b"0123456789abcdefABCDEF_";
                decimal = false;
                hex = true;
            } else if self.accept(b"oO") {
                digits = b"01234567_";
                decimal = false;
            } else if self.accept(b"bB") {
                digits = b"01_";
                decimal = false;
            }
        }
        self.accept_run(digits);
        if self.accept(b".") {
            self.accept_run(digits);
        }
        if decimal && self.accept(b"eE") {
            self.accept(b"+-");
            self.accept_run(b"0123456789_");
        }
        if hex && self.accept(b"pP") {
            self.accept(b"+-");
            self.accept_run(b"0123456789_");
        }
        self.accept(b"i");
        match self.peek_char() {
            Some(c) if is_alphanumeric(c) => {
                self.pos += c.len_utf8();
                false
            }
            _ => true,
        }
    }

    fn number(&mut self, start: usize) -> Result<Kind, ParseError> {
        let bad = |lexer: &Self| {
            let end = lexer.pos.min(lexer.src.len());
            let text = lexer.src.get(start..end).unwrap_or_default();
            error(start, format!("bad number syntax: {text:?}"))
        };
        if !self.scan_number() {
            return bad(&*self);
        }
        if matches!(self.bytes.get(self.pos), Some(b'+' | b'-')) {
            if !self.scan_number() || self.bytes.get(self.pos - 1) != Some(&b'i') {
                return bad(&*self);
            }
            return Ok(Kind::Complex);
        }
        Ok(Kind::Number)
    }
}

fn lex(text: &str) -> Result<Vec<Token>, ParseError> {
    Lexer {
        src: text,
        bytes: text.as_bytes(),
        pos: 0,
        tokens: Vec::new(),
    }
    .run()
}

// ---------------------------------------------------------------------------------------
// Parser

/// What ended a list of nodes.
enum Ending {
    End,
    /// `{{else}}`; `chained` when `if`/`with` follows in the same action.
    Else {
        offset: usize,
        chained: bool,
    },
}

enum Parsed {
    Node(Node),
    Text,
    Ending(Ending),
}

struct Parser<'s> {
    src: &'s str,
    tokens: Vec<Token>,
    at: usize,
    vars: Vec<String>,
    range_depth: usize,
    depth: usize,
    /// Text that is not all white space was met in the list being parsed.
    text_seen: bool,
    defines: Vec<Define>,
    functions: Vec<Name>,
    references: Vec<Reference>,
}

impl Parser<'_> {
    fn token(&self, index: usize) -> Token {
        // The lexer always ends with `Eof`; past it, keep answering `Eof`.
        self.tokens
            .get(index)
            .or(self.tokens.last())
            .copied()
            .unwrap_or(Token {
                kind: Kind::Eof,
                start: self.src.len(),
                end: self.src.len(),
            })
    }

    fn peek(&self) -> Token {
        self.token(self.at)
    }

    fn next(&mut self) -> Token {
        let token = self.peek();
        if token.kind != Kind::Eof {
            self.at += 1;
        }
        token
    }

    fn skip_spaces(&mut self) {
        while self.peek().kind == Kind::Space {
            self.at += 1;
        }
    }

    fn peek_non_space(&mut self) -> Token {
        self.skip_spaces();
        self.peek()
    }

    fn next_non_space(&mut self) -> Token {
        self.skip_spaces();
        self.next()
    }

    fn text(&self, token: Token) -> &str {
        self.src.get(token.start..token.end).unwrap_or_default()
    }

    /// A token as Go's parser names it in a message. (Never the end of input: the lexer
    /// ends every action with `}}`, and the end of input is met only between actions,
    /// where running out has messages of its own.)
    fn describe(&self, token: Token) -> String {
        match token.kind {
            Kind::Block
            | Kind::Break
            | Kind::Continue
            | Kind::Define
            | Kind::Else
            | Kind::End
            | Kind::If
            | Kind::Range
            | Kind::Template
            | Kind::With
            | Kind::Nil
            | Kind::Dot => format!("<{}>", self.text(token)),
            _ => {
                let text = self.text(token);
                match text.char_indices().nth(10) {
                    Some((cut, _)) => format!("{:?}...", &text[..cut]),
                    None => format!("{text:?}"),
                }
            }
        }
    }

    fn unexpected<T>(&self, token: Token, context: &str) -> Result<T, ParseError> {
        error(
            token.start,
            format!("unexpected {} in {context}", self.describe(token)),
        )
    }

    fn expect(&mut self, kind: Kind, context: &str) -> Result<Token, ParseError> {
        let token = self.next_non_space();
        if token.kind != kind {
            return self.unexpected(token, context);
        }
        Ok(token)
    }

    fn enter(&mut self, offset: usize) -> Result<(), ParseError> {
        self.depth += 1;
        if self.depth > MAX_NESTING {
            return error(
                offset,
                format!("more than {MAX_NESTING} nested control structures"),
            );
        }
        Ok(())
    }

    fn top_level(&mut self) -> Result<Vec<Node>, ParseError> {
        let mut body = Vec::new();
        loop {
            let token = self.peek();
            match token.kind {
                Kind::Eof => return Ok(body),
                Kind::LeftDelim => {
                    let save = self.at;
                    self.next();
                    if self.next_non_space().kind == Kind::Define {
                        self.definition(token.start)?;
                        continue;
                    }
                    self.at = save;
                }
                _ => {}
            }
            match self.text_or_action()? {
                Parsed::Node(node) => body.push(node),
                Parsed::Text => {}
                Parsed::Ending(Ending::End) => return error(token.start, "unexpected {{end}}"),
                Parsed::Ending(Ending::Else { offset, .. }) => {
                    return error(offset, "unexpected {{else}}")
                }
            }
        }
    }

    /// `{{define "name"}}body{{end}}`, after `define`: a body of its own, whose only
    /// variable is `$`.
    fn definition(&mut self, offset: usize) -> Result<(), ParseError> {
        const CONTEXT: &str = "define clause";
        let name = self.next_non_space();
        let name = self.template_name(name, CONTEXT)?;
        self.expect(Kind::RightDelim, CONTEXT)?;
        let (body, empty) = self.fresh_body(offset, CONTEXT)?;
        self.define(Define {
            name,
            offset,
            body,
            empty,
        })
    }

    /// Go's `Tree.add`: a name defined with a body that is not empty may not be defined
    /// again with another such body (an empty one on either side is fine).
    fn define(&mut self, define: Define) -> Result<(), ParseError> {
        if !define.empty
            && self
                .defines
                .iter()
                .any(|d| d.name == define.name && !d.empty)
        {
            return error(define.offset, multiple_definition(&define.name));
        }
        self.defines.push(define);
        Ok(())
    }

    /// A body with only `$` declared, outside any `range`, ended by `{{end}}`; and
    /// whether it is empty (no action, no text but white space).
    fn fresh_body(
        &mut self,
        offset: usize,
        context: &str,
    ) -> Result<(Vec<Node>, bool), ParseError> {
        let vars = std::mem::replace(&mut self.vars, vec!["$".to_owned()]);
        let range_depth = std::mem::replace(&mut self.range_depth, 0);
        let text_seen = std::mem::replace(&mut self.text_seen, false);
        self.enter(offset)?;
        let result = self.item_list();
        self.depth -= 1;
        self.vars = vars;
        self.range_depth = range_depth;
        let body_text = std::mem::replace(&mut self.text_seen, text_seen);
        match result? {
            (body, Ending::End) => {
                let empty = body.is_empty() && !body_text;
                Ok((body, empty))
            }
            (_, Ending::Else { offset, .. }) => {
                error(offset, format!("unexpected {{{{else}}}} in {context}"))
            }
        }
    }

    fn template_name(&self, token: Token, context: &str) -> Result<String, ParseError> {
        match token.kind {
            Kind::String | Kind::RawString => self.string_value(token),
            _ => self.unexpected(token, context),
        }
    }

    /// Nodes up to `{{end}}` or `{{else}}`.
    fn item_list(&mut self) -> Result<(Vec<Node>, Ending), ParseError> {
        let mut list = Vec::new();
        loop {
            let token = self.peek_non_space();
            if token.kind == Kind::Eof {
                return error(token.start, "unexpected EOF");
            }
            match self.text_or_action()? {
                Parsed::Node(node) => list.push(node),
                Parsed::Text => {}
                Parsed::Ending(ending) => return Ok((list, ending)),
            }
        }
    }

    fn text_or_action(&mut self) -> Result<Parsed, ParseError> {
        let token = self.next_non_space();
        match token.kind {
            Kind::Text => {
                // Go's `bytes.TrimSpace` and Rust's `trim` agree: Unicode White_Space.
                self.text_seen |= !self.text(token).trim().is_empty();
                Ok(Parsed::Text)
            }
            Kind::LeftDelim => self.action(),
            _ => self.unexpected(token, "input"),
        }
    }

    /// After `{{`: a control structure, an ending, or a pipeline to print.
    fn action(&mut self) -> Result<Parsed, ParseError> {
        let token = self.next_non_space();
        let node = match token.kind {
            Kind::Block => self.block(token.start)?,
            Kind::Break | Kind::Continue => {
                let word = self.text(token).to_owned();
                let after = self.next_non_space();
                if after.kind != Kind::RightDelim {
                    return self.unexpected(after, &format!("{{{{{word}}}}}"));
                }
                if self.range_depth == 0 {
                    return error(token.start, format!("{{{{{word}}}}} outside {{{{range}}}}"));
                }
                if token.kind == Kind::Break {
                    Node::Break(token.start)
                } else {
                    Node::Continue(token.start)
                }
            }
            Kind::Else => {
                let after = self.peek_non_space();
                // Only `if` chains: `{{else with}}` came with Go 1.23, and Prometheus
                // 2.42's Go refuses it ("unexpected <with> in else").
                if after.kind == Kind::If {
                    return Ok(Parsed::Ending(Ending::Else {
                        offset: token.start,
                        chained: true,
                    }));
                }
                self.expect(Kind::RightDelim, "else")?;
                return Ok(Parsed::Ending(Ending::Else {
                    offset: token.start,
                    chained: false,
                }));
            }
            Kind::End => {
                self.expect(Kind::RightDelim, "end")?;
                return Ok(Parsed::Ending(Ending::End));
            }
            Kind::If => Node::If(self.control("if", token.start)?),
            Kind::With => Node::With(self.control("with", token.start)?),
            Kind::Range => Node::Range(self.control("range", token.start)?),
            Kind::Template => self.template_call()?,
            _ => {
                self.at -= 1;
                Node::Action(self.pipeline("command", Kind::RightDelim)?)
            }
        };
        Ok(Parsed::Node(node))
    }

    /// `{{block "name" pipeline}}body{{end}}`: defines `name` and calls it.
    fn block(&mut self, offset: usize) -> Result<Node, ParseError> {
        const CONTEXT: &str = "block clause";
        let token = self.next_non_space();
        let name = self.template_name(token, CONTEXT)?;
        let pipe = self.pipeline(CONTEXT, Kind::RightDelim)?;
        let (body, empty) = self.fresh_body(offset, CONTEXT)?;
        self.define(Define {
            name: name.clone(),
            offset,
            body,
            empty,
        })?;
        Ok(Node::Template {
            name,
            offset,
            pipe: Some(pipe),
        })
    }

    fn template_call(&mut self) -> Result<Node, ParseError> {
        const CONTEXT: &str = "template clause";
        let token = self.next_non_space();
        let name = self.template_name(token, CONTEXT)?;
        let pipe = if self.next_non_space().kind == Kind::RightDelim {
            None
        } else {
            self.at -= 1;
            Some(self.pipeline(CONTEXT, Kind::RightDelim)?)
        };
        Ok(Node::Template {
            name,
            offset: token.start,
            pipe,
        })
    }

    /// `if`, `with` or `range`, after the keyword. Variables declared in it end with it.
    fn control(&mut self, context: &str, offset: usize) -> Result<Control, ParseError> {
        self.enter(offset)?;
        let vars = self.vars.len();
        let result = self.control_body(context);
        self.vars.truncate(vars);
        self.depth -= 1;
        result
    }

    fn control_body(&mut self, context: &str) -> Result<Control, ParseError> {
        let pipe = self.pipeline(context, Kind::RightDelim)?;
        let in_range = context == "range";
        if in_range {
            self.range_depth += 1;
        }
        let listed = self.item_list();
        if in_range {
            self.range_depth -= 1;
        }
        let (then, ending) = listed?;
        let otherwise = match ending {
            Ending::End => Vec::new(),
            Ending::Else { chained: true, .. } => {
                // `{{else if …}}`: only after `if`.
                let keyword = self.next_non_space();
                match context {
                    "if" => vec![Node::If(self.control("if", keyword.start)?)],
                    _ => return self.unexpected(keyword, "input"),
                }
            }
            Ending::Else { .. } => match self.item_list()? {
                (otherwise, Ending::End) => otherwise,
                (_, Ending::Else { offset, .. }) => {
                    return error(offset, "expected end; found {{else}}")
                }
            },
        };
        Ok(Control {
            pipe,
            then,
            otherwise,
        })
    }

    /// `[decl] command [| command]…` up to `end` (`}}` or `)`).
    fn pipeline(&mut self, context: &str, end: Kind) -> Result<Pipeline, ParseError> {
        let offset = self.peek_non_space().start;
        let mut pipe = Pipeline {
            offset,
            decl: Vec::new(),
            assign: false,
            commands: Vec::new(),
        };
        self.declarations(context, &mut pipe)?;
        loop {
            let token = self.next_non_space();
            if token.kind == end {
                return self.check_pipeline(pipe, context, token.start);
            }
            match token.kind {
                Kind::Bool
                | Kind::CharConstant
                | Kind::Complex
                | Kind::Dot
                | Kind::Field
                | Kind::Identifier
                | Kind::Number
                | Kind::Nil
                | Kind::RawString
                | Kind::String
                | Kind::Variable
                | Kind::LeftParen => {
                    self.at -= 1;
                    let command = self.command()?;
                    pipe.commands.push(command);
                }
                _ => return self.unexpected(token, context),
            }
        }
    }

    /// `$x :=`, `$x =`, and in `range` `$i, $e :=`.
    fn declarations(&mut self, context: &str, pipe: &mut Pipeline) -> Result<(), ParseError> {
        loop {
            let variable = self.peek_non_space();
            if variable.kind != Kind::Variable {
                return Ok(());
            }
            let save = self.at;
            self.next();
            let after = self.peek_non_space();
            let name = Name {
                name: self.text(variable).to_owned(),
                offset: variable.start,
            };
            match after.kind {
                Kind::Declare | Kind::Assign => {
                    self.next();
                    pipe.assign = after.kind == Kind::Assign;
                    self.vars.push(name.name.clone());
                    pipe.decl.push(name);
                    return Ok(());
                }
                Kind::Char if self.text(after) == "," => {
                    self.next();
                    self.vars.push(name.name.clone());
                    pipe.decl.push(name);
                    if context == "range" && pipe.decl.len() < 2 {
                        let following = self.peek_non_space();
                        if matches!(
                            following.kind,
                            Kind::Variable | Kind::RightDelim | Kind::RightParen
                        ) {
                            continue;
                        }
                        return error(following.start, "range can only initialize variables");
                    }
                    return error(after.start, format!("too many declarations in {context}"));
                }
                _ => {
                    self.at = save;
                    return Ok(());
                }
            }
        }
    }

    fn check_pipeline(
        &self,
        pipe: Pipeline,
        context: &str,
        end: usize,
    ) -> Result<Pipeline, ParseError> {
        if pipe.commands.is_empty() {
            return error(end, format!("missing value for {context}"));
        }
        for (stage, command) in pipe.commands.iter().enumerate().skip(1) {
            if let Some(first) = command.args.first() {
                if matches!(
                    first.term,
                    Term::Bool(_) | Term::Dot | Term::Nil | Term::Number(_) | Term::String(_)
                ) && first.fields.is_empty()
                {
                    return error(
                        command.offset,
                        format!("non executable command in pipeline stage {}", stage + 1),
                    );
                }
            }
        }
        Ok(pipe)
    }

    /// Operands separated by spaces, up to `|`, `}}` or `)`.
    fn command(&mut self) -> Result<Command, ParseError> {
        let offset = self.peek_non_space().start;
        let mut command = Command {
            offset,
            args: Vec::new(),
        };
        loop {
            self.skip_spaces();
            if let Some(operand) = self.operand()? {
                command.args.push(operand);
            }
            let token = self.next();
            match token.kind {
                Kind::Space => continue,
                Kind::RightDelim | Kind::RightParen => self.at -= 1,
                Kind::Pipe => {}
                _ => return self.unexpected(token, "operand"),
            }
            break;
        }
        if command.args.is_empty() {
            return error(offset, "empty command");
        }
        Ok(command)
    }

    /// A term and the fields chained to it, or `None` when the next token is no term.
    fn operand(&mut self) -> Result<Option<Operand>, ParseError> {
        let start = self.peek().start;
        let Some(term) = self.term()? else {
            return Ok(None);
        };
        let mut fields = Vec::new();
        // `.A.B` arrives as `.A` then `.B`.
        if let Term::Dot = term {
            if let Some(first) = self.previous_field() {
                fields.push(first);
            }
        }
        while self.peek().kind == Kind::Field {
            let token = self.next();
            if matches!(
                term,
                Term::Bool(_) | Term::Number(_) | Term::String(_) | Term::Nil
            ) || (matches!(term, Term::Dot) && fields.is_empty())
            {
                return error(token.start, "unexpected . after term");
            }
            fields.push(self.text(token)[1..].to_owned());
        }
        let operand = Operand {
            offset: start,
            term,
            fields,
        };
        self.record_reference(&operand);
        Ok(Some(operand))
    }

    /// When the term just read was a field token (`.Name`), its name.
    fn previous_field(&self) -> Option<String> {
        let token = self.token(self.at.checked_sub(1)?);
        (token.kind == Kind::Field).then(|| self.text(token)[1..].to_owned())
    }

    fn record_reference(&mut self, operand: &Operand) {
        let (kind, base) = match &operand.term {
            Term::Dot => (ReferenceKind::Field, String::new()),
            Term::Variable(name) => (ReferenceKind::Variable, name.clone()),
            _ => return,
        };
        let mut text = base;
        for field in &operand.fields {
            text.push('.');
            text.push_str(field);
        }
        if text.is_empty() {
            text.push('.');
        }
        self.references.push(Reference {
            kind,
            text,
            offset: operand.offset,
        });
    }

    fn term(&mut self) -> Result<Option<Term>, ParseError> {
        let token = self.next_non_space();
        let term = match token.kind {
            Kind::Identifier => {
                let name = self.text(token).to_owned();
                self.functions.push(Name {
                    name: name.clone(),
                    offset: token.start,
                });
                Term::Function(name)
            }
            Kind::Dot | Kind::Field => Term::Dot,
            Kind::Nil => Term::Nil,
            Kind::Variable => {
                let name = self.text(token).to_owned();
                if !self.vars.contains(&name) {
                    return error(token.start, format!("undefined variable {name:?}"));
                }
                Term::Variable(name)
            }
            Kind::Bool => Term::Bool(self.text(token) == "true"),
            Kind::Number | Kind::Complex => {
                let text = self.text(token);
                if !number_is_valid(text, token.kind == Kind::Complex) {
                    return error(token.start, format!("illegal number syntax: {text:?}"));
                }
                Term::Number(text.to_owned())
            }
            Kind::CharConstant => {
                let text = self.text(token);
                match char_constant(text) {
                    Some(value) => Term::Number((value as u32).to_string()),
                    None => {
                        return error(token.start, format!("malformed character constant: {text}"))
                    }
                }
            }
            Kind::LeftParen => {
                self.enter(token.start)?;
                let pipe = self.pipeline("parenthesized pipeline", Kind::RightParen);
                self.depth -= 1;
                Term::Pipe(Box::new(pipe?))
            }
            Kind::String | Kind::RawString => Term::String(self.string_value(token)?),
            _ => {
                self.at -= 1;
                return Ok(None);
            }
        };
        Ok(Some(term))
    }

    fn string_value(&self, token: Token) -> Result<String, ParseError> {
        let text = self.text(token);
        if token.kind == Kind::RawString {
            let inner = text
                .get(1..text.len().saturating_sub(1))
                .unwrap_or_default();
            // Go drops carriage returns from raw strings.
            return Ok(inner.replace('\r', ""));
        }
        unquote(text).ok_or(ParseError {
            offset: token.start,
            message: format!("invalid syntax in string literal {text}"),
        })
    }
}

/// Whether Go's text/template takes the number its lexer scanned, as `parse.newNumber`
/// decides: an imaginary `…i` whose rest is a float, a complex `a±bi` of two floats, an
/// integer `strconv.ParseUint` or `ParseInt` (base 0) reads, or a finite float
/// `ParseFloat` reads. A float-looking integer too large for 64 bits (`08`,
/// `99999999999999999999`) is refused too, as Go refuses it ("integer overflow").
fn number_is_valid(text: &str, complex: bool) -> bool {
    if complex {
        // `a±bi`: the sign that starts the imaginary part is the last one not in an
        // exponent.
        let bytes = text.as_bytes();
        let split = (1..bytes.len()).rev().find(|&i| {
            matches!(bytes.get(i), Some(b'+' | b'-'))
                && !matches!(bytes.get(i - 1), Some(b'e' | b'E' | b'p' | b'P'))
        });
        return match (split, text.strip_suffix('i')) {
            (Some(split), Some(without_i)) => {
                float_is_valid(&text[..split]) && float_is_valid(&without_i[split..])
            }
            _ => false,
        };
    }
    if let Some(imaginary) = text.strip_suffix('i') {
        if float_is_valid(imaginary) {
            return true;
        }
    }
    if int_is_valid(text) {
        return true;
    }
    float_is_valid(text) && text.contains(['.', 'e', 'E', 'p', 'P'])
}

/// Go's `underscoreOK`: every `_` stands between two digits (a base prefix counts as
/// a digit before it).
fn underscores_are_separators(text: &str) -> bool {
    let body = text.strip_prefix(['+', '-']).unwrap_or(text);
    let (prefixed, hex, rest) = match body.as_bytes() {
        [b'0', b'x' | b'X', ..] => (true, true, &body[2..]),
        [b'0', b'b' | b'B' | b'o' | b'O', ..] => (true, false, &body[2..]),
        _ => (false, false, body),
    };
    // What came last: 'd' a digit (or the prefix), '_' an underscore, '^' the start,
    // '!' anything else.
    let mut last = if prefixed { 'd' } else { '^' };
    for b in rest.bytes() {
        if b.is_ascii_digit() || (hex && b.is_ascii_hexdigit()) {
            last = 'd';
        } else if b == b'_' {
            if last != 'd' {
                return false;
            }
            last = '_';
        } else if last == '_' {
            return false;
        } else {
            last = '!';
        }
    }
    last != '_'
}

/// `strconv.ParseUint(text, 0, 64)` or `strconv.ParseInt(text, 0, 64)` succeeds.
fn int_is_valid(text: &str) -> bool {
    let unsigned = text.strip_prefix(['+', '-']).unwrap_or(text);
    let (radix, digits) = match unsigned.as_bytes() {
        [b'0', b'x' | b'X', _, ..] => (16, &unsigned[2..]),
        [b'0', b'o' | b'O', _, ..] => (8, &unsigned[2..]),
        [b'0', b'b' | b'B', _, ..] => (2, &unsigned[2..]),
        [b'0', ..] => (8, &unsigned[1..]),
        [] => return false,
        _ => (10, unsigned),
    };
    let mut value: u64 = 0;
    for b in digits.bytes() {
        if b == b'_' {
            continue;
        }
        let Some(digit) = (b as char).to_digit(radix) else {
            return false;
        };
        let Some(next) = value
            .checked_mul(u64::from(radix))
            .and_then(|v| v.checked_add(u64::from(digit)))
        else {
            return false;
        };
        value = next;
    }
    // ParseInt bounds a signed value; ParseUint takes an unsigned one up to u64::MAX.
    let fits = match text.as_bytes().first() {
        Some(b'-') => value <= 1 << 63,
        Some(b'+') => value < 1 << 63,
        _ => true,
    };
    fits && underscores_are_separators(text)
}

/// `strconv.ParseFloat(text, 64)` succeeds: Go's decimal or hexadecimal (with a `p`
/// exponent) float syntax, and a finite value.
fn float_is_valid(text: &str) -> bool {
    if !underscores_are_separators(text) {
        return false;
    }
    let plain: String = text.chars().filter(|&c| c != '_').collect();
    let unsigned = plain.strip_prefix(['+', '-']).unwrap_or(&plain);
    if !unsigned.starts_with(|c: char| c.is_ascii_digit() || c == '.') {
        return false;
    }
    if let Some(hex) = unsigned
        .strip_prefix("0x")
        .or_else(|| unsigned.strip_prefix("0X"))
    {
        return hex_float_is_valid(hex);
    }
    // Rust's decimal syntax is Go's here: digits with an optional `.`, at least one
    // digit, an optional exponent with at least one digit. Out of range is infinite.
    let decimal = unsigned
        .bytes()
        .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'+' | b'-'));
    decimal && unsigned.parse::<f64>().is_ok_and(f64::is_finite)
}

/// The part of a hexadecimal float after `0x`: hex digits with an optional `.`, at
/// least one digit, then a required `p` exponent; finite.
fn hex_float_is_valid(hex: &str) -> bool {
    let Some((mantissa, exponent)) = hex.split_once(['p', 'P']) else {
        return false;
    };
    let (whole, fraction) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let digits = || whole.chars().chain(fraction.chars());
    if digits().next().is_none() || !digits().all(|c| c.is_ascii_hexdigit()) {
        return false;
    }
    let exponent_digits = exponent.strip_prefix(['+', '-']).unwrap_or(exponent);
    if exponent_digits.is_empty() || !exponent_digits.bytes().all(|b| b.is_ascii_digit()) {
        return false;
    }
    let Ok(exponent) = exponent.parse::<i64>() else {
        // Thousands of digits of exponent: only a zero mantissa stays finite.
        return digits().all(|c| c == '0') || exponent.starts_with('-');
    };
    // The value is M * 2^scale, M the digits as one integer. It is finite unless,
    // rounded to 53 significant bits, it reaches 2^1024.
    let bits: Vec<bool> = digits()
        .flat_map(|c| {
            let d = c.to_digit(16).unwrap_or(0);
            [d & 8 != 0, d & 4 != 0, d & 2 != 0, d & 1 != 0]
        })
        .skip_while(|bit| !bit)
        .collect();
    let scale = i128::from(exponent) - 4 * fraction.len() as i128;
    // M * 2^scale lies in [2^(top - 1), 2^top).
    let top = bits.len() as i128 + scale;
    if bits.is_empty() || top < 1024 {
        return true;
    }
    // Just below 2^1024: it rounds up to 2^1024 when its first 53 bits are all ones and
    // the next is one too (at exactly half, ties go to even, and all ones is odd).
    top == 1024 && !(bits.len() > 53 && bits.iter().take(54).all(|bit| *bit))
}

/// The value of a Go interpreted string literal `"…"`, or `None` when an escape is bad.
fn unquote(text: &str) -> Option<String> {
    let inner = text.strip_prefix('"')?.strip_suffix('"')?;
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        match c {
            '"' | '\n' => return None,
            '\\' => out.push(escape(&mut chars, '"')?),
            c => out.push(c),
        }
    }
    Some(out)
}

/// A character constant `'x'`, `'\n'`, `'\''`.
fn char_constant(text: &str) -> Option<char> {
    let inner = text.strip_prefix('\'')?.strip_suffix('\'')?;
    let mut chars = inner.chars();
    let value = match chars.next()? {
        '\\' => escape(&mut chars, '\'')?,
        '\'' | '\n' => return None,
        c => c,
    };
    chars.next().is_none().then_some(value)
}

/// One escape after its backslash. Byte escapes (`\x`, octal) above 0x7f stand for a
/// byte, not a character; they are kept as the replacement character, which is enough
/// for telling functions and references apart.
fn escape(chars: &mut std::str::Chars, quote: char) -> Option<char> {
    let c = chars.next()?;
    let digits = |chars: &mut std::str::Chars, count: usize, radix: u32| -> Option<u32> {
        let mut value: u32 = 0;
        for _ in 0..count {
            value = value.checked_mul(radix)? + chars.next()?.to_digit(radix)?;
        }
        Some(value)
    };
    let byte_or_char = |value: u32| {
        if value < 0x80 {
            char::from_u32(value)
        } else {
            Some(char::REPLACEMENT_CHARACTER)
        }
    };
    match c {
        'a' => Some('\u{7}'),
        'b' => Some('\u{8}'),
        'f' => Some('\u{c}'),
        'n' => Some('\n'),
        'r' => Some('\r'),
        't' => Some('\t'),
        'v' => Some('\u{b}'),
        '\\' => Some('\\'),
        c if c == quote => Some(c),
        'x' => byte_or_char(digits(chars, 2, 16)?),
        'u' => char::from_u32(digits(chars, 4, 16)?),
        'U' => char::from_u32(digits(chars, 8, 16)?),
        '0'..='7' => {
            let rest = digits(chars, 2, 8)?;
            let value = c.to_digit(8)? * 64 + rest;
            (value <= 255).then_some(())?;
            byte_or_char(value)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PROMETHEUS: &[&str] = &["$labels", "$externalLabels", "$externalURL", "$value"];

    fn ok(text: &str) -> Template {
        parse(text, PROMETHEUS, "__alert_A").unwrap_or_else(|e| panic!("{text:?}: {e}"))
    }

    fn err(text: &str) -> ParseError {
        match parse(text, PROMETHEUS, "__alert_A") {
            Ok(t) => panic!("{text:?} parsed: {t:?}"),
            Err(e) => e,
        }
    }

    fn functions(text: &str) -> Vec<(String, usize)> {
        ok(text)
            .functions
            .into_iter()
            .map(|n| (n.name, n.offset))
            .collect()
    }

    fn references(text: &str) -> Vec<String> {
        ok(text).references.into_iter().map(|r| r.text).collect()
    }

    #[test]
    fn plain_text_has_nothing() {
        for text in ["", "a }} b", "no template", "}}", "{ {", "$value"] {
            let t = ok(text);
            assert!(t.body.is_empty() && t.functions.is_empty(), "{text:?}");
        }
    }

    #[test]
    fn a_closing_delimiter_inside_a_string_does_not_end_the_action() {
        assert_eq!(
            functions(r#"{{ print "}}" $value }}"#),
            [("print".to_owned(), 3)]
        );
        assert_eq!(references(r#"{{ print "}}" $value }}"#), ["$value"]);
        assert_eq!(functions("{{ print `}}` }}"), [("print".to_owned(), 3)]);
        assert_eq!(
            functions(r#"{{ print '}' "a\"}}" }}x"#),
            [("print".to_owned(), 3)]
        );
    }

    #[test]
    fn the_bug_report_query_is_found_with_its_offset() {
        let text = r#"{{ with query "secret_metric{namespace=\"user2-test\"}" }}{{ range . }}{{ .Labels.token }}={{ .Value }}{{ end }}{{ end }}"#;
        assert_eq!(functions(text), [("query".to_owned(), 8)]);
        assert_eq!(references(text), [".", ".Labels.token", ".Value"]);
    }

    #[test]
    fn pipelines_variables_fields_and_parentheses() {
        assert_eq!(
            functions(r#"{{ with query "x" }}{{ . | first | value }}{{ end }}"#)
                .into_iter()
                .map(|(n, _)| n)
                .collect::<Vec<_>>(),
            ["query", "first", "value"]
        );
        assert_eq!(
            references("{{ $labels.namespace }} {{ $.Labels.x }} {{ .Labels.a.b }} {{ $ }}"),
            ["$labels.namespace", "$.Labels.x", ".Labels.a.b", "$"]
        );
        assert_eq!(
            functions(r#"{{ printf "%s" (toUpper (humanize $value)) }}"#)
                .into_iter()
                .map(|(n, _)| n)
                .collect::<Vec<_>>(),
            ["printf", "toUpper", "humanize"]
        );
        assert_eq!(references("{{ (index $labels \"a\").b }}"), ["$labels"]);
        let t = ok("{{ $x := .Value }}{{ $x }}{{ $x = 3 }}");
        assert_eq!(t.body.len(), 3);
        assert!(matches!(&t.body[2], Node::Action(p) if p.assign));
    }

    #[test]
    fn trim_markers_and_comments() {
        assert_eq!(
            functions("a {{- humanize $value -}} b"),
            [("humanize".to_owned(), 6)]
        );
        assert!(ok("{{/* a }} comment */}}").body.is_empty());
        assert!(ok("{{- /* trimmed */ -}}").body.is_empty());
        assert_eq!(functions("{{-3}}"), []);
        assert!(matches!(ok("{{-3}}").body[0], Node::Action(_)));
        assert_eq!(functions("{{ len $labels\n}}"), [("len".to_owned(), 3)]);
        assert_eq!(err("{{/* open").message, "unclosed comment");
        assert_eq!(
            err("{{/* x */ 3}}").message,
            "comment ends before closing delimiter"
        );
    }

    #[test]
    fn control_structures_nest_and_scope_variables() {
        let t = ok(
            "{{ if $value }}a{{ else if $labels }}b{{ else }}c{{ end }}{{ range $i, $e := $labels }}{{ $i }}{{ break }}{{ end }}",
        );
        assert_eq!(t.body.len(), 2);
        let Node::If(c) = &t.body[0] else {
            panic!("{t:?}")
        };
        assert!(matches!(c.otherwise[0], Node::If(_)));
        ok("{{ with $x := 1 }}{{ $x }}{{ else }}{{ . }}{{ end }}");
        assert_eq!(
            err("{{ with 1 }}{{ else with 2 }}{{ . }}{{ end }}").message,
            "unexpected <with> in else"
        );
        ok(r#"{{ define "x" }}{{ . }}{{ end }}{{ template "x" $labels }}"#);
        ok(r#"{{ block "x" $labels }}{{ .a }}{{ end }}"#);
        assert_eq!(
            err("{{ if 1 }}{{ $x := 2 }}{{ end }}{{ $x }}").message,
            "undefined variable \"$x\""
        );
        assert_eq!(
            err(r#"{{ define "x" }}{{ $value }}{{ end }}"#).message,
            "undefined variable \"$value\""
        );
    }

    #[test]
    fn a_parse_error_reads_as_its_message_and_offset() {
        // The checks quote it in their messages.
        let error = parse("{{ $value ", &[], "t").unwrap_err();
        assert_eq!(error.to_string(), "unclosed action at byte 10");
    }

    #[test]
    fn malformed_templates_are_located_errors() {
        for (text, offset, message) in [
            ("{{ $value ", 10, "unclosed action"),
            ("a {{ if 1 }}", 12, "unexpected EOF"),
            ("{{ end }}", 0, "unexpected {{end}}"),
            ("{{ else }}", 3, "unexpected {{else}}"),
            ("{{ }}", 3, "missing value for command"),
            ("{{ if }}{{ end }}", 6, "missing value for if"),
            ("{{ $nope }}", 3, "undefined variable \"$nope\""),
            ("{{ \"a }}", 3, "unterminated quoted string"),
            ("{{ `a }}", 3, "unterminated raw quoted string"),
            // A newline ends neither a string nor a character constant: unterminated.
            ("{{ \"a\nb\" }}", 3, "unterminated quoted string"),
            ("{{ 'a\n' }}", 3, "unterminated character constant"),
            ("{{ ( 1 }}", 7, "unclosed left paren"),
            ("{{ 1 ) }}", 5, "unexpected right paren"),
            ("{{ break }}", 3, "{{break}} outside {{range}}"),
            (
                "{{ $value | 3 }}",
                12,
                "non executable command in pipeline stage 2",
            ),
            (
                "{{ \"\\q\" }}",
                3,
                "invalid syntax in string literal \"\\q\"",
            ),
            ("{{ 3x }}", 3, "bad number syntax: \"3x\""),
            // Only a comma continues a declaration (Go's message, as promtool prints it).
            ("{{ $value % 2 }}", 10, "unexpected \"%\" in operand"),
            // A complex number must end in `i`.
            ("{{ 1+2 }}", 3, "bad number syntax: \"1+2\""),
            ("{{ a+ }}", 4, "bad character '+'"),
            (
                "{{ if 1 }}{{ else }}{{ else }}{{ end }}",
                23,
                "expected end; found {{else}}",
            ),
            (
                "{{ range 1 }}{{ else if 1 }}{{ end }}",
                21,
                "unexpected <if> in input",
            ),
            (
                "{{ if 1 }}{{ define \"x\" }}{{ end }}{{ end }}",
                13,
                "unexpected <define> in command",
            ),
            ("{{ \"a\".b }}", 6, "unexpected . after term"),
            ("{{ $a, $b := 1 }}", 5, "too many declarations in command"),
            ("{{ 'ab' }}", 3, "malformed character constant: 'ab'"),
            (
                "{{ \u{2603} }}",
                3,
                "unrecognized character in action: U+2603",
            ),
        ] {
            let e = err(text);
            assert_eq!(
                (e.offset, e.message.as_str()),
                (offset, message),
                "{text:?}"
            );
        }
    }

    /// Go's own verdicts (promtool's, with Prometheus's functions and variables) on the
    /// seeds of `scripts/template-verdicts` and their one-character near misses;
    /// tests/it/promtool_oracle.rs checks the file against promtool itself.
    #[test]
    fn every_template_loads_exactly_when_prometheus_loads_it() {
        use crate::prometheus::{is_known_function, PROMETHEUS_VARIABLES};
        let corpus = include_str!("../../../tests/fixtures/templates/verdicts.jsonl");
        let mut disagreements = Vec::new();
        let (mut count, mut stricter) = (0, 0);
        for line in corpus.lines() {
            let entry: serde_json::Value = serde_json::from_str(line).unwrap();
            let text = entry["template"].as_str().unwrap();
            let prometheus_loads = entry["loads"].as_bool().unwrap();
            // The corpus's alert is `A` (scripts/template-verdicts).
            let we_load = parse(text, PROMETHEUS_VARIABLES, "__alert_A")
                .map(|t| t.functions.iter().all(|f| is_known_function(&f.name)));
            let we_load_it = we_load.as_ref().is_ok_and(|known| *known);
            // Stricter on purpose, never laxer: names in ASCII only, and the nesting
            // bound (Go has none; ours keeps the policy's stack bounded).
            let stricter_on_purpose = prometheus_loads
                && we_load.as_ref().is_err_and(|e| {
                    e.message.contains("which is not ASCII") || e.message.contains(" nested ")
                });
            if stricter_on_purpose {
                stricter += 1;
            } else if we_load_it != prometheus_loads {
                disagreements.push(format!(
                    "{text:?}: Prometheus loads it: {prometheus_loads}; we: {we_load:?}"
                ));
            }
            count += 1;
        }
        assert!(
            stricter > 0 && stricter < 50,
            "{stricter} refused on purpose"
        );
        assert!(count > 5000, "{count} templates");
        assert!(
            disagreements.is_empty(),
            "{} of {count} disagree:\n{}",
            disagreements.len(),
            disagreements
                .iter()
                .take(30)
                .cloned()
                .collect::<Vec<_>>()
                .join("\n")
        );
    }

    #[test]
    fn the_right_delimiter_is_located_after_its_trim_marker() {
        for (text, offset) in [("{{ define }}", 10), ("{{ define -}}", 11)] {
            assert_eq!(
                err(text),
                ParseError {
                    offset,
                    message: "unexpected \"}}\" in define clause".to_owned()
                },
                "{text:?}"
            );
        }
    }

    #[test]
    fn text_resumes_right_after_a_comment_never_inside_it() {
        // A `{{` inside the comment is the comment's, with or without a trim marker.
        assert!(ok("{{/*{{*/ -}}").body.is_empty());
        assert!(ok("{{/*{{*/}}").body.is_empty());
        assert_eq!(
            functions("{{/*{{*/ -}}{{ len $labels }}"),
            [("len".to_owned(), 15)]
        );
    }

    #[test]
    fn control_structures_nest_up_to_the_bound_and_only_nesting_counts() {
        let nested = |n: usize| format!("{}{}", "{{ if 1 }}".repeat(n), "{{ end }}".repeat(n));
        ok(&nested(MAX_NESTING));
        assert_eq!(
            err(&nested(MAX_NESTING + 1)),
            ParseError {
                offset: 3 + 10 * MAX_NESTING,
                message: format!("more than {MAX_NESTING} nested control structures"),
            }
        );
        // One after another, each leaves the depth as it found it.
        ok(&"{{ if 1 }}{{ end }}".repeat(MAX_NESTING + 1));
        ok(&"{{ (1) }}".repeat(MAX_NESTING + 1));
        ok(&"{{ range 1 }}{{ end }}".repeat(MAX_NESTING + 1));
        let defines: String = (0..=MAX_NESTING)
            .map(|i| format!("{{{{ define \"d{i}\" }}}}{{{{ end }}}}"))
            .collect();
        ok(&defines);
    }

    #[test]
    fn break_and_continue_belong_to_the_range_around_them_only() {
        let t = ok("{{ range 1 }}{{ break }}{{ continue }}{{ end }}");
        let Node::Range(range) = &t.body[0] else {
            panic!("{t:?}")
        };
        assert_eq!(range.then, [Node::Break(16), Node::Continue(27)]);
        assert_eq!(
            err("{{ range 1 }}{{ end }}{{ break }}").message,
            "{{break}} outside {{range}}"
        );
        assert_eq!(
            err("{{ range 1 }}{{ range 2 }}{{ end }}{{ end }}{{ continue }}").message,
            "{{continue}} outside {{range}}"
        );
    }

    #[test]
    fn a_template_is_defined_once_unless_a_definition_is_empty() {
        let twice = r#"{{ define "x" }}a{{ end }}{{ define "x" }}b{{ end }}"#;
        assert_eq!(
            err(twice),
            ParseError {
                offset: 26,
                message: "template: multiple definition of template \"x\"".to_owned()
            }
        );
        let block = r#"{{ define "x" }}a{{ end }}{{ block "x" . }}b{{ end }}"#;
        assert!(err(block).message.contains("multiple definition"));
        // An empty body (white space, comments) may be defined over, or define over.
        ok("{{ define \"x\" }}a{{ end }}{{ define \"x\" }} \u{a0}\n{{ end }}");
        ok(r#"{{ define "x" }}{{/* c */}}{{ end }}{{ define "x" }}b{{ end }}"#);
        // U+200B is no white space to Go (nor to Rust's `trim`).
        assert!(
            err("{{ define \"x\" }}a{{ end }}{{ define \"x\" }}\u{200b}{{ end }}")
                .message
                .contains("multiple definition")
        );
        // Prometheus's own template for alert `A` is `__alert_A`, and never empty.
        assert_eq!(
            err(r#"{{ define "__alert_A" }}x{{ end }}"#).message,
            "template: multiple definition of template \"__alert_A\""
        );
        ok(r#"{{ define "__alert_A" }} {{ end }}{{ define "__alert_B" }}x{{ end }}"#);
    }

    #[test]
    fn literals_keep_their_values() {
        let t = ok(
            r#"{{ true }}{{ false }}{{ 'a' }}{{ `r` }}{{ '\x41' }}{{ "\x41\101\u00e9\U00000041" }}{{ "\a\b\f\n\r\t\v\\\"\x80" }}"#,
        );
        let terms: Vec<&Term> = t
            .body
            .iter()
            .map(|node| match node {
                Node::Action(pipe) => &pipe.commands[0].args[0].term,
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(
            terms,
            [
                &Term::Bool(true),
                &Term::Bool(false),
                &Term::Number("97".to_owned()),
                &Term::String("r".to_owned()),
                &Term::Number("65".to_owned()),
                &Term::String("AAéA".to_owned()),
                // A byte past ASCII stands alone in Go's string; here it is U+FFFD.
                &Term::String("\u{7}\u{8}\u{c}\n\r\t\u{b}\\\"\u{fffd}".to_owned()),
            ]
        );
    }

    #[test]
    fn names_are_ascii() {
        assert_eq!(err("{{ .a\u{2603} }}").message, "bad character '\u{2603}'");
        for text in ["{{ .x² }}", "{{ $labels.é }}", "{{ $ñ := 1 }}"] {
            let e = err(text);
            assert!(e.message.starts_with("the name holds"), "{text}: {e:?}");
            assert!(e.message.contains("which is not ASCII"), "{text}: {e:?}");
        }
        assert_eq!(err("{{ .a+ }}").message, "bad character '+'");
    }

    #[test]
    fn parentheses_nest_up_to_the_bound() {
        let nested = |n: usize| format!("{{{{ {}1{} }}}}", "(".repeat(n), ")".repeat(n));
        ok(&nested(MAX_NESTING));
        assert_eq!(
            err(&nested(MAX_NESTING + 1)),
            ParseError {
                offset: 3 + MAX_NESTING,
                message: format!("more than {MAX_NESTING} nested parentheses"),
            }
        );
    }

    #[test]
    fn work_is_bounded() {
        let deep = format!("{{{{ {}1{} }}}}", "(".repeat(200), ")".repeat(200));
        assert!(err(&deep).message.contains("nested parentheses"));
        let deep_ifs = format!("{}{}", "{{ if 1 }}".repeat(100), "{{ end }}".repeat(100));
        assert!(err(&deep_ifs).message.contains("nested control structures"));
        let long = "a".repeat(MAX_TEMPLATE_BYTES + 1);
        assert_eq!(
            err(&long),
            ParseError {
                offset: MAX_TEMPLATE_BYTES,
                message: format!(
                    "the template is {} bytes long; the limit is {MAX_TEMPLATE_BYTES}",
                    MAX_TEMPLATE_BYTES + 1
                ),
            }
        );
        // At the limit: parsed.
        assert!(ok(&"a".repeat(MAX_TEMPLATE_BYTES)).body.is_empty());
        // Near the limit, linear work.
        let many = "{{ $value }}".repeat(MAX_TEMPLATE_BYTES / 12);
        assert_eq!(ok(&many).references.len(), MAX_TEMPLATE_BYTES / 12);
    }

    #[test]
    fn any_byte_string_is_an_answer_not_a_panic() {
        // A small exhaustive walk over short strings of the interesting characters.
        let alphabet: Vec<char> = "{}-/* \"'`$.()|:=,x1\\\n".chars().collect();
        let mut text = String::new();
        fn go(alphabet: &[char], text: &mut String, left: usize) {
            let _ = parse(text, PROMETHEUS, "__alert_A");
            if left == 0 {
                return;
            }
            for &c in alphabet {
                text.push(c);
                go(alphabet, text, left - 1);
                text.pop();
            }
        }
        go(&alphabet, &mut text, 4);
        for prefix in ["{{", "{{- ", "{{ if 1 }}{{"] {
            let mut text = prefix.to_owned();
            go(&alphabet, &mut text, 3);
        }
    }
}
