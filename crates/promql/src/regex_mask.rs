//! Regex matchers are never run by this policy, so they are not compiled either: before
//! parsing, each `=~`/`!~` on a label other than the namespace label and `__name__` is
//! masked to `= `/`!=` (same length, so every span stays valid), and its value is
//! checked as Go's RE2 (Prometheus) judges it: `regex-syntax`'s AST parser alone (no
//! translation, so no Unicode case-folding cost), plus the rules where Go is stricter.

use std::borrow::Cow;

use promql_parser::parser::token;
use promql_parser::parser::Expr;

use super::align::{selectors, Item};
use super::bounds::ParseRefusal;
use super::lex::Token;

/// `text` with every regex matcher masked (see the module comment): `=~` becomes `= `
/// and `!~` becomes `!=`, so the parser compiles nothing and every byte offset stays.
pub(super) fn mask_regex_matchers<'t>(text: &'t str, tokens: &[Token]) -> Cow<'t, str> {
    let mut masked: Option<Vec<u8>> = None;
    for op in tokens {
        let replacement: &[u8] = match op.id {
            token::T_EQL_REGEX => b"= ",
            token::T_NEQ_REGEX => b"!=",
            _ => continue,
        };
        let bytes = masked.get_or_insert_with(|| text.as_bytes().to_vec());
        if let Some(operator) = bytes.get_mut(op.start..op.end) {
            // Both operators are two bytes, as their replacements.
            if operator.len() == replacement.len() {
                operator.copy_from_slice(replacement);
            }
        }
    }
    match masked {
        // Only ASCII bytes were swapped for ASCII bytes.
        Some(bytes) => Cow::Owned(String::from_utf8(bytes).unwrap_or_else(|_| text.to_owned())),
        None => Cow::Borrowed(text),
    }
}

/// Every masked regex is valid as promql-parser reads one (anchored, and as in Go a `{`
/// that starts no repetition is a literal), judged on its syntax alone. Matchers on the
/// namespace label are skipped: scoping replaces or refuses them whatever they hold.
pub(super) fn check_masked_regexes(
    text: &str,
    tree: &Expr,
    aligned: Option<&[((usize, usize), Item)]>,
    label: &str,
) -> Result<(), ParseRefusal> {
    let Some(aligned) = aligned else {
        return Err(ParseRefusal::Syntax(
            "its regex matchers could not be matched to the parsed selectors".to_owned(),
        ));
    };
    let Some(selectors) = selectors(tree) else {
        return Ok(());
    };
    for ((s, m), item) in aligned {
        let regex = item
            .op
            .is_some_and(|op| matches!(op.id, token::T_EQL_REGEX | token::T_NEQ_REGEX));
        let Some(matcher) = selectors
            .get(*s)
            .and_then(|vs| vs.matchers.matchers.get(*m))
        else {
            continue;
        };
        if regex && matcher.name != label {
            if let Err(why) = regex_syntax_check(&matcher.value) {
                return Err(ParseRefusal::Syntax(format!(
                    "matcher {} is not a valid regular expression: {why}",
                    &text[item.start..item.end]
                )));
            }
        }
    }
    Ok(())
}

/// Whether `value` is a regular expression Prometheus accepts (Go's `regexp/syntax`
/// with Perl flags), by its syntax alone: `regex-syntax`'s AST parser (linear, no
/// Unicode tables, no case folding), then [`go_rules`] where Go is stricter than Rust.
/// As in Go, a `{` that starts no repetition is a literal, and `\0`-`\7` are octal.
pub fn regex_syntax_check(value: &str) -> Result<(), String> {
    let parse = |re: &str| {
        regex_syntax::ast::parse::ParserBuilder::new()
            .octal(true)
            .build()
            .parse(re)
            .map_err(|e| e.kind().to_string())
    };
    let escaped;
    let (source, ast) = match parse(value) {
        Ok(ast) => (value, ast),
        Err(first) => {
            escaped = literal_braces(value);
            (escaped.as_str(), parse(&escaped).map_err(|_| first)?)
        }
    };
    go_rules(source, &ast)?;
    if go_size(&ast) > GO_MAX_SIZE {
        return Err(format!(
            "expression too large: Go compiles it to more than {GO_MAX_SIZE} instructions"
        ));
    }
    Ok(())
}

