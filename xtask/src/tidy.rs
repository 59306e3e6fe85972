//! Repository hygiene as a test: `cargo xtask test` runs it with the other tests.
//!
//! It fails, naming the file and line, when:
//! - README.md does not open with `cargo xtask dev` and `cargo xtask test`, or mentions a
//!   `cargo xtask` command that does not exist;
//! - `.ci/run` does anything but run `cargo xtask test`, or is not executable;
//! - a Rust, TypeScript or Svelte file ignores a test or leaves a `todo`/`unimplemented`
//!   macro behind;
//! - a crate's lib.rs or main.rs does not start with a `//!` module doc;
//! - ARCHITECTURE.md is over [`ARCHITECTURE_MAX_BYTES`], or its lists that go stale
//!   (the migrations of both databases, the `logiflow` and `logiflow-server` commands)
//!   differ from the code;
//! - the route table of crates/server/README.md (each `/v1` route with its permission)
//!   differs from the routes of the OpenAPI annotations;
//! - a function of product code (a crate's `src/`, tests aside) is longer than
//!   [`FN_LINES_MAX`] lines and its doc does not say why, in a sentence starting
//!   [`LONG_BECAUSE`].
//!
//! The forbidden strings are assembled from pieces so that this file does not match
//! itself.

use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::util::project_root;

/// How far into README.md the two commands must appear.
const README_HEAD_LINES: usize = 10;

const FORBIDDEN: &[(&str, &str)] = &[
    (
        concat!("#[", "ignore"),
        "an ignored test: fix it or delete it (a test that never runs checks nothing)",
    ),
    (
        concat!("todo", "!("),
        "a todo macro: finish the code or return an error",
    ),
    (
        concat!("unimplemented", "!("),
        "an unimplemented macro: finish the code or return an error",
    ),
];

/// ARCHITECTURE.md is a code map and a list of invariants, not a manual: the mechanism
/// detail lives in the `//!` docs of the modules it describes.
const ARCHITECTURE_MAX_BYTES: usize = 15_000;

/// The server's README, whose route table lists every route with its permission.
const SERVER_README: &str = "crates/server/README.md";

/// The OpenAPI document's own route, served without an annotation.
const OPENAPI_PATH: &str = "/v1/openapi.json";

/// The files that declare the top-level subcommands of the two binaries (the clap
/// `enum Command` in each).
const COMMAND_SOURCES: &[(&str, &str)] = &[
    ("logiflow", "crates/replica/src/cli/args.rs"),
    ("logiflow-server", "crates/server/src/main.rs"),
];

/// The longest function of product code, in lines from its `fn` to its closing brace,
/// before its doc must say why it is one function (issue #14: "No function over ~80
/// lines outside tests without a reason in its doc").
const FN_LINES_MAX: usize = 80;

/// How the doc of a longer function starts the sentence that says why it is one function.
const LONG_BECAUSE: &str = "Longer than 80 lines";

/// Extensions of the files searched for [`FORBIDDEN`] strings.
const SOURCE_EXTENSIONS: &[&str] = &["rs", "ts", "svelte"];

#[derive(Debug, PartialEq, Eq)]
struct Problem {
    path: String,
    line: usize,
    message: String,
}

impl Problem {
    fn new(path: &str, line: usize, message: impl Into<String>) -> Problem {
        Problem {
            path: path.to_owned(),
            line,
            message: message.into(),
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.path, self.line, self.message)
    }
}

