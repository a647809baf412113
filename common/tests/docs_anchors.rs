//! Every pointer into `docs/` leads somewhere: each `docs/<page>.md` or
//! `docs/<page>.md#<anchor>` written anywhere in the repository's files (code comments,
//! scripts, tests, Markdown) names a page that exists and, with an anchor, a heading of that
//! page. Markdown links between pages (`[text](<page>.md#<anchor>)`, `(#<anchor>)`) are
//! checked the same way. Anchors are computed as GitHub computes them, so a link that passes
//! here works on GitHub.
//!
//! Only the standard library: this crate's dependency tree is kept small (`purity.rs`).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The repository root (this crate lives one level below it).
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("crate directory has a parent")
        .to_path_buf()
}

/// The repository's files, relative to the root: tracked files plus untracked ones that are
/// not ignored (so a reference in a file not yet committed is checked too). Without git
/// (a source tarball), a walk that skips hidden directories and `target`.
fn files(root: &Path) -> Vec<PathBuf> {
    let out = Command::new("git")
        .args([
            "ls-files",
            "-z",
            "--cached",
            "--others",
            "--exclude-standard",
        ])
        .current_dir(root)
        .output();
    match out {
        Ok(o) if o.status.success() => o
            .stdout
            .split(|b| *b == 0)
            .filter(|p| !p.is_empty())
            .map(|p| PathBuf::from(String::from_utf8_lossy(p).into_owned()))
            .filter(|p| root.join(p).is_file())
            .collect(),
        _ => {
            let mut found = Vec::new();
            walk(root, root, &mut found);
            found
        }
    }
}

fn walk(root: &Path, dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let path = e.path();
        let name = e.file_name();
        let name = name.to_string_lossy();
        if name.starts_with('.') || name == "target" {
            continue;
        }
        if path.is_dir() {
            walk(root, &path, out);
        } else if let Ok(rel) = path.strip_prefix(root) {
            out.push(rel.to_path_buf());
        }
    }
}

/// GitHub's anchor for a heading: the rendered text (code spans without backticks, links as
/// their text), lower-cased, with every character that is not a letter, a digit, a space, `-`
/// or `_` dropped, and spaces turned into `-`.
fn slug(heading: &str) -> String {
    let text = link_text(heading);
    let mut out = String::new();
    for c in text.trim().chars() {
        if c.is_alphanumeric() {
            out.extend(c.to_lowercase());
        } else if c == ' ' {
            out.push('-');
        } else if c == '-' || c == '_' {
            out.push(c);
        }
    }
    out
}

