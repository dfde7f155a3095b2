//! A deterministic model for tests and offline examples, driven by a [`Script`] or by a
//! closure.
//!
//! A script is a list of turns. Each turn may `say` some text and `call` a list of tools;
//! a turn with `cases` picks the first case whose `when_*` conditions hold. Which turn runs
//! is derived from the conversation (the number of assistant messages so far), so the model
//! keeps no state: the same request always gets the same answer.
//!
//! - **Tool names** may be exact, a unique suffix (`search` finds `research__web__search`),
//!   or a glob (`*web*search`), matched against the request's tools; none or several
//!   matches is an error that lists the tools.
//! - **Templates** in text and in string arguments: `{{task}}` (the first user message),
//!   `{{last_result}}` (the latest tool results), `{{result:N}}` (the N-th tool result of
//!   the conversation, from 1), `{{turn}}` (this turn's number, from 1).
//! - **Streaming**: text arrives as a few word-chunk deltas; each call is announced. An
//!   optional delay per turn (`delay_ms`, or [`Scripted::with_delay`]) is spread over the
//!   chunks, to show streaming and progress in demos.
//! - **Usage**: about one token per four characters of input and of output.
//! - **Errors**: running past the end of the script, a tool name that matches no tool or
//!   several, an unknown template, or no matching case: [`ModelError::Unsupported`].
//!
//! A script in JSON (a tree file names it with `script = "lead.json"`; TOML works too):
//!
//! ```json
//! { "turns": [
//!     { "say": "Searching for {{task}}.",
//!       "call": [ { "tool": "search", "args": { "query": "{{task}}" } } ] },
//!     { "cases": [
//!         { "when_result_contains": "no results", "say": "Nothing found." },
//!         { "say": "Found: {{last_result}}" } ] } ] }
//! ```
//!
//! ```
//! use canopy_agent::{Message, Model, ModelRequest, providers::scripted::{Script, Scripted}};
//!
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let script: Script = serde_json::from_str(r#"{"turns": [{"say": "Done: {{task}}"}]}"#)?;
//! let model = Scripted::new("demo", script);
//! let request = ModelRequest { messages: vec![Message::user("tidy up")], ..Default::default() };
//! let answer = model.complete(&request, &|_| {}).await?;
//! assert_eq!(answer.message.text(), "Done: tidy up");
//! # Ok(()) }
//! ```

use std::{
    fmt,
    path::{Path, PathBuf},
    sync::Arc,
    time::Duration,
};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::model::{
    DeltaSink, Message, Model, ModelDelta, ModelError, ModelRequest, ModelResponse, Part, Role,
    StopReason, ToolCall, Usage,
};

/// A script: the turns a [`Scripted`] model plays, one per model request.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct Script {
    /// The turns, in order; turn `i` answers the request with `i` assistant messages.
    pub turns: Vec<Turn>,
    /// A delay before each turn's answer completes, in milliseconds (default none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delay_ms: Option<u64>,
}

impl Script {
    /// A script of these turns.
    pub fn new(turns: impl IntoIterator<Item = Turn>) -> Self {
        Self {
            turns: turns.into_iter().collect(),
            delay_ms: None,
        }
    }

    /// Reads a script from a JSON file (or TOML, when the name ends in `.toml`).
    pub fn from_file(path: &Path) -> Result<Self, ScriptError> {
        let error = |message: String| ScriptError {
            path: path.to_owned(),
            message,
        };
        let text = std::fs::read_to_string(path).map_err(|e| error(e.to_string()))?;
        if path.extension().is_some_and(|e| e == "toml") {
            toml::from_str(&text).map_err(|e| error(e.to_string().trim_end().to_owned()))
        } else {
            serde_json::from_str(&text).map_err(|e| error(e.to_string()))
        }
    }
}

/// A script file that could not be read.
#[derive(Debug, thiserror::Error)]
#[error("cannot read the script {}: {message}", path.display())]
pub struct ScriptError {
    /// The file.
    pub path: PathBuf,
    /// What went wrong.
    pub message: String,
}

/// One turn of a [`Script`].
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct Turn {
    /// Text to answer with (templates allowed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub say: Option<String>,
    /// Tools to call, run by the agent before the next turn.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub call: Vec<CallSpec>,
    /// Alternatives: the first whose conditions hold is played instead of `say`/`call`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cases: Vec<Case>,
    /// A delay before this turn's answer completes, in milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delay_ms: Option<u64>,
}

