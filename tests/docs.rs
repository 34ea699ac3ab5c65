//! The documentation against the code: what `README.md` and `docs/*.md` quote is the code in
//! the repository, the README's example realm builds for seL4 and its system file passes the
//! check, the guide lists exactly the `system.toml` rules the checker has, and every link
//! between the documents leads somewhere. No QEMU here: these run in a second or two.
//!
//! A quoted block is marked by an HTML comment on the line before its opening fence:
//! - `<!-- file: PATH -->`: the block is the whole file at PATH (relative to the repository
//!   root), byte for byte;
//! - `<!-- excerpt: PATH -->`: the block's lines are consecutive lines of that file, with the
//!   excerpt's common indentation removed.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use xtask::Workspace;

/// How a block relates to the file it quotes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Quote {
    File,
    Excerpt,
}

/// One quoted block: where it is, what it quotes, and its text.
#[derive(Debug)]
struct QuotedBlock {
    document: PathBuf,
    line: usize,
    kind: Quote,
    source: String,
    text: String,
}

fn root() -> PathBuf {
    Workspace::current().root().to_path_buf()
}

/// `README.md` and every Markdown file in `docs/`, as paths relative to the root.
fn documents() -> Vec<PathBuf> {
    let root = root();
    let mut documents = vec![PathBuf::from("README.md")];
    let docs = std::fs::read_dir(root.join("docs")).expect("reading docs/");
    let mut in_docs: Vec<PathBuf> = docs
        .map(|entry| entry.expect("reading docs/").path())
        .filter(|path| path.extension().is_some_and(|extension| extension == "md"))
        .map(|path| path.strip_prefix(&root).expect("a path under the root").to_path_buf())
        .collect();
    in_docs.sort();
    documents.extend(in_docs);
    documents
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(root().join(path))
        .unwrap_or_else(|error| panic!("reading {}: {error}", path.display()))
}

/// The marker on `line`, if it is one: its kind and the path it names.
fn marker(line: &str) -> Option<(Quote, String)> {
    let inner = line.trim().strip_prefix("<!--")?.strip_suffix("-->")?.trim();
    if let Some(path) = inner.strip_prefix("file:") {
        Some((Quote::File, path.trim().to_string()))
    } else {
        inner.strip_prefix("excerpt:").map(|path| (Quote::Excerpt, path.trim().to_string()))
    }
}

/// Every quoted block of `document`. Panics on a marker that is not followed by a fenced
/// block, so a marker cannot silently check nothing.
fn quoted_blocks(document: &Path) -> Vec<QuotedBlock> {
    let text = read(document);
    let lines: Vec<&str> = text.lines().collect();
    let mut blocks = Vec::new();
    for (index, line) in lines.iter().enumerate() {
        let Some((kind, source)) = marker(line) else { continue };
        let opening = lines.get(index + 1).copied().unwrap_or("");
        assert!(
            opening.starts_with("```"),
            "{}:{}: the marker for {source} is not followed by a fenced code block",
            document.display(),
            index + 1
        );
        let body: Vec<&str> = lines[index + 2..]
            .iter()
            .take_while(|line| !line.starts_with("```"))
            .copied()
            .collect();
        assert!(
            index + 2 + body.len() < lines.len(),
            "{}:{}: the code block quoting {source} is never closed",
            document.display(),
            index + 2
        );
        let mut text = body.join("\n");
        text.push('\n');
        blocks.push(QuotedBlock {
            document: document.to_path_buf(),
            line: index + 1,
            kind,
            source,
            text,
        });
    }
    blocks
}

/// `lines` without the indentation they all share (blank lines do not count).
fn dedented<'a>(lines: &[&'a str]) -> Vec<&'a str> {
    let indent = lines
        .iter()
        .filter(|line| !line.trim().is_empty())
        .map(|line| line.len() - line.trim_start().len())
        .min()
        .unwrap_or(0);
    lines.iter().map(|line| line.get(indent..).unwrap_or("")).collect()
}

/// Whether `excerpt`'s lines are consecutive lines of `file`, up to a common indentation.
fn is_excerpt_of(excerpt: &str, file: &str) -> bool {
    let wanted: Vec<&str> = excerpt.lines().collect();
    let lines: Vec<&str> = file.lines().collect();
    !wanted.is_empty() && lines.windows(wanted.len()).any(|window| dedented(window) == wanted)
}

