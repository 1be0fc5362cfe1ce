//! The workspace's dependency rules, checked against `cargo metadata`, the manifests, `Cargo.lock` and
//! the source tree. Each failure lists every offending crate or file, not just the first.
#![allow(
    clippy::expect_used,
    clippy::panic,
    reason = "a workspace these checks cannot read is a failed check"
)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use serde::Deserialize;

/// The composition crate under `services/`: it alone may depend on several services.
const SUITE: &str = "tenure";

/// The service crates, named so that a broken path lookup cannot make the rules pass vacuously.
const SERVICES: [&str; 4] = [
    "tenure-orders",
    "tenure-accounts",
    "tenure-provisioning",
    "tenure-data-purge",
];

/// Crates the domain layer must not name: transport, wire format and storage stay at its edges.
const OUTSIDE_THE_DOMAIN: [&str; 6] = [
    "tonic",
    "prost",
    "sea_orm",
    "tenure_proto",
    "tenure_grpc",
    "tenure_db",
];

/// The HTTP, gRPC and TLS stack, of which a second version means a second, unconfigured stack.
const SINGLE_VERSION: [&str; 6] = ["tonic", "prost", "hyper", "h2", "http", "rustls"];

/// The part of [`SINGLE_VERSION`] that runs code (connections, TLS, codecs), held to one version in every
/// build, tests included. `http` is left out here: it is plain request and response types, and the AWS
/// SDK's test utilities (aws-smithy-mocks, a dev-dependency) still carry its 0.2 types. What ships is
/// held to one version of all six by `the_shipped_binary_has_one_http_grpc_and_tls_stack`.
const SINGLE_VERSION_IN_EVERY_BUILD: [&str; 5] = ["tonic", "prost", "hyper", "h2", "rustls"];

#[derive(Deserialize)]
struct Metadata {
    workspace_root: PathBuf,
    packages: Vec<Package>,
}

#[derive(Deserialize)]
struct Package {
    name: String,
    manifest_path: PathBuf,
    dependencies: Vec<Dependency>,
}

#[derive(Deserialize)]
struct Dependency {
    name: String,
    /// `None` for a normal dependency, else `dev` or `build`.
    kind: Option<String>,
    rename: Option<String>,
    target: Option<String>,
}

impl Dependency {
    /// Where the manifest declares this dependency, as a path of TOML keys.
    fn manifest_keys(&self) -> Vec<&str> {
        let mut keys = Vec::new();
        if let Some(target) = &self.target {
            keys.extend(["target", target.as_str()]);
        }
        keys.push(match self.kind.as_deref() {
            Some("dev") => "dev-dependencies",
            Some("build") => "build-dependencies",
            _ => "dependencies",
        });
        keys.push(self.rename.as_deref().unwrap_or(&self.name));
        keys
    }
}

/// Runs the cargo that runs these tests on the workspace manifest; its standard output.
fn cargo(args: &[&str]) -> Vec<u8> {
    #[allow(
        clippy::disallowed_methods,
        reason = "cargo tells the tests it runs where it is through CARGO"
    )]
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let output = Command::new(cargo)
        .args(args)
        .arg("--manifest-path")
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml"))
        .output()
        .expect("cargo runs");
    assert!(
        output.status.success(),
        "cargo {} failed: {}",
        args.join(" "),
        String::from_utf8_lossy(&output.stderr)
    );
    output.stdout
}

struct Workspace {
    root: PathBuf,
    packages: Vec<Package>,
}

impl Workspace {
    /// The `src/` directory of the member `name`.
    fn source_dir(&self, name: &str) -> PathBuf {
        self.package(name)
            .unwrap_or_else(|| panic!("{name} is not a workspace member"))
            .manifest_path
            .parent()
            .expect("a manifest sits in its package directory")
            .join("src")
    }

