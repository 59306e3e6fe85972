//! The server's layering as a test: its storage and domain modules never import the HTTP
//! layer, and no import cycle crosses layers (issue #14). It reads the `crate::…` and
//! `super::…` paths of every file under `crates/server/src`, one module per file.
// Only its tests use it, like `tidy`.
#![cfg(test)]

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::fmt;
use std::fs;
use std::path::Path;

use crate::util::project_root;

/// Where the server's sources are, relative to the workspace root.
const SERVER_SRC: &str = "crates/server/src";

/// The top-level modules of the server that make up the HTTP layer (axum handlers,
/// extractors, the router and its state, the crate roots). Everything else is storage
/// or domain and must not import these. `error` is not one: `ApiError` is the error type
/// of the domain and storage functions, a table of codes; `routes::problems` renders it.
const HTTP_MODULES: &[&str] = &["routes", "auth", "state", "app", "extract", "main", "lib"];

/// The top-level modules of the storage layer (SQL and the tenant transaction).
const STORAGE_MODULES: &[&str] = &["store", "db"];

/// A module's layer, from its top-level module.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Layer {
    Http,
    Domain,
    Storage,
}

impl fmt::Display for Layer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Layer::Http => "HTTP",
            Layer::Domain => "domain",
            Layer::Storage => "storage",
        })
    }
}

fn layer(module: &str) -> Layer {
    let top = module.split("::").next().unwrap_or(module);
    if HTTP_MODULES.contains(&top) {
        Layer::Http
    } else if STORAGE_MODULES.contains(&top) {
        Layer::Storage
    } else {
        Layer::Domain
    }
}

/// The module path of a file relative to `src`: `store/locations.rs` is
/// `store::locations`, `catalog/mod.rs` is `catalog`, `lib.rs` is `lib`.
fn module_of(relative: &str) -> String {
    let stem = relative.strip_suffix(".rs").unwrap_or(relative);
    let stem = stem.strip_suffix("/mod").unwrap_or(stem);
    stem.replace('/', "::")
}

/// One import: the file's line and the path as written (`crate::a::b`).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Import {
    line: usize,
    path: Vec<String>,
}

/// Every `crate::…` and `super::…` path in `text` outside comments, with `use` groups
/// (`crate::a::{b, c::d}`, across lines too) expanded into one path each.
fn imports(text: &str) -> Vec<Import> {
    // Comments out, lines kept: a path in a doc link is not an import.
    let code: String = text
        .lines()
        .map(|l| match l.find("//") {
            Some(i) => &l[..i],
            None => l,
        })
        .collect::<Vec<_>>()
        .join("\n");
    let bytes = code.as_bytes();
    let mut found = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if !code.is_char_boundary(i) {
            i += 1;
            continue;
        }
        let rest = &code[i..];
        // `$crate::` in a macro is not a path of this file.
        let starts_word = i == 0 || !(is_ident(bytes[i - 1] as char) || bytes[i - 1] == b'$');
        let root = ["crate::", "super::"]
            .into_iter()
            .find(|r| starts_word && rest.starts_with(r));
        let Some(root) = root else {
            i += 1;
            continue;
        };
        let mut pos = i + root.len();
        let prefix = vec![root.trim_end_matches("::").to_owned()];
        for (at, path) in tree(&code, &mut pos, prefix) {
            let line = code[..at].matches('\n').count() + 1;
            found.push(Import { line, path });
        }
        i = pos.max(i + 1);
    }
    found
}

