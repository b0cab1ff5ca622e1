//! The layering of docs/architecture.md, checked: no module of `src/` imports a module of a higher layer, and
//! the per-backend macro is used only where repository functions are defined.

use std::path::{Path, PathBuf};

/// Layers from the ground up, as docs/architecture.md lists them.
const LAYERS: &[(&str, u8)] = &[
    ("util", 0),
    ("error", 0),
    ("db", 1),
    ("config", 2),
    ("auth", 3),
    ("graphql", 4),
    ("http", 4),
    ("storage", 4),
    ("images", 4),
    ("jobs", 5),
    ("notify", 6),
    ("accounts", 7),
    ("catalog", 7),
    ("community", 7),
    ("shop", 7),
    ("payments", 7),
    ("server", 8),
    ("app", 9),
    ("lib", 9),
    ("main", 9),
];

/// The domains of layer 7 in the one direction their imports run (docs/architecture.md): a domain imports
/// only domains after it.
const DOMAINS: &[&str] = &["payments", "shop", "accounts", "catalog", "community"];

fn layer_of(module: &str) -> Option<u8> {
    LAYERS.iter().find(|(name, _)| *name == module).map(|(_, layer)| *layer)
}

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
    files.sort();
    files
}

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// The top-level module a file of `src/` belongs to (`src/accounts/repo.rs` -> `accounts`).
fn module_of(file: &Path) -> String {
    let relative = file.strip_prefix(src()).unwrap();
    let first = relative.components().next().unwrap().as_os_str().to_string_lossy();
    first.trim_end_matches(".rs").to_string()
}

#[test]
fn no_module_imports_a_higher_layer() {
    let mut upward = Vec::new();
    for file in rust_files(&src()) {
        let module = module_of(&file);
        let own = layer_of(&module).unwrap_or_else(|| panic!("{module} has no layer in docs/architecture.md"));
        let text = std::fs::read_to_string(&file).unwrap();
        for (number, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or_default();
            for (at, _) in code.match_indices("crate::") {
                let name: String = code[at + 7..]
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                if let Some(target) = layer_of(&name)
                    && target > own
                {
                    upward.push(format!("{}:{}: {module} -> {name}", file.display(), number + 1));
                }
                let rank = |domain: &str| DOMAINS.iter().position(|d| *d == domain);
                if let (Some(from), Some(to)) = (rank(&module), rank(&name))
                    && to < from
                {
                    upward.push(format!(
                        "{}:{}: {module} -> {name} (domains)",
                        file.display(),
                        number + 1
                    ));
                }
            }
        }
    }
    assert!(upward.is_empty(), "imports that run up a layer:\n{}", upward.join("\n"));
}

#[test]
fn per_backend_is_used_only_where_repositories_are_defined() {
    let repository = |file: &Path| {
        let relative = file.strip_prefix(src()).unwrap().to_string_lossy().replace('\\', "/");
        relative.starts_with("db/")
            || relative.ends_with("/repo.rs")
            || [
                "accounts/tokens.rs",
                "accounts/audit.rs",
                "auth/sessions.rs",
                "jobs/queue.rs",
                "notify/deliveries.rs",
                "catalog/seed.rs",
                "catalog/probe.rs",
                "catalog/words.rs",
            ]
            .contains(&relative.as_str())
    };
    let elsewhere: Vec<String> = rust_files(&src())
        .into_iter()
        .filter(|file| !repository(file))
        .filter(|file| std::fs::read_to_string(file).unwrap().contains("per_backend!("))
        .map(|file| file.display().to_string())
        .collect();
    assert!(elsewhere.is_empty(), "per_backend! outside repositories: {elsewhere:?}");
}
