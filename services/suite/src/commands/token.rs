//! `tenure token`: mints a development token with the key of `tenure up`.

use std::time::Duration;

use tenure_grpc::{Role, ServiceKind};

use crate::cli::TokenArgs;
use crate::{dev_key, output};

pub(super) fn run(args: &TokenArgs) -> anyhow::Result<()> {
    let authority = dev_key::load(&args.key_file)?;
    if let (Some(caller), Some(callee)) = (args.as_service, args.callee) {
        let minter = authority.service_minter(ServiceKind::from(caller))?;
        output::line(minter.token_for(ServiceKind::from(callee).audience())?);
        return Ok(());
    }
    let role = Role::from(args.role);
    let subject = args
        .subject
        .clone()
        .unwrap_or_else(|| format!("dev-{}", role.name()));
    let permissions: Vec<&str> = args.permissions.iter().map(String::as_str).collect();
    let token = authority.user_token(
        role,
        &subject,
        args.tenant,
        &permissions,
        Duration::from_secs(args.ttl_minutes.saturating_mul(60)),
    )?;
    output::line(token);
    Ok(())
}
