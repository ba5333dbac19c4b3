//! The crate's module graph has no cycles (issue 13): every file under `src/` (but `main.rs`, the
//! top of the graph) is parsed with `syn`, each `use` and each path that names a module of the
//! crate is an edge, and the graph, per file and collapsed to the top-level modules, must be
//! acyclic. A failure prints every cycle with the file and line of each of its edges.
//!
//! A node is a file's module: `src/train/run.rs` is `train::run`, `src/train/mod.rs` is `train`.
//! An edge goes from the file that names a path to the module that defines what it names: the
//! longest prefix of the path that is a module, followed through the `pub use` re-exports of a
//! facade (`crate::models::leaky` is re-exported by `models` from `kernels`: the edge goes to
//! `kernels`). Not edges: a facade's own `pub use` lines (a `mod.rs` or `lib.rs` re-exporting
//! what its children define), `mod` declarations, a module naming itself, and the items of the
//! crate root (`crate::tensor_values`).

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use proc_macro2::{Span, TokenStream, TokenTree};
use syn::visit::Visit;

/// A module path as segments; the crate root is empty.
type ModPath = Vec<String>;

/// Where an edge was seen.
#[derive(Debug, Clone)]
struct Site {
    file: String,
    line: usize,
    /// The path as written, `crate::models::Generator`.
    path: String,
}

/// Modules and who names whom, with every place that does.
#[derive(Debug, Default)]
struct Graph {
    nodes: BTreeSet<String>,
    edges: BTreeMap<String, BTreeMap<String, Vec<Site>>>,
}

impl Graph {
    fn add_edge(&mut self, from: &str, to: &str, site: Site) {
        self.edges
            .entry(from.to_string())
            .or_default()
            .entry(to.to_string())
            .or_default()
            .push(site);
    }

    fn successors(&self, node: &str) -> impl Iterator<Item = &String> {
        self.edges.get(node).into_iter().flat_map(|e| e.keys())
    }

    /// The same graph with each module replaced by its top-level one (`train::run` → `train`).
    fn collapsed(&self) -> Graph {
        let top = |name: &str| name.split("::").next().unwrap_or(name).to_string();
        let mut graph = Graph {
            nodes: self.nodes.iter().map(|n| top(n)).collect(),
            ..Graph::default()
        };
        for (from, targets) in &self.edges {
            for (to, sites) in targets {
                let (from, to) = (top(from), top(to));
                if from != to {
                    for site in sites {
                        graph.add_edge(&from, &to, site.clone());
                    }
                }
            }
        }
        graph
    }
}

fn display(path: &[String]) -> String {
    if path.is_empty() {
        "crate".to_string()
    } else {
        path.join("::")
    }
}

/// The module a file under `src/` is, or `None` for the binary's and other crates' files.
fn module_of(file: &str) -> Option<ModPath> {
    let rel = file.strip_prefix("src/")?.strip_suffix(".rs")?;
    let mut segments: ModPath = rel.split('/').map(str::to_string).collect();
    if segments == ["main"] || segments.first().is_some_and(|s| s == "bin") {
        return None;
    }
    match segments.last().map(String::as_str) {
        Some("mod") => {
            segments.pop();
        }
        Some("lib") if segments.len() == 1 => segments.clear(),
        _ => {}
    }
    Some(segments)
}

/// A `mod.rs` or `lib.rs`: a module whose `pub use` lines are its facade.
fn is_facade(file: &str) -> bool {
    file.ends_with("/mod.rs") || file == "src/lib.rs"
}

fn line_of(span: Span) -> usize {
    span.start().line
}