    fn load() -> Self {
        let output = cargo(&["metadata", "--format-version", "1", "--no-deps"]);
        let metadata: Metadata =
            serde_json::from_slice(&output).expect("cargo metadata prints its JSON format");
        Self {
            root: metadata.workspace_root,
            packages: metadata.packages,
        }
    }

    /// The members whose manifest sits under `area/` (`shared`, `services` or `tests`).
    fn members_in(&self, area: &str) -> Vec<&Package> {
        let area = self.root.join(area);
        self.packages
            .iter()
            .filter(|package| package.manifest_path.starts_with(&area))
            .collect()
    }

    /// The member named `name`.
    fn package(&self, name: &str) -> Option<&Package> {
        self.packages.iter().find(|package| package.name == name)
    }

    /// Every crate under `services/`: the service crates and the suite.
    fn crates_in_services(&self) -> BTreeSet<&str> {
        let crates: BTreeSet<&str> = self
            .members_in("services")
            .into_iter()
            .map(|package| package.name.as_str())
            .collect();
        for known in SERVICES.into_iter().chain([SUITE]) {
            assert!(
                crates.contains(known),
                "{known} is not a member under services/"
            );
        }
        crates
    }

    fn relative<'a>(&self, path: &'a Path) -> &'a Path {
        path.strip_prefix(&self.root).unwrap_or(path)
    }
}

#[test]
fn services_never_depend_on_each_other() {
    let workspace = Workspace::load();
    let mut services = workspace.crates_in_services();
    services.remove(SUITE);
    let mut violations = Vec::new();
    for service in workspace
        .members_in("services")
        .into_iter()
        .filter(|package| services.contains(package.name.as_str()))
    {
        let own_directory = service.manifest_path.parent().unwrap_or(&workspace.root);
        for dependency in &service.dependencies {
            // A service may be split into crates inside its own directory (provisioning's `cloud/`).
            let is_own_part = workspace
                .package(&dependency.name)
                .is_some_and(|part| part.manifest_path.starts_with(own_directory));
            if services.contains(dependency.name.as_str()) && !is_own_part {
                violations.push(format!(
                    "{} depends on {} ({}); reach another service through tenure-proto's clients",
                    service.name,
                    dependency.name,
                    dependency.kind.as_deref().unwrap_or("normal")
                ));
            }
        }
    }
    assert!(violations.is_empty(), "rule 1:\n{}", violations.join("\n"));
}

#[test]
fn members_take_lints_and_internal_crates_from_the_workspace() {
    let workspace = Workspace::load();
    let root_manifest = read_toml(&workspace.root.join("Cargo.toml"));
    let listed = lookup(&root_manifest, &["workspace", "dependencies"])
        .and_then(toml::Value::as_table)
        .expect("the root manifest has [workspace.dependencies]");
    let internal: BTreeSet<&str> = workspace
        .packages
        .iter()
        .map(|package| package.name.as_str())
        .collect();
    let mut violations = Vec::new();
    for member in &workspace.packages {
        let manifest_path = workspace.relative(&member.manifest_path).display();
        let manifest = read_toml(&member.manifest_path);
        if lookup(&manifest, &["lints", "workspace"]).and_then(toml::Value::as_bool) != Some(true) {
            violations.push(format!(
                "{} ({manifest_path}) lacks `[lints] workspace = true`",
                member.name
            ));
        }
        for dependency in &member.dependencies {
            if !internal.contains(dependency.name.as_str()) {
                continue;
            }
            if !listed.contains_key(&dependency.name) {
                violations.push(format!(
                    "{} uses {}, which the root [workspace.dependencies] does not list",
                    member.name, dependency.name
                ));
            }
            let keys = dependency.manifest_keys();
            if lookup(&manifest, &keys)
                .and_then(|entry| entry.get("workspace"))
                .and_then(toml::Value::as_bool)
                != Some(true)
            {
                violations.push(format!(
                    "{} ({manifest_path}) declares {} without `workspace = true` in [{}]",
                    member.name,
                    dependency.name,
                    keys[..keys.len() - 1].join(".")
                ));
            }
        }
    }
    assert!(violations.is_empty(), "rule 1:\n{}", violations.join("\n"));
}