/// README.md must open with the two commands, one line each with a comment:
/// `cargo xtask dev    # …` then `cargo xtask test   # …`.
fn check_readme(text: &str) -> Vec<Problem> {
    let head: Vec<&str> = text.lines().take(README_HEAD_LINES).collect();
    let position = |command: &str| {
        head.iter().position(|line| {
            line.strip_prefix(command)
                .is_some_and(|rest| rest.is_empty() || rest.starts_with(' '))
        })
    };
    let mut problems = Vec::new();
    match (position("cargo xtask dev"), position("cargo xtask test")) {
        (Some(dev), Some(test)) if test == dev + 1 => {
            for index in [dev, test] {
                let has_comment = head[index]
                    .split_once('#')
                    .is_some_and(|(_, comment)| !comment.trim().is_empty());
                if !has_comment {
                    problems.push(Problem::new(
                        "README.md",
                        index + 1,
                        "say what the command does in a `# …` comment on its line",
                    ));
                }
            }
        }
        (Some(dev), Some(_)) => problems.push(Problem::new(
            "README.md",
            dev + 1,
            "`cargo xtask test` must be on the line right after `cargo xtask dev`",
        )),
        _ => problems.push(Problem::new(
            "README.md",
            1,
            format!(
                "README.md must begin with `cargo xtask dev` and then `cargo xtask test`, \
                 one per line, within its first {README_HEAD_LINES} lines"
            ),
        )),
    }
    problems
}

/// Every `cargo xtask <command>` README.md mentions must exist.
fn check_readme_commands(text: &str) -> Vec<Problem> {
    let mut problems = Vec::new();
    for (index, line) in text.lines().enumerate() {
        for (start, _) in line.match_indices("cargo xtask ") {
            let rest = &line[start + "cargo xtask ".len()..];
            let word: String = rest
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '-')
                .collect();
            if word.is_empty() || word.starts_with('-') {
                continue;
            }
            if !crate::COMMANDS.iter().any(|(name, _)| *name == word) {
                problems.push(Problem::new(
                    "README.md",
                    index + 1,
                    format!("`cargo xtask {word}` is not a command of xtask/src/main.rs"),
                ));
            }
        }
    }
    problems
}

/// `.ci/run` runs `cargo xtask test` and nothing else (besides `set` and `cd`).
fn check_ci_run(text: &str) -> Vec<Problem> {
    let path = ".ci/run";
    let commands: Vec<(usize, &str)> = text
        .lines()
        .enumerate()
        .map(|(index, line)| (index + 1, line.trim()))
        .filter(|(_, line)| {
            !line.is_empty()
                && !line.starts_with('#')
                && !line.starts_with("set ")
                && !line.starts_with("cd ")
        })
        .collect();
    let is_test = |line: &str| line == "cargo xtask test" || line == "exec cargo xtask test";
    let mut problems: Vec<Problem> = commands
        .iter()
        .filter(|(_, line)| !is_test(line))
        .map(|(number, line)| {
            Problem::new(
                path,
                *number,
                format!("runs `{line}`: .ci/run must run `cargo xtask test` and nothing else"),
            )
        })
        .collect();
    match commands.iter().filter(|(_, line)| is_test(line)).count() {
        1 => {}
        0 => problems.push(Problem::new(path, 1, "does not run `cargo xtask test`")),
        _ => problems.push(Problem::new(
            path,
            1,
            "runs `cargo xtask test` more than once",
        )),
    }
    problems
}

fn check_forbidden(path: &str, text: &str) -> Vec<Problem> {
    let mut problems = Vec::new();
    for (index, line) in text.lines().enumerate() {
        for (needle, why) in FORBIDDEN {
            if line.contains(needle) {
                problems.push(Problem::new(path, index + 1, format!("`{needle}`: {why}")));
            }
        }
    }
    problems
}

/// A crate root (lib.rs or main.rs) starts with a `//!` module doc.
fn check_module_doc(path: &str, text: &str) -> Vec<Problem> {
    let first = text
        .lines()
        .enumerate()
        .find(|(_, line)| !line.trim().is_empty());
    match first {
        Some((_, line)) if line.trim_start().starts_with("//!") => Vec::new(),
        Some((index, _)) => vec![Problem::new(
            path,
            index + 1,
            "a crate root must start with a `//!` doc saying what the crate is for",
        )],
        None => vec![Problem::new(
            path,
            1,
            "an empty crate root: add a `//!` doc",
        )],
    }
}

