//! The YAML layers on their own: what yaml.v2's scanner, parser and node tree make of small
//! documents, and the quirks that decide accept/reject and error lines.

use super::*;

fn doc(text: &str) -> Document {
    match parse_document(text) {
        Ok(Some(d)) => d,
        other => panic!("{text:?}: {other:?}"),
    }
}

fn err(text: &str) -> String {
    parse_document(text).expect_err(text).to_string()
}

/// The scalar values of a document, in order (aliases shown as `*name`).
fn scalars(d: &Document) -> Vec<String> {
    d.nodes
        .iter()
        .filter_map(|n| match n.kind {
            NodeKind::Scalar => Some(n.value.clone()),
            NodeKind::Alias(_) => Some(format!("*{}", n.value)),
            _ => None,
        })
        .collect()
}

#[test]
fn empty_streams_have_no_document() {
    for text in ["", "\n", "# comment\n", "  \n\n"] {
        assert!(parse_document(text).expect(text).is_none(), "{text:?}");
    }
    // An explicit empty document is one, holding an empty plain scalar (null).
    let d = doc("---\n");
    assert_eq!(
        (d.node(d.root).kind, d.node(d.root).value.as_str()),
        (NodeKind::Scalar, "")
    );
    assert!(d.node(d.root).implicit);
}

#[test]
fn only_the_first_document_is_read() {
    // What follows the second `---` is never scanned: not even its unclosed bracket.
    let d = doc("a: 1\n---\n- [unclosed\n");
    assert_eq!(scalars(&d), ["a", "1"]);
    let d = doc("---\n---\npeers: []\n");
    assert_eq!(scalars(&d), [""]);
}

#[test]
fn scanner_errors_count_lines_from_one_parser_errors_from_zero() {
    // yaml.v2 adds one to the 0-based line for scanner errors only, and prints no line when
    // the problem is on the first one.
    assert_eq!(
        err("a: 1\nb: 2\nc: d: e\n"),
        "yaml: line 3: mapping values are not allowed in this context"
    );
    assert_eq!(
        err("c: d: e\n"),
        "yaml: mapping values are not allowed in this context"
    );
    assert_eq!(
        err("a:\n  - 1\n  b: 2\n"),
        "yaml: line 2: did not find expected '-' indicator"
    );
    assert_eq!(
        err("a: 1\nb\nc: 2\n"),
        "yaml: line 3: could not find expected ':'"
    );
    // The key is on the second line (0-based 1): yaml.v2 says line 1.
    assert_eq!(
        err("- a\nb: 1\n"),
        "yaml: line 1: did not find expected '-' indicator"
    );
}

#[test]
fn tabs_and_unusable_characters() {
    assert_eq!(
        err("\t\n"),
        "yaml: found character that cannot start any token"
    );
    assert_eq!(
        err("a: `x`\n"),
        "yaml: found character that cannot start any token"
    );
    assert_eq!(
        err("a: b\n\tc\n"),
        "yaml: line 2: found a tab character that violates indentation"
    );
    // In flow context, and after a token on the same line, tabs are blanks.
    assert_eq!(scalars(&doc("[a,\tb]\n")), ["a", "b"]);
    assert_eq!(scalars(&doc("a:\tb\n")), ["a", "b"]);
}

#[test]
fn control_characters_surface_when_their_chunk_is_decoded() {
    assert_eq!(
        err("a: \u{1}\n"),
        "yaml: control characters are not allowed"
    );
    // The reader decodes 512 bytes at a time: a syntax error met before the chunk holding
    // the control character is decoded wins; one in the same chunk loses.
    let syntax = "a: 1\nb: c: d\n";
    let far = format!("{syntax}#{}\u{1}\n", "x".repeat(600));
    assert_eq!(
        err(&far),
        "yaml: line 2: mapping values are not allowed in this context"
    );
    let near = format!("{syntax}#\u{1}\n");
    assert_eq!(err(&near), "yaml: control characters are not allowed");
    // U+FEFF and U+0085 are allowed characters; U+FFFE is not.
    assert_eq!(
        err("a: \u{fffe}\n"),
        "yaml: control characters are not allowed"
    );
}

#[test]
fn a_byte_order_mark_is_skipped_only_where_yaml_v2_looks() {
    assert_eq!(scalars(&doc("\u{feff}a: 1\n")), ["a", "1"]);
    // yaml.v2 checks the start of its decoded buffer, not the current character: inside a
    // short document that is the document's start, so a BOM at column 0 stays in the key.
    assert_eq!(
        scalars(&doc("a: 1\n\u{feff}b: 2\n")),
        ["a", "1", "\u{feff}b", "2"]
    );
}

#[test]
fn nesting_is_limited_to_10000_levels_and_never_recursed() {
    let flow = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));
    let d = doc(&flow(10_000));
    assert_eq!(d.nodes.len(), 10_000);
    assert_eq!(err(&flow(10_001)), "yaml: exceeded max depth of 10000");
    let block = |n: usize| format!("{}x\n", "- ".repeat(n));
    assert_eq!(doc(&block(10_000)).nodes.len(), 10_001);
    assert_eq!(err(&block(10_001)), "yaml: exceeded max depth of 10000");
    assert_eq!(
        err(&format!("a: 1\nb: {}\n", "[".repeat(10_001))),
        "yaml: line 2: exceeded max depth of 10000"
    );
}