#[test]
fn shared_crates_never_depend_on_services() {
    let workspace = Workspace::load();
    let services = workspace.crates_in_services();
    let shared = workspace.members_in("shared");
    assert!(!shared.is_empty(), "no members under shared/");
    let mut violations = Vec::new();
    for package in shared {
        for dependency in &package.dependencies {
            if services.contains(dependency.name.as_str()) {
                violations.push(format!(
                    "{} depends on {} ({})",
                    package.name,
                    dependency.name,
                    dependency.kind.as_deref().unwrap_or("normal")
                ));
            }
        }
    }
    assert!(violations.is_empty(), "rule 2:\n{}", violations.join("\n"));
}

#[test]
fn domain_code_names_no_transport_or_storage_crate() {
    let workspace = Workspace::load();
    let mut domain_files = Vec::new();
    for service in workspace.members_in("services") {
        let src = service
            .manifest_path
            .parent()
            .expect("a manifest sits in its package directory")
            .join("src");
        let module = src.join("domain.rs");
        if module.is_file() {
            domain_files.push(module);
        }
        files_under(&src.join("domain"), &mut domain_files);
    }
    assert!(
        !domain_files.is_empty(),
        "no services/*/src/domain.rs found"
    );
    let mut violations = Vec::new();
    for file in domain_files.iter().filter(|file| is_rust(file)) {
        let source = std::fs::read_to_string(file).expect("source files are readable UTF-8");
        for (line, word) in code_identifiers(&source) {
            if let Some(forbidden) = OUTSIDE_THE_DOMAIN
                .into_iter()
                .find(|forbidden| names_crate(&word, forbidden))
            {
                violations.push(format!(
                    "{}:{line} names {forbidden} (`{word}`)",
                    workspace.relative(file).display()
                ));
            }
        }
    }
    assert!(violations.is_empty(), "rule 3:\n{}", violations.join("\n"));
}

/// The longest a shipped source file may be: past it a file holds more than one concern.
const MAX_SOURCE_LINES: usize = 800;

#[test]
fn no_shipped_source_file_exceeds_eight_hundred_lines() {
    let workspace = Workspace::load();
    let mut sources = Vec::new();
    for area in ["services", "shared"] {
        for member in workspace.members_in(area) {
            let package = member
                .manifest_path
                .parent()
                .expect("a manifest sits in its package directory");
            files_under(&package.join("src"), &mut sources);
        }
    }
    assert!(!sources.is_empty(), "no sources under services/ or shared/");
    // A module's unit tests live in its own `tests.rs` and are not shipped.
    let too_long: Vec<String> = sources
        .iter()
        .filter(|file| is_rust(file) && file.file_name().is_some_and(|name| name != "tests.rs"))
        .filter_map(|file| {
            let source = std::fs::read_to_string(file).expect("source files are readable UTF-8");
            let lines = source.lines().count();
            (lines > MAX_SOURCE_LINES)
                .then(|| format!("{} has {lines} lines", workspace.relative(file).display()))
        })
        .collect();
    assert!(
        too_long.is_empty(),
        "split these by concern (at most {MAX_SOURCE_LINES} lines each):\n{}",
        too_long.join("\n")
    );
}

/// What the application layer must not name: it speaks domain types, and the wire stays in `api/`.
const OUTSIDE_THE_APPLICATION: [&str; 4] = ["tonic", "prost", "tenure_proto", "tenure_grpc"];

/// Services whose use cases live in `app/` (issue 17 moves them there one service at a time); each of
/// these is held to the rules below, and the list only grows.
const SERVICES_WITH_AN_APPLICATION_LAYER: [&str; 4] = [
    "tenure-accounts",
    "tenure-data-purge",
    "tenure-orders",
    "tenure-provisioning",
];