/// Go's `maxRepeat`: the largest count in `x{n,m}`, and of nested counts multiplied.
const GO_MAX_REPEAT: u32 = 1000;
/// Go's `maxSize`: 128 MiB of 40-byte instructions.
const GO_MAX_SIZE: u64 = (128 << 20) / 40;

/// Go's general categories, as `\pL` or `\p{Lu}` (exact spelling: older Go matches names
/// exactly, newer Go also loosely; the exact name is valid in both).
const GO_CATEGORIES: [&str; 37] = [
    "C", "Cc", "Cf", "Co", "Cs", "L", "Ll", "Lm", "Lo", "Lt", "Lu", "M", "Mc", "Me", "Mn", "N",
    "Nd", "Nl", "No", "P", "Pc", "Pd", "Pe", "Pf", "Pi", "Po", "Ps", "S", "Sc", "Sk", "Sm", "So",
    "Z", "Zl", "Zp", "Zs", "Any",
];

/// Go's Unicode script names, sorted: package unicode of Go 1.19, which built Prometheus
/// 2.42 (Unicode 13; the seven scripts Unicode 14 and 15 added are refused by it).
const GO_SCRIPTS: [&str; 156] = [
    "Adlam",
    "Ahom",
    "Anatolian_Hieroglyphs",
    "Arabic",
    "Armenian",
    "Avestan",
    "Balinese",
    "Bamum",
    "Bassa_Vah",
    "Batak",
    "Bengali",
    "Bhaiksuki",
    "Bopomofo",
    "Brahmi",
    "Braille",
    "Buginese",
    "Buhid",
    "Canadian_Aboriginal",
    "Carian",
    "Caucasian_Albanian",
    "Chakma",
    "Cham",
    "Cherokee",
    "Chorasmian",
    "Common",
    "Coptic",
    "Cuneiform",
    "Cypriot",
    "Cyrillic",
    "Deseret",
    "Devanagari",
    "Dives_Akuru",
    "Dogra",
    "Duployan",
    "Egyptian_Hieroglyphs",
    "Elbasan",
    "Elymaic",
    "Ethiopic",
    "Georgian",
    "Glagolitic",
    "Gothic",
    "Grantha",
    "Greek",
    "Gujarati",
    "Gunjala_Gondi",
    "Gurmukhi",
    "Han",
    "Hangul",
    "Hanifi_Rohingya",
    "Hanunoo",
    "Hatran",
    "Hebrew",
    "Hiragana",
    "Imperial_Aramaic",
    "Inherited",
    "Inscriptional_Pahlavi",
    "Inscriptional_Parthian",
    "Javanese",
    "Kaithi",
    "Kannada",
    "Katakana",
    "Kayah_Li",
    "Kharoshthi",
    "Khitan_Small_Script",
    "Khmer",
    "Khojki",
    "Khudawadi",
    "Lao",
    "Latin",
    "Lepcha",
    "Limbu",
    "Linear_A",
    "Linear_B",
    "Lisu",
    "Lycian",
    "Lydian",
    "Mahajani",
    "Makasar",
    "Malayalam",
    "Mandaic",
    "Manichaean",
    "Marchen",
    "Masaram_Gondi",
    "Medefaidrin",
    "Meetei_Mayek",
    "Mende_Kikakui",
    "Meroitic_Cursive",
    "Meroitic_Hieroglyphs",
    "Miao",
    "Modi",
    "Mongolian",
    "Mro",
    "Multani",
    "Myanmar",
    "Nabataean",
    "Nandinagari",
    "New_Tai_Lue",
    "Newa",
    "Nko",
    "Nushu",
    "Nyiakeng_Puachue_Hmong",
    "Ogham",
    "Ol_Chiki",
    "Old_Hungarian",
    "Old_Italic",
    "Old_North_Arabian",
    "Old_Permic",
    "Old_Persian",
    "Old_Sogdian",
    "Old_South_Arabian",
    "Old_Turkic",
    "Oriya",
    "Osage",
    "Osmanya",
    "Pahawh_Hmong",
    "Palmyrene",
    "Pau_Cin_Hau",
    "Phags_Pa",
    "Phoenician",
    "Psalter_Pahlavi",
    "Rejang",
    "Runic",
    "Samaritan",
    "Saurashtra",
    "Sharada",
    "Shavian",
    "Siddham",
    "SignWriting",
    "Sinhala",
    "Sogdian",
    "Sora_Sompeng",
    "Soyombo",
    "Sundanese",
    "Syloti_Nagri",
    "Syriac",
    "Tagalog",
    "Tagbanwa",
    "Tai_Le",
    "Tai_Tham",
    "Tai_Viet",
    "Takri",
    "Tamil",
    "Tangut",
    "Telugu",
    "Thaana",
    "Thai",
    "Tibetan",
    "Tifinagh",
    "Tirhuta",
    "Ugaritic",
    "Vai",
    "Wancho",
    "Warang_Citi",
    "Yezidi",
    "Yi",
    "Zanabazar_Square",
];