/// Product code: a Rust file under a crate's `src/`, not a test or bench file.
fn is_product_code(path: &Path) -> bool {
    let text = path.to_string_lossy();
    path.extension().is_some_and(|e| e == "rs")
        && (text.starts_with("crates/")
            || text.starts_with("src-tauri/")
            || text.starts_with("xtask/"))
        && text.contains("/src/")
        && !text.contains("/tests/")
        && !text.ends_with("/tests.rs")
        && !text.ends_with("_tests.rs")
}

/// Functions over [`FN_LINES_MAX`] lines whose doc has no [`LONG_BECAUSE`] line. Reads
/// rustfmt's layout: a function ends at the first `}` at its own indentation, and a
/// module's tests start at a top-level `#[cfg(test)]`, where the check stops.
fn check_long_functions(path: &str, text: &str) -> Vec<Problem> {
    let lines: Vec<&str> = text.lines().collect();
    let end = lines
        .iter()
        .position(|l| l.starts_with("#[cfg(test)]"))
        .unwrap_or(lines.len());
    let mut problems = Vec::new();
    let mut index = 0;
    while index < end {
        let line = lines[index];
        let Some(name) = fn_name(line) else {
            index += 1;
            continue;
        };
        let indent = &line[..line.len() - line.trim_start().len()];
        // The signature may span lines; a declaration without a body (a trait's) ends in `;`.
        let Some(open) = (index..end).find(|&i| {
            let l = lines[i].trim_end();
            l.ends_with('{') || l.ends_with(';')
        }) else {
            break;
        };
        if lines[open].trim_end().ends_with(';') {
            index = open + 1;
            continue;
        }
        let close = (open + 1..end)
            .find(|&i| lines[i].strip_prefix(indent) == Some("}"))
            .unwrap_or(end);
        let length = close - index + 1;
        if length > FN_LINES_MAX && !doc_says_why(&lines[..index]) {
            problems.push(Problem::new(
                path,
                index + 1,
                format!(
                    "fn {name} is {length} lines (more than {FN_LINES_MAX}): split it, or say \
                     why it is one function in its doc (\"{LONG_BECAUSE}: …\")"
                ),
            ));
        }
        index = close + 1;
    }
    problems
}

/// The name of the function a line declares, if it does.
fn fn_name(line: &str) -> Option<&str> {
    let mut rest = line.trim_start();
    for prefix in [
        "pub(crate) ",
        "pub(super) ",
        "pub ",
        "const ",
        "async ",
        "unsafe ",
    ] {
        rest = rest.strip_prefix(prefix).unwrap_or(rest);
    }
    let rest = rest.strip_prefix("async ").unwrap_or(rest);
    let name = rest.strip_prefix("fn ")?;
    let end = name.find(|c: char| !(c.is_alphanumeric() || c == '_'))?;
    // `fn $name(` in a macro's template is not a function of its own.
    (end > 0).then(|| &name[..end])
}

/// Whether the doc comment and attributes right above a function say why it is long.
/// (The marker names the number: a test below keeps it equal to [`FN_LINES_MAX`].)
fn doc_says_why(above: &[&str]) -> bool {
    above
        .iter()
        .rev()
        .map(|l| l.trim_start())
        .take_while(|l| l.starts_with("///") || l.starts_with("#[") || l.starts_with("//"))
        .any(|l| {
            l.strip_prefix("///")
                .is_some_and(|doc| doc.contains(LONG_BECAUSE))
        })
}

/// The text between backticks, for each pair on each line.
fn backticked(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.lines().enumerate().flat_map(|(index, line)| {
        line.split('`')
            .skip(1)
            .step_by(2)
            .map(move |code| (index + 1, code))
    })
}