/// `segments`, written in module `current`, as a path from the crate root; `None` when it does
/// not start in this crate (`burn::…`, a local item, a variable).
fn absolute(current: &[String], segments: &[String], known: &BTreeSet<ModPath>) -> Option<ModPath> {
    let first = segments.first()?;
    match first.as_str() {
        "crate" => Some(segments[1..].to_vec()),
        "self" | "super" => {
            let mut base = current.to_vec();
            let mut rest = segments;
            loop {
                match rest.first().map(String::as_str) {
                    Some("self") => rest = &rest[1..],
                    Some("super") => {
                        base.pop()?;
                        rest = &rest[1..];
                    }
                    _ => break,
                }
            }
            base.extend(rest.iter().cloned());
            Some(base)
        }
        // A bare path names a child module of the current one (`random::noise` in train/mod.rs).
        _ => {
            let mut child = current.to_vec();
            child.push(first.clone());
            known.contains(&child).then(|| {
                child.extend(segments[1..].iter().cloned());
                child
            })
        }
    }
}

/// The leaves of a `use` tree: each full path as written, the name it binds (`None` for a glob)
/// and the span of its last segment.
fn use_leaves(tree: &syn::UseTree, prefix: &mut Vec<String>, out: &mut Vec<UseLeaf>) {
    match tree {
        syn::UseTree::Path(p) => {
            prefix.push(p.ident.to_string());
            use_leaves(&p.tree, prefix, out);
            prefix.pop();
        }
        syn::UseTree::Name(n) if n.ident == "self" => out.push(UseLeaf {
            path: prefix.clone(),
            name: prefix.last().cloned(),
            span: n.ident.span(),
        }),
        syn::UseTree::Name(n) => out.push(UseLeaf {
            path: [prefix.as_slice(), &[n.ident.to_string()]].concat(),
            name: Some(n.ident.to_string()),
            span: n.ident.span(),
        }),
        syn::UseTree::Rename(r) => out.push(UseLeaf {
            path: [prefix.as_slice(), &[r.ident.to_string()]].concat(),
            name: Some(r.rename.to_string()),
            span: r.ident.span(),
        }),
        syn::UseTree::Glob(g) => out.push(UseLeaf {
            path: prefix.clone(),
            name: None,
            span: g.star_token.span,
        }),
        syn::UseTree::Group(g) => {
            for item in &g.items {
                use_leaves(item, prefix, out);
            }
        }
    }
}

struct UseLeaf {
    path: Vec<String>,
    name: Option<String>,
    span: Span,
}

/// A facade's top-level `pub use` lines (any visibility but private).
fn facade_uses(file: &syn::File) -> impl Iterator<Item = &syn::ItemUse> {
    file.items.iter().filter_map(|item| match item {
        syn::Item::Use(u) if !matches!(u.vis, syn::Visibility::Inherited) => Some(u),
        _ => None,
    })
}

/// A path named in a file, from the crate root, with where.
struct Reference {
    path: ModPath,
    site: Site,
}

/// Collects the references of one file.
struct Collector<'a> {
    file: &'a str,
    /// The module being read: the file's, then any inline `mod` inside it.
    current: ModPath,
    facade: bool,
    known: &'a BTreeSet<ModPath>,
    refs: Vec<Reference>,
}

impl Collector<'_> {
    fn reference(&mut self, segments: &[String], span: Span) {
        if let Some(path) = absolute(&self.current, segments, self.known) {
            self.refs.push(Reference {
                path,
                site: Site {
                    file: self.file.to_string(),
                    line: line_of(span),
                    path: segments.join("::"),
                },
            });
        }
    }

    /// Paths inside a macro's tokens (`vec![crate::x::y()]`, `macro_rules!` bodies), which syn
    /// leaves unparsed: every `a::b::c` run of identifiers.
    fn macro_tokens(&mut self, tokens: TokenStream) {
        let tokens: Vec<TokenTree> = tokens.into_iter().collect();
        let is_colon =
            |t: Option<&TokenTree>| matches!(t, Some(TokenTree::Punct(p)) if p.as_char() == ':');
        let mut i = 0;
        while i < tokens.len() {
            match &tokens[i] {
                TokenTree::Group(g) => self.macro_tokens(g.stream()),
                // Not the middle of a path (`a::b`), whose start was read already.
                TokenTree::Ident(first)
                    if !(i >= 2 && is_colon(tokens.get(i - 1)) && is_colon(tokens.get(i - 2))) =>
                {
                    let mut segments = vec![first.to_string()];
                    while is_colon(tokens.get(i + 1)) && is_colon(tokens.get(i + 2)) {
                        match tokens.get(i + 3) {
                            Some(TokenTree::Ident(next)) => {
                                segments.push(next.to_string());
                                i += 3;
                            }
                            _ => break,
                        }
                    }
                    if segments.len() >= 2 {
                        self.reference(&segments, first.span());
                    }
                }
                _ => {}
            }
            i += 1;
        }
    }
}