/// Go's rules where they are stricter than `regex-syntax`'s (from Go's
/// `regexp/syntax/parse.go`): no repetition operator applied directly to another
/// (`a**`, `a*+`, `a+?+`, `a{2}*`; `(a*)*` is fine), counts up to 1000 and nested `{}`
/// counts multiplying to at most 1000, only the flags `i m s U`, capture names of
/// `[A-Za-z0-9_]`, no `\u`/`\U` escapes, no single-digit `\1`-`\7` (a backreference),
/// and Unicode classes named as Go's tables name them. `source` is what `ast` spans.
fn go_rules(source: &str, ast: &regex_syntax::ast::Ast) -> Result<(), String> {
    use regex_syntax::ast::{
        Ast, ClassSet, ClassSetItem, ClassUnicodeKind, Flag, FlagsItemKind, GroupKind,
        HexLiteralKind, LiteralKind,
    };
    let text = |span: &regex_syntax::ast::Span| {
        source
            .get(span.start.offset..span.end.offset)
            .unwrap_or("")
            .to_owned()
    };
    let check_flags = |flags: &regex_syntax::ast::Flags| {
        for item in &flags.items {
            if let FlagsItemKind::Flag(Flag::Unicode | Flag::CRLF | Flag::IgnoreWhitespace) =
                item.kind
            {
                return Err(format!(
                    "invalid or unsupported Perl syntax `{}`: Go knows only the flags i, m, s and U",
                    text(&flags.span)
                ));
            }
        }
        Ok(())
    };
    let check_unicode = |class: &regex_syntax::ast::ClassUnicode| {
        let name = match &class.kind {
            ClassUnicodeKind::OneLetter(c) => c.to_string(),
            ClassUnicodeKind::Named(name) => name.trim_start_matches('^').to_owned(),
            ClassUnicodeKind::NamedValue { .. } => String::new(),
        };
        if GO_CATEGORIES.contains(&name.as_str())
            || GO_SCRIPTS.binary_search(&name.as_str()).is_ok()
        {
            Ok(())
        } else {
            Err(format!(
                "invalid character class range `{}`: Go knows Any, the general categories (L, Lu, N…) and the script names (Greek, Latin…), spelled exactly",
                text(&class.span)
            ))
        }
    };
    // Explicit stack: regex-syntax bounds nesting (250) but this walk needs no recursion.
    let mut stack: Vec<&Ast> = vec![ast];
    let mut classes: Vec<&ClassSet> = Vec::new();
    while let Some(node) = stack.pop() {
        match node {
            Ast::Repetition(rep) => {
                if let Ast::Repetition(inner) = rep.ast.as_ref() {
                    let span = regex_syntax::ast::Span::new(inner.op.span.start, rep.op.span.end);
                    return Err(format!(
                        "invalid nested repetition operator `{}`: Go allows one repetition operator per expression; group it first, e.g. (x*)+",
                        text(&span)
                    ));
                }
                if let regex_syntax::ast::RepetitionKind::Range(range) = &rep.op.kind {
                    let (min, max) = match *range {
                        regex_syntax::ast::RepetitionRange::Exactly(n) => (n, Some(n)),
                        regex_syntax::ast::RepetitionRange::AtLeast(n) => (n, None),
                        regex_syntax::ast::RepetitionRange::Bounded(m, n) => (m, Some(n)),
                    };
                    // Go also refuses a count past 1000 on its own; go_repeat_is_valid
                    // starts from this node, so it covers that case too.
                    if (min >= 2 || max.is_some_and(|m| m >= 2)) && !go_repeat_is_valid(node) {
                        return Err(format!(
                            "invalid repeat count `{}`: Go allows at most {GO_MAX_REPEAT} repetitions, nested counts multiplied",
                            text(&rep.op.span)
                        ));
                    }
                }
                stack.push(&rep.ast);
            }
            Ast::Flags(flags) => check_flags(&flags.flags)?,
            Ast::Group(group) => {
                match &group.kind {
                    GroupKind::NonCapturing(flags) => check_flags(flags)?,
                    GroupKind::CaptureName {
                        starts_with_p: false,
                        ..
                    } => {
                        return Err(format!(
                            "invalid or unsupported Perl syntax `{}`: Go before 1.22 (Prometheus 2.42's) names a group only as (?P<name>…)",
                            text(&group.span).chars().take(3).collect::<String>()
                        ));
                    }
                    GroupKind::CaptureName { name, .. } => {
                        if !name.name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                            return Err(format!(
                                "invalid named capture `{}`: Go allows only letters, digits and _",
                                name.name
                            ));
                        }
                    }
                    GroupKind::CaptureIndex(_) => {}
                }
                stack.push(&group.ast);
            }
            Ast::Literal(lit) => match lit.kind {
                LiteralKind::HexFixed(HexLiteralKind::UnicodeShort | HexLiteralKind::UnicodeLong)
                | LiteralKind::HexBrace(HexLiteralKind::UnicodeShort | HexLiteralKind::UnicodeLong) => {
                    return Err(format!(
                        "invalid escape sequence `{}`: Go has no \\u or \\U; write \\x{{…}}",
                        text(&lit.span)
                    ))
                }
                LiteralKind::Octal
                    if lit.span.end.offset - lit.span.start.offset == 2 && lit.c != '\0' =>
                {
                    return Err(format!(
                        "invalid escape sequence `{}`: Go reads it as a backreference, which it does not support",
                        text(&lit.span)
                    ))
                }
                _ => {}
            },
            Ast::ClassUnicode(class) => check_unicode(class)?,
            Ast::ClassBracketed(class) => classes.push(&class.kind),
            Ast::Alternation(alt) => stack.extend(alt.asts.iter()),
            Ast::Concat(concat) => stack.extend(concat.asts.iter()),
            Ast::Empty(_) | Ast::Dot(_) | Ast::Assertion(_) | Ast::ClassPerl(_) => {}
        }
        while let Some(set) = classes.pop() {
            let mut items: Vec<&ClassSetItem> = Vec::new();
            match set {
                ClassSet::Item(item) => items.push(item),
                ClassSet::BinaryOp(op) => {
                    classes.push(&op.lhs);
                    classes.push(&op.rhs);
                }
            }
            while let Some(item) = items.pop() {
                match item {
                    ClassSetItem::Unicode(class) => check_unicode(class)?,
                    ClassSetItem::Bracketed(inner) => classes.push(&inner.kind),
                    ClassSetItem::Union(union) => items.extend(union.items.iter()),
                    ClassSetItem::Literal(lit) => {
                        if let LiteralKind::HexFixed(
                            HexLiteralKind::UnicodeShort | HexLiteralKind::UnicodeLong,
                        )
                        | LiteralKind::HexBrace(
                            HexLiteralKind::UnicodeShort | HexLiteralKind::UnicodeLong,
                        ) = lit.kind
                        {
                            return Err(format!(
                                "invalid escape sequence `{}`: Go has no \\u or \\U; write \\x{{…}}",
                                text(&lit.span)
                            ));
                        }
                    }
                    ClassSetItem::Range(range) => {
                        for lit in [&range.start, &range.end] {
                            if let LiteralKind::HexFixed(
                                HexLiteralKind::UnicodeShort | HexLiteralKind::UnicodeLong,
                            )
                            | LiteralKind::HexBrace(
                                HexLiteralKind::UnicodeShort | HexLiteralKind::UnicodeLong,
                            ) = lit.kind
                            {
                                return Err(format!(
                                    "invalid escape sequence `{}`: Go has no \\u or \\U; write \\x{{…}}",
                                    text(&lit.span)
                                ));
                            }
                        }
                    }
                    ClassSetItem::Empty(_) | ClassSetItem::Ascii(_) | ClassSetItem::Perl(_) => {}
                }
            }
        }
    }
    Ok(())
}