/// Compares a list the document names (in backticks) with the one the code has: each
/// item the code has and the document does not, and each the document names that the
/// code does not have, is a problem.
fn check_list(
    what: &str,
    doc_path: &str,
    doc: &[(usize, String)],
    code: &std::collections::BTreeSet<String>,
) -> Vec<Problem> {
    let mut problems = Vec::new();
    for (line, item) in doc {
        if !code.contains(item) {
            problems.push(Problem::new(
                doc_path,
                *line,
                format!("names the {what} `{item}`, which the code does not have"),
            ));
        }
    }
    for item in code {
        if !doc.iter().any(|(_, named)| named == item) {
            problems.push(Problem::new(
                doc_path,
                1,
                format!("does not list the {what} `{item}`"),
            ));
        }
    }
    problems
}

/// `/v1/...` paths named in the document (a backticked path, optionally after a method).
fn doc_routes(text: &str) -> Vec<(usize, String)> {
    backticked(text)
        .filter_map(|(line, code)| {
            let path = code.rsplit(' ').next()?;
            path.starts_with("/v1/").then(|| (line, path.to_owned()))
        })
        .collect()
}

/// The paths of the server's documented routes: `path = "/v1/..."` of the utoipa
/// annotations, and `path: "/v1/..."` (or `item_path:`) of the macros that write
/// several annotated handlers at once.
fn code_routes(source: &str) -> impl Iterator<Item = String> + '_ {
    ["path = \"", "path: \""]
        .into_iter()
        .flat_map(move |marker| {
            source.split(marker).skip(1).filter_map(|rest| {
                let path = &rest[..rest.find('"')?];
                path.starts_with("/v1/").then(|| path.to_owned())
            })
        })
}

/// Migration files named in the document: a backticked `name.sql`, with or without its
/// directory.
fn doc_migrations(text: &str) -> Vec<(usize, String)> {
    backticked(text)
        .filter_map(|(line, code)| {
            let name = code.rsplit('/').next()?;
            let (number, _) = name.split_once('_')?;
            let numbered = !number.is_empty() && number.bytes().all(|b| b.is_ascii_digit());
            (numbered && name.ends_with(".sql")).then(|| (line, name.to_owned()))
        })
        .collect()
}

/// `logiflow x` / `logiflow-server x` commands named in the document.
fn doc_commands(text: &str, binary: &str) -> Vec<(usize, String)> {
    let prefix = format!("{binary} ");
    backticked(text)
        .filter_map(|(line, code)| {
            let rest = code.strip_prefix(&prefix)?;
            let command = rest.split_whitespace().next()?;
            let is_word = command.bytes().all(|b| b.is_ascii_lowercase() || b == b'-');
            (is_word && !command.is_empty()).then(|| (line, command.to_owned()))
        })
        .collect()
}

/// The kebab-case names of the variants of the first `enum Command` in a clap source
/// file: the binary's top-level subcommands.
fn code_commands(source: &str) -> Vec<String> {
    let Some(start) = source.find("enum Command {") else {
        return Vec::new();
    };
    let mut commands = Vec::new();
    for line in source[start..].lines().skip(1) {
        if line.starts_with('}') {
            break;
        }
        // Variants sit at one level of indentation; their fields, docs and attributes
        // are deeper or start with `#`/`/`.
        let Some(variant) = line.strip_prefix("    ") else {
            continue;
        };
        let name: String = variant
            .chars()
            .take_while(char::is_ascii_alphanumeric)
            .collect();
        if !name.starts_with(|c: char| c.is_ascii_uppercase()) {
            continue;
        }
        let mut kebab = String::new();
        for (index, c) in name.chars().enumerate() {
            if c.is_ascii_uppercase() && index > 0 {
                kebab.push('-');
            }
            kebab.push(c.to_ascii_lowercase());
        }
        commands.push(kebab);
    }
    commands
}