#[test]
fn handlers_reach_storage_only_through_the_application_layer() {
    let workspace = Workspace::load();
    let mut violations = Vec::new();
    for name in SERVICES_WITH_AN_APPLICATION_LAYER {
        let src = workspace.source_dir(name);
        assert!(src.join("app.rs").is_file(), "{name} has no src/app.rs");
        let (mut api, mut app) = (vec![src.join("api.rs")], vec![src.join("app.rs")]);
        files_under(&src.join("api"), &mut api);
        files_under(&src.join("app"), &mut app);
        for file in api.iter().filter(|file| is_rust(file)) {
            let source = std::fs::read_to_string(file).expect("source files are readable UTF-8");
            let identifiers = code_identifiers(&source);
            for pair in identifiers.windows(2) {
                if pair[0].1 == "crate" && pair[1].1 == "store" {
                    violations.push(format!(
                        "{}:{} reaches the store (`crate::store`)",
                        workspace.relative(file).display(),
                        pair[1].0
                    ));
                }
            }
        }
        for file in app.iter().filter(|file| is_rust(file)) {
            let source = std::fs::read_to_string(file).expect("source files are readable UTF-8");
            for (line, word) in code_identifiers(&source) {
                let forbidden = OUTSIDE_THE_APPLICATION
                    .into_iter()
                    .find(|forbidden| names_crate(&word, forbidden))
                    .or((word == "pb").then_some("pb"));
                if let Some(forbidden) = forbidden {
                    violations.push(format!(
                        "{}:{line} names {forbidden} (`{word}`)",
                        workspace.relative(file).display()
                    ));
                }
            }
        }
    }
    assert!(
        violations.is_empty(),
        "api/ decodes and encodes, app/ holds the use cases:\n{}",
        violations.join("\n")
    );
}

/// Whether a field or binding of this name holds an AWS account id or a state: such a value has a type
/// of its own in a service's domain and use cases, never `String`.
fn holds_an_id_or_a_state(name: &str) -> bool {
    let name = name.trim_start_matches('_');
    name == "account"
        || name == "aws_account"
        || name.ends_with("account_id")
        || name == "state"
        || name == "status"
        || name.ends_with("_state")
        || name.ends_with("_status")
}

#[test]
fn domain_and_application_types_hold_account_ids_and_states_typed() {
    let workspace = Workspace::load();
    let mut violations = Vec::new();
    let mut scanned = 0;
    for name in SERVICES {
        let src = workspace.source_dir(name);
        let mut files = vec![src.join("domain.rs"), src.join("app.rs")];
        files_under(&src.join("domain"), &mut files);
        files_under(&src.join("app"), &mut files);
        for file in files.iter().filter(|file| is_rust(file) && file.is_file()) {
            scanned += 1;
            let source = std::fs::read_to_string(file).expect("source files are readable UTF-8");
            let identifiers = code_identifiers(&source);
            for window in identifiers.windows(3) {
                let [(line, field), (_, first), (_, second)] = window else {
                    continue;
                };
                let stringly = first == "String" || (first == "Option" && second == "String");
                if holds_an_id_or_a_state(field) && stringly {
                    violations.push(format!(
                        "{}:{line} `{field}` is a String",
                        workspace.relative(file).display()
                    ));
                }
            }
        }
    }
    assert!(scanned > 0, "no domain or application sources found");
    assert!(
        violations.is_empty(),
        "an account id or a state travels typed inside a service (AwsAccountId, an enum):\n{}",
        violations.join("\n")
    );
}