/// Go's `repeatIsValid`: the `{}` repetitions from `ast` down, nested, repeat the
/// innermost thing at most 1000 times (a count of 0 ends the chain; `{n,}` counts n).
fn go_repeat_is_valid(ast: &regex_syntax::ast::Ast) -> bool {
    use regex_syntax::ast::{Ast, RepetitionKind, RepetitionRange};
    let mut stack: Vec<(&Ast, u32)> = vec![(ast, GO_MAX_REPEAT)];
    while let Some((node, mut n)) = stack.pop() {
        match node {
            Ast::Repetition(rep) => {
                if let RepetitionKind::Range(range) = &rep.op.kind {
                    let m = match *range {
                        RepetitionRange::Exactly(m) | RepetitionRange::Bounded(_, m) => m,
                        RepetitionRange::AtLeast(m) => m,
                    };
                    if m == 0 {
                        continue;
                    }
                    if m > n {
                        return false;
                    }
                    n /= m;
                }
                stack.push((&rep.ast, n));
            }
            Ast::Group(group) => stack.push((&group.ast, n)),
            Ast::Alternation(alt) => stack.extend(alt.asts.iter().map(|a| (a, n))),
            Ast::Concat(concat) => stack.extend(concat.asts.iter().map(|a| (a, n))),
            _ => {}
        }
    }
    true
}