fn check_architecture(root: &Path, text: &str) -> Vec<Problem> {
    const DOC: &str = "ARCHITECTURE.md";
    let mut problems = Vec::new();
    if text.len() > ARCHITECTURE_MAX_BYTES {
        problems.push(Problem::new(
            DOC,
            1,
            format!(
                "is {} bytes, over {ARCHITECTURE_MAX_BYTES}: move mechanism detail into the \
                 `//!` docs of the modules it describes",
                text.len()
            ),
        ));
    }

    let mut migrations = std::collections::BTreeSet::new();
    for dir in ["migrations/server", "migrations/replica"] {
        let entries = fs::read_dir(root.join(dir)).into_iter().flatten().flatten();
        for entry in entries {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.ends_with(".sql") {
                migrations.insert(name);
            }
        }
    }
    problems.extend(check_list(
        "migration",
        DOC,
        &doc_migrations(text),
        &migrations,
    ));

    for (binary, source) in COMMAND_SOURCES {
        let Ok(code) = fs::read_to_string(root.join(source)) else {
            problems.push(Problem::new(source, 1, "cannot read the command list"));
            continue;
        };
        let commands: std::collections::BTreeSet<String> =
            code_commands(&code).into_iter().collect();
        if commands.is_empty() {
            problems.push(Problem::new(
                source,
                1,
                "has no `enum Command {` with variants",
            ));
        }
        let what = format!("`{binary}` command");
        problems.extend(check_list(
            &what,
            DOC,
            &doc_commands(text, binary),
            &commands,
        ));
    }
    problems
}

/// The server README's route table: its rows (`| ... |` lines) name every `/v1` route the
/// OpenAPI annotations declare, and nothing else, besides the document itself.
fn check_route_table(root: &Path, readme: &str) -> Vec<Problem> {
    let mut routes = std::collections::BTreeSet::from([OPENAPI_PATH.to_owned()]);
    for relative in repository_files(root) {
        let in_server = relative.starts_with("crates/server/src");
        if in_server && relative.extension().is_some_and(|e| e == "rs") {
            if let Ok(source) = fs::read_to_string(root.join(&relative)) {
                routes.extend(code_routes(&source));
            }
        }
    }
    check_list("route", SERVER_README, &table_routes(readme), &routes)
}

/// The routes named in the rows of a markdown table.
fn table_routes(text: &str) -> Vec<(usize, String)> {
    let rows: String = text
        .lines()
        .map(|line| if line.starts_with('|') { line } else { "" })
        .collect::<Vec<_>>()
        .join("\n");
    doc_routes(&rows)
}

fn is_crate_root(path: &Path) -> bool {
    let in_src = path
        .parent()
        .and_then(Path::file_name)
        .is_some_and(|dir| dir == "src");
    in_src
        && matches!(
            path.file_name().and_then(|n| n.to_str()),
            Some("lib.rs" | "main.rs")
        )
}

/// The repository's files, relative to `root`: those git tracks plus new ones it does not
/// ignore; without git, a walk that skips build outputs and dependencies.
fn repository_files(root: &Path) -> Vec<PathBuf> {
    let output = Command::new("git")
        .args([
            "ls-files",
            "-z",
            "--cached",
            "--others",
            "--exclude-standard",
        ])
        .current_dir(root)
        .output();
    match output {
        Ok(output) if output.status.success() => output
            .stdout
            .split(|byte| *byte == 0)
            .filter(|name| !name.is_empty())
            .map(|name| PathBuf::from(String::from_utf8_lossy(name).into_owned()))
            .collect(),
        _ => {
            let mut files = Vec::new();
            walk(root, Path::new(""), &mut files);
            files
        }
    }
}

fn walk(root: &Path, relative: &Path, files: &mut Vec<PathBuf>) {
    let Ok(entries) = fs::read_dir(root.join(relative)) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let path = relative.join(&name);
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        if kind.is_dir() {
            if !matches!(
                name.to_str(),
                Some("target" | "node_modules" | ".git" | "dist")
            ) {
                walk(root, &path, files);
            }
        } else if kind.is_file() {
            files.push(path);
        }
    }
}