impl Turn {
    /// A turn that answers with `text`.
    pub fn say(text: impl Into<String>) -> Self {
        Self {
            say: Some(text.into()),
            ..Self::default()
        }
    }

    /// A turn that calls `tool` with `args`.
    pub fn call(tool: impl Into<String>, args: Value) -> Self {
        Self::default().and_call(tool, args)
    }

    /// This turn, also calling `tool` with `args`.
    pub fn and_call(mut self, tool: impl Into<String>, args: Value) -> Self {
        self.call.push(CallSpec {
            tool: tool.into(),
            args,
        });
        self
    }

    /// This turn, choosing between `cases`.
    pub fn cases(cases: impl IntoIterator<Item = Case>) -> Self {
        Self {
            cases: cases.into_iter().collect(),
            ..Self::default()
        }
    }
}

/// One alternative of a turn, played when all its `when_*` conditions hold (a case without
/// conditions always does).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct Case {
    /// Holds when the latest tool results contain this text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub when_result_contains: Option<String>,
    /// Holds when the task (the first user message) contains this text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub when_task_contains: Option<String>,
    /// Holds when one of the latest tool results is (`true`) or none is (`false`) an error.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub when_error: Option<bool>,
    /// Text to answer with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub say: Option<String>,
    /// Tools to call.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub call: Vec<CallSpec>,
}

impl Case {
    /// A case that holds when the latest tool results contain `text`, playing `turn`.
    pub fn when_result_contains(text: impl Into<String>, turn: Turn) -> Self {
        Self {
            when_result_contains: Some(text.into()),
            say: turn.say,
            call: turn.call,
            ..Self::default()
        }
    }

    /// A case that always holds, playing `turn`.
    pub fn otherwise(turn: Turn) -> Self {
        Self {
            say: turn.say,
            call: turn.call,
            ..Self::default()
        }
    }

    fn holds(&self, seen: &Seen) -> bool {
        self.when_result_contains
            .as_ref()
            .is_none_or(|t| seen.last_result.contains(t.as_str()))
            && self
                .when_task_contains
                .as_ref()
                .is_none_or(|t| seen.task.contains(t.as_str()))
            && self.when_error.is_none_or(|e| e == seen.last_error)
    }
}

/// A tool call in a script: the tool (exact name, unique suffix, or glob) and its arguments
/// (string values may use templates).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CallSpec {
    /// The tool.
    pub tool: String,
    /// The arguments (default `{}`).
    #[serde(default = "empty_object")]
    pub args: Value,
}

fn empty_object() -> Value {
    Value::Object(Map::new())
}

/// What a closure-driven [`Scripted`] model answers: text and tool calls (tool names are
/// matched like a script's; no templates).
#[derive(Clone, Debug, Default, PartialEq)]
#[non_exhaustive]
pub struct ScriptStep {
    /// The text.
    pub text: Option<String>,
    /// The tool calls: (tool, arguments).
    pub calls: Vec<(String, Value)>,
}

impl ScriptStep {
    /// Answer with `text`.
    pub fn say(text: impl Into<String>) -> Self {
        Self {
            text: Some(text.into()),
            calls: Vec::new(),
        }
    }

    /// Call `tool` with `args`.
    pub fn call(tool: impl Into<String>, args: Value) -> Self {
        Self::default().and_call(tool, args)
    }

    /// This step, also calling `tool` with `args`.
    pub fn and_call(mut self, tool: impl Into<String>, args: Value) -> Self {
        self.calls.push((tool.into(), args));
        self
    }
}

type StepFn = dyn Fn(&ModelRequest) -> Result<ScriptStep, ModelError> + Send + Sync;

enum Driver {
    Script(Script),
    Closure(Arc<StepFn>),
}

/// A deterministic model playing a [`Script`] or a closure.
pub struct Scripted {
    name: String,
    driver: Driver,
    delay: Option<Duration>,
}

impl fmt::Debug for Scripted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut debug = f.debug_struct("Scripted");
        debug.field("name", &self.name);
        match &self.driver {
            Driver::Script(script) => debug.field("turns", &script.turns.len()),
            Driver::Closure(_) => debug.field("closure", &true),
        };
        debug.field("delay", &self.delay).finish()
    }
}