impl<'ast> Visit<'ast> for Collector<'_> {
    fn visit_item_mod(&mut self, item: &'ast syn::ItemMod) {
        // A declaration (`mod run;`) is no edge; an inline module is read as part of its file.
        if let Some((_, items)) = &item.content {
            self.current.push(item.ident.to_string());
            for item in items {
                self.visit_item(item);
            }
            self.current.pop();
        }
    }

    fn visit_file(&mut self, file: &'ast syn::File) {
        for item in &file.items {
            let facade_line = self.facade
                && matches!(item, syn::Item::Use(u) if !matches!(u.vis, syn::Visibility::Inherited));
            if !facade_line {
                self.visit_item(item);
            }
        }
    }

    fn visit_item_use(&mut self, item: &'ast syn::ItemUse) {
        let mut leaves = Vec::new();
        use_leaves(&item.tree, &mut Vec::new(), &mut leaves);
        for leaf in leaves {
            self.reference(&leaf.path, leaf.span);
        }
    }

    fn visit_path(&mut self, path: &'ast syn::Path) {
        if path.leading_colon.is_none() && path.segments.len() >= 2 {
            let segments: Vec<String> = path.segments.iter().map(|s| s.ident.to_string()).collect();
            self.reference(&segments, path.segments[0].ident.span());
        }
        syn::visit::visit_path(self, path);
    }

    fn visit_macro(&mut self, mac: &'ast syn::Macro) {
        self.visit_path(&mac.path);
        self.macro_tokens(mac.tokens.clone());
    }

    // `pub(in crate::x)` only restricts who sees an item.
    fn visit_visibility(&mut self, _: &'ast syn::Visibility) {}
}

/// The module graph of a crate's files, given as (path from the crate's directory, text).
fn module_graph(files: &[(String, String)]) -> Graph {
    let parsed: Vec<(&str, ModPath, syn::File)> = files
        .iter()
        .filter_map(|(file, text)| {
            let module = module_of(file)?;
            let ast = syn::parse_file(text).unwrap_or_else(|e| panic!("{file}: {e}"));
            Some((file.as_str(), module, ast))
        })
        .collect();
    let known: BTreeSet<ModPath> = parsed.iter().map(|(_, m, _)| m.clone()).collect();

    // What each facade re-exports, by name: the path from the crate root it stands for.
    let mut reexports: BTreeMap<ModPath, BTreeMap<String, ModPath>> = BTreeMap::new();
    for (file, module, ast) in &parsed {
        if !is_facade(file) {
            continue;
        }
        for item in facade_uses(ast) {
            let mut leaves = Vec::new();
            use_leaves(&item.tree, &mut Vec::new(), &mut leaves);
            for leaf in leaves {
                if let (Some(name), Some(target)) =
                    (leaf.name, absolute(module, &leaf.path, &known))
                {
                    reexports
                        .entry(module.clone())
                        .or_default()
                        .insert(name, target);
                }
            }
        }
    }

    // The module defining what `path` names: its longest module prefix, through re-exports.
    let resolve = |path: &[String]| -> ModPath {
        let mut path = path.to_vec();
        for _ in 0..16 {
            let k = (0..=path.len())
                .rev()
                .find(|&k| known.contains(&path[..k]))
                .unwrap_or(0);
            let target = path
                .get(k)
                .and_then(|name| reexports.get(&path[..k])?.get(name));
            match target {
                Some(target) if !path.starts_with(target) => {
                    path = [target.as_slice(), &path[k + 1..]].concat();
                }
                _ => return path[..k].to_vec(),
            }
        }
        panic!("re-exports of {} loop", path.join("::"))
    };

    let mut graph = Graph::default();
    for (file, module, ast) in &parsed {
        if !module.is_empty() {
            graph.nodes.insert(display(module));
        }
        let mut collector = Collector {
            file,
            current: module.clone(),
            facade: is_facade(file),
            known: &known,
            refs: Vec::new(),
        };
        collector.visit_file(ast);
        for reference in collector.refs {
            let target = resolve(&reference.path);
            if !target.is_empty() && !module.is_empty() && &target != module {
                graph.add_edge(&display(module), &display(&target), reference.site);
            }
        }
    }
    graph
}