#[test]
fn tidy() {
    use std::os::unix::fs::PermissionsExt;

    let root = project_root();
    let read = |relative: &str| fs::read_to_string(root.join(relative));
    let mut problems = Vec::new();

    match read("README.md") {
        Ok(text) => {
            problems.extend(check_readme(&text));
            problems.extend(check_readme_commands(&text));
        }
        Err(err) => problems.push(Problem::new("README.md", 1, format!("cannot read: {err}"))),
    }
    match read(".ci/run") {
        Ok(text) => problems.extend(check_ci_run(&text)),
        Err(err) => problems.push(Problem::new(".ci/run", 1, format!("cannot read: {err}"))),
    }
    match read("ARCHITECTURE.md") {
        Ok(text) => problems.extend(check_architecture(&root, &text)),
        Err(err) => problems.push(Problem::new(
            "ARCHITECTURE.md",
            1,
            format!("cannot read: {err}"),
        )),
    }
    match read(SERVER_README) {
        Ok(text) => problems.extend(check_route_table(&root, &text)),
        Err(err) => problems.push(Problem::new(
            SERVER_README,
            1,
            format!("cannot read: {err}"),
        )),
    }
    let executable =
        fs::metadata(root.join(".ci/run")).is_ok_and(|meta| meta.permissions().mode() & 0o111 != 0);
    if !executable {
        problems.push(Problem::new(".ci/run", 1, "is not executable (chmod +x)"));
    }

    for relative in repository_files(&root) {
        let extension = relative.extension().and_then(|e| e.to_str()).unwrap_or("");
        if !SOURCE_EXTENSIONS.contains(&extension) {
            continue;
        }
        // Listed by git but deleted in the work tree: nothing to check.
        let Ok(text) = fs::read_to_string(root.join(&relative)) else {
            continue;
        };
        let display = relative.to_string_lossy();
        problems.extend(check_forbidden(&display, &text));
        if extension == "rs" && is_crate_root(&relative) {
            problems.extend(check_module_doc(&display, &text));
        }
        if is_product_code(&relative) {
            problems.extend(check_long_functions(&display, &text));
        }
    }

    let list: Vec<String> = problems.iter().map(ToString::to_string).collect();
    assert!(
        problems.is_empty(),
        "tidy found {} problem(s):\n{}",
        problems.len(),
        list.join("\n")
    );
}

// The checkers must also fail when they should: each rule on a small bad input.

#[test]
fn readme_without_the_commands_fails() {
    let problems = check_readme("# LogiFlow\n\nA warehouse system.\n");
    assert_eq!(problems.len(), 1);
    assert_eq!(problems[0].line, 1);

    let good =
        "# LogiFlow\n\n```sh\ncargo xtask dev    # run it\ncargo xtask test   # test it\n```\n";
    assert_eq!(check_readme(good), []);

    let swapped = "cargo xtask test   # test it\ncargo xtask dev    # run it\n";
    assert_eq!(check_readme(swapped).len(), 1);

    let silent = "cargo xtask dev\ncargo xtask test   # test it\n";
    assert_eq!(
        check_readme(silent),
        [Problem::new(
            "README.md",
            1,
            check_readme(silent)[0].message.clone()
        )]
    );

    let too_late = format!(
        "{}cargo xtask dev  # a\ncargo xtask test  # b\n",
        "x\n".repeat(README_HEAD_LINES)
    );
    assert_eq!(check_readme(&too_late).len(), 1);
}

#[test]
fn readme_naming_an_unknown_command_fails() {
    let problems = check_readme_commands("run `cargo xtask test`, then\n`cargo xtask deploy`\n");
    assert_eq!(problems.len(), 1);
    assert_eq!(problems[0].line, 2);
    assert!(problems[0].message.contains("deploy"));
}