fn is_ident(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// Parses a use tree at `pos` (after `prefix::`): `a::b`, `a::{b, c}`, `{self, a}`. Each
/// path comes with the offset where its own text starts.
fn tree(code: &str, pos: &mut usize, prefix: Vec<String>) -> Vec<(usize, Vec<String>)> {
    let bytes = code.as_bytes();
    let skip_space = |pos: &mut usize| {
        while *pos < bytes.len() && (bytes[*pos] as char).is_whitespace() {
            *pos += 1;
        }
    };
    skip_space(pos);
    if bytes.get(*pos) == Some(&b'{') {
        *pos += 1;
        let mut paths = Vec::new();
        loop {
            skip_space(pos);
            match bytes.get(*pos) {
                None => return paths,
                Some(b'}') => {
                    *pos += 1;
                    return paths;
                }
                Some(b',') => *pos += 1,
                Some(_) => {
                    let before = *pos;
                    paths.extend(tree(code, pos, prefix.clone()));
                    if *pos == before {
                        // Not a path (`*`, `as x`): step over it.
                        *pos += 1;
                    }
                }
            }
        }
    }
    let at = *pos;
    let mut path = prefix;
    loop {
        let start = *pos;
        while *pos < bytes.len() && is_ident(bytes[*pos] as char) {
            *pos += 1;
        }
        if *pos == start {
            break;
        }
        let segment = &code[start..*pos];
        if segment != "self" {
            path.push(segment.to_owned());
        }
        if code[*pos..].starts_with("::") {
            *pos += 2;
            if bytes.get(*pos) == Some(&b'{') {
                return tree(code, pos, path);
            }
        } else {
            break;
        }
    }
    vec![(at, path)]
}

/// The module an import names: the longest prefix of its path (after `crate` or
/// `super` is resolved against `from`) that is one of `modules`.
fn resolve(from: &str, path: &[String], modules: &BTreeSet<String>) -> Option<String> {
    let mut full: Vec<String> = Vec::new();
    let mut rest = path;
    match path.first().map(String::as_str) {
        Some("crate") => rest = &path[1..],
        Some("super") => {
            let mut base: Vec<&str> = from.split("::").collect();
            while rest.first().map(String::as_str) == Some("super") {
                base.pop();
                rest = &rest[1..];
            }
            full.extend(base.iter().map(|s| (*s).to_owned()));
        }
        _ => return None,
    }
    full.extend(rest.iter().cloned());
    (1..=full.len())
        .rev()
        .map(|n| full[..n].join("::"))
        .find(|m| modules.contains(m))
}

/// One edge of the import graph, with where it is written.
#[derive(Debug, Clone)]
struct Edge {
    file: String,
    line: usize,
    path: String,
}

/// What breaks the layering, each naming the file and the import.
fn check(files: &BTreeMap<String, String>) -> Vec<String> {
    let modules: BTreeSet<String> = files.keys().map(|f| module_of(f)).collect();
    // from → to → the first place the import is written.
    let mut graph: BTreeMap<String, BTreeMap<String, Edge>> = BTreeMap::new();
    let mut problems = Vec::new();
    for (file, text) in files {
        let from = module_of(file);
        graph.entry(from.clone()).or_default();
        for import in imports(text) {
            let Some(to) = resolve(&from, &import.path, &modules) else {
                continue;
            };
            if to == from {
                continue;
            }
            let path = import.path.join("::");
            if layer(&from) != Layer::Http && layer(&to) == Layer::Http {
                problems.push(format!(
                    "{SERVER_SRC}/{file}:{}: the {} module `{from}` imports `{path}` from the \
                     HTTP layer (`{to}`); move what it needs out of the HTTP layer",
                    import.line,
                    layer(&from),
                ));
            }
            graph
                .entry(from.clone())
                .or_default()
                .entry(to)
                .or_insert(Edge {
                    file: file.clone(),
                    line: import.line,
                    path,
                });
        }
    }
    for component in components(&graph) {
        let layers: BTreeSet<Layer> = component.iter().map(|m| layer(m)).collect();
        if layers.len() < 2 {
            continue;
        }
        let cycle = cycle_through(&graph, &component);
        let steps: Vec<String> = cycle
            .windows(2)
            .map(|w| {
                let e = &graph[&w[0]][&w[1]];
                format!(
                    "`{}` ({}) imports `{}` at {SERVER_SRC}/{}:{}",
                    w[0],
                    layer(&w[0]),
                    e.path,
                    e.file,
                    e.line
                )
            })
            .collect();
        problems.push(format!(
            "an import cycle crosses layers: {}",
            steps.join(", then ")
        ));
    }
    problems
}

/// The strongly connected components with more than one module (Tarjan's algorithm).
fn components(graph: &BTreeMap<String, BTreeMap<String, Edge>>) -> Vec<Vec<String>> {
    struct State<'g> {
        graph: &'g BTreeMap<String, BTreeMap<String, Edge>>,
        index: BTreeMap<&'g str, usize>,
        low: BTreeMap<&'g str, usize>,
        stack: Vec<&'g str>,
        on_stack: BTreeSet<&'g str>,
        out: Vec<Vec<String>>,
    }
    fn visit<'g>(s: &mut State<'g>, v: &'g str) {
        let n = s.index.len();
        s.index.insert(v, n);
        s.low.insert(v, n);
        s.stack.push(v);
        s.on_stack.insert(v);
        for w in s.graph.get(v).into_iter().flat_map(|m| m.keys()) {
            let w = w.as_str();
            if !s.index.contains_key(w) {
                visit(s, w);
                let low = s.low[v].min(s.low[w]);
                s.low.insert(v, low);
            } else if s.on_stack.contains(w) {
                let low = s.low[v].min(s.index[w]);
                s.low.insert(v, low);
            }
        }
        if s.low[v] == s.index[v] {
            let mut component = Vec::new();
            while let Some(w) = s.stack.pop() {
                s.on_stack.remove(w);
                component.push(w.to_owned());
                if w == v {
                    break;
                }
            }
            if component.len() > 1 {
                component.sort();
                s.out.push(component);
            }
        }
    }
    let mut s = State {
        graph,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        out: Vec::new(),
    };
    for v in graph.keys() {
        if !s.index.contains_key(v.as_str()) {
            visit(&mut s, v);
        }
    }
    s.out
}