/// An upper bound on the size Go's compiler gives the regex (its `calcSize`): a
/// literal or class counts 1, `x*` and a capture 2 more than `x`, `x+`/`x?` 1 more,
/// `x{n,m}` m copies and m-n more, an alternation of k branches k-1 more.
fn go_size(ast: &regex_syntax::ast::Ast) -> u64 {
    use regex_syntax::ast::{Ast, GroupKind, RepetitionKind, RepetitionRange};
    // Post-order on an explicit stack: (node, children done).
    let mut stack: Vec<(&Ast, bool)> = vec![(ast, false)];
    let mut sizes: Vec<u64> = Vec::new();
    while let Some((node, done)) = stack.pop() {
        let children: Vec<&Ast> = match node {
            Ast::Repetition(rep) => vec![&rep.ast],
            Ast::Group(group) => vec![&group.ast],
            Ast::Alternation(alt) => alt.asts.iter().collect(),
            Ast::Concat(concat) => concat.asts.iter().collect(),
            _ => Vec::new(),
        };
        if !done {
            stack.push((node, true));
            stack.extend(children.iter().map(|c| (*c, false)));
            continue;
        }
        let subs = sizes.split_off(sizes.len().saturating_sub(children.len()));
        let sum = subs.iter().fold(0u64, |a, b| a.saturating_add(*b));
        let size = match node {
            Ast::Repetition(rep) => match &rep.op.kind {
                RepetitionKind::ZeroOrMore => sum.saturating_add(2),
                RepetitionKind::OneOrMore | RepetitionKind::ZeroOrOne => sum.saturating_add(1),
                RepetitionKind::Range(RepetitionRange::AtLeast(0)) => sum.saturating_add(2),
                RepetitionKind::Range(RepetitionRange::AtLeast(n)) => {
                    sum.saturating_mul(u64::from(*n)).saturating_add(1)
                }
                RepetitionKind::Range(RepetitionRange::Exactly(n)) => {
                    sum.saturating_mul(u64::from(*n))
                }
                RepetitionKind::Range(RepetitionRange::Bounded(m, n)) => sum
                    .saturating_mul(u64::from(*n))
                    .saturating_add(u64::from(n.saturating_sub(*m))),
            },
            Ast::Group(group) => match group.kind {
                GroupKind::NonCapturing(_) => sum,
                _ => sum.saturating_add(2),
            },
            Ast::Alternation(alt) => sum.saturating_add(alt.asts.len().saturating_sub(1) as u64),
            Ast::Concat(_) => sum,
            // A literal, a class, an assertion; an empty node or a flag group too (Go
            // counts at least one instruction for every node).
            _ => 1,
        };
        sizes.push(size.max(1));
    }
    sizes.pop().unwrap_or(1)
}

