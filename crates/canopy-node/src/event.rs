//! The event stream: typed events from any depth of a tree, tagged with the node path and
//! the root call they belong to.
//!
//! Every root call has one ordered stream of [`Event`]s (see [`CallHandle`](crate::CallHandle));
//! the tree has one more for its host ([`Tree::subscribe`](crate::Tree::subscribe)). Their JSON
//! form is the `--json` contract of the command line: one object per line with `type`, `path`
//! and `call`.

use std::{
    fmt,
    sync::{Arc, Mutex},
};

use canopy_topology::NodePath;
use rmcp::model::ElicitRequestParams;
use serde::{Serialize, Serializer};
use serde_json::{Map, Value};
use tokio::sync::oneshot;

/// The id of one root call, unique within a tree's lifetime.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CallId(pub(crate) u64);

impl fmt::Display for CallId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "c{}", self.0)
    }
}

impl Serialize for CallId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// One event of a call, from the node at `path`.
#[derive(Clone, Debug, Serialize)]
#[non_exhaustive]
pub struct Event {
    /// What happened.
    #[serde(flatten)]
    pub kind: EventKind,
    /// The canonical path of the node the event comes from (`""` for the root).
    #[serde(serialize_with = "serialize_path")]
    pub path: NodePath,
    /// The root call the event belongs to (`None` for tree-level events such as a log line
    /// a child writes while no call is running).
    pub call: Option<CallId>,
}

fn serialize_path<S: Serializer>(path: &NodePath, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.collect_str(path)
}

impl Event {
    pub(crate) fn new(kind: EventKind, path: NodePath, call: Option<CallId>) -> Self {
        Self { kind, path, call }
    }

    /// The event as one line of the `--json` contract.
    pub fn to_json_line(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|error| {
            format!(r#"{{"type":"error","code":-32603,"message":"unserializable event: {error}"}}"#)
        })
    }
}

/// The kinds of event.
#[derive(Clone, Debug, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum EventKind {
    /// Progress of long-running work (an MCP `notifications/progress`).
    Progress {
        /// Progress so far.
        progress: f64,
        /// The total, when known.
        #[serde(skip_serializing_if = "Option::is_none")]
        total: Option<f64>,
        /// A human-readable message.
        #[serde(skip_serializing_if = "Option::is_none")]
        message: Option<String>,
    },
    /// A log message (an MCP `notifications/message`, or a child's stderr line).
    Log {
        /// Severity: `debug`, `info`, `notice`, `warning`, `error`, `critical`, `alert`,
        /// `emergency`.
        level: String,
        /// The logger's name, when given.
        #[serde(skip_serializing_if = "Option::is_none")]
        logger: Option<String>,
        /// The logged data.
        data: Value,
    },
    /// A question for the user: a permission prompt or an information request. Answer it
    /// with [`Question::respond`]. Its `--json` type stays `"prompt"` (the event contract).
    #[serde(rename = "prompt")]
    Question(Question),
    /// Partial output of long-running work.
    Partial {
        /// The partial content.
        data: Value,
    },
    /// A node started, finished or failed its part of the call.
    Status {
        /// What happened to the node.
        state: NodeState,
        /// The capability it was working on (its canonical id).
        #[serde(skip_serializing_if = "Option::is_none")]
        capability: Option<String>,
        /// When the node finished: the model usage and cost its result reported under
        /// `_meta["canopy/usage"]` (an agent's own and its descendants').
        #[serde(skip_serializing_if = "Option::is_none")]
        usage: Option<Value>,
    },
    /// A policy decision about the call (see [`Verdict`]): who asked for what, and what was
    /// decided. Made for every decision a rule took part in, and for every call of an
    /// authenticated caller.
    Audit {
        /// What was decided.
        verdict: Verdict,
        /// The capability (its canonical id).
        capability: String,
        /// The caller's claims (`sub`, `client_id`, `iss`, `scope`), when it has an identity.
        #[serde(skip_serializing_if = "Option::is_none")]
        caller: Option<Value>,
        /// The rule that decided, as the tree file spells it, with the node whose policy has
        /// it (`notes: ask "add"`).
        #[serde(skip_serializing_if = "Option::is_none")]
        rule: Option<String>,
    },
    /// The call's final MCP result.
    Result {
        /// The result as MCP JSON.
        result: Value,
    },
    /// The call failed with a protocol error.
    Error {
        /// The JSON-RPC error code.
        code: i32,
        /// What went wrong.
        message: String,
    },
}

/// The verdict of an [`EventKind::Audit`] event.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Verdict {
    /// The call may go ahead without asking.
    Allowed,
    /// A rule denies it.
    Denied,
    /// The user is asked for permission.
    Asked,
    /// The user allowed it.
    Accepted,
    /// The user refused (or the prompt was cancelled).
    Declined,
    /// Nobody could be asked and the asking nodes' `on_unanswerable` let it go ahead.
    AllowedUnasked,
    /// Nobody could be asked, so it was refused.
    DeniedUnasked,
}

