//! `canopy`: serve a tree of MCP servers as one, print its topology, call its tools with a
//! live view of progress and prompts, and talk to any MCP server as a general client.
//!
//! `main` parses the command line, dispatches to one module per command and turns the
//! outcome into the exit status of the contract: 0 success, 1 a failed call or a tool
//! error, 2 bad usage or a bad tree file. The full reference is `docs/cli.md`.

// The reference client shows servers' log messages and subscribes to resources, which
// SEP-2577 deprecates but the 2025 revisions have.
#![allow(deprecated)]

mod bench;
mod call;
mod config;
mod connect;
mod init;
mod load;
mod prompt;
mod render;
mod run;
mod schema;
mod serve;
mod tools;
mod tree;

use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};

/// The command line.
#[derive(Debug, Parser)]
#[command(
    name = "canopy",
    version,
    about = "Serve a tree of MCP servers as one, inspect it, call through it; a general MCP client",
    long_about = None,
    propagate_version = true,
    after_help = "\
Examples:
  canopy serve hub.toml                         serve the tree over stdio
  canopy serve hub.toml --http 127.0.0.1:3000   serve it at http://127.0.0.1:3000/mcp
  canopy tree hub.toml --format dot | dot -Tsvg > hub.svg
  canopy call hub.toml research__web__search --args '{\"query\":\"rust\"}'
  canopy run team.toml \"Summarise what the corpus says about X\" --yes
  canopy connect http://127.0.0.1:3000/mcp tools
  canopy connect -- canopy serve hub.toml       an interactive session with the served tree
  canopy completions bash > /etc/bash_completion.d/canopy

Exit status: 0 success, 1 a failed call or tool error, 2 bad usage or a bad tree file.
Logs go to stderr; set RUST_LOG (e.g. RUST_LOG=debug) for more."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// The commands.
#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the tree's root as one MCP server (stdio, or Streamable HTTP at /mcp).
    Serve(Box<serve::ServeArgs>),
    /// Build the tree and print its topology.
    Tree(tree::TreeArgs),
    /// List every tool of the tree: exposed name, canonical id, policy verdict, arguments.
    Tools(tools::ToolsArgs),
    /// Call a tool through the tree, with live progress and prompts (or JSON-lines events).
    Call(call::CallArgs),
    /// Run the root agent on a task, with a live view of the whole tree.
    Run(run::RunArgs),
    /// A general MCP client for any server: a URL, or a command to launch (after `--`).
    Connect(connect::ConnectArgs),
    /// Measure Canopy against its baselines, or a tool of your tree (TREE TOOL).
    Bench(bench::BenchArgs),
    /// Scaffold a tree file and a Rust leaf crate (rmcp) that builds.
    Init(init::InitArgs),
    /// Print (or --write) a client's config entry for serving a tree, e.g. Claude Desktop's.
    Config(config::ConfigArgs),
    /// Print the JSON Schema of a file format (tree-file), for editor completion.
    Schema(schema::SchemaArgs),
    /// Print a shell completion script.
    #[command(after_help = "\
Examples:
  canopy completions bash > ~/.local/share/bash-completion/completions/canopy
  canopy completions zsh > ~/.zfunc/_canopy
  canopy completions fish > ~/.config/fish/completions/canopy.fish")]
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
}

/// How a command failed, which decides the exit status.
#[derive(Debug)]
pub(crate) enum Failure {
    /// A call failed, a tool reported an error, a server could not be reached (exit 1).
    Failed(String),
    /// Bad usage or a bad tree file (exit 2). The message is printed as it is.
    Usage(String),
    /// Already reported on stderr (or nothing to say); just exit with this status.
    Quiet(u8),
}

impl Failure {
    /// The exit status for this failure.
    fn code(&self) -> u8 {
        match self {
            Self::Failed(_) => 1,
            Self::Usage(_) => 2,
            Self::Quiet(code) => *code,
        }
    }
}

impl From<anyhow::Error> for Failure {
    fn from(error: anyhow::Error) -> Self {
        Self::Failed(format!("{error:#}"))
    }
}

/// The result of a command.
pub(crate) type Outcome = Result<(), Failure>;