/// A shortest cycle through the component's first module, inside the component, as the
/// list of modules from it back to it.
fn cycle_through(
    graph: &BTreeMap<String, BTreeMap<String, Edge>>,
    component: &[String],
) -> Vec<String> {
    let members: BTreeSet<&str> = component.iter().map(String::as_str).collect();
    let start = component[0].as_str();
    let mut came_from: BTreeMap<&str, &str> = BTreeMap::new();
    let mut queue = VecDeque::from([start]);
    while let Some(v) = queue.pop_front() {
        for w in graph[v].keys().map(String::as_str) {
            if !members.contains(w) {
                continue;
            }
            if w == start {
                let mut cycle = vec![start.to_owned(), v.to_owned()];
                let mut at = v;
                while at != start {
                    at = came_from[at];
                    cycle.push(at.to_owned());
                }
                cycle.reverse();
                return cycle;
            }
            if w != start && !came_from.contains_key(w) {
                came_from.insert(w, v);
                queue.push_back(w);
            }
        }
    }
    component.to_vec()
}

/// The server's source files, relative to its `src`.
fn server_files(src: &Path) -> BTreeMap<String, String> {
    fn walk(src: &Path, dir: &Path, files: &mut BTreeMap<String, String>) {
        let entries = fs::read_dir(dir).unwrap_or_else(|e| panic!("failed to read {dir:?}: {e}"));
        for entry in entries {
            let path = entry.expect("failed to read a directory entry").path();
            if path.is_dir() {
                walk(src, &path, files);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let relative = path.strip_prefix(src).expect("a file under src");
                let text = fs::read_to_string(&path)
                    .unwrap_or_else(|e| panic!("failed to read {path:?}: {e}"));
                files.insert(relative.to_string_lossy().replace('\\', "/"), text);
            }
        }
    }
    let mut files = BTreeMap::new();
    walk(src, src, &mut files);
    files
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files(list: &[(&str, &str)]) -> BTreeMap<String, String> {
        list.iter()
            .map(|(p, t)| ((*p).to_owned(), (*t).to_owned()))
            .collect()
    }

    #[test]
    fn server_layers() {
        let src = project_root().join(SERVER_SRC);
        let files = server_files(&src);
        assert!(
            files.contains_key("lib.rs") && files.keys().any(|f| f.starts_with("store/")),
            "{src:?} does not look like the server's sources"
        );
        let problems = check(&files);
        assert!(
            problems.is_empty(),
            "the server's layering is broken:\n{}",
            problems.join("\n")
        );
    }

    #[test]
    fn storage_importing_routes_fails_naming_file_and_import() {
        let problems = check(&files(&[
            ("lib.rs", "pub mod routes;\npub mod store;\n"),
            ("routes/mod.rs", "pub mod items;\n"),
            ("routes/items.rs", "pub struct Item;\n"),
            ("store/mod.rs", "pub mod items;\n"),
            (
                "store/items.rs",
                "//! Items.\n\nuse crate::routes::items::Item;\n",
            ),
        ]));
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(
            problems[0].contains("crates/server/src/store/items.rs:3")
                && problems[0].contains("`crate::routes::items::Item`"),
            "{}",
            problems[0]
        );
    }

    #[test]
    fn domain_importing_auth_through_a_group_or_a_full_path_fails() {
        let problems = check(&files(&[
            ("auth/mod.rs", "pub struct Principal;\n"),
            (
                "audit_log.rs",
                "use crate::{\n    db,\n    auth::{Principal, self},\n};\n",
            ),
            ("db.rs", ""),
            ("sync.rs", "fn f(_: &crate::auth::Principal) {}\n"),
        ]));
        assert_eq!(problems.len(), 3, "{problems:?}");
        assert!(problems[0].contains("audit_log.rs:3"), "{}", problems[0]);
        assert!(problems[2].contains("sync.rs:1"), "{}", problems[2]);
    }

    #[test]
    fn super_paths_resolve_and_comments_do_not_count() {
        let problems = check(&files(&[
            ("routes/mod.rs", "pub mod x;\n"),
            ("store/mod.rs", "pub mod a;\npub mod b;\n"),
            (
                "store/a.rs",
                "//! See [`crate::routes::x`].\nuse super::super::routes::x; // crate::routes\n",
            ),
            ("store/b.rs", "use super::a;\n"),
            ("routes/x.rs", ""),
        ]));
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(problems[0].contains("store/a.rs:2"), "{}", problems[0]);
    }

    #[test]
    fn a_cycle_across_layers_fails_and_one_inside_a_layer_does_not() {
        let problems = check(&files(&[
            ("store/locations.rs", "use crate::catalog::Location;\n"),
            (
                "catalog/mod.rs",
                "pub struct Location;\nfn f() { crate::store::locations::get(); }\n",
            ),
            ("routes/a.rs", "use crate::routes::b;\n"),
            ("routes/b.rs", "use crate::routes::a;\n"),
        ]));
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(
            problems[0].starts_with("an import cycle crosses layers: `catalog` (domain)")
                && problems[0].contains("catalog/mod.rs:2")
                && problems[0].contains("store/locations.rs:1"),
            "{}",
            problems[0]
        );
    }

    #[test]
    fn imports_expand_groups() {
        let paths: Vec<String> = imports("use crate::a::{b, c::{d, self}};\nx(crate::e::f);")
            .into_iter()
            .map(|i| format!("{}:{}", i.line, i.path.join("::")))
            .collect();
        assert_eq!(
            paths,
            [
                "1:crate::a::b",
                "1:crate::a::c::d",
                "1:crate::a::c",
                "2:crate::e::f"
            ]
        );
    }
}