impl Verdict {
    /// The event's spelling: `allowed`, `denied`, `asked`, `accepted`, `declined`,
    /// `allowed_unasked`, `denied_unasked`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Allowed => "allowed",
            Self::Denied => "denied",
            Self::Asked => "asked",
            Self::Accepted => "accepted",
            Self::Declined => "declined",
            Self::AllowedUnasked => "allowed_unasked",
            Self::DeniedUnasked => "denied_unasked",
        }
    }
}

/// The state in a [`EventKind::Status`] event.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NodeState {
    /// The node started working on the call.
    Started,
    /// The node finished.
    Finished,
    /// The node failed.
    Failed,
}

/// What a prompt asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum QuestionKind {
    /// May the call go ahead? (an `ask` policy)
    Permission,
    /// Information a node requests from the user (an MCP elicitation).
    Input,
}

/// The user's answer to a prompt.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum Answer {
    /// Accepted; for input prompts, with the requested content.
    Accept(Map<String, Value>),
    /// Declined: the call continues without the information, or is refused.
    Decline,
    /// Cancelled: the whole operation should stop.
    Cancel,
}

impl Answer {
    /// An acceptance with no content (the answer to a permission prompt).
    pub fn accept() -> Self {
        Self::Accept(Map::new())
    }
}

/// The old name of [`Question`].
#[deprecated(note = "renamed to `Question` (MCP's prompts are another thing)")]
pub type Prompt = Question;

/// The old name of [`QuestionKind`].
#[deprecated(note = "renamed to `QuestionKind`")]
pub type PromptKind = QuestionKind;

/// The old name of [`Answer`].
#[deprecated(note = "renamed to `Answer`")]
pub type PromptAnswer = Answer;

type AnswerSlot = Arc<Mutex<Option<oneshot::Sender<Answer>>>>;

/// A question raised anywhere in the tree, waiting for the user's answer.
#[derive(Clone, Serialize)]
#[non_exhaustive]
pub struct Question {
    /// The prompt's id, unique within its call.
    pub id: String,
    /// Permission or information request.
    pub kind: QuestionKind,
    /// The question, for a person.
    pub message: String,
    /// The JSON schema of the requested answer (an object schema; empty for permissions).
    pub schema: Value,
    /// For a permission prompt: the arguments of the call that waits for it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub arguments: Option<Value>,
    #[serde(skip)]
    answer: AnswerSlot,
    /// The MCP elicitation this prompt stands for, when a node sent one: forwarded verbatim
    /// to an MCP client so nothing (URL mode, metadata) is lost on the way.
    #[serde(skip)]
    origin: Option<Arc<ElicitRequestParams>>,
    /// The key a child used for this question in its own `input_required`: a 2026-07-28
    /// caller is asked under the same key when it is free.
    #[serde(skip)]
    pub(crate) input_key: Option<String>,
}

impl fmt::Debug for Question {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Question")
            .field("id", &self.id)
            .field("kind", &self.kind)
            .field("message", &self.message)
            .field("schema", &self.schema)
            .field("arguments", &self.arguments)
            .finish_non_exhaustive()
    }
}

impl Question {
    pub(crate) fn new(
        id: String,
        kind: QuestionKind,
        message: String,
        schema: Value,
    ) -> (Self, oneshot::Receiver<Answer>) {
        let (tx, rx) = oneshot::channel();
        let prompt = Self {
            id,
            kind,
            message,
            schema,
            arguments: None,
            answer: Arc::new(Mutex::new(Some(tx))),
            origin: None,
            input_key: None,
        };
        (prompt, rx)
    }

    /// A prompt standing for an elicitation a node sent.
    pub(crate) fn from_elicitation(
        id: String,
        params: ElicitRequestParams,
    ) -> (Self, oneshot::Receiver<Answer>) {
        let mut permission = None;
        let (message, schema) = match &params {
            ElicitRequestParams::FormElicitationParams {
                message,
                requested_schema,
                meta,
            } => {
                permission = meta.as_ref().and_then(|m| m.0.get(PERMISSION_META_KEY));
                (
                    message.clone(),
                    serde_json::to_value(requested_schema)
                        .unwrap_or_else(|_| empty_object_schema()),
                )
            }
            ElicitRequestParams::UrlElicitationParams { message, url, .. } => {
                (format!("{message} ({url})"), empty_object_schema())
            }
            _ => (
                "(an input request of an unknown kind)".to_owned(),
                empty_object_schema(),
            ),
        };
        // A permission question another Canopy node raised stays one on the way up.
        let kind = if permission.is_some() {
            QuestionKind::Permission
        } else {
            QuestionKind::Input
        };
        let arguments = permission.and_then(|p| p.get("arguments")).cloned();
        let (mut prompt, rx) = Self::new(id, kind, message, schema);
        prompt.arguments = arguments;
        prompt.origin = Some(Arc::new(params));
        (prompt, rx)
    }

