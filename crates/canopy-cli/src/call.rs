//! `canopy call`: call one tool through the tree, showing its events as they come (a live
//! view on a terminal, or one JSON line per event with `--json`) and answering its prompts.

use std::{io::IsTerminal, path::PathBuf, time::Duration};

use canopy_node::{Answer, CallError, CallHandle, Event, EventKind, QuestionKind};
use canopy_topology::CapabilityKind;
use clap::Args;
use rmcp::model::CallToolResult;
use serde_json::{Map, Value};

use crate::{
    Failure, Outcome,
    load::build_tree,
    prompt::{self, Answering, Query},
    render::{LiveView, format_result, pretty, print_line},
    serve::shutdown_signal,
};

/// Arguments of `canopy call`.
#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  canopy call hub.toml research__web__search query=rust
  canopy call hub.toml research__web__search --args '{\"query\":\"rust\"}'
  canopy call hub.toml notes__write_note text=hi --yes
  canopy call hub.toml research__lab__analyze steps=5 --json | jq .type
  canopy call hub.toml slow__tool --timeout 30

Arguments are key=value words, typed by the tool's input schema (integer, number, boolean,
string; JSON for arrays and objects), or one JSON object with --args.
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
    /// The tool: its exposed name (as `tools/list` shows it, e.g. research__web__search) or its canonical id (research/web/search).
    #[arg(value_name = "TOOL")]
    pub(crate) tool: String,
    /// The tool's arguments as key=value words (typed by its input schema).
    #[arg(value_name = "KEY=VALUE", conflicts_with = "args")]
    pub(crate) arguments: Vec<String>,
    /// The tool's arguments, a JSON object.
    #[arg(long, value_name = "JSON")]
    pub(crate) args: Option<String>,
    #[command(flatten)]
    pub(crate) output: EventFlags,
    /// Cancel the call after this many seconds.
    #[arg(long, value_name = "SECS", value_parser = parse_timeout)]
    pub(crate) timeout: Option<Duration>,
}

/// How a call's events are shown and its prompts answered: `--json`, `--yes`, `--no` (of
/// `canopy call` and `canopy run`).
#[derive(Debug, Clone, Copy, Args)]
pub(crate) struct EventFlags {
    /// Print every event as one JSON line on stdout.
    #[arg(long)]
    pub(crate) json: bool,
    /// Accept permission prompts.
    #[arg(long, conflicts_with = "no")]
    pub(crate) yes: bool,
    /// Decline every prompt.
    #[arg(long)]
    pub(crate) no: bool,
}

impl EventFlags {
    /// How the prompts are answered.
    pub(crate) fn answering(self) -> Answering {
        Answering::from_flags(self.yes, self.no)
    }

    /// The live view: bars on a terminal, unless the events go out as JSON lines.
    pub(crate) fn view(self, root: &str) -> LiveView {
        LiveView::new(!self.json && std::io::stderr().is_terminal()).with_root(root)
    }
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
    json_object(text)
        .map(Some)
        .map_err(|error| Failure::Usage(format!("canopy: --args {error}")))
}

/// A JSON object, or why the text is not one (`must be …` / `is not …`).
pub(crate) fn json_object(text: &str) -> Result<Map<String, Value>, String> {
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(other) => Err(format!("must be a JSON object, not {}", kind_of(&other))),
        Err(error) => Err(format!("is not valid JSON: {error}")),
    }
}