/// `[text](target)` → `text`, everything else unchanged.
fn link_text(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(open) = rest.find('[') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        match after.find("](") {
            Some(close) if !after[..close].contains('[') => {
                let tail = &after[close + 2..];
                match tail.find(')') {
                    Some(end) => {
                        out.push_str(&after[..close]);
                        rest = &tail[end + 1..];
                    }
                    None => {
                        out.push('[');
                        rest = after;
                    }
                }
            }
            _ => {
                out.push('[');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// The anchors of a Markdown page: one per ATX heading outside fenced code blocks, with
/// GitHub's `-1`, `-2` … suffixes for repeated headings.
fn anchors(markdown: &str) -> BTreeSet<String> {
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    let mut out = BTreeSet::new();
    let mut fence: Option<&str> = None;
    for line in markdown.lines() {
        let t = line.trim_start();
        if let Some(f) = fence {
            if t.starts_with(f) {
                fence = None;
            }
            continue;
        }
        if t.starts_with("```") || t.starts_with("~~~") {
            fence = Some(&t[..3]);
            continue;
        }
        let hashes = t.chars().take_while(|c| *c == '#').count();
        if !(1..=6).contains(&hashes) {
            continue;
        }
        let rest = &t[hashes..];
        if !(rest.is_empty() || rest.starts_with(' ')) {
            continue;
        }
        let text = rest.trim().trim_end_matches('#').trim_end();
        let base = slug(text);
        let n = seen.entry(base.clone()).or_insert(0);
        let anchor = if *n == 0 {
            base.clone()
        } else {
            format!("{base}-{n}")
        };
        *n += 1;
        out.insert(anchor);
    }
    out
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '-' || c == '_'
}

/// A reference found in a file: the page it names (relative to the root) and the anchor.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Reference {
    line: usize,
    page: PathBuf,
    anchor: Option<String>,
}

/// Every `docs/<page>.md[#anchor]` in `text`, wherever it appears, not preceded by a name
/// character (so `mydocs/x.md` is not one).
fn docs_references(text: &str) -> Vec<Reference> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let mut from = 0;
        while let Some(pos) = line[from..].find("docs/") {
            let start = from + pos;
            from = start + "docs/".len();
            if line[..start].chars().next_back().is_some_and(is_name_char) {
                continue;
            }
            let rest = &line[from..];
            let name_len = rest.find(|c: char| !is_name_char(c)).unwrap_or(rest.len());
            if name_len == 0 || !rest[name_len..].starts_with(".md") {
                continue;
            }
            let after = &rest[name_len + 3..];
            if after.starts_with(is_name_char) {
                continue; // `docs/x.mdx` and the like
            }
            let anchor = after.strip_prefix('#').map(|a| {
                let len = a.find(|c: char| !is_name_char(c)).unwrap_or(a.len());
                a[..len].to_owned()
            });
            out.push(Reference {
                line: i + 1,
                page: PathBuf::from(format!("docs/{}.md", &rest[..name_len])),
                anchor: anchor.filter(|a| !a.is_empty()),
            });
        }
    }
    out
}

/// Markdown links from the page `file` to a relative `.md` target or to `#anchor` on the
/// same page, resolved against the page's directory.
fn markdown_links(file: &Path, text: &str) -> Vec<Reference> {
    let dir = file.parent().unwrap_or(Path::new(""));
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let mut from = 0;
        while let Some(pos) = line[from..].find("](") {
            let start = from + pos + 2;
            from = start;
            let Some(len) = line[start..].find(')') else {
                continue;
            };
            let target = line[start..start + len].trim();
            if target.contains("://") || target.starts_with("mailto:") {
                continue;
            }
            let (path, anchor) = match target.split_once('#') {
                Some((p, a)) => (p, Some(a.to_owned())),
                None => (target, None),
            };
            let page = if path.is_empty() {
                file.to_path_buf()
            } else if path.ends_with(".md") {
                normalize(&dir.join(path))
            } else {
                continue;
            };
            out.push(Reference {
                line: i + 1,
                page,
                anchor: anchor.filter(|a| !a.is_empty()),
            });
        }
    }
    out
}