#[test]
fn ci_run_doing_more_than_the_tests_fails() {
    let good = "#!/usr/bin/env bash\nset -euo pipefail\ncd \"$(dirname \"$0\")/..\"\nexec cargo xtask test\n";
    assert_eq!(check_ci_run(good), []);

    let extra = "#!/usr/bin/env bash\ncargo build\ncargo xtask test\n";
    let problems = check_ci_run(extra);
    assert_eq!(problems.len(), 1);
    assert_eq!(problems[0].line, 2);

    let missing = "#!/usr/bin/env bash\ncargo nextest run\n";
    assert_eq!(check_ci_run(missing).len(), 2);
}

#[test]
fn forbidden_strings_fail_with_their_line() {
    for (needle, _) in FORBIDDEN {
        let text = format!("fn a() {{}}\n    {needle}\"x\")]\n");
        let problems = check_forbidden("crates/core/src/x.rs", &text);
        assert_eq!(problems.len(), 1, "{needle}");
        assert_eq!(
            problems[0]
                .to_string()
                .split(':')
                .take(2)
                .collect::<Vec<_>>(),
            ["crates/core/src/x.rs", "2"]
        );
    }
    assert_eq!(
        check_forbidden("a.rs", "fn ignore_me() { todo_list(); }\n"),
        []
    );
}

#[test]
fn a_long_function_needs_a_reason_in_its_doc() {
    let body = |n: usize| "    let x = 1;\n".repeat(n);
    let long = format!(
        "/// Does a thing.\npub async fn thing(\n    a: u8,\n) {{\n{}}}\n",
        body(77)
    );
    let problems = check_long_functions("crates/a/src/b.rs", &long);
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert_eq!(
        (
            problems[0].line,
            problems[0].message.contains("fn thing is 81 lines")
        ),
        (2, true)
    );
    // At the limit, or with its reason, or in the tests of the module: nothing to say.
    let at_limit = format!("pub async fn thing(\n    a: u8,\n) {{\n{}}}\n", body(76));
    assert_eq!(check_long_functions("crates/a/src/b.rs", &at_limit), []);
    let explained = format!(
        "/// Does a thing.\n///\n/// Longer than 80 lines: it is one statement.\n#[allow(x)]\n{}",
        &long["/// Does a thing.\n".len()..]
    );
    assert_eq!(check_long_functions("crates/a/src/b.rs", &explained), []);
    let in_tests = format!("fn short() {{}}\n\n#[cfg(test)]\nmod tests {{\n{long}}}\n");
    assert_eq!(check_long_functions("crates/a/src/b.rs", &in_tests), []);
    // A method is measured to its own closing brace, and a bodiless declaration skipped.
    let method = format!(
        "impl A {{\n    fn f(&self);\n    fn g(&self) {{\n{}    }}\n}}\n",
        body(80)
    );
    let problems = check_long_functions("crates/a/src/b.rs", &method);
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(
        problems[0].message.contains("fn g is 82 lines"),
        "{problems:?}"
    );

    assert!(LONG_BECAUSE.contains(&FN_LINES_MAX.to_string()));
    assert!(is_product_code(Path::new("crates/server/src/pull.rs")));
    assert!(is_product_code(Path::new("src-tauri/src/lib.rs")));
    assert!(!is_product_code(Path::new(
        "crates/server/tests/api/main.rs"
    )));
    assert!(!is_product_code(Path::new(
        "crates/server/benches/server.rs"
    )));
    assert!(!is_product_code(Path::new("ui/src/lib/scan.ts")));
}

