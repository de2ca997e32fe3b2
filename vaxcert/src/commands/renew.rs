//! `vaxcert renew --expiring-within 30d`: re-signs still-valid certificates before they expire (new
//! UVCI; the old one is superseded and stays verifiable until its own expiry).

use std::process::ExitCode;

use anyhow::{Result, bail};
use clap::Args;
use issuer::service::system_clock;

use crate::node::{NodeArgs, open_node};
use crate::output::outln;

/// Arguments of `vaxcert renew`.
#[derive(Debug, Args)]
pub struct RenewArgs {
    /// Renew active certificates expiring within this span: `30d`, `12h`, `90m` or `3600s`.
    #[arg(long, value_name = "SPAN", value_parser = parse_span)]
    expiring_within: i64,
    #[command(flatten)]
    node: NodeArgs,
}

/// Runs `vaxcert renew`: exit 0 when every candidate was renewed, 1 when some could not be.
pub fn run(args: RenewArgs) -> Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let ledger = args.node.open_ledger().await?;
        let node = open_node(&args.node, std::sync::Arc::clone(&ledger), system_clock()).await?;
        let summary = node
            .service
            .renew_expiring(args.expiring_within, "cli", |_| {})
            .await;
        ledger.close().await;
        let summary = summary?;
        // A closed stdout loses the summary, not the exit code.
        let printed = outln!(
            "renewed {} certificate(s); {} could not be renewed",
            summary.renewed,
            summary.failed
        )
        .and_then(|()| {
            if summary.not_extended > 0 {
                outln!(
                    "{} certificate(s) left as they are: the current DSC expires before a renewal \
                     would (rotate it with `vaxcert keys rotate`)",
                    summary.not_extended
                )
            } else {
                Ok(())
            }
        });
        crate::output::unless_closed(printed)?;
        Ok(if summary.failed == 0 {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(1)
        })
    })
}

/// `30d`, `12h`, `90m`, `3600s` → seconds.
pub(crate) fn parse_span(text: &str) -> Result<i64> {
    let split = text.len().saturating_sub(1);
    let (number, unit) = (
        text.get(..split).unwrap_or(""),
        text.get(split..).unwrap_or(""),
    );
    let factor = match unit {
        "d" => 86_400,
        "h" => 3_600,
        "m" => 60,
        "s" => 1,
        _ => bail!("a span is a number followed by d, h, m or s (e.g. 30d)"),
    };
    let value: i64 = number
        .parse()
        .map_err(|_| anyhow::anyhow!("a span is a number followed by d, h, m or s (e.g. 30d)"))?;
    if value < 0 {
        bail!("a span cannot be negative");
    }
    value
        .checked_mul(factor)
        .ok_or_else(|| anyhow::anyhow!("span too long"))
}

#[cfg(test)]
mod tests {
    use super::parse_span;

    #[test]
    fn spans_parse_to_seconds() {
        assert_eq!(parse_span("30d").ok(), Some(30 * 86_400));
        assert_eq!(parse_span("12h").ok(), Some(43_200));
        assert_eq!(parse_span("90m").ok(), Some(5_400));
        assert_eq!(parse_span("3600s").ok(), Some(3_600));
        for bad in ["", "d", "30", "30w", "-1d", "1.5d", "99999999999999999d"] {
            assert!(parse_span(bad).is_err(), "{bad}");
        }
    }
}
