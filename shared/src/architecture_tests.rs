//! The import rule of `docs/architecture.md`, checked on the source: domain modules import nothing
//! outer, ports import only the domain, and the top-level modules form no import circle.
//!
//! It reads every file under `src/` as text, leaves out comments and `#[cfg(test)]` items (tests
//! may reach anywhere), and collects the `crate::<module>` paths each top-level module names.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// The domain: rules and types, no I/O.
const DOMAIN: [&str; 12] = [
    "notices",
    "money",
    "ids",
    "wallet",
    "ledger",
    "pricing",
    "meta",
    "billing",
    "payments",
    "recharge",
    "reporting",
    "holds",
];
const PORTS: &str = "ports";
/// What each use-case module may not name: the API reaches payments through ports (not the Stripe
/// adapter) and builds nothing itself; the handlers share the HTTP edge with the API through
/// `web`, never the API itself.
const USE_CASE_FORBIDDEN: [(&str, &[&str]); 2] = [
    ("api", &["adapters", "config", "setup"]),
    ("handlers", &["api", "config", "setup"]),
];
/// Files (relative to `src/`) at most this many; a bound on the walk.
const FILES_MAX: usize = 1_000;

/// The code of `text` without comments and without `#[cfg(test)]` items.
fn code_outside_tests(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let mut code = String::new();
    let mut index = 0;
    while index < lines.len() {
        if lines[index].trim() == "#[cfg(test)]" {
            index += 1;
            let mut depth = 0i64;
            let mut opened = false;
            while index < lines.len() {
                let line = strip_comment(lines[index]);
                depth += line.matches('{').count() as i64 - line.matches('}').count() as i64;
                opened |= line.contains('{');
                index += 1;
                if (opened && depth <= 0) || (!opened && line.trim_end().ends_with(';')) {
                    break;
                }
            }
            continue;
        }
        code.push_str(strip_comment(lines[index]));
        code.push('\n');
        index += 1;
    }
    code
}

fn strip_comment(line: &str) -> &str {
    line.find("//").map_or(line, |at| &line[..at])
}

/// The top-level modules `code` names through `crate::`, including grouped `crate::{a, b::c}`.
fn named_modules(code: &str) -> BTreeSet<String> {
    let mut named = BTreeSet::new();
    for (at, _) in code.match_indices("crate::") {
        let rest = &code[at + "crate::".len()..];
        let paths: Vec<&str> = match rest.strip_prefix('{') {
            Some(group) => group[..group.find('}').unwrap_or(group.len())]
                .split(',')
                .collect(),
            None => vec![rest],
        };
        for path in paths {
            let name: String = path
                .trim()
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            if !name.is_empty() {
                named.insert(name);
            }
        }
    }
    named
}

/// Each top-level module and the top-level modules its non-test code names.
fn import_graph(src: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut pending = vec![src.to_path_buf()];
    let mut files = 0;
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).expect("src/ is readable") {
            let path = entry.expect("a directory entry").path();
            if path.is_dir() {
                pending.push(path);
                continue;
            }
            let relative = path.strip_prefix(src).expect("under src/");
            let is_test_file = relative
                .file_name()
                .is_some_and(|name| name.to_string_lossy().ends_with("tests.rs"));
            if path.extension().is_none_or(|ext| ext != "rs") || is_test_file {
                continue;
            }
            files += 1;
            assert!(files <= FILES_MAX, "more than {FILES_MAX} files under src/");
            let first = relative.components().next().expect("a path");
            let module = first
                .as_os_str()
                .to_string_lossy()
                .trim_end_matches(".rs")
                .to_owned();
            if module == "lib" {
                continue;
            }
            let text = std::fs::read_to_string(&path).expect("a source file is text");
            let named = named_modules(&code_outside_tests(&text));
            let imports = graph.entry(module.clone()).or_default();
            imports.extend(named.into_iter().filter(|name| *name != module));
        }
    }
    graph
}