/// `a/b/../c` → `a/c` (lexically; the paths are relative to the root).
fn normalize(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            std::path::Component::ParentDir => {
                out.pop();
            }
            std::path::Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

/// What is wrong with `references` (found in `file`), given a way to read a page.
fn problems(
    file: &Path,
    references: &[Reference],
    page_anchors: &mut dyn FnMut(&Path) -> Option<BTreeSet<String>>,
) -> Vec<String> {
    let mut out = Vec::new();
    for r in references {
        let Some(anchors) = page_anchors(&r.page) else {
            out.push(format!(
                "{}:{}: {} does not exist",
                file.display(),
                r.line,
                r.page.display()
            ));
            continue;
        };
        if let Some(a) = &r.anchor
            && !anchors.contains(a)
        {
            out.push(format!(
                "{}:{}: {} has no heading with anchor #{a} (it has: {})",
                file.display(),
                r.line,
                r.page.display(),
                anchors.iter().cloned().collect::<Vec<_>>().join(", ")
            ));
        }
    }
    out
}

#[test]
fn every_docs_reference_names_an_existing_page_and_heading() {
    let root = root();
    let mut cache: BTreeMap<PathBuf, Option<BTreeSet<String>>> = BTreeMap::new();
    let mut page_anchors = |page: &Path| {
        cache
            .entry(page.to_path_buf())
            .or_insert_with(|| {
                std::fs::read_to_string(root.join(page))
                    .ok()
                    .map(|t| anchors(&t))
            })
            .clone()
    };
    let mut checked = 0;
    let mut bad = Vec::new();
    for file in files(&root) {
        let Ok(text) = std::fs::read_to_string(root.join(&file)) else {
            continue; // binary
        };
        let mut refs = docs_references(&text);
        if file.extension().is_some_and(|e| e == "md") {
            refs.extend(markdown_links(&file, &text));
        }
        checked += refs.len();
        bad.extend(problems(&file, &refs, &mut page_anchors));
    }
    assert!(
        checked > 0,
        "no docs reference found at all: is the file list empty?"
    );
    assert!(
        bad.is_empty(),
        "{} broken reference(s) into docs/:\n{}",
        bad.len(),
        bad.join("\n")
    );
}

#[test]
fn anchors_are_computed_as_github_does() {
    assert_eq!(slug("Status writes"), "status-writes");
    assert_eq!(slug("The `/status` page"), "the-status-page");
    assert_eq!(slug("IPv6 over MP-BGP"), "ipv6-over-mp-bgp");
    assert_eq!(slug("Discovery and re-join"), "discovery-and-re-join");
    assert_eq!(slug("What's new? (v0.12)"), "whats-new-v012");
    assert_eq!(slug("[Layer 2](layer2.md) mode"), "layer-2-mode");
    assert_eq!(slug("snake_case stays"), "snake_case-stays");
    let page = "# Title\n## Timers\n```\n## Not a heading\n```\n## Timers\n#NoSpace\n";
    assert_eq!(
        anchors(page),
        ["title", "timers", "timers-1"]
            .into_iter()
            .map(str::to_owned)
            .collect()
    );
}

#[test]
fn a_made_up_anchor_or_page_is_reported() {
    let page = "# Layer 2 mode\n## Election\n### Candidates\n";
    let mut pages = |p: &Path| (p == Path::new("docs/layer2.md")).then(|| anchors(page));
    // Built from pieces so that this file itself holds no reference to check.
    let text = [
        "// see docs/",
        "layer2.md#election, docs/",
        "layer2.md#candidates,\n",
        "// docs/",
        "layer2.md#no-such-heading and docs/",
        "nowhere.md and docs/",
        "layer2.md.\n",
    ]
    .concat();
    let refs = docs_references(&text);
    assert_eq!(refs.len(), 5, "{refs:?}");
    let found = problems(Path::new("x.rs"), &refs, &mut pages);
    assert_eq!(found.len(), 2, "{found:?}");
    let page_text = [
        "x.rs:2: docs/",
        "layer2.md has no heading with anchor #no-such-heading",
    ];
    assert!(found[0].starts_with(&page_text.concat()), "{found:?}");
    assert_eq!(
        found[1],
        ["x.rs:2: docs/", "nowhere.md does not exist"].concat()
    );
    // Not references: another directory's docs, or another extension.
    assert!(
        docs_references(&["mydocs/", "a.md my-docs/", "b.md docs/", "c.mdx"].concat()).is_empty()
    );
}

#[test]
fn markdown_links_resolve_against_the_page() {
    let text = "See [a](config.md#reloading), [b](../MIGRATION.md), [c](#timers), \
                [d](https://example.com/x.md), [e](../speaker/src/run.rs).";
    let refs = markdown_links(Path::new("docs/bgp.md"), text);
    let got: Vec<(String, Option<String>)> = refs
        .iter()
        .map(|r| (r.page.display().to_string(), r.anchor.clone()))
        .collect();
    assert_eq!(
        got,
        [
            ("docs/config.md".to_owned(), Some("reloading".to_owned())),
            ("MIGRATION.md".to_owned(), None),
            ("docs/bgp.md".to_owned(), Some("timers".to_owned())),
        ]
    );
}