/// The arguments typed as words: `key=value` each, or one JSON object. Values are typed by
/// the property of the tool's input `schema` they name; a key it does not have is an error.
/// Without a schema (an unknown tool), a value is JSON when it parses as JSON, else text.
pub(crate) fn word_arguments(
    words: &[String],
    tool: &str,
    schema: Option<&Map<String, Value>>,
) -> Result<Option<Map<String, Value>>, String> {
    match words {
        [] => return Ok(None),
        [one] if one.trim_start().starts_with('{') => {
            return json_object(one)
                .map(Some)
                .map_err(|error| format!("the arguments {error}"));
        }
        _ => {}
    }
    let properties = schema
        .and_then(|s| s.get("properties"))
        .and_then(Value::as_object);
    let mut arguments = Map::new();
    for word in words {
        let Some((key, text)) = word.split_once('=') else {
            return Err(format!(
                "'{word}' is not key=value (give each argument as key=value, or one JSON object)"
            ));
        };
        if key.is_empty() {
            return Err(format!("'{word}' has no key before '='"));
        }
        let property = match (schema, properties.and_then(|p| p.get(key))) {
            (_, Some(property)) => Some(property),
            (None, None) => None,
            (Some(_), None) => {
                let known: Vec<&str> = properties
                    .map(|p| p.keys().map(String::as_str).collect())
                    .unwrap_or_default();
                let known = if known.is_empty() {
                    "it takes no arguments".to_owned()
                } else {
                    format!("its arguments: {}", known.join(", "))
                };
                return Err(format!(
                    "the tool '{tool}' has no argument '{key}' ({known})"
                ));
            }
        };
        let value = typed_value(property, text)
            .map_err(|expected| format!("argument '{key}' must be {expected}, not '{text}'"))?;
        arguments.insert(key.to_owned(), value);
    }
    Ok(Some(arguments))
}

/// The JSON types a property accepts (`type`, a list of types, or those of its
/// `anyOf`/`oneOf` choices).
fn property_types(property: &Value) -> Vec<String> {
    let mut types: Vec<String> = match property.get("type") {
        Some(Value::String(one)) => vec![one.clone()],
        Some(Value::Array(many)) => many
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect(),
        _ => Vec::new(),
    };
    for key in ["anyOf", "oneOf"] {
        if let Some(choices) = property.get(key).and_then(Value::as_array) {
            types.extend(choices.iter().flat_map(property_types));
        }
    }
    if types.is_empty() && property.get("enum").is_some() {
        types.push("string".to_owned());
    }
    types
}

/// A value typed by its property; `Err` says what was expected.
fn typed_value(property: Option<&Value>, text: &str) -> Result<Value, String> {
    let types = property.map(property_types).unwrap_or_default();
    if types.is_empty() {
        return Ok(serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.to_owned())));
    }
    // Text is the fallback: try the stricter types first.
    for kind in types.iter().filter(|t| *t != "string") {
        let value = match kind.as_str() {
            "integer" => text.parse::<i64>().ok().map(Value::from),
            "number" => text
                .parse::<f64>()
                .ok()
                .and_then(serde_json::Number::from_f64)
                .map(Value::Number),
            "boolean" => match text.to_ascii_lowercase().as_str() {
                "true" | "yes" | "y" => Some(Value::Bool(true)),
                "false" | "no" | "n" => Some(Value::Bool(false)),
                _ => None,
            },
            "null" => (text == "null").then_some(Value::Null),
            "array" => serde_json::from_str(text).ok().filter(Value::is_array),
            "object" => serde_json::from_str(text).ok().filter(Value::is_object),
            _ => None,
        };
        if let Some(value) = value {
            return Ok(value);
        }
    }
    if types.iter().any(|t| t == "string") {
        return Ok(Value::String(text.to_owned()));
    }
    let names: Vec<&str> = types
        .iter()
        .map(|t| match t.as_str() {
            "integer" => "an integer",
            "number" => "a number",
            "boolean" => "true or false",
            "null" => "null",
            "array" => "a JSON array",
            "object" => "a JSON object",
            other => other,
        })
        .collect();
    Err(names.join(" or "))
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

/// Whether a tool result says its arguments were invalid (how SDKs report a failed input
/// validation as a tool error rather than a protocol one).
pub(crate) fn says_invalid_arguments(result: &CallToolResult) -> bool {
    result.is_error == Some(true)
        && result.content.iter().any(|content| {
            content.as_text().is_some_and(|text| {
                let text = text.text.to_ascii_lowercase();
                [
                    "invalid argument",
                    "invalid params",
                    "validation error",
                    "failed to deserialize",
                ]
                .iter()
                .any(|sign| text.contains(sign))
            })
        })
}

/// `the input schema of 'TOOL':` and the schema, pretty.
pub(crate) fn schema_note(tool: &str, schema: &Map<String, Value>) -> String {
    format!(
        "the input schema of '{tool}':\n{}",
        pretty(&Value::Object(schema.clone()))
    )
}

