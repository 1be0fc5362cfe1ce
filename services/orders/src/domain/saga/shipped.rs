//! Every definition this build runs. New orders take the newest version of their kind; sagas already
//! running keep the version they started on, so old versions stay here as long as any may run.

use crate::domain::saga::definition::{DefinitionError, Registry};
use crate::domain::saga::{v1, v2};

/// Every shipped definition.
pub(crate) fn registry() -> Result<Registry, DefinitionError> {
    Ok(Registry::new()
        .with(v1::account_create()?)
        .with(v1::account_transfer()?)
        .with(v1::organization_transfer()?)
        .with(v1::account_termination()?)
        .with(v2::organization_transfer()?)
        .with(v2::account_termination()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A shipped definition never changes; a change is a new version. If this fails, the edit
    /// belongs in a new definition version instead.
    #[test]
    fn shipped_definitions_keep_their_fingerprints() {
        let registry = registry().expect("the shipped definitions are valid");
        let fingerprints: Vec<(String, String)> = registry
            .all()
            .map(|definition| (definition.key(), definition.fingerprint()))
            .collect();
        let expected = [
            ("account_create@1", ACCOUNT_CREATE_V1),
            ("account_transfer@1", ACCOUNT_TRANSFER_V1),
            ("organization_transfer@1", ORGANIZATION_TRANSFER_V1),
            ("account_termination@1", ACCOUNT_TERMINATION_V1),
            ("organization_transfer@2", ORGANIZATION_TRANSFER_V2),
            ("account_termination@2", ACCOUNT_TERMINATION_V2),
        ];
        for (key, fingerprint) in expected {
            let found = fingerprints
                .iter()
                .find(|(shipped, _)| shipped == key)
                .map(|(_, found)| found.as_str());
            assert_eq!(found, Some(fingerprint), "{key} changed");
        }
        assert_eq!(fingerprints.len(), expected.len());
    }

    const ACCOUNT_CREATE_V1: &str =
        "b40f191d8b120b4060fa32681652dd01e7657045b66265d7f42a68abd485a68a";
    const ACCOUNT_TRANSFER_V1: &str =
        "a831dbae04fdc6ec25d0bcc5eeab9ddd0293690cb6b37f3aae9523a74b9aaf58";
    const ORGANIZATION_TRANSFER_V1: &str =
        "d787002f112281ac0356e2505e36cfb3774390c9851d336255cb1a031e72255c";
    const ACCOUNT_TERMINATION_V1: &str =
        "25b210a1c34e0fd2deb56aaa51122bd908b608934601cd17485d38e37aebbd05";
    const ORGANIZATION_TRANSFER_V2: &str =
        "014140cd8e6ab8aefae502d7918b41bbab43726163caa3013ee531c7be10ec60";
    const ACCOUNT_TERMINATION_V2: &str =
        "1fff74ce609366023de2149c5f31995e469c69aa5069b20f799d9b90ed5cf73d";
}