/// Strongly connected components, each after every component it depends on (lowest first).
fn components(graph: &Graph) -> Vec<Vec<String>> {
    struct Tarjan<'g> {
        graph: &'g Graph,
        index: BTreeMap<&'g str, usize>,
        low: BTreeMap<&'g str, usize>,
        stack: Vec<&'g str>,
        on_stack: BTreeSet<&'g str>,
        out: Vec<Vec<String>>,
    }
    impl<'g> Tarjan<'g> {
        fn visit(&mut self, v: &'g str) {
            let i = self.index.len();
            self.index.insert(v, i);
            self.low.insert(v, i);
            self.stack.push(v);
            self.on_stack.insert(v);
            for w in self.graph.successors(v) {
                let w = w.as_str();
                if !self.index.contains_key(w) {
                    self.visit(w);
                    let low = self.low[v].min(self.low[w]);
                    self.low.insert(v, low);
                } else if self.on_stack.contains(w) {
                    let low = self.low[v].min(self.index[w]);
                    self.low.insert(v, low);
                }
            }
            if self.low[v] == self.index[v] {
                let mut component = Vec::new();
                while let Some(w) = self.stack.pop() {
                    self.on_stack.remove(w);
                    component.push(w.to_string());
                    if w == v {
                        break;
                    }
                }
                component.sort();
                self.out.push(component);
            }
        }
    }
    let mut tarjan = Tarjan {
        graph,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        out: Vec::new(),
    };
    let nodes: BTreeSet<&str> = graph
        .nodes
        .iter()
        .chain(graph.edges.keys())
        .chain(graph.edges.values().flat_map(|e| e.keys()))
        .map(String::as_str)
        .collect();
    for node in nodes {
        if !tarjan.index.contains_key(node) {
            tarjan.visit(node);
        }
    }
    tarjan.out
}

/// Cycles that together use every edge inside a cycle: for each such edge u → v not yet shown,
/// u → v and the shortest way back from v to u. Each cycle lists its nodes, the first repeated.
fn cycles(graph: &Graph) -> Vec<Vec<String>> {
    let mut found = Vec::new();
    let mut shown: BTreeSet<(String, String)> = BTreeSet::new();
    for component in components(graph).into_iter().filter(|c| c.len() > 1) {
        let inside: BTreeSet<&str> = component.iter().map(String::as_str).collect();
        for u in &component {
            for v in graph.successors(u).filter(|v| inside.contains(v.as_str())) {
                if shown.contains(&(u.clone(), v.clone())) {
                    continue;
                }
                // Breadth first from v back to u, inside the component.
                let mut previous: BTreeMap<&str, &str> = BTreeMap::new();
                let mut queue = VecDeque::from([v.as_str()]);
                while let Some(x) = queue.pop_front() {
                    if x == u {
                        break;
                    }
                    for y in graph.successors(x).map(String::as_str) {
                        if inside.contains(y) && y != v && !previous.contains_key(y) {
                            previous.insert(y, x);
                            queue.push_back(y);
                        }
                    }
                }
                // u, then the way back read backwards: u ← … ← v.
                let mut back = vec![u.as_str()];
                let mut x = u.as_str();
                while x != v {
                    x = previous[x];
                    back.push(x);
                }
                let cycle: Vec<String> = std::iter::once(u.as_str())
                    .chain(back.into_iter().rev())
                    .map(str::to_string)
                    .collect();
                for pair in cycle.windows(2) {
                    shown.insert((pair[0].clone(), pair[1].clone()));
                }
                found.push(cycle);
            }
        }
    }
    found
}