#[test]
fn one_version_of_the_http_grpc_and_tls_stack() {
    let workspace = Workspace::load();
    let lock = read_toml(&workspace.root.join("Cargo.lock"));
    let mut versions: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for package in lock
        .get("package")
        .and_then(toml::Value::as_array)
        .expect("Cargo.lock lists its packages")
    {
        let field = |key: &str| package.get(key).and_then(toml::Value::as_str);
        if let (Some(name), Some(version)) = (field("name"), field("version")) {
            versions.entry(name).or_default().push(version);
        }
    }
    let violations: Vec<String> = SINGLE_VERSION_IN_EVERY_BUILD
        .into_iter()
        .filter_map(|name| {
            let found = versions.get(name).cloned().unwrap_or_default();
            (found.len() != 1).then(|| {
                format!(
                    "{name}: {} versions in Cargo.lock ({}); see `cargo tree -i {name}`",
                    found.len(),
                    found.join(", ")
                )
            })
        })
        .collect();
    assert!(violations.is_empty(), "rule 4:\n{}", violations.join("\n"));
}

#[test]
fn the_shipped_binary_has_one_http_grpc_and_tls_stack() {
    // Normal and build edges of the `tenure` binary: what is compiled into the shipped image.
    let output = cargo(&[
        "tree",
        "--locked",
        "--offline",
        "--package",
        SUITE,
        "--edges",
        "normal,build",
        "--prefix",
        "none",
        "--format",
        "{p}",
    ]);
    let listing = String::from_utf8_lossy(&output);
    let mut versions: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for line in listing.lines() {
        let mut words = line.split_whitespace();
        if let (Some(name), Some(version)) = (words.next(), words.next()) {
            versions.entry(name).or_default().insert(version);
        }
    }
    assert!(
        versions.contains_key("tenure-provisioning-cloud"),
        "the listing must cover the AWS SDK, or this check proves nothing"
    );
    let violations: Vec<String> = SINGLE_VERSION
        .into_iter()
        .filter_map(|name| {
            let found = versions.get(name).cloned().unwrap_or_default();
            (found.len() != 1).then(|| {
                format!(
                    "{name}: {} versions in the `tenure` binary ({}); see `cargo tree -p tenure -e normal -i {name}`",
                    found.len(),
                    found.into_iter().collect::<Vec<_>>().join(", ")
                )
            })
        })
        .collect();
    assert!(violations.is_empty(), "rule 4:\n{}", violations.join("\n"));
}

#[test]
fn no_mod_rs_files() {
    let workspace = Workspace::load();
    let mut files = Vec::new();
    for area in ["shared", "services", "tests"] {
        files_under(&workspace.root.join(area), &mut files);
    }
    let violations: Vec<String> = files
        .iter()
        .filter(|file| file.file_name().is_some_and(|name| name == "mod.rs"))
        .map(|file| {
            format!(
                "{}: use a file named after the module beside its directory",
                workspace.relative(file).display()
            )
        })
        .collect();
    assert!(
        violations.is_empty(),
        "mod.rs files:\n{}",
        violations.join("\n")
    );
}

fn read_toml(path: &Path) -> toml::Table {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|error| panic!("cannot read {}: {error}", path.display()));
    text.parse()
        .unwrap_or_else(|error| panic!("{} is not valid TOML: {error}", path.display()))
}

fn lookup<'a>(table: &'a toml::Table, keys: &[&str]) -> Option<&'a toml::Value> {
    let (first, rest) = keys.split_first()?;
    rest.iter()
        .try_fold(table.get(*first)?, |value, key| value.get(*key))
}

/// Every file below `dir`, build output (`target/`) excluded; nothing when `dir` does not exist.
fn files_under(dir: &Path, files: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries {
        let path = entry.expect("directory entries are readable").path();
        if path.is_dir() {
            if path.file_name().is_some_and(|name| name != "target") {
                files_under(&path, files);
            }
        } else {
            files.push(path);
        }
    }
}

fn is_rust(path: &Path) -> bool {
    path.extension().is_some_and(|extension| extension == "rs")
}

/// Whether an identifier names `krate` or a crate of its family (`prost_types` for `prost`).
fn names_crate(identifier: &str, krate: &str) -> bool {
    identifier
        .strip_prefix(krate)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('_'))
}