impl Scripted {
    /// A model named `name` playing `script`.
    pub fn new(name: impl Into<String>, script: Script) -> Self {
        Self {
            name: name.into(),
            driver: Driver::Script(script),
            delay: None,
        }
    }

    /// A model named `name` answering each request with what `step` returns.
    pub fn from_fn(
        name: impl Into<String>,
        step: impl Fn(&ModelRequest) -> Result<ScriptStep, ModelError> + Send + Sync + 'static,
    ) -> Self {
        Self {
            name: name.into(),
            driver: Driver::Closure(Arc::new(step)),
            delay: None,
        }
    }

    /// A model playing the script in `path`, named after the file (`lead.json` → `lead`).
    pub fn from_file(path: &Path) -> Result<Self, ScriptError> {
        let script = Script::from_file(path)?;
        let name = path
            .file_stem()
            .map_or_else(|| "script".to_owned(), |s| s.to_string_lossy().into_owned());
        Ok(Self::new(name, script))
    }

    /// Waits `delay` over each answer (spread over its text chunks), unless the turn sets
    /// its own `delay_ms`.
    pub fn with_delay(mut self, delay: Duration) -> Self {
        self.delay = Some(delay);
        self
    }

    /// What to play for `request`, and the turn's delay.
    fn step(&self, request: &ModelRequest) -> Result<(ScriptStep, Option<Duration>), ModelError> {
        let seen = Seen::from(request);
        match &self.driver {
            Driver::Closure(step) => Ok((step(request)?, self.delay)),
            Driver::Script(script) => {
                let Some(turn) = script.turns.get(seen.turn) else {
                    return Err(ModelError::Unsupported(format!(
                        "script ended: {} has {} turn(s) and this is turn {}",
                        self.describe(),
                        script.turns.len(),
                        seen.turn + 1
                    )));
                };
                let delay = turn
                    .delay_ms
                    .or(script.delay_ms)
                    .map(Duration::from_millis)
                    .or(self.delay);
                let (say, call) = if turn.cases.is_empty() {
                    (&turn.say, &turn.call)
                } else {
                    let case = turn.cases.iter().find(|c| c.holds(&seen)).ok_or_else(|| {
                        ModelError::Unsupported(format!(
                            "{}: no case of turn {} holds (latest results: {:?})",
                            self.describe(),
                            seen.turn + 1,
                            seen.last_result
                        ))
                    })?;
                    (&case.say, &case.call)
                };
                let text = say.as_deref().map(|t| seen.expand(t)).transpose()?;
                let calls = call
                    .iter()
                    .map(|c| Ok((c.tool.clone(), seen.expand_value(&c.args)?)))
                    .collect::<Result<Vec<_>, ModelError>>()?;
                Ok((ScriptStep { text, calls }, delay))
            }
        }
    }
}

#[async_trait::async_trait]
impl Model for Scripted {
    fn describe(&self) -> String {
        format!("scripted:{}", self.name)
    }

    async fn complete(
        &self,
        request: &ModelRequest,
        on_delta: DeltaSink<'_>,
    ) -> Result<ModelResponse, ModelError> {
        let (ScriptStep { text, calls }, delay) = self.step(request)?;
        let turn = Seen::from(request).turn;
        let mut parts = Vec::new();
        let mut calls_out = Vec::new();
        for (i, (tool, arguments)) in calls.into_iter().enumerate() {
            calls_out.push(ToolCall {
                id: format!("call_{}_{}", turn + 1, i + 1),
                name: resolve(&tool, request)?,
                arguments,
            });
        }
        let chunks = text.as_deref().map(word_chunks).unwrap_or_default();
        let pause = delay.map(|d| d / (chunks.len() as u32 + 1));
        for chunk in chunks {
            if let Some(pause) = pause {
                tokio::time::sleep(pause).await;
            }
            on_delta(ModelDelta::Text(chunk));
        }
        if let Some(pause) = pause {
            tokio::time::sleep(pause).await;
        }
        let mut output_chars = 0;
        if let Some(text) = text.filter(|t| !t.is_empty()) {
            output_chars += text.len();
            parts.push(Part::text(text));
        }
        for call in calls_out {
            on_delta(ModelDelta::ToolCallStarted {
                id: call.id.clone(),
                name: call.name.clone(),
            });
            output_chars += call.name.len() + call.arguments.to_string().len();
            parts.push(Part::ToolCall(call));
        }
        let stop = if parts.iter().any(|p| matches!(p, Part::ToolCall(_))) {
            StopReason::ToolUse
        } else {
            StopReason::EndTurn
        };
        Ok(ModelResponse {
            message: Message {
                role: Role::Assistant,
                parts,
            },
            stop,
            usage: Usage {
                input_tokens: tokens(input_chars(request)),
                output_tokens: tokens(output_chars),
            },
            model: self.describe(),
        })
    }
}

