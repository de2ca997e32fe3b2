//! `vaxcert tokens create <name>`: a bearer token for a client of the internal API, shown once.

use std::process::ExitCode;

use anyhow::{Context as _, Result, anyhow};
use clap::{Args, Subcommand, ValueEnum};
use issuer::ledger::Scope;
use issuer::tokens::NewToken;

use crate::node::NodeArgs;

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
}

impl From<ScopeArg> for Scope {
    fn from(scope: ScopeArg) -> Scope {
        match scope {
            ScopeArg::Issue => Scope::Issue,
            ScopeArg::Read => Scope::Read,
            ScopeArg::Revoke => Scope::Revoke,
        }
    }
}

/// Runs `vaxcert tokens`.
pub fn run(args: TokensArgs) -> Result<ExitCode> {
    match args.command {
        TokensCommand::Create(args) => create(&args),
    }
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
        println!("{}", token.expose());
        let names: Vec<&str> = scopes.iter().map(|scope| scope.as_str()).collect();
        eprintln!(
            "created API client {} ({}); the token above is shown once — store it in the client's secret store",
            args.name,
            names.join(", ")
        );
        Ok(ExitCode::SUCCESS)
    })
}