    /// The prompt with the arguments of the call it is about (a permission prompt).
    pub(crate) fn with_arguments(mut self, arguments: Option<Value>) -> Self {
        self.arguments = arguments;
        self
    }

    /// The call's arguments for a person: pretty JSON, cut after 20 lines or 1,000
    /// characters (` …` marks the cut). `None` when the prompt carries no arguments.
    pub fn arguments_text(&self) -> Option<String> {
        let arguments = self.arguments.as_ref()?;
        let text =
            serde_json::to_string_pretty(arguments).unwrap_or_else(|_| arguments.to_string());
        let mut shown = String::new();
        let mut cut = false;
        for (i, line) in text.lines().enumerate() {
            if i == ARGUMENTS_SHOWN_LINES {
                cut = true;
                break;
            }
            if !shown.is_empty() {
                shown.push('\n');
            }
            shown.push_str(line);
        }
        if let Some((at, _)) = shown.char_indices().nth(ARGUMENTS_SHOWN_CHARS) {
            shown.truncate(at);
            cut = true;
        }
        if cut {
            shown.push_str(" …");
        }
        Some(shown)
    }

    /// The elicitation this prompt stands for, if a node sent one.
    pub(crate) fn origin(&self) -> Option<&ElicitRequestParams> {
        self.origin.as_deref()
    }

    /// Answers the prompt; the waiting call resumes. Returns `false` if it was already
    /// answered or the call is gone.
    pub fn respond(&self, answer: Answer) -> bool {
        let sender = match self.answer.lock() {
            Ok(mut slot) => slot.take(),
            Err(poisoned) => poisoned.into_inner().take(),
        };
        sender.is_some_and(|sender| sender.send(answer).is_ok())
    }

    /// Whether the prompt still waits for an answer.
    pub fn is_pending(&self) -> bool {
        match self.answer.lock() {
            Ok(slot) => slot.as_ref().is_some_and(|s| !s.is_closed()),
            Err(_) => false,
        }
    }
}

/// How many lines of a call's arguments a permission prompt shows.
const ARGUMENTS_SHOWN_LINES: usize = 20;

/// How many characters of a call's arguments a permission prompt shows.
const ARGUMENTS_SHOWN_CHARS: usize = 1000;

/// The `_meta` key that marks an elicitation as a permission question (an `ask` policy)
/// when a Canopy tree sends it to an MCP client: `{"arguments": {…}}`, the call's
/// arguments. Its schema is an empty object, so any client can answer it as a plain form.
pub const PERMISSION_META_KEY: &str = "canopy/permission";