fn main() -> ExitCode {
    let args = connect::split_command_tail(std::env::args_os().collect());
    let cli = match Cli::try_parse_from(args.argv) {
        Ok(cli) => cli,
        // `--help` and `--version` exit 0; usage errors exit 2 (clap's convention matches ours).
        Err(error) => error.exit(),
    };
    init_logging();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("canopy: cannot start the async runtime: {error}");
            return ExitCode::from(1);
        }
    };
    let outcome = runtime.block_on(run(cli.command, args.command_tail));
    // Commands close their trees (children, connections) before returning. What may still
    // run is a blocking read of stdin (`serve` over stdio, a prompt), which never ends while
    // stdin is a terminal or an open pipe: waiting for it made Ctrl-C take 5 s.
    runtime.shutdown_timeout(std::time::Duration::from_millis(100));
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            match &failure {
                Failure::Failed(message) | Failure::Usage(message) => {
                    eprintln!("{message}");
                }
                Failure::Quiet(_) => {}
            }
            ExitCode::from(failure.code())
        }
    }
}

async fn run(command: Command, command_tail: Option<Vec<String>>) -> Outcome {
    if command_tail.is_some() && !matches!(command, Command::Connect(_)) {
        return Err(Failure::Usage(
            "canopy: `-- CMD ARGS...` is only for `canopy connect`".into(),
        ));
    }
    match command {
        Command::Serve(args) => serve::run(*args).await,
        Command::Tree(args) => tree::run(args).await,
        Command::Tools(args) => tools::run(args).await,
        Command::Call(args) => call::run(args).await,
        Command::Run(args) => run::run(args).await,
        Command::Connect(args) => connect::run(args, command_tail).await,
        Command::Bench(args) => bench::run(args).await,
        Command::Init(args) => init::run(&args),
        Command::Config(args) => config::run(&args),
        Command::Schema(args) => schema::run(&args),
        Command::Completions { shell } => {
            let mut command = Cli::command();
            clap_complete::generate(shell, &mut command, "canopy", &mut std::io::stdout());
            Ok(())
        }
    }
}

/// The log filter: `RUST_LOG`, else warnings and errors but rmcp's transport worker's; with
/// `audit`, the audit trail of policy decisions too (target `canopy::audit`).
fn log_filter(audit: bool) -> tracing_subscriber::EnvFilter {
    let mut filter = tracing_subscriber::EnvFilter::try_from_default_env()
        // rmcp logs a child's HTTP connection failure as raw ERROR lines (with Debug dumps)
        // although the error reaches the caller, who words it once: quiet by default.
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn,rmcp::transport::worker=off"));
    if audit && let Ok(directive) = "canopy::audit=info".parse() {
        filter = filter.add_directive(directive);
    }
    filter
}

type FilterHandle =
    tracing_subscriber::reload::Handle<tracing_subscriber::EnvFilter, tracing_subscriber::Registry>;

/// Swaps the log filter once a command knows it wants more (`canopy serve --audit`).
static LOG_FILTER: std::sync::OnceLock<FilterHandle> = std::sync::OnceLock::new();

/// Logs go to stderr only (stdout carries MCP messages in stdio mode, or results), filtered
/// by [`log_filter`].
fn init_logging() {
    use tracing_subscriber::{layer::SubscriberExt as _, util::SubscriberInitExt as _};
    let (filter, handle) = tracing_subscriber::reload::Layer::new(log_filter(false));
    let fmt = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    if tracing_subscriber::registry()
        .with(filter)
        .with(fmt)
        .try_init()
        .is_ok()
    {
        let _ = LOG_FILTER.set(handle);
    }
}

/// Adds the audit trail (`canopy::audit`, every policy decision) to the logs on stderr.
pub(crate) fn enable_audit_log() {
    if let Some(handle) = LOG_FILTER.get() {
        let _ = handle.reload(log_filter(true));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_line_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn every_command_has_examples() {
        let cli = Cli::command();
        for command in cli.get_subcommands() {
            let help = command
                .get_after_help()
                .map(ToString::to_string)
                .unwrap_or_default();
            assert!(
                help.contains("Examples:"),
                "`canopy {}` has no examples in its help",
                command.get_name()
            );
        }
    }
}
