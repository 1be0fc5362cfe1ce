//! Compiles every contract under `proto/` with protox (pure Rust, so no system `protoc`) and generates
//! the prost messages plus tonic clients and servers.

use std::path::{Path, PathBuf};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../proto");
    // compile_fds prints no rerun hints; without this line any edit in the crate reruns the script.
    println!("cargo:rerun-if-changed={}", root.display());
    let files = proto_files_sorted(&root)?;
    let descriptors = protox::compile(&files, [&root])?;
    // file_descriptor_set_path is ignored on the compile_fds path, so the set is written here.
    #[allow(
        clippy::disallowed_methods,
        reason = "cargo hands build scripts their output directory this way"
    )]
    let out_dir = PathBuf::from(std::env::var("OUT_DIR")?);
    std::fs::write(
        out_dir.join("tenure.bin"),
        prost::Message::encode_to_vec(&descriptors),
    )?;
    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        // Handlers of the services that are still being built answer UNIMPLEMENTED through these
        // defaults; `tests/e2e` proves every published method is served by the end of each issue.
        .generate_default_stubs(true)
        .compile_fds(descriptors)?;
    Ok(())
}

/// Every `*.proto` below `root`, relative to it, in a stable order, so a new file cannot be forgotten.
fn proto_files_sorted(root: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut pending = vec![root.to_path_buf()];
    let mut files = Vec::new();
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir)? {
            let path = entry?.path();
            if path.is_dir() {
                pending.push(path);
            } else if path.extension().is_some_and(|ext| ext == "proto") {
                files.push(path.strip_prefix(root).unwrap_or(&path).to_path_buf());
            }
        }
    }
    files.sort();
    Ok(files)
}
