//! `canopy call`: call one tool through the tree, showing its events as they come (a live
//! view on a terminal, or one JSON line per event with `--json`) and answering its prompts.

use std::{io::IsTerminal, path::PathBuf, time::Duration};

use canopy_node::{CallError, CallHandle, Event, EventKind, PromptAnswer};
use clap::Args;
use rmcp::model::CallToolResult;
use serde_json::{Map, Value};

use crate::{
    Failure, Outcome,
    load::build_tree,
    prompt::{self, Answering},
    render::{LiveView, event_line, format_result, print_line},
    serve::shutdown_signal,
};

/// Arguments of `canopy call`.
#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  canopy call hub.toml research__web__search --args '{\"query\":\"rust\"}'
  canopy call hub.toml notes__write_note --args '{\"text\":\"hi\"}' --yes
  canopy call hub.toml research__lab__analyze --args '{\"steps\":5}' --json | jq .type
  canopy call hub.toml slow__tool --timeout 30

With --json, stdout has one event per line ({\"type\":…,\"path\":…,\"call\":…}), the last being
`result` or `error`. Prompts: --yes accepts permission prompts, --no declines every prompt;
otherwise they are asked at the terminal (y/N, or a form for information requests), and
without a terminal permission prompts are declined and information requests cancelled.
Ctrl-C cancels the call. Exit status: 0 success, 1 a failed call or a result with isError,
2 bad usage or a bad tree file.")]
pub(crate) struct CallArgs {
    /// The tree file (TOML).
    #[arg(value_name = "TREE")]
    pub(crate) tree: PathBuf,
    /// How the tree is built (`--strict`).
    #[command(flatten)]
    pub(crate) build: crate::load::BuildArgs,
    /// The tool's exposed name (as `tools/list` shows it, e.g. research__web__search).
    #[arg(value_name = "TOOL")]
    pub(crate) tool: String,
    /// The tool's arguments, a JSON object.
    #[arg(long, value_name = "JSON")]
    pub(crate) args: Option<String>,
    /// Print every event as one JSON line on stdout.
    #[arg(long)]
    pub(crate) json: bool,
    /// Accept permission prompts.
    #[arg(long, conflicts_with = "no")]
    pub(crate) yes: bool,
    /// Decline every prompt.
    #[arg(long)]
    pub(crate) no: bool,
    /// Cancel the call after this many seconds.
    #[arg(long, value_name = "SECS", value_parser = parse_timeout)]
    pub(crate) timeout: Option<Duration>,
}

pub(crate) fn parse_timeout(text: &str) -> Result<Duration, String> {
    text.parse::<f64>()
        .ok()
        .filter(|secs| secs.is_finite() && *secs > 0.0)
        .map(Duration::from_secs_f64)
        .ok_or_else(|| format!("'{text}' is not a positive number of seconds"))
}

/// Parses `--args`: a JSON object (absent means no arguments).
pub(crate) fn parse_arguments(text: Option<&str>) -> Result<Option<Map<String, Value>>, Failure> {
    let Some(text) = text else { return Ok(None) };
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(map)) => Ok(Some(map)),
        Ok(other) => Err(Failure::Usage(format!(
            "canopy: --args must be a JSON object, not {}",
            kind_of(&other)
        ))),
        Err(error) => Err(Failure::Usage(format!(
            "canopy: --args is not valid JSON: {error}"
        ))),
    }
}

fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Runs `canopy call`.
pub(crate) async fn run(args: CallArgs) -> Outcome {
    let arguments = parse_arguments(args.args.as_deref())?;
    let answering = Answering::from_flags(args.yes, args.no);
    let tree = build_tree(&args.tree, args.build).await?;
    let mut view = LiveView::new(!args.json && std::io::stderr().is_terminal());
    let call = tree.start_call(&args.tool, arguments);
    let ended = drive(
        call,
        args.json,
        answering,
        args.timeout,
        |view, event| view.show(event),
        &mut view,
    )
    .await;
    tree.shutdown().await;
    match &ended.result {
        Ok(result) => {
            let value = serde_json::to_value(result).unwrap_or_default();
            if !args.json {
                let text = format_result(&value);
                if !text.is_empty() {
                    print_line(&text);
                }
            }
            if result.is_error == Some(true) {
                eprintln!("canopy: the tool '{}' reported an error", args.tool);
                Err(Failure::Quiet(1))
            } else {
                Ok(())
            }
        }
        Err(error) => Err(ended.failure(&args.tool, args.timeout, error)),
    }
}