/// About a token per four characters, at least one.
fn tokens(chars: usize) -> u64 {
    (chars as u64).div_ceil(4).max(1)
}

fn input_chars(request: &ModelRequest) -> usize {
    let system = request.system.as_ref().map_or(0, String::len);
    let tools: usize = request
        .tools
        .iter()
        .map(|t| t.name.len() + t.description.len() + t.input_schema.to_string().len())
        .sum();
    let messages: usize = request
        .messages
        .iter()
        .flat_map(|m| &m.parts)
        .map(|p| match p {
            Part::Text { text } => text.len(),
            Part::ToolCall(c) => c.name.len() + c.arguments.to_string().len(),
            Part::ToolResult(r) => r.content.len(),
        })
        .sum();
    system + tools + messages
}

/// `text` in chunks of about three words (whitespace kept, so the chunks join back).
fn word_chunks(text: &str) -> Vec<String> {
    const WORDS: usize = 3;
    let mut chunks = Vec::new();
    let mut current = String::new();
    let mut words = 0;
    for piece in text.split_inclusive(char::is_whitespace) {
        current.push_str(piece);
        if piece.ends_with(char::is_whitespace) {
            words += 1;
            if words == WORDS {
                chunks.push(std::mem::take(&mut current));
                words = 0;
            }
        }
    }
    if !current.is_empty() {
        chunks.push(current);
    }
    chunks
}

/// The request's tool that `pattern` names: exactly, by a unique glob match, or by a unique
/// suffix (after a `_`, `-` or `.` separator, or the whole name).
fn resolve(pattern: &str, request: &ModelRequest) -> Result<String, ModelError> {
    let names: Vec<&str> = request.tools.iter().map(|t| t.name.as_str()).collect();
    if names.contains(&pattern) {
        return Ok(pattern.to_owned());
    }
    let matches: Vec<&str> = if pattern.contains(['*', '?', '[']) {
        let glob = globset::Glob::new(pattern)
            .map_err(|e| ModelError::Unsupported(format!("bad tool glob '{pattern}': {e}")))?
            .compile_matcher();
        names.iter().copied().filter(|n| glob.is_match(n)).collect()
    } else {
        names
            .iter()
            .copied()
            .filter(|n| {
                n.strip_suffix(pattern)
                    .is_some_and(|head| head.ends_with(['_', '-', '.']))
            })
            .collect()
    };
    let offered = if names.is_empty() {
        "none".to_owned()
    } else {
        names.join(", ")
    };
    match matches.as_slice() {
        [one] => Ok((*one).to_owned()),
        [] => Err(ModelError::Unsupported(format!(
            "the script calls '{pattern}', which matches no tool (the request offers: {offered})"
        ))),
        several => Err(ModelError::Unsupported(format!(
            "the script calls '{pattern}', which matches several tools ({}); use a longer \
             suffix or the exact name",
            several.join(", ")
        ))),
    }
}

/// What a script can see of the conversation.
struct Seen {
    /// The turn to play (0-based): the number of assistant messages so far.
    turn: usize,
    task: String,
    last_result: String,
    last_error: bool,
    results: Vec<String>,
}