/// The rule's breaches: `module imports outer` for every domain or port module naming an outer one.
fn breaches(graph: &BTreeMap<String, BTreeSet<String>>) -> Vec<String> {
    let mut found = Vec::new();
    for (module, imports) in graph {
        let allowed = |name: &str| DOMAIN.contains(&name) || (module == PORTS && name == PORTS);
        if DOMAIN.contains(&module.as_str()) || module == PORTS {
            for name in imports.iter().filter(|name| !allowed(name)) {
                found.push(format!("{module} imports {name}"));
            }
        }
    }
    found
}

/// The use cases' breaches: `module imports name` for every use-case module naming one it may not.
fn use_case_breaches(graph: &BTreeMap<String, BTreeSet<String>>) -> Vec<String> {
    let mut found = Vec::new();
    for (module, forbidden) in USE_CASE_FORBIDDEN {
        let imports = graph.get(module).into_iter().flatten();
        for name in imports.filter(|name| forbidden.contains(&name.as_str())) {
            found.push(format!("{module} imports {name}"));
        }
    }
    found
}

/// A circle among the top-level modules, if any, as the path around it.
fn circle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        module: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(start) = path.iter().position(|on| on == module) {
            let mut around = path[start..].to_vec();
            around.push(module.to_owned());
            return Some(around);
        }
        if done.contains(module) {
            return None;
        }
        path.push(module.to_owned());
        for next in graph.get(module).into_iter().flatten() {
            if let Some(found) = visit(next, graph, path, done) {
                return Some(found);
            }
        }
        path.pop();
        done.insert(module.to_owned());
        None
    }
    let mut done = BTreeSet::new();
    graph
        .keys()
        .find_map(|module| visit(module, graph, &mut Vec::new(), &mut done))
}

#[test]
fn domain_and_ports_import_nothing_outer_and_modules_form_no_circle() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let graph = import_graph(&src);
    for module in DOMAIN.iter().chain([&PORTS]) {
        assert!(graph.contains_key(*module), "module {module} not found");
    }
    assert_eq!(
        breaches(&graph),
        Vec::<String>::new(),
        "the import rule is broken"
    );
    assert_eq!(circle(&graph), None, "an import circle");
}

#[test]
fn use_cases_name_no_adapter_and_handlers_no_api() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    assert_eq!(
        use_case_breaches(&import_graph(&src)),
        Vec::<String>::new(),
        "a use case imports what it may not"
    );
}

#[test]
fn the_checker_sees_what_it_must() {
    let code = code_outside_tests(
        "use crate::money::Money; // crate::api in a comment\n\
         use crate::{ids::AccountId, ledger};\n\
         #[cfg(test)]\nmod tests {\n    use crate::adapters::x;\n}\n\
         #[cfg(test)]\nmod more;\n",
    );
    let named = named_modules(&code);
    assert_eq!(
        named,
        ["ids", "ledger", "money"]
            .map(str::to_owned)
            .into_iter()
            .collect()
    );
    let graph = BTreeMap::from([
        ("wallet".to_owned(), BTreeSet::from(["adapters".to_owned()])),
        (
            "ports".to_owned(),
            BTreeSet::from(["ports".to_owned(), "money".to_owned()]),
        ),
        ("api".to_owned(), BTreeSet::from(["handlers".to_owned()])),
        ("handlers".to_owned(), BTreeSet::from(["api".to_owned()])),
    ]);
    assert_eq!(breaches(&graph), vec!["wallet imports adapters".to_owned()]);
    assert!(circle(&graph).is_some());
}

#[test]
fn the_use_case_checker_sees_what_it_must() {
    let graph = BTreeMap::from([
        (
            "api".to_owned(),
            BTreeSet::from(["ports".to_owned(), "adapters".to_owned()]),
        ),
        (
            "handlers".to_owned(),
            BTreeSet::from(["web".to_owned(), "api".to_owned()]),
        ),
    ]);
    assert_eq!(
        use_case_breaches(&graph),
        vec![
            "api imports adapters".to_owned(),
            "handlers imports api".to_owned()
        ]
    );
}