#[test]
fn colons_in_flow_context() {
    // A plain scalar may hold `:` not followed by a blank, even in flow context (yaml.v2,
    // unlike libyaml 0.2) …
    assert_eq!(
        scalars(&doc("[a:b, 2001:db8::1, fc00::/7]\n")),
        ["a:b", "2001:db8::1", "fc00::/7"]
    );
    // … but one that starts with `:` is a value indicator there.
    assert_eq!(err("[::1]\n"), "yaml: did not find expected node content");
    assert_eq!(scalars(&doc("['::1', \"::/0\"]\n")), ["::1", "::/0"]);
}

#[test]
fn anchors_aliases_and_their_errors() {
    let d = doc("a: &x [1, 2]\nb: *x\nc: &x 3\nd: *x\n");
    let aliases: Vec<NodeId> = d
        .nodes
        .iter()
        .filter_map(|n| match n.kind {
            NodeKind::Alias(t) => Some(t),
            _ => None,
        })
        .collect();
    assert_eq!(d.node(aliases[0]).kind, NodeKind::Sequence);
    // A redefined anchor names the newer node from there on.
    assert_eq!(d.node(aliases[1]).value, "3");
    assert_eq!(
        err("a: *nowhere\n"),
        "yaml: unknown anchor 'nowhere' referenced"
    );
    assert_eq!(
        err("a: *later\nb: &later 1\n"),
        "yaml: unknown anchor 'later' referenced"
    );
}

#[test]
fn tags_resolve_through_directives() {
    let tag_of = |text: &str| {
        let d = doc(text);
        d.nodes
            .iter()
            .find(|n| n.kind == NodeKind::Scalar && !n.tag.is_empty())
            .map(|n| n.tag.clone())
            .unwrap_or_default()
    };
    assert_eq!(tag_of("a: !!str 42\n"), "tag:yaml.org,2002:str");
    assert_eq!(tag_of("a: !local x\n"), "!local");
    assert_eq!(
        tag_of("a: !<tag:example.com,2000:x> y\n"),
        "tag:example.com,2000:x"
    );
    assert_eq!(
        tag_of("%TAG !e! tag:example.com,2000:\n---\na: !e!x y\n"),
        "tag:example.com,2000:x"
    );
    assert_eq!(err("a: !e!x y\n"), "yaml: found undefined tag handle");
    // `!` alone keeps the scalar plain-implicit.
    let d = doc("a: ! 42\n");
    assert!(d.nodes.iter().any(|n| n.tag == "!" && n.implicit));
}

#[test]
fn only_yaml_1_1_documents_are_compatible() {
    assert_eq!(scalars(&doc("%YAML 1.1\n---\na: 1\n")), ["a", "1"]);
    assert_eq!(
        err("%YAML 1.2\n---\na: 1\n"),
        "yaml: found incompatible YAML document"
    );
    assert_eq!(
        err("# c\n%YAML 1.1\n%YAML 1.1\n---\n"),
        "yaml: line 2: found duplicate %YAML directive"
    );
}

#[test]
fn scalar_styles_fold_and_escape_as_libyaml() {
    assert_eq!(scalars(&doc("a: \"x\\x41\\u00e9\\t\\\"\"\n"))[1], "xAé\t\"");
    assert_eq!(scalars(&doc("a: 'it''s'\n"))[1], "it's");
    assert_eq!(
        scalars(&doc("a: one\n  two\n\n  three\n"))[1],
        "one two\nthree"
    );
    assert_eq!(scalars(&doc("a: |\n  x\n  y\n\n"))[1], "x\ny\n");
    assert_eq!(scalars(&doc("a: |-\n  x\n"))[1], "x");
    assert_eq!(scalars(&doc("a: |+\n  x\n\n"))[1], "x\n\n");
    assert_eq!(scalars(&doc("a: >\n  x\n  y\n"))[1], "x y\n");
    assert_eq!(scalars(&doc("a: \"x\r\n  y\"\r\n"))[1], "x y");
    assert_eq!(err("a: \"\\q\"\n"), "yaml: found unknown escape character");
    assert_eq!(
        err("a: \"\\ud800\"\n"),
        "yaml: found invalid Unicode character escape code"
    );
    assert_eq!(
        err("a: 'open\n"),
        "yaml: line 2: found unexpected end of stream"
    );
}

#[test]
fn node_lines_are_those_of_their_first_token() {
    let d = doc("# c\nkey: &a !!str\n  value\nlist:\n- 1\n");
    let line = |v: &str| d.nodes.iter().find(|n| n.value == v).map(|n| n.line);
    assert_eq!(line("key"), Some(1));
    assert_eq!(line("value"), Some(1), "the anchor starts the node");
    assert_eq!(line("1"), Some(4));
    assert_eq!(d.node(d.root).line, 1);
}
