//! Repository hygiene as a test: `cargo xtask test` runs it with the other tests.
//!
//! It fails, naming the file and line, when:
//! - README.md does not open with `cargo xtask dev` and `cargo xtask test`, or mentions a
//!   `cargo xtask` command that does not exist;
//! - `.ci/run` does anything but run `cargo xtask test`, or is not executable;
//! - a Rust, TypeScript or Svelte file ignores a test or leaves a `todo`/`unimplemented`
//!   macro behind;
//! - a crate's lib.rs or main.rs does not start with a `//!` module doc.
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