/// Runs `canopy call`.
pub(crate) async fn run(args: CallArgs) -> Outcome {
    let json_arguments = parse_arguments(args.args.as_deref())?;
    let answering = args.output.answering();
    let tree = build_tree(&args.tree, args.build).await?;
    // The tool by its exposed name or its canonical id, as the call resolves it.
    let exposed = tree
        .routes()
        .lookup_name(CapabilityKind::Tool, &args.tool)
        .map(|(_, route)| route.exposed.clone());
    let schema = tree
        .tools()
        .into_iter()
        .find(|tool| exposed.as_deref() == Some(&*tool.name))
        .map(|tool| (*tool.input_schema).clone());
    let arguments = match word_arguments(&args.arguments, &args.tool, schema.as_ref()) {
        Ok(words) => words.or(json_arguments),
        Err(message) => {
            tree.shutdown().await;
            let mut message = format!("canopy: {message}");
            if let Some(schema) = &schema {
                message.push_str(&format!("\n{}", schema_note(&args.tool, schema)));
            }
            return Err(Failure::Usage(message));
        }
    };
    let json = args.output.json;
    let mut view = args.output.view(tree.name());
    let call = tree.start_call(&args.tool, arguments);
    let ended = drive(
        call,
        json,
        answering,
        args.timeout,
        |view, event| view.show(event),
        &mut view,
    )
    .await;
    tree.shutdown().await;
    let schema_hint = |schema: &Option<Map<String, Value>>| {
        schema
            .as_ref()
            .map(|schema| format!("\n{}", schema_note(&args.tool, schema)))
            .unwrap_or_default()
    };
    match &ended.result {
        Ok(result) => {
            let value = serde_json::to_value(result).unwrap_or_default();
            if !json {
                let text = format_result(&value);
                if !text.is_empty() {
                    print_line(&text);
                }
            }
            if result.is_error != Some(true) {
                return Ok(());
            }
            match ended.declined {
                Some(by) => eprintln!("canopy: the call to '{}' was {by}", args.tool),
                None if says_invalid_arguments(result) => eprintln!(
                    "canopy: the tool '{}' refused its arguments{}",
                    args.tool,
                    schema_hint(&schema)
                ),
                None => eprintln!("canopy: the tool '{}' reported an error", args.tool),
            }
            Err(Failure::Quiet(1))
        }
        Err(error) => {
            let failure = ended.failure(&args.tool, args.timeout, error);
            // Invalid params from the owning node (not a denial or an unknown tool, which the
            // tree reports with -32602 too): the arguments were wrong, so show what fits.
            let bad_arguments = error.code() == -32602
                && schema.is_some()
                && error
                    .0
                    .data
                    .as_ref()
                    .and_then(|d| d.get("reason"))
                    .is_none();
            match failure {
                Failure::Failed(message) if bad_arguments => Err(Failure::Failed(format!(
                    "{message}{}",
                    schema_hint(&schema)
                ))),
                other => Err(other),
            }
        }
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
    /// How a permission prompt of the call was declined, if one was (`declined by the
    /// user`, `declined (--no)`…).
    pub(crate) declined: Option<&'static str>,
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
    let mut declined = None;
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
        // The audit trail is the server operator's (`canopy serve --audit`), not part of a
        // call's output.
        if matches!(event.kind, EventKind::Audit { .. }) {
            continue;
        }
        if json {
            print_line(&event.to_json_line());
        } else {
            show(view, &event);
        }
        if let EventKind::Question(prompt) = &event.kind {
            let arguments = prompt.arguments_text();
            let question = Query {
                arguments: arguments.as_deref(),
                ..Query::new(prompt.kind, &prompt.message, &prompt.schema)
            };
            let answer = prompt::answer(answering, question, view);
            if !json && let Some(line) = answered_by_flag(answering, &event, &answer, view) {
                view.line(&line);
            }
            if answer == Answer::Decline && is_permission(question) {
                declined = Some(match answering {
                    Answering::Terminal => "declined by the user",
                    Answering::No => "declined (--no)",
                    Answering::Yes | Answering::Nobody => "declined: there was no terminal to ask",
                });
            }
            prompt.respond(answer);
        }
    }
    view.clear();
    Ended {
        result: call.result().await,
        timed_out,
        interrupted,
        declined,
    }
}