/// How a driven call ended.
pub(crate) struct Ended {
    /// The call's result.
    pub(crate) result: Result<CallToolResult, CallError>,
    /// Whether the timeout cancelled it.
    pub(crate) timed_out: bool,
    /// Whether Ctrl-C (or SIGTERM) cancelled it.
    pub(crate) interrupted: bool,
}

impl Ended {
    /// The failure for a call that did not give a result.
    pub(crate) fn failure(
        &self,
        tool: &str,
        timeout: Option<Duration>,
        error: &CallError,
    ) -> Failure {
        if self.timed_out {
            Failure::Failed(format!(
                "canopy: the call to '{tool}' timed out after {} s and was cancelled",
                timeout.map_or(0.0, |t| t.as_secs_f64())
            ))
        } else if self.interrupted {
            Failure::Failed(format!("canopy: the call to '{tool}' was interrupted"))
        } else {
            Failure::Failed(format!("canopy: {error}"))
        }
    }
}

/// Reads a call's events to the end: each is printed as a JSON line (`json`) or shown by
/// `show`, prompts are answered as `answering` says, and the call is cancelled after
/// `timeout` or on Ctrl-C.
pub(crate) async fn drive(
    mut call: CallHandle,
    json: bool,
    answering: Answering,
    timeout: Option<Duration>,
    mut show: impl FnMut(&mut LiveView, &Event),
    view: &mut LiveView,
) -> Ended {
    let deadline = timeout.map(|timeout| tokio::time::Instant::now() + timeout);
    let mut timed_out = false;
    let mut interrupted = false;
    let interrupt = shutdown_signal();
    tokio::pin!(interrupt);
    loop {
        let event = tokio::select! {
            event = call.next_event() => event,
            () = sleep_until(deadline), if !timed_out && !interrupted => {
                timed_out = true;
                call.cancel();
                continue;
            }
            () = &mut interrupt, if !interrupted && !timed_out => {
                interrupted = true;
                call.cancel();
                continue;
            }
        };
        let Some(event) = event else { break };
        if json {
            print_line(&event.to_json_line());
        } else {
            show(view, &event);
        }
        if let EventKind::Prompt(prompt) = &event.kind {
            let answer = prompt::answer(
                answering,
                prompt.kind,
                &prompt.message,
                &prompt.schema,
                view,
            );
            if !json && let Some(line) = answered_by_flag(answering, &event, &answer) {
                view.line(&line);
            }
            prompt.respond(answer);
        }
    }
    view.clear();
    Ended {
        result: call.result().await,
        timed_out,
        interrupted,
    }
}

/// The line that records a prompt answered by `--yes` or `--no`, so the plain view shows
/// every notable event of the call (prompts answered at the terminal were seen there, and
/// unanswerable ones get their own note).
fn answered_by_flag(answering: Answering, event: &Event, answer: &PromptAnswer) -> Option<String> {
    let flag = match answering {
        Answering::Yes => "--yes",
        Answering::No => "--no",
        Answering::Terminal | Answering::Nobody => return None,
    };
    let verdict = match answer {
        PromptAnswer::Accept(_) => "accepted",
        PromptAnswer::Decline => "declined",
        PromptAnswer::Cancel => "cancelled",
        _ => "answered",
    };
    event_line(event).map(|line| format!("{line} ({verdict}: {flag})"))
}

async fn sleep_until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments_must_be_an_object() {
        assert!(matches!(parse_arguments(None), Ok(None)));
        assert!(matches!(parse_arguments(Some(r#"{"a":1}"#)), Ok(Some(m)) if m["a"] == 1));
        let Err(Failure::Usage(message)) = parse_arguments(Some("[1]")) else {
            panic!("an array is bad usage")
        };
        assert_eq!(
            message,
            "canopy: --args must be a JSON object, not an array"
        );
        assert!(matches!(parse_arguments(Some("{")), Err(Failure::Usage(_))));
    }

    #[test]
    fn timeouts_are_positive() {
        assert_eq!(parse_timeout("1.5"), Ok(Duration::from_millis(1500)));
        assert!(parse_timeout("0").is_err());
        assert!(parse_timeout("soon").is_err());
    }
}
