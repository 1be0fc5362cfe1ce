//! The development signing key of `tenure up`, kept in the data directory so that `tenure token` and
//! processes sharing the file can mint and verify tokens for the running stack.

use std::io::Write as _;
use std::path::Path;

use anyhow::Context as _;
use tenure_grpc::{DevAuthority, Ed25519KeyPair};

/// Reads the key at `path`.
pub(crate) fn load(path: &Path) -> anyhow::Result<DevAuthority> {
    let pem = std::fs::read_to_string(path)
        .with_context(|| format!("reading the development key {}", path.display()))?;
    Ok(DevAuthority::with_key(Ed25519KeyPair::from_private_pem(
        &pem,
    )?))
}

/// Reads the key at `path`, creating it (readable by the owner only) when it does not exist yet.
pub(crate) fn load_or_create(path: &Path) -> anyhow::Result<DevAuthority> {
    ensure_key_file(path)?;
    load(path)
}

/// Creates an Ed25519 PKCS#8 PEM key at `path`, readable by the owner only, unless one is there.
pub(crate) fn ensure_key_file(path: &Path) -> anyhow::Result<()> {
    if path.exists() {
        return Ok(());
    }
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("creating {}", parent.display()))?;
    }
    let keys = Ed25519KeyPair::generate()?;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    match options.open(path) {
        Ok(mut file) => file
            .write_all(keys.private_pem().as_bytes())
            .with_context(|| format!("writing {}", path.display())),
        // Another process created it first; use theirs so both trust the same key.
        Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(error) => {
            Err(error).with_context(|| format!("creating the key file {}", path.display()))
        }
    }
}