impl From<&ModelRequest> for Seen {
    fn from(request: &ModelRequest) -> Self {
        let turn = request
            .messages
            .iter()
            .filter(|m| m.role == Role::Assistant)
            .count();
        let task = request
            .messages
            .iter()
            .find(|m| m.role == Role::User)
            .map(Message::text)
            .unwrap_or_default();
        let results: Vec<(&str, bool)> = request
            .messages
            .iter()
            .flat_map(|m| &m.parts)
            .filter_map(|p| match p {
                Part::ToolResult(r) => Some((r.content.as_str(), r.is_error)),
                _ => None,
            })
            .collect();
        // The latest results: those after the last assistant message.
        let last: Vec<(&str, bool)> = request
            .messages
            .iter()
            .rev()
            .take_while(|m| m.role == Role::User)
            .flat_map(|m| &m.parts)
            .filter_map(|p| match p {
                Part::ToolResult(r) => Some((r.content.as_str(), r.is_error)),
                _ => None,
            })
            .collect();
        Self {
            turn,
            task,
            last_result: last.iter().map(|(c, _)| *c).collect::<Vec<_>>().join("\n"),
            last_error: last.iter().any(|(_, e)| *e),
            results: results.iter().map(|(c, _)| (*c).to_owned()).collect(),
        }
    }
}

impl Seen {
    /// `text` with its `{{…}}` templates filled in.
    fn expand(&self, text: &str) -> Result<String, ModelError> {
        let mut out = String::new();
        let mut rest = text;
        while let Some(start) = rest.find("{{") {
            out.push_str(&rest[..start]);
            let after = &rest[start + 2..];
            let Some(end) = after.find("}}") else {
                out.push_str(&rest[start..]);
                return Ok(out);
            };
            let name = after[..end].trim();
            match name {
                "task" => out.push_str(&self.task),
                "last_result" => out.push_str(&self.last_result),
                "turn" => out.push_str(&(self.turn + 1).to_string()),
                _ => {
                    let result = name
                        .strip_prefix("result:")
                        .and_then(|n| n.trim().parse::<usize>().ok())
                        .filter(|n| *n >= 1)
                        .ok_or_else(|| {
                            ModelError::Unsupported(format!(
                                "unknown template '{{{{{name}}}}}' (known: {{{{task}}}}, \
                                 {{{{last_result}}}}, {{{{result:N}}}}, {{{{turn}}}})"
                            ))
                        })?;
                    let value = self.results.get(result - 1).ok_or_else(|| {
                        ModelError::Unsupported(format!(
                            "template '{{{{{name}}}}}': only {} tool result(s) so far",
                            self.results.len()
                        ))
                    })?;
                    out.push_str(value);
                }
            }
            rest = &after[end + 2..];
        }
        out.push_str(rest);
        Ok(out)
    }

