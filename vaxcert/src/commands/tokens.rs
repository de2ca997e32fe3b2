//! `vaxcert tokens create <name>`: a bearer token for a client of the internal API, shown once.

use std::process::ExitCode;

use anyhow::{Context as _, Result, anyhow};
use clap::{Args, Subcommand, ValueEnum};
use issuer::ledger::Scope;
use issuer::tokens::NewToken;

use crate::node::NodeArgs;
use crate::output::outln;

/// Arguments of `vaxcert tokens`.
#[derive(Debug, Args)]
pub struct TokensArgs {
    #[command(subcommand)]
    command: TokensCommand,
}

#[derive(Debug, Subcommand)]
enum TokensCommand {
    /// Creates a client and prints its token on stdout (the only time it is shown; the ledger keeps
    /// its SHA-256).
    Create(CreateArgs),
    /// Disables a client: its token is refused from the next request on.
    Disable(NamedArgs),
    /// Lists the clients, their scopes and whether they are disabled (tokens are never shown).
    List(ListArgs),
}

#[derive(Debug, Args)]
struct NamedArgs {
    /// The client's name.
    name: String,
    #[command(flatten)]
    node: NodeArgs,
}

#[derive(Debug, Args)]
struct ListArgs {
    #[command(flatten)]
    node: NodeArgs,
}

#[derive(Debug, Args)]
struct CreateArgs {
    /// The client's name (unique), e.g. `national-registry`.
    name: String,
    /// What the client may do (repeat the flag); default: issue and read.
    #[arg(long = "scope", value_enum)]
    scopes: Vec<ScopeArg>,
    #[command(flatten)]
    node: NodeArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum ScopeArg {
    /// `POST /internal/v1/dose-confirmations`.
    Issue,
    /// `GET /internal/v1/certificates/{uvci}`.
    Read,
    /// `POST /internal/v1/certificates/{uvci}/revocation`.
    Revoke,
    /// With `issue`: correct dose events other clients confirmed (without it, only the client's own).
    Correct,
}

impl From<ScopeArg> for Scope {
    fn from(scope: ScopeArg) -> Scope {
        match scope {
            ScopeArg::Issue => Scope::Issue,
            ScopeArg::Read => Scope::Read,
            ScopeArg::Revoke => Scope::Revoke,
            ScopeArg::Correct => Scope::Correct,
        }
    }
}

/// Runs `vaxcert tokens`.
pub fn run(args: TokensArgs) -> Result<ExitCode> {
    match args.command {
        TokensCommand::Create(args) => create(&args),
        TokensCommand::Disable(args) => disable(&args),
        TokensCommand::List(args) => list(&args),
    }
}

fn disable(args: &NamedArgs) -> Result<ExitCode> {
    with_ledger(&args.node, |ledger| async move {
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        match ledger.disable_client(&args.name, now).await {
            Ok(()) => {
                outln!("disabled API client {}", args.name)?;
                Ok(ExitCode::SUCCESS)
            }
            Err(issuer::ledger::LedgerError::NotFound) => {
                eprintln!("vaxcert: no enabled API client named {}", args.name);
                Ok(ExitCode::from(1))
            }
            Err(error) => Err(error).context("cannot disable the client"),
        }
    })
}

fn list(args: &ListArgs) -> Result<ExitCode> {
    with_ledger(&args.node, |ledger| async move {
        for client in ledger.clients().await? {
            let scopes: Vec<&str> = client.scopes.iter().map(|scope| scope.as_str()).collect();
            let state = if client.disabled {
                "disabled"
            } else {
                "enabled"
            };
            outln!("{:<32} {:<9} {}", client.name, state, scopes.join(","))?;
        }
        Ok(ExitCode::SUCCESS)
    })
}

/// Runs `work` on the ledger of `node`, closing it afterwards.
fn with_ledger<F, Fut>(node: &NodeArgs, work: F) -> Result<ExitCode>
where
    F: FnOnce(std::sync::Arc<issuer::ledger::Ledger>) -> Fut,
    Fut: std::future::Future<Output = Result<ExitCode>>,
{
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let ledger = node.open_ledger().await?;
        let outcome = work(std::sync::Arc::clone(&ledger)).await;
        ledger.close().await;
        outcome
    })
}

fn create(args: &CreateArgs) -> Result<ExitCode> {
    let valid_name = !args.name.is_empty()
        && args.name.len() <= 64
        && args
            .name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if !valid_name {
        return Err(anyhow!(
            "a client name is 1 to 64 characters of A-Z, a-z, 0-9, '-', '_', '.'"
        ));
    }
    let scopes: Vec<Scope> = if args.scopes.is_empty() {
        vec![Scope::Issue, Scope::Read]
    } else {
        args.scopes.iter().copied().map(Scope::from).collect()
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let ledger = args.node.open_ledger().await?;
        let token = NewToken::generate().map_err(|_| anyhow!("no randomness"))?;
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let created = ledger
            .create_client(&args.name, token.hash(), &scopes, now)
            .await
            .with_context(|| format!("cannot create the client {}", args.name));
        ledger.close().await;
        created?;
        outln!("{}", token.expose())?;
        let names: Vec<&str> = scopes.iter().map(|scope| scope.as_str()).collect();
        eprintln!(
            "created API client {} ({}); the token above is shown once — store it in the client's secret store",
            args.name,
            names.join(", ")
        );
        Ok(ExitCode::SUCCESS)
    })
}