/// The identifiers of Rust source with their line numbers, comments and literals skipped: a doc comment
/// explaining that the domain never uses tonic does not name tonic.
fn code_identifiers(source: &str) -> Vec<(usize, String)> {
    let mut lexer = Lexer {
        chars: source.chars().collect(),
        at: 0,
        line: 1,
    };
    let mut identifiers = Vec::new();
    while let Some(c) = lexer.peek(0) {
        match c {
            '/' if lexer.peek(1) == Some('/') => {
                while lexer.peek(0).is_some_and(|c| c != '\n') {
                    lexer.advance(1);
                }
            }
            '/' if lexer.peek(1) == Some('*') => lexer.skip_block_comment(),
            '"' => {
                lexer.advance(1);
                lexer.skip_string(None);
            }
            '\'' => lexer.skip_char_literal(),
            c if c.is_alphabetic() || c == '_' => {
                let word = lexer.identifier();
                let hashes = lexer.count('#');
                if matches!(word.as_str(), "r" | "br" | "cr") && lexer.peek(hashes) == Some('"') {
                    lexer.advance(hashes + 1);
                    lexer.skip_string(Some(hashes));
                } else if word == "r" && hashes == 1 {
                    // A raw identifier (`r#type`): the name itself follows.
                    lexer.advance(1);
                } else {
                    identifiers.push((lexer.line, word));
                }
            }
            _ => lexer.advance(1),
        }
    }
    identifiers
}

struct Lexer {
    chars: Vec<char>,
    at: usize,
    line: usize,
}

impl Lexer {
    fn peek(&self, ahead: usize) -> Option<char> {
        self.chars.get(self.at + ahead).copied()
    }

    fn advance(&mut self, by: usize) {
        for _ in 0..by {
            if self.peek(0) == Some('\n') {
                self.line += 1;
            }
            self.at += 1;
        }
    }

    fn count(&self, wanted: char) -> usize {
        (0..)
            .take_while(|&ahead| self.peek(ahead) == Some(wanted))
            .count()
    }

    fn identifier(&mut self) -> String {
        let mut word = String::new();
        while let Some(c) = self.peek(0).filter(|c| c.is_alphanumeric() || *c == '_') {
            word.push(c);
            self.advance(1);
        }
        word
    }

    /// From a `/*` to after its matching `*/`; block comments nest.
    fn skip_block_comment(&mut self) {
        let mut depth = 0_usize;
        while let Some(c) = self.peek(0) {
            match (c, self.peek(1)) {
                ('/', Some('*')) => {
                    depth += 1;
                    self.advance(2);
                }
                ('*', Some('/')) => {
                    self.advance(2);
                    depth -= 1;
                    if depth == 0 {
                        return;
                    }
                }
                _ => self.advance(1),
            }
        }
    }

    /// From after the opening quote to after the closing one (and its `#`s for a raw string).
    fn skip_string(&mut self, raw_hashes: Option<usize>) {
        while let Some(c) = self.peek(0) {
            match (c, raw_hashes) {
                ('\\', None) => self.advance(2),
                ('"', None) => {
                    self.advance(1);
                    return;
                }
                ('"', Some(hashes)) if (1..=hashes).all(|ahead| self.peek(ahead) == Some('#')) => {
                    self.advance(hashes + 1);
                    return;
                }
                _ => self.advance(1),
            }
        }
    }

    /// A char literal (`'a'`, `'\''`) is skipped whole; a lifetime or label only loses its quote.
    fn skip_char_literal(&mut self) {
        if self.peek(1) == Some('\\') {
            self.advance(3);
            while self.peek(0).is_some_and(|c| c != '\'') {
                self.advance(1);
            }
            self.advance(1);
        } else if self.peek(2) == Some('\'') {
            self.advance(3);
        } else {
            self.advance(1);
        }
    }
}
