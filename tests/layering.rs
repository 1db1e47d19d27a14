//! The modules form no circles: at the top level (`plan`, `engine`, `types`…) and one level
//! down (`engine::mysql`, `engine::postgres`, `expr::compile`…), no module reaches itself
//! again through `crate::` or `super::` paths. A parent and its own children may use each
//! other. Test modules (after `#[cfg(test)]`) are left out: tests may reach anywhere.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Every module of `src/`, by path (`engine::mysql::ddl`), with its code outside tests.
fn modules() -> BTreeMap<String, String> {
    fn walk(dir: &Path, out: &mut BTreeMap<String, String>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(&p, out);
            } else if p.extension().is_some_and(|x| x == "rs") {
                let rel = p.strip_prefix("src").unwrap().with_extension("");
                let mut parts: Vec<String> = rel
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy().into_owned())
                    .collect();
                if matches!(
                    parts.last().map(String::as_str),
                    Some("mod" | "lib" | "main")
                ) {
                    parts.pop();
                }
                let text = std::fs::read_to_string(&p).unwrap();
                let code = match text.find("#[cfg(test)]") {
                    Some(i) => text[..i].to_string(),
                    None => text,
                };
                out.insert(parts.join("::"), code);
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(Path::new("src"), &mut out);
    out
}

/// The modules a module's code names through `crate::` and `super::`, each cut to `depth`
/// segments.
fn edges(depth: usize) -> BTreeMap<String, BTreeSet<String>> {
    let mods = modules();
    let cut = |m: &str| m.split("::").take(depth).collect::<Vec<_>>().join("::");
    let related = |a: &str, b: &str| {
        a == b || b.starts_with(&format!("{a}::")) || a.starts_with(&format!("{b}::"))
    };
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let path_at = |code: &str, at: usize| -> String {
        code[at..]
            .chars()
            .take_while(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_' || *c == ':')
            .collect()
    };
    for (m, code) in &mods {
        // `crate::a::b`, and `super::x` (`super::super::x`) from the module's own path.
        let mut paths: Vec<String> = code
            .match_indices("crate::")
            .map(|(i, _)| path_at(code, i + 7))
            .collect();
        let bytes = code.as_bytes();
        for (i, _) in code.match_indices("super::") {
            let starts_a_path = i == 0
                || !(bytes[i - 1].is_ascii_alphanumeric()
                    || bytes[i - 1] == b'_'
                    || bytes[i - 1] == b':');
            if !starts_a_path {
                continue;
            }
            let rest = path_at(code, i);
            let mut base: Vec<&str> = m.split("::").filter(|s| !s.is_empty()).collect();
            let mut tail = rest.as_str();
            while let Some(t) = tail.strip_prefix("super::") {
                base.pop();
                tail = t;
            }
            base.extend(tail.split("::").filter(|s| !s.is_empty()));
            paths.push(base.join("::"));
        }
        for path in paths {
            let segs: Vec<&str> = path.split("::").filter(|s| !s.is_empty()).collect();
            // The longest prefix that is a module: the rest names an item in it.
            let Some(target) = (1..=segs.len())
                .rev()
                .map(|k| segs[..k].join("::"))
                .find(|c| mods.contains_key(c))
            else {
                continue;
            };
            let (a, b) = (cut(m), cut(&target));
            if !a.is_empty() && !b.is_empty() && !related(&a, &b) {
                out.entry(a).or_default().insert(b);
            }
        }
    }
    out
}

/// A path from `to` back to `from`, if there is one.
fn path_back(
    edges: &BTreeMap<String, BTreeSet<String>>,
    from: &str,
    to: &str,
) -> Option<Vec<String>> {
    let mut seen = BTreeSet::new();
    let mut stack = vec![vec![to.to_string()]];
    while let Some(path) = stack.pop() {
        let last = path.last().unwrap().clone();
        if last == from {
            return Some(path);
        }
        if !seen.insert(last.clone()) {
            continue;
        }
        for next in edges.get(&last).into_iter().flatten() {
            let mut p = path.clone();
            p.push(next.clone());
            stack.push(p);
        }
    }
    None
}

#[test]
fn modules_form_no_circles() {
    let mut circles = Vec::new();
    for depth in [1, 2] {
        let edges = edges(depth);
        for (a, targets) in &edges {
            for b in targets {
                if let Some(back) = path_back(&edges, a, b) {
                    circles.push(format!("{a} → {}", back.join(" → ")));
                }
            }
        }
    }
    assert!(
        edges(1).contains_key("run") && edges(1)["run"].contains("engine"),
        "the scan sees the executor use the engines: {:?}",
        edges(1)
    );
    assert!(
        circles.is_empty(),
        "module circles:\n{}",
        circles.join("\n")
    );
}