#[test]
fn crate_root_without_module_doc_fails() {
    assert_eq!(
        check_module_doc("src/lib.rs", "//! Docs.\n\nfn a() {}\n"),
        []
    );
    assert_eq!(
        check_module_doc("src/lib.rs", "\n//! Docs after a blank line.\n"),
        []
    );
    let problems = check_module_doc("crates/x/src/main.rs", "/// Item doc.\nfn main() {}\n");
    assert_eq!(
        problems,
        [Problem::new(
            "crates/x/src/main.rs",
            1,
            problems[0].message.clone()
        )]
    );
    assert_eq!(check_module_doc("src/lib.rs", "").len(), 1);

    assert!(is_crate_root(Path::new("crates/core/src/lib.rs")));
    assert!(is_crate_root(Path::new("xtask/src/main.rs")));
    assert!(!is_crate_root(Path::new("crates/core/src/count/lib.rs")));
    assert!(!is_crate_root(Path::new("crates/core/tests/main.rs")));
}

#[test]
fn architecture_lists_must_equal_the_code() {
    let code: std::collections::BTreeSet<String> =
        ["/v1/a".to_owned(), "/v1/b/{id}".to_owned()].into();
    let doc = "- `GET /v1/a`, `/v1/c`\n";
    let problems = check_list("route", "A.md", &doc_routes(doc), &code);
    assert_eq!(
        problems,
        vec![
            Problem::new(
                "A.md",
                1,
                "names the route `/v1/c`, which the code does not have"
            ),
            Problem::new("A.md", 1, "does not list the route `/v1/b/{id}`"),
        ]
    );

    let readme = "`GET /v1/prose`\n| `GET /v1/a` | x |\n";
    let named: Vec<String> = table_routes(readme).into_iter().map(|(_, n)| n).collect();
    assert_eq!(named, ["/v1/a"]);

    let doc = "x\n`migrations/replica/0001_init.sql` and `0002_b.sql`, `Cargo.toml`\n";
    let named: Vec<String> = doc_migrations(doc).into_iter().map(|(_, n)| n).collect();
    assert_eq!(named, ["0001_init.sql", "0002_b.sql"]);

    let doc = "`logiflow sync --watch`, `logiflow-server serve`, `logiflow Journal`\n";
    let named: Vec<String> = doc_commands(doc, "logiflow")
        .into_iter()
        .map(|(_, n)| n)
        .collect();
    assert_eq!(named, ["sync"]);
}

#[test]
fn routes_are_read_from_annotations_and_handler_macros() {
    let source = r#"
#[utoipa::path(get, path = "/v1/stock", tag = "stock")]
party_handlers! { path: "/v1/suppliers", item_path: "/v1/suppliers/{id}", }
#[utoipa::path(get, path = $path, tag = $tag)]
let other = "path = \"/metrics\"";
"#;
    let mut routes: Vec<String> = code_routes(source).collect();
    routes.sort();
    assert_eq!(routes, ["/v1/stock", "/v1/suppliers", "/v1/suppliers/{id}"]);
    // A macro's `fn $name(` template is not measured as a function.
    let template = format!(
        "macro_rules! m {{\n    () => {{\n        fn $name() {{\n{}        }}\n    }};\n}}\n",
        "            x();\n".repeat(90)
    );
    assert_eq!(check_long_functions("crates/a/src/b.rs", &template), []);
}

#[test]
fn commands_are_read_from_the_clap_enum() {
    let source = "\
#[derive(Subcommand)]
enum Command {
    /// Docs.
    Sync {
        #[command(flatten)]
        Args: Args,
    },
    SignOut,
    ImportSnapshot { path: PathBuf },
}
enum Other {
    Nope,
}
";
    assert_eq!(
        code_commands(source),
        ["sync", "sign-out", "import-snapshot"]
    );
    assert!(code_commands("enum Else {}").is_empty());
}

#[test]
fn an_oversized_architecture_fails() {
    let text = "x".repeat(ARCHITECTURE_MAX_BYTES + 1);
    let root = Path::new("/nonexistent");
    let problems = check_architecture(root, &text);
    assert!(
        problems.iter().any(|p| p.message.contains("over 15000")),
        "{problems:?}"
    );
}