#[test]
fn quoted_code_is_the_code_in_the_repository() {
    let blocks: Vec<QuotedBlock> =
        documents().iter().flat_map(|document| quoted_blocks(document)).collect();
    let mut wrong = Vec::new();
    for block in &blocks {
        let file = read(Path::new(&block.source));
        let same = match block.kind {
            Quote::File => block.text == file,
            Quote::Excerpt => is_excerpt_of(&block.text, &file),
        };
        if !same {
            wrong.push(format!(
                "{}:{}: the block differs from {} ({:?}); paste the file's text again",
                block.document.display(),
                block.line,
                block.source,
                block.kind
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    // The README's realm example is the example realm, whole: the promise that it compiles.
    let readme_quotes: Vec<(&str, Quote)> = blocks
        .iter()
        .filter(|block| block.document == Path::new("README.md"))
        .map(|block| (block.source.as_str(), block.kind))
        .collect();
    assert!(
        readme_quotes.contains(&("examples/hello/src/main.rs", Quote::File)),
        "the README must quote examples/hello/src/main.rs whole: {readme_quotes:?}"
    );
}

#[test]
fn a_changed_block_is_caught() {
    let file = "fn main() {\n    let x = 1;\n    let y = 2;\n}\n";
    assert!(is_excerpt_of("let x = 1;\nlet y = 2;\n", file));
    assert!(is_excerpt_of("fn main() {\n    let x = 1;\n", file));
    assert!(!is_excerpt_of("let x = 1;\nlet y = 3;\n", file), "a changed line");
    assert!(!is_excerpt_of("let y = 2;\nlet x = 1;\n", file), "lines out of order");
    assert!(!is_excerpt_of("", file), "an empty excerpt checks nothing");
    assert_eq!(
        marker("<!-- file: examples/hello/src/main.rs -->"),
        Some((Quote::File, "examples/hello/src/main.rs".into()))
    );
    assert_eq!(marker("<!-- excerpt: a.rs -->"), Some((Quote::Excerpt, "a.rs".into())));
    assert_eq!(marker("<!-- a comment -->"), None);
}

#[test]
fn the_readme_example_realm_builds_for_sel4() {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = Command::new(cargo)
        .args(["build", "--quiet", "--release", "--target", "x86_64-unknown-none"])
        .args(["--package", "hello"])
        .current_dir(root())
        .status()
        .expect("running cargo build");
    assert!(status.success(), "examples/hello does not build for seL4: {status}");
    let elf = Workspace::current().target_dir().join("x86_64-unknown-none/release/hello");
    assert!(elf.is_file(), "cargo built hello but {} is missing", elf.display());
}

#[test]
fn the_readme_example_system_passes_the_check() {
    let path = "examples/hello/system.toml";
    let text = read(Path::new(path));
    let config = system_config::parse(path, &text, &["hello"]).unwrap_or_else(|errors| {
        panic!("{}", errors.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))
    });
    assert_eq!(config.realms.len(), 2);
    assert!(config.realms.iter().all(|realm| realm.program.as_str() == "hello"));
    assert_eq!(config.services.len(), 1);
    assert_eq!(config.settings.run, system_config::RunPolicy::UntilIdle);
}

#[test]
fn the_guide_lists_every_system_toml_rule_and_no_other() {
    let guide = read(Path::new("docs/guide.md"));
    let section = guide.split("### The rules").nth(1).expect("docs/guide.md has \"### The rules\"");
    let section = section.split("\n## ").next().unwrap_or(section);
    let listed: Vec<&str> = section
        .lines()
        .filter_map(|line| line.strip_prefix("| `"))
        .filter_map(|rest| rest.split('`').next())
        .collect();
    let documented: BTreeSet<&str> = listed.iter().copied().collect();
    assert_eq!(documented.len(), listed.len(), "a rule is listed twice: {listed:?}");
    let rules: BTreeSet<&str> = system_config::Rule::ALL.iter().map(|rule| rule.code()).collect();
    assert_eq!(documented, rules, "docs/guide.md's rule table against system_config::Rule::ALL");
}

/// The anchors GitHub makes for `document`'s headings (code blocks skipped).
fn anchors(document: &str) -> BTreeSet<String> {
    let mut anchors = BTreeSet::new();
    let mut in_code = false;
    for line in document.lines() {
        if line.starts_with("```") {
            in_code = !in_code;
            continue;
        }
        if in_code {
            continue;
        }
        let Some(heading) = line.strip_prefix('#') else { continue };
        let title = heading.trim_start_matches('#').trim();
        let anchor: String = title
            .to_lowercase()
            .chars()
            .filter(|c| c.is_alphanumeric() || *c == ' ' || *c == '-' || *c == '_')
            .map(|c| if c == ' ' { '-' } else { c })
            .collect();
        anchors.insert(anchor);
    }
    anchors
}

/// The targets of `document`'s Markdown links (`[text](target)`), code blocks skipped.
fn link_targets(document: &str) -> Vec<String> {
    let mut targets = Vec::new();
    let mut in_code = false;
    for line in document.lines() {
        if line.starts_with("```") {
            in_code = !in_code;
            continue;
        }
        if in_code {
            continue;
        }
        let mut rest = line;
        while let Some(start) = rest.find("](") {
            let after = &rest[start + 2..];
            let Some(end) = after.find(')') else { break };
            targets.push(after[..end].to_string());
            rest = &after[end..];
        }
    }
    targets
}

#[test]
fn links_between_the_documents_lead_somewhere() {
    let root = root();
    let mut broken = Vec::new();
    for document in documents() {
        let text = read(&document);
        let folder = document.parent().unwrap_or(Path::new("")).to_path_buf();
        for target in link_targets(&text) {
            if target.starts_with("http://") || target.starts_with("https://") {
                continue;
            }
            let (path, anchor) = match target.split_once('#') {
                Some((path, anchor)) => (path, Some(anchor)),
                None => (target.as_str(), None),
            };
            let linked = if path.is_empty() { document.clone() } else { folder.join(path) };
            let Ok(linked_text) = std::fs::read_to_string(root.join(&linked)) else {
                if !root.join(&linked).exists() {
                    broken.push(format!("{}: {target}: no such file", document.display()));
                }
                continue;
            };
            if let Some(anchor) = anchor
                && !anchors(&linked_text).contains(anchor)
            {
                broken.push(format!("{}: {target}: no such heading", document.display()));
            }
        }
    }
    assert!(broken.is_empty(), "{}", broken.join("\n"));
}

#[test]
fn anchors_are_made_as_github_makes_them() {
    let document = "# Top\n## The system description: `system.toml`\n```sh\n# not a heading\n```\n\
                    ### What `make run` prints\n";
    let anchors = anchors(document);
    assert!(anchors.contains("the-system-description-systemtoml"), "{anchors:?}");
    assert!(anchors.contains("what-make-run-prints"), "{anchors:?}");
    assert!(!anchors.contains("not-a-heading"), "{anchors:?}");
    assert_eq!(link_targets("see [a](docs/a.md#b) and [c](#d)"), ["docs/a.md#b", "#d"]);
}