/// The JSON schema of an empty object: the schema of a permission prompt.
pub(crate) fn empty_object_schema() -> Value {
    serde_json::json!({ "type": "object", "properties": {} })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_event_serializes_to_the_contract() {
        let path = NodePath::parse("research/web").expect("valid path");
        let event = Event::new(
            EventKind::Progress {
                progress: 50.0,
                total: Some(100.0),
                message: Some("half".into()),
            },
            path,
            Some(CallId(7)),
        );
        let json: Value = serde_json::from_str(&event.to_json_line()).expect("json");
        assert_eq!(
            json,
            serde_json::json!({"type":"progress","path":"research/web","call":"c7",
                "progress":50.0,"total":100.0,"message":"half"})
        );
    }

    #[test]
    fn prompt_answers_once() {
        let (prompt, mut rx) = Question::new(
            "p1".into(),
            QuestionKind::Permission,
            "May I?".into(),
            empty_object_schema(),
        );
        let copy = prompt.clone();
        assert!(prompt.is_pending());
        assert!(copy.respond(Answer::accept()));
        assert!(!prompt.respond(Answer::Decline));
        assert_eq!(rx.try_recv().ok(), Some(Answer::accept()));
        let json: Value = serde_json::to_value(Event::new(
            EventKind::Question(prompt),
            NodePath::root(),
            Some(CallId(1)),
        ))
        .expect("json");
        assert_eq!(json["type"], "prompt");
        assert_eq!(json["kind"], "permission");
        assert_eq!(json["id"], "p1");
        assert_eq!(json["path"], "");
        assert!(json.get("arguments").is_none(), "none given, none written");
    }

    #[test]
    fn a_permission_prompt_carries_the_calls_arguments() {
        let (prompt, _rx) = Question::new(
            "p1".into(),
            QuestionKind::Permission,
            "May I?".into(),
            empty_object_schema(),
        );
        let prompt = prompt.with_arguments(Some(serde_json::json!({"text": "hi"})));
        assert_eq!(
            prompt.arguments_text().as_deref(),
            Some("{\n  \"text\": \"hi\"\n}")
        );
        let line: Value = serde_json::from_str(
            &Event::new(
                EventKind::Question(prompt),
                NodePath::root(),
                Some(CallId(1)),
            )
            .to_json_line(),
        )
        .expect("json");
        assert_eq!(line["arguments"], serde_json::json!({"text": "hi"}));

        let many: Map<String, Value> = (0..100)
            .map(|i| (format!("k{i:03}"), Value::from(i)))
            .collect();
        let (long, _rx) = Question::new(
            "p2".into(),
            QuestionKind::Permission,
            "?".into(),
            Value::Null,
        );
        let text = long
            .with_arguments(Some(Value::Object(many)))
            .arguments_text()
            .expect("text");
        assert_eq!(text.lines().count(), ARGUMENTS_SHOWN_LINES);
        assert!(text.ends_with(" …"), "{text}");
        let (huge, _rx) = Question::new(
            "p3".into(),
            QuestionKind::Permission,
            "?".into(),
            Value::Null,
        );
        let text = huge
            .with_arguments(Some(serde_json::json!({"text": "x".repeat(5000)})))
            .arguments_text()
            .expect("text");
        assert_eq!(text.chars().count(), ARGUMENTS_SHOWN_CHARS + 2);
    }

    #[test]
    fn a_marked_elicitation_is_a_permission_prompt() {
        let (prompt, _rx) = Question::new(
            "p1".into(),
            QuestionKind::Permission,
            "Allow?".into(),
            empty_object_schema(),
        );
        let prompt = prompt.with_arguments(Some(serde_json::json!({"text": "hi"})));
        let params =
            crate::upstream::elicit_params(&NodePath::parse("team").expect("path"), &prompt);
        let ElicitRequestParams::FormElicitationParams { message, meta, .. } = &params else {
            panic!("a form")
        };
        assert_eq!(
            message,
            "[team] Allow?\nArguments: {\n  \"text\": \"hi\"\n}"
        );
        assert_eq!(
            meta.as_ref().and_then(|m| m.0.get(PERMISSION_META_KEY)),
            Some(&serde_json::json!({"arguments": {"text": "hi"}}))
        );
        let (forwarded, _rx) = Question::from_elicitation("p9".into(), params);
        assert_eq!(forwarded.kind, QuestionKind::Permission);
        assert_eq!(forwarded.arguments, Some(serde_json::json!({"text": "hi"})));

        let (input, _rx) = Question::new(
            "p2".into(),
            QuestionKind::Input,
            "Name?".into(),
            empty_object_schema(),
        );
        let ElicitRequestParams::FormElicitationParams { meta, .. } =
            crate::upstream::elicit_params(&NodePath::root(), &input)
        else {
            panic!("a form")
        };
        assert!(meta.is_none(), "an information request is not marked");
    }
}

/// The tree-wide event stream: a broadcast channel that knows, without a lock, whether
/// anyone subscribes (every call asks).
#[derive(Debug)]
pub(crate) struct EventHub {
    sender: tokio::sync::broadcast::Sender<Event>,
    subscribers: Arc<std::sync::atomic::AtomicUsize>,
}

impl EventHub {
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            sender: tokio::sync::broadcast::channel(capacity).0,
            subscribers: Arc::default(),
        }
    }

    /// Whether any [`TreeEvents`] is alive.
    pub(crate) fn has_subscribers(&self) -> bool {
        self.subscribers.load(std::sync::atomic::Ordering::Relaxed) > 0
    }

    /// Sends an event to every subscriber (no-op without subscribers).
    pub(crate) fn send(&self, event: &Event) {
        if self.has_subscribers() {
            let _ = self.sender.send(event.clone());
        }
    }

    pub(crate) fn subscribe(&self) -> TreeEvents {
        self.subscribers
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        TreeEvents {
            receiver: self.sender.subscribe(),
            subscribers: Arc::clone(&self.subscribers),
        }
    }
}

/// Every event of every call and node of a tree, from [`Tree::subscribe`](crate::Tree::subscribe).
#[derive(Debug)]
pub struct TreeEvents {
    receiver: tokio::sync::broadcast::Receiver<Event>,
    subscribers: Arc<std::sync::atomic::AtomicUsize>,
}

impl TreeEvents {
    /// The next event; `Err(Lagged(n))` when this subscriber fell behind and lost `n` events
    /// (the stream goes on), `Err(Closed)` when the tree is gone.
    pub async fn recv(&mut self) -> Result<Event, tokio::sync::broadcast::error::RecvError> {
        self.receiver.recv().await
    }
}

impl Drop for TreeEvents {
    fn drop(&mut self) {
        self.subscribers
            .fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
    }
}