    fn expand_value(&self, value: &Value) -> Result<Value, ModelError> {
        Ok(match value {
            Value::String(s) => Value::String(self.expand(s)?),
            Value::Array(items) => items
                .iter()
                .map(|v| self.expand_value(v))
                .collect::<Result<_, _>>()?,
            Value::Object(map) => map
                .iter()
                .map(|(k, v)| Ok((k.clone(), self.expand_value(v)?)))
                .collect::<Result<Map<_, _>, ModelError>>()?
                .into(),
            other => other.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use serde_json::json;

    use super::*;
    use crate::model::{ToolResult, ToolSpec};

    fn tool(name: &str) -> ToolSpec {
        ToolSpec {
            name: name.into(),
            description: format!("the {name} tool"),
            input_schema: json!({"type": "object"}),
        }
    }

    fn request(task: &str, tools: &[&str]) -> ModelRequest {
        ModelRequest {
            messages: vec![Message::user(task)],
            tools: tools.iter().map(|t| tool(t)).collect(),
            ..ModelRequest::default()
        }
    }

    /// `request` continued with the model's answer and these tool results.
    fn answered(
        mut request: ModelRequest,
        answer: &ModelResponse,
        results: &[&str],
    ) -> ModelRequest {
        request.messages.push(answer.message.clone());
        let parts = answer
            .message
            .tool_calls()
            .zip(results)
            .map(|(call, content)| {
                Part::ToolResult(ToolResult {
                    call_id: call.id.clone(),
                    content: (*content).to_owned(),
                    is_error: content.starts_with("error"),
                })
            })
            .collect();
        request.messages.push(Message {
            role: Role::User,
            parts,
        });
        request
    }

    fn script(json: &str) -> Scripted {
        Scripted::new("t", serde_json::from_str(json).expect("script"))
    }

    async fn run(model: &Scripted, request: &ModelRequest) -> Result<ModelResponse, ModelError> {
        model.complete(request, &|_| {}).await
    }

    #[tokio::test]
    async fn plays_turns_with_templates_and_suffix_matching() {
        let model = script(
            r#"{"turns": [
                {"say": "Looking up {{task}}.",
                 "call": [{"tool": "search", "args": {"q": "{{task}}", "n": 3}},
                          {"tool": "notes__write", "args": {"text": "turn {{turn}}"}}]},
                {"say": "Found {{result:1}}; all: {{last_result}}"}
            ]}"#,
        );
        let first = request("rust", &["web__search", "notes__write", "notes__read"]);
        let answer = run(&model, &first).await.expect("turn 1");
        assert_eq!(answer.stop, StopReason::ToolUse);
        assert_eq!(answer.message.text(), "Looking up rust.");
        let calls: Vec<_> = answer.message.tool_calls().cloned().collect();
        assert_eq!(
            calls,
            vec![
                ToolCall {
                    id: "call_1_1".into(),
                    name: "web__search".into(),
                    arguments: json!({"q": "rust", "n": 3})
                },
                ToolCall {
                    id: "call_1_2".into(),
                    name: "notes__write".into(),
                    arguments: json!({"text": "turn 1"})
                },
            ]
        );
        assert_eq!(model.describe(), "scripted:t");
        assert_eq!(answer.model, "scripted:t");

        let second = answered(first, &answer, &["a crab", "saved"]);
        let answer = run(&model, &second).await.expect("turn 2");
        assert_eq!(answer.stop, StopReason::EndTurn);
        assert_eq!(answer.message.text(), "Found a crab; all: a crab\nsaved");

        // Deterministic: the same request, the same answer.
        assert_eq!(run(&model, &second).await.expect("again"), answer);

        let third = answered(second, &answer, &[]);
        let error = run(&model, &third).await.expect_err("past the end");
        assert_eq!(
            error,
            ModelError::Unsupported(
                "script ended: scripted:t has 2 turn(s) and this is turn 3".into()
            )
        );
    }

    #[tokio::test]
    async fn tool_names_that_match_none_or_several_are_errors_listing_the_tools() {
        let model = script(r#"{"turns": [{"call": [{"tool": "read"}]}]}"#);
        let error = run(&model, &request("x", &["web__read", "notes__read"]))
            .await
            .expect_err("ambiguous");
        assert_eq!(
            error,
            ModelError::Unsupported(
                "the script calls 'read', which matches several tools (web__read, notes__read); \
                 use a longer suffix or the exact name"
                    .into()
            )
        );
        let error = run(&model, &request("x", &["web__fetch", "thread"]))
            .await
            .expect_err("none");
        assert_eq!(
            error,
            ModelError::Unsupported(
                "the script calls 'read', which matches no tool (the request offers: \
                 web__fetch, thread)"
                    .into()
            )
        );
        let model = script(r#"{"turns": [{"call": [{"tool": "notes*read"}]}]}"#);
        let answer = run(&model, &request("x", &["web__read", "notes__read"]))
            .await
            .expect("glob");
        assert_eq!(
            answer.message.tool_calls().next().map(|c| c.name.as_str()),
            Some("notes__read")
        );
    }

    #[tokio::test]
    async fn cases_branch_on_results() {
        let model = script(
            r#"{"turns": [
                {"call": [{"tool": "search", "args": {"q": "{{task}}"}}]},
                {"cases": [
                    {"when_error": true, "say": "The search failed: {{last_result}}"},
                    {"when_result_contains": "no results", "call": [{"tool": "search", "args": {"q": "broader"}}]},
                    {"say": "Answer: {{last_result}}"}
                ]},
                {"say": "Broader: {{last_result}}"}
            ]}"#,
        );
        let first = request("crabs", &["search"]);
        let answer = run(&model, &first).await.expect("turn 1");
        for (result, expected) in [
            ("error: offline", "The search failed: error: offline"),
            ("crabs are crustaceans", "Answer: crabs are crustaceans"),
        ] {
            let second = answered(first.clone(), &answer, &[result]);
            let reply = run(&model, &second).await.expect("turn 2");
            assert_eq!(reply.message.text(), expected);
        }
        let second = answered(first, &answer, &["no results"]);
        let reply = run(&model, &second).await.expect("turn 2");
        assert_eq!(
            reply.message.tool_calls().next().map(|c| &c.arguments),
            Some(&json!({"q": "broader"}))
        );
        let third = answered(second, &reply, &["many crabs"]);
        let reply = run(&model, &third).await.expect("turn 3");
        assert_eq!(reply.message.text(), "Broader: many crabs");
    }

    #[tokio::test]
    async fn bad_templates_and_unmatched_cases_are_errors() {
        let model = script(r#"{"turns": [{"say": "{{nope}}"}]}"#);
        let error = run(&model, &request("x", &[])).await.expect_err("template");
        assert!(
            matches!(&error, ModelError::Unsupported(m) if m.starts_with("unknown template '{{nope}}'")),
            "{error}"
        );
        let model = script(r#"{"turns": [{"say": "{{result:2}}"}]}"#);
        let error = run(&model, &request("x", &[])).await.expect_err("result");
        assert_eq!(
            error,
            ModelError::Unsupported("template '{{result:2}}': only 0 tool result(s) so far".into())
        );
        let model = script(r#"{"turns": [{"cases": [{"when_task_contains": "y", "say": "y"}]}]}"#);
        let error = run(&model, &request("x", &[])).await.expect_err("case");
        assert!(
            matches!(&error, ModelError::Unsupported(m) if m.contains("no case of turn 1 holds")),
            "{error}"
        );
        let bad = serde_json::from_str::<Script>(r#"{"turns": [{"sya": "typo"}]}"#)
            .expect_err("unknown key");
        assert!(bad.to_string().contains("unknown field `sya`"), "{bad}");
    }

    #[tokio::test]
    async fn streams_text_in_word_chunks_with_deterministic_usage() {
        let model = script(
            r#"{"turns": [{"say": "one two three four five six seven", "call": [{"tool": "t"}]}]}"#,
        );
        let deltas = Mutex::new(Vec::new());
        let answer = model
            .complete(&request("abcdefgh", &["t"]), &|d| {
                deltas.lock().expect("lock").push(d);
            })
            .await
            .expect("answer");
        assert_eq!(
            deltas.into_inner().expect("lock"),
            vec![
                ModelDelta::Text("one two three ".into()),
                ModelDelta::Text("four five six ".into()),
                ModelDelta::Text("seven".into()),
                ModelDelta::ToolCallStarted {
                    id: "call_1_1".into(),
                    name: "t".into()
                },
            ]
        );
        // Input: "abcdefgh" (8) + tool "t" + "the t tool" + {"type":"object"} (1 + 10 + 17).
        // Output: the text (33) + "t{}" (3).
        assert_eq!(
            answer.usage,
            Usage {
                input_tokens: 9,
                output_tokens: 9
            }
        );
    }

    #[tokio::test]
    async fn closures_drive_the_model_too() {
        let model = Scripted::from_fn("f", |request| {
            Ok(match request.messages.len() {
                1 => ScriptStep::call("search", json!({"q": request.messages[0].text()}))
                    .and_call("fetch", json!({})),
                _ => ScriptStep::say("done"),
            })
        });
        let first = request("q", &["web__search", "web__fetch"]);
        let answer = run(&model, &first).await.expect("first");
        let names: Vec<_> = answer
            .message
            .tool_calls()
            .map(|c| c.name.clone())
            .collect();
        assert_eq!(names, ["web__search", "web__fetch"]);
        let second = answered(first, &answer, &["r1", "r2"]);
        assert_eq!(
            run(&model, &second).await.expect("second").message.text(),
            "done"
        );
    }

    #[test]
    fn scripts_load_from_json_and_toml_files() {
        let dir = std::env::temp_dir().join(format!("canopy-scripted-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let json = dir.join("lead.json");
        std::fs::write(&json, r#"{ "turns": [ { "say": "Done: {{task}}" } ] }"#).expect("write");
        let toml = dir.join("lead.toml");
        std::fs::write(&toml, "[[turns]]\nsay = \"Done: {{task}}\"\n").expect("write");
        let from_json = Scripted::from_file(&json).expect("json");
        let from_toml = Script::from_file(&toml).expect("toml");
        assert_eq!(from_json.describe(), "scripted:lead");
        assert_eq!(from_toml, Script::new([Turn::say("Done: {{task}}")]));
        let broken = dir.join("broken.json");
        std::fs::write(&broken, "{").expect("write");
        let error = Script::from_file(&broken).expect_err("broken");
        assert!(
            error
                .to_string()
                .starts_with(&format!("cannot read the script {}", broken.display()))
        );
        std::fs::remove_dir_all(&dir).ok();
    }
}
