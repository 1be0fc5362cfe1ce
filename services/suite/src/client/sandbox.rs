//! `tenure sandbox`: the simulated AWS of `tenure up`. Its clock is the whole stack's business time
//! there, and it plays the customer's side of invitations, stacks and sign-ups.

use std::time::Duration;

use tenure_proto::provisioning::v1 as pb;

use super::connect::Session;
use super::errors::{Answer as _, present};
use super::render::Printer;
use crate::cli::SandboxCommand;

pub(super) async fn run(
    command: SandboxCommand,
    session: Session,
    printer: Printer,
) -> anyhow::Result<()> {
    match command {
        SandboxCommand::Advance(advance) => {
            printer.show(&advance_clock(&session, advance.by).await?)
        }
        SandboxCommand::Clock => {
            let answer = session
                .sandbox()?
                .get_clock(pb::GetClockRequest {})
                .await
                .answer()?;
            printer.show(&answer)
        }
        SandboxCommand::Accept(target) => {
            for handshake in
                answer_invitations(&session, &target.organization, &target.account, true).await?
            {
                printer.show(&handshake)?;
            }
            Ok(())
        }
        SandboxCommand::Decline(target) => {
            for handshake in
                answer_invitations(&session, &target.organization, &target.account, false).await?
            {
                printer.show(&handshake)?;
            }
            Ok(())
        }
        SandboxCommand::DeployBootstrap(account) => {
            let answer = session
                .sandbox()?
                .deploy_customer_bootstrap_stack(pb::DeployCustomerBootstrapStackRequest {
                    aws_account_id: account.account,
                })
                .await
                .answer()?;
            printer.show(&present(answer.stack, "stack")?)
        }
        SandboxCommand::CreateAccount(account) => {
            let answer = session
                .sandbox()?
                .create_customer_account(pb::CreateCustomerAccountRequest {
                    email: account.email,
                    account_name: account.name,
                })
                .await
                .answer()?;
            printer.show(&present(answer.account, "account")?)
        }
    }
}

/// Moves the simulated clock forward by `by`.
pub(super) async fn advance_clock(
    session: &Session,
    by: Duration,
) -> anyhow::Result<pb::AdvanceClockResponse> {
    let by = prost_types::Duration::try_from(by)
        .map_err(|error| anyhow::anyhow!("--by is out of range: {error}"))?;
    Ok(session
        .sandbox()?
        .advance_clock(pb::AdvanceClockRequest { by: Some(by) })
        .await
        .answer()?)
}

/// Answers, as the invited customer, every open invitation `organization` sent to `account`; the
/// handshakes afterwards. None open is an error: the order has not sent its invitation yet, or it
/// went to another account.
pub(super) async fn answer_invitations(
    session: &Session,
    organization: &str,
    account: &str,
    accept: bool,
) -> anyhow::Result<Vec<pb::Handshake>> {
    let listed = session
        .provisioning()?
        .list_handshakes(pb::ListHandshakesRequest {
            management_account_id: organization.to_owned(),
            action: pb::HandshakeAction::Unspecified as i32,
            target_account_id: account.to_owned(),
        })
        .await
        .answer()?;
    let open: Vec<String> = listed
        .handshakes
        .into_iter()
        .filter(|handshake| {
            matches!(
                pb::HandshakeState::try_from(handshake.state),
                Ok(pb::HandshakeState::Requested | pb::HandshakeState::Open)
            )
        })
        .map(|handshake| handshake.id)
        .collect();
    if open.is_empty() {
        anyhow::bail!("no open invitation from {organization} to {account} (yet)");
    }
    let mut sandbox = session.sandbox()?;
    let mut answered = Vec::new();
    for handshake_id in open {
        let handshake = if accept {
            sandbox
                .accept_handshake(pb::AcceptHandshakeRequest { handshake_id })
                .await
                .answer()?
                .handshake
        } else {
            sandbox
                .decline_handshake(pb::DeclineHandshakeRequest { handshake_id })
                .await
                .answer()?
                .handshake
        };
        answered.push(present(handshake, "handshake")?);
    }
    Ok(answered)
}

/// Parses `90d`, `10m`, `600s`, `2h` or a combination such as `1d12h`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let mut total: u64 = 0;
    let mut digits = String::new();
    for character in text.trim().chars() {
        if character.is_ascii_digit() {
            digits.push(character);
            continue;
        }
        let unit: u64 = match character {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86_400,
            other => {
                return Err(format!(
                    "unknown unit {other:?}: use s, m, h or d, as in 90d"
                ));
            }
        };
        let amount: u64 = digits
            .parse()
            .map_err(|_| format!("a number must come before {character:?}, as in 90d"))?;
        digits.clear();
        total = amount
            .checked_mul(unit)
            .and_then(|seconds| total.checked_add(seconds))
            .ok_or_else(|| "too long".to_owned())?;
    }
    if !digits.is_empty() {
        return Err(format!(
            "{digits} needs a unit: s, m, h or d, as in {digits}s"
        ));
    }
    if total == 0 {
        return Err("give a duration such as 10m or 90d".to_owned());
    }
    Ok(Duration::from_secs(total))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_people_write_them() {
        assert_eq!(parse_duration("90d"), Ok(Duration::from_secs(90 * 86_400)));
        assert_eq!(parse_duration("1d12h"), Ok(Duration::from_secs(36 * 3600)));
        assert_eq!(parse_duration("600s"), Ok(Duration::from_secs(600)));
        assert_eq!(parse_duration("10m"), Ok(Duration::from_secs(600)));
        assert!(parse_duration("10").is_err());
        assert!(parse_duration("d").is_err());
        assert!(parse_duration("3w").is_err());
        assert!(parse_duration("0s").is_err());
    }
}
