//! `vaxcert revoke <uvci> --reason …`: revokes a certificate in the ledger; its hashes go on the next
//! revocation list the service publishes.

use std::process::ExitCode;

use anyhow::{Context as _, Result};
use clap::{Args, ValueEnum};
use issuer::service::RevocationReason;

use crate::node::NodeArgs;
use crate::output::outln;

/// Arguments of `vaxcert revoke`.
#[derive(Debug, Args)]
pub struct RevokeArgs {
    /// The certificate's UVCI (`URN:UVCI:01:VN:…#…`; quote it, `#` starts a shell comment).
    uvci: String,
    /// Why.
    #[arg(long, value_enum)]
    reason: Reason,
    #[command(flatten)]
    node: NodeArgs,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Reason {
    /// Issued by mistake.
    IssuedInError,
    /// Obtained by fraud.
    Fraud,
    /// Replaced by a corrected certificate.
    Corrected,
    /// The signing key is compromised.
    KeyCompromise,
    /// Recorded elsewhere.
    Other,
}

impl From<Reason> for RevocationReason {
    fn from(reason: Reason) -> RevocationReason {
        match reason {
            Reason::IssuedInError => RevocationReason::IssuedInError,
            Reason::Fraud => RevocationReason::Fraud,
            Reason::Corrected => RevocationReason::Corrected,
            Reason::KeyCompromise => RevocationReason::KeyCompromise,
            Reason::Other => RevocationReason::Other,
        }
    }
}

/// Runs `vaxcert revoke`: exit 0 when revoked, 1 when unknown or already revoked, 2 on other errors.
pub fn run(args: RevokeArgs) -> Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let ledger = args.node.open_ledger().await?;
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let reason = RevocationReason::from(args.reason);
        let outcome = ledger.revoke(&args.uvci, reason.as_str(), "cli", now).await;
        ledger.close().await;
        match outcome {
            Ok(record) => {
                outln!(
                    "revoked ({}); the next revocation list carries it (certificate generation {}, dose event {})",
                    reason.as_str(),
                    record.generation,
                    record.dose_event_id
                )?;
                Ok(ExitCode::SUCCESS)
            }
            Err(issuer::ledger::LedgerError::NotFound) => {
                eprintln!("vaxcert: no certificate with that UVCI");
                Ok(ExitCode::from(1))
            }
            Err(issuer::ledger::LedgerError::WrongStatus(status)) => {
                eprintln!("vaxcert: the certificate is already {}", status.as_str());
                Ok(ExitCode::from(1))
            }
            Err(error) => Err(error).context("cannot revoke"),
        }
    })
}