/// `a -> b -> a`, then each edge with where it is written (the first three places).
fn render(graph: &Graph, cycle: &[String]) -> String {
    let mut text = format!("cycle: {}\n", cycle.join(" -> "));
    for pair in cycle.windows(2) {
        let sites = &graph.edges[&pair[0]][&pair[1]];
        for site in sites.iter().take(3) {
            text += &format!(
                "    {} -> {}   {}:{}   `{}`\n",
                pair[0], pair[1], site.file, site.line, site.path
            );
        }
        if sites.len() > 3 {
            text += &format!(
                "    {} -> {}   … and {} more\n",
                pair[0],
                pair[1],
                sites.len() - 3
            );
        }
    }
    text
}

fn render_all(graph: &Graph, cycles: &[Vec<String>]) -> String {
    cycles.iter().map(|c| render(graph, c)).collect()
}

/// The layers of a graph, lowest first: each module one above the highest it depends on
/// (modules of one cycle share a layer, in braces).
fn layers(graph: &Graph) -> Vec<Vec<String>> {
    let components = components(graph);
    let mut level_of: BTreeMap<&str, usize> = BTreeMap::new();
    let mut levels: Vec<Vec<String>> = Vec::new();
    for component in &components {
        let inside: BTreeSet<&str> = component.iter().map(String::as_str).collect();
        let level = component
            .iter()
            .flat_map(|n| graph.successors(n))
            .filter(|s| !inside.contains(s.as_str()))
            .map(|s| level_of[s.as_str()] + 1)
            .max()
            .unwrap_or(0);
        for n in component {
            level_of.insert(n, level);
        }
        if levels.len() <= level {
            levels.resize(level + 1, Vec::new());
        }
        levels[level].push(if component.len() > 1 {
            format!("{{{}}}", component.join(", "))
        } else {
            component[0].clone()
        });
    }
    levels
}

/// Every file under this crate's `src/`, as (`src/…`, text).
fn crate_sources() -> Vec<(String, String)> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    walkdir::WalkDir::new(root.join("src"))
        .sort_by_file_name()
        .into_iter()
        .map(|e| e.expect("src/ is readable"))
        .filter(|e| e.file_type().is_file() && e.path().extension().is_some_and(|x| x == "rs"))
        .map(|e| {
            let rel = e.path().strip_prefix(root).expect("below the crate");
            let rel = rel.to_string_lossy().replace('\\', "/");
            let text = std::fs::read_to_string(e.path()).expect("source is UTF-8");
            (rel, text)
        })
        .collect()
}

#[test]
fn module_graph_has_no_cycles() {
    let graph = module_graph(&crate_sources());
    assert!(
        graph.nodes.contains("train") && graph.nodes.contains("data"),
        "{graph:?}"
    );
    let found = cycles(&graph);
    assert!(
        found.is_empty(),
        "{} import cycle(s) between the crate's modules; move what the lower module needs below it:\n{}",
        found.len(),
        render_all(&graph, &found)
    );
}