/// `re` with every `{` that does not open a repetition (`{n}`, `{n,}`, `{n,m}`) escaped.
pub(super) fn literal_braces(re: &str) -> String {
    let bytes = re.as_bytes();
    let mut out = String::with_capacity(re.len() + 4);
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        match b {
            b'\\' => {
                // An escape and what it escapes, untouched.
                let next = re[i + 1..].chars().next().map_or(0, char::len_utf8);
                out.push_str(&re[i..i + 1 + next]);
                i += 1 + next;
                continue;
            }
            b'{' if !opens_repetition(bytes.get(i + 1..).unwrap_or_default()) => {
                out.push_str("\\{")
            }
            _ => {
                let len = re[i..].chars().next().map_or(1, char::len_utf8);
                out.push_str(&re[i..i + len]);
                i += len;
                continue;
            }
        }
        i += 1;
    }
    out
}

/// Whether what follows a `{` is `n}`, `n,}` or `n,m}`.
fn opens_repetition(rest: &[u8]) -> bool {
    let digits = |s: &[u8]| s.iter().take_while(|b| b.is_ascii_digit()).count();
    let n = digits(rest);
    if n == 0 {
        return false;
    }
    match rest.get(n) {
        Some(b'}') => true,
        Some(b',') => {
            let m = digits(rest.get(n + 1..).unwrap_or_default());
            rest.get(n + 1 + m) == Some(&b'}')
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn size(regex: &str) -> u64 {
        go_size(
            &regex_syntax::ast::parse::Parser::new()
                .parse(regex)
                .unwrap(),
        )
    }

    #[test]
    fn sizes_follow_gos_compiler_node_by_node() {
        for (regex, expected) in [
            ("a", 1),
            ("ab", 2),
            ("a|b|c", 5),
            ("(a)", 3),
            ("(?:a)", 1),
            ("(?i)a", 2),
            ("a*", 3),
            ("a+", 2),
            ("a?", 2),
            ("a{0,}", 3),
            ("a{2,}", 3),
            ("a{3}", 3),
            ("a{2,5}", 8),
            ("(?:ab){10}", 20),
            ("", 1),
        ] {
            assert_eq!(size(regex), expected, "{regex}");
        }
    }

    #[test]
    fn literal_braces_escape_what_opens_no_repetition_and_keep_escapes_whole() {
        assert_eq!(literal_braces("a{2}b{x}{"), "a{2}b\\{x}\\{");
        assert_eq!(literal_braces("a\\é{"), "a\\é\\{");
        assert_eq!(literal_braces("\\{{1,}"), "\\{{1,}");
        assert_eq!(
            literal_braces("a{12,345}b{1,}c{7,x}"),
            "a{12,345}b{1,}c\\{7,x}"
        );
    }
}