/// Whether the question is a permission question (an `ask` policy's, or a form that asks for
/// nothing but a yes).
fn is_permission(question: Query<'_>) -> bool {
    question.kind == QuestionKind::Permission || prompt::permission_form(question.schema).is_some()
}

/// The line that records a prompt answered by `--yes` or `--no`, so the plain view shows
/// every notable event of the call (prompts answered at the terminal were seen there, and
/// unanswerable ones get their own note).
fn answered_by_flag(
    answering: Answering,
    event: &Event,
    answer: &Answer,
    view: &LiveView,
) -> Option<String> {
    let flag = match answering {
        Answering::Yes => "--yes",
        Answering::No => "--no",
        Answering::Terminal | Answering::Nobody => return None,
    };
    let verdict = match answer {
        Answer::Accept(_) => "accepted",
        Answer::Decline => "declined",
        Answer::Cancel => "cancelled",
        _ => "answered",
    };
    view.event_line(event)
        .map(|line| format!("{line} ({verdict}: {flag})"))
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

    fn words(words: &[&str]) -> Vec<String> {
        words.iter().map(|w| (*w).to_owned()).collect()
    }

    #[test]
    fn key_value_arguments_are_typed_by_the_schema() {
        let schema = serde_json::json!({
            "type": "object",
            "properties": {
                "query": {"type": "string"},
                "steps": {"type": "integer"},
                "ratio": {"type": "number"},
                "deep": {"type": "boolean"},
                "tags": {"type": "array", "items": {"type": "string"}},
                "limit": {"type": ["integer", "null"]},
                "mode": {"enum": ["a", "b"]}
            }
        });
        let schema = schema.as_object().expect("object");
        let typed = word_arguments(
            &words(&[
                "query=rust lang",
                "steps=5",
                "ratio=0.5",
                "deep=true",
                r#"tags=["a","b"]"#,
                "limit=null",
                "mode=b",
            ]),
            "search",
            Some(schema),
        )
        .expect("valid")
        .expect("some");
        assert_eq!(
            Value::Object(typed),
            serde_json::json!({"query": "rust lang", "steps": 5, "ratio": 0.5, "deep": true,
                               "tags": ["a", "b"], "limit": null, "mode": "b"})
        );
        assert_eq!(
            word_arguments(&words(&["query=5"]), "search", Some(schema))
                .expect("valid")
                .expect("some")["query"],
            "5",
            "a string stays a string"
        );
        assert_eq!(
            word_arguments(&words(&["steps=five"]), "search", Some(schema)),
            Err("argument 'steps' must be an integer, not 'five'".into())
        );
        assert_eq!(
            word_arguments(&words(&["qeury=x"]), "search", Some(schema)),
            Err("the tool 'search' has no argument 'qeury' (its arguments: deep, limit, mode, query, ratio, steps, tags)".into())
        );
        assert_eq!(
            word_arguments(&words(&["rust"]), "search", Some(schema)),
            Err(
                "'rust' is not key=value (give each argument as key=value, or one JSON object)"
                    .into()
            )
        );
        assert_eq!(word_arguments(&[], "search", Some(schema)), Ok(None));
        let json = word_arguments(&words(&[r#"{"query": "x"}"#]), "search", None)
            .expect("valid")
            .expect("some");
        assert_eq!(json["query"], "x");
        let guessed = word_arguments(&words(&["n=3", "s=hi"]), "unknown", None)
            .expect("valid")
            .expect("some");
        assert_eq!(
            Value::Object(guessed),
            serde_json::json!({"n": 3, "s": "hi"})
        );
    }

    #[test]
    fn timeouts_are_positive() {
        assert_eq!(parse_timeout("1.5"), Ok(Duration::from_millis(1500)));
        assert!(parse_timeout("0").is_err());
        assert!(parse_timeout("soon").is_err());
    }
}