#[test]
fn top_level_modules_are_layered() {
    let graph = module_graph(&crate_sources()).collapsed();
    let layers = layers(&graph);
    eprintln!("layers of ganforge, lowest first:");
    for (i, layer) in layers.iter().enumerate() {
        eprintln!("  {i}: {}", layer.join(", "));
    }
    let found = cycles(&graph);
    assert!(
        found.is_empty(),
        "{} import cycle(s) between the top-level modules:\n{}",
        found.len(),
        render_all(&graph, &found)
    );
}

fn fake(files: &[(&str, &str)]) -> Graph {
    let files: Vec<(String, String)> = files
        .iter()
        .map(|(f, t)| (f.to_string(), t.to_string()))
        .collect();
    module_graph(&files)
}

fn edge_set(graph: &Graph) -> BTreeSet<(String, String)> {
    graph
        .edges
        .iter()
        .flat_map(|(u, vs)| vs.keys().map(move |v| (u.clone(), v.clone())))
        .collect()
}

#[test]
fn checker_finds_a_cycle_between_two_files() {
    let graph = fake(&[
        ("src/lib.rs", "pub mod a;\npub mod b;\n"),
        ("src/a.rs", "use crate::b::Thing;\npub struct Other;\n"),
        (
            "src/b.rs",
            "pub struct Thing;\n\npub fn make() -> crate::a::Other {\n    crate::a::Other\n}\n",
        ),
    ]);
    let found = cycles(&graph);
    assert_eq!(found, vec![vec!["a", "b", "a"]], "{graph:?}");
    let text = render_all(&graph, &found);
    assert!(text.starts_with("cycle: a -> b -> a\n"), "{text}");
    assert!(
        text.contains("a -> b   src/a.rs:1   `crate::b::Thing`"),
        "{text}"
    );
    assert!(
        text.contains("b -> a   src/b.rs:3   `crate::a::Other`"),
        "{text}"
    );
    assert!(
        text.contains("b -> a   src/b.rs:4   `crate::a::Other`"),
        "{text}"
    );
    assert_eq!(layers(&graph), vec![vec!["{a, b}".to_string()]]);
}

#[test]
fn checker_resolves_super_children_macros_and_facades() {
    let graph = fake(&[
        (
            "src/lib.rs",
            "pub mod low;\npub mod out;\npub mod top;\npub fn helper() {}\n",
        ),
        (
            "src/main.rs",
            "use ganforge::top::run;\nfn main() { run() }\n",
        ),
        // A facade: its `pub use` is no edge, but a path through it goes to the defining file.
        (
            "src/out/mod.rs",
            "mod x;\nmod y;\npub use x::X;\npub use crate::low::Low as Renamed;\nuse y::f;\n",
        ),
        (
            "src/out/x.rs",
            "pub struct X;\nfn g() { super::y::f(); crate::helper(); self::h(); }\nfn h() {}\n",
        ),
        (
            "src/out/y.rs",
            "pub fn f() {}\n#[cfg(test)]\nmod tests {\n    use super::super::Renamed;\n}\n",
        ),
        (
            "src/top.rs",
            "pub fn run() { let v = vec![crate::out::X]; let _ = (v, std::mem::size_of::<crate::out::Renamed>()); }\n",
        ),
        ("src/low.rs", "pub struct Low;\n"),
    ]);
    let expected: BTreeSet<(String, String)> = [
        ("out", "out::y"),
        ("out::x", "out::y"),
        ("out::y", "low"),
        ("top", "out::x"),
        ("top", "low"),
    ]
    .iter()
    .map(|(a, b)| (a.to_string(), b.to_string()))
    .collect();
    assert_eq!(edge_set(&graph), expected);
    assert!(cycles(&graph).is_empty());
    let top = graph.collapsed();
    assert_eq!(
        edge_set(&top),
        [("out", "low"), ("top", "low"), ("top", "out")]
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    );
    assert_eq!(
        layers(&top),
        vec![
            vec!["low".to_string()],
            vec!["out".to_string()],
            vec!["top".to_string()]
        ]
    );
}
