//! Whoever made a root call, as the driver sees it: a Rust host reading a call's event
//! stream, or an MCP client on the other side of the root's server face. Events, prompts and
//! sampling requests from any depth end here.

use std::sync::{Arc, Mutex};

use canopy_topology::NodePath;
use rmcp::{
    ErrorData as McpError, Peer, RoleServer,
    model::{
        CreateMessageRequestParams, CreateMessageResult, ElicitRequestParams, ElicitResult,
        ElicitationAction, ElicitationSchema, LoggingLevel, LoggingMessageNotificationParam,
        ProgressNotificationParam, ProgressToken,
    },
};
use serde_json::Value;
use tokio::sync::mpsc;

use crate::{
    event::{Answer, Event, EventHub, EventKind, Question, QuestionKind},
    sampling::SamplingHandler,
};

/// Where a call's events go.
pub(crate) struct Upstream {
    target: Target,
    tree_events: Arc<EventHub>,
    sampling: Option<Arc<dyn SamplingHandler>>,
}

impl std::fmt::Debug for Upstream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Upstream").finish_non_exhaustive()
    }
}

enum Target {
    /// A Rust host reads the call's events (and answers prompts itself), or nobody does.
    Host(Option<mpsc::UnboundedSender<Event>>),
    /// A stateless caller known only by its revision (unit tests).
    #[cfg(test)]
    Stateless,
    /// An MCP client at the root's server face.
    Mcp {
        peer: Peer<RoleServer>,
        progress_token: Option<ProgressToken>,
        /// The last progress value sent upstream: MCP requires it to increase.
        last_progress: Mutex<Option<f64>>,
        /// Whether the client speaks 2026-07-28 (no server-to-client requests).
        stateless: bool,
    },
}

impl Upstream {
    pub(crate) fn host(
        events: Option<mpsc::UnboundedSender<Event>>,
        tree_events: Arc<EventHub>,
        sampling: Option<Arc<dyn SamplingHandler>>,
    ) -> Self {
        Self {
            target: Target::Host(events),
            tree_events,
            sampling,
        }
    }

    pub(crate) fn mcp(
        peer: Peer<RoleServer>,
        progress_token: Option<ProgressToken>,
        stateless: bool,
        tree_events: Arc<EventHub>,
    ) -> Self {
        Self {
            target: Target::Mcp {
                peer,
                progress_token,
                last_progress: Mutex::new(None),
                stateless,
            },
            tree_events,
            sampling: None,
        }
    }

    /// An MCP upstream at 2026-07-28 with no connection behind it, for unit tests of parking.
    #[cfg(test)]
    pub(crate) fn stateless_for_tests(tree_events: Arc<EventHub>) -> Self {
        Self {
            target: Target::Stateless,
            tree_events,
            sampling: None,
        }
    }

    /// Whether anyone reads this call's events outside MCP (a host, or the tree-wide
    /// stream), so events that MCP does not carry are worth making.
    pub(crate) fn is_listened_to(&self) -> bool {
        matches!(&self.target, Target::Host(Some(events)) if !events.is_closed())
            || self.tree_events.has_subscribers()
    }

    /// A host call nobody reads: its prompts can only be cancelled.
    pub(crate) fn is_quiet_host(&self) -> bool {
        matches!(&self.target, Target::Host(None))
    }

    /// Whether prompts must be returned to the caller as `input_required` instead of asked.
    pub(crate) fn is_stateless(&self) -> bool {
        match &self.target {
            Target::Mcp { stateless, .. } => *stateless,
            #[cfg(test)]
            Target::Stateless => true,
            Target::Host(_) => false,
        }
    }

    /// Hands the event to the Rust host and the tree-wide stream (no MCP traffic).
    pub(crate) fn publish(&self, event: &Event) {
        self.tree_events.send(event);
        if let Target::Host(Some(events)) = &self.target {
            let _ = events.send(event.clone());
        }
    }

    /// Passes an event on: to the host, to the tree-wide stream, and to an MCP client as a
    /// progress or log notification.
    pub(crate) async fn forward(&self, event: Event) {
        self.publish(&event);
        let Target::Mcp {
            peer,
            progress_token,
            last_progress,
            ..
        } = &self.target
        else {
            return;
        };
        match event.kind {
            EventKind::Progress {
                progress,
                total,
                message,
            } => {
                let Some(token) = progress_token else { return };
                {
                    let mut last = last_progress.lock().unwrap_or_else(|p| p.into_inner());
                    if last.is_some_and(|last| progress <= last) {
                        return;
                    }
                    *last = Some(progress);
                }
                let mut params = ProgressNotificationParam::new(token.clone(), progress);
                params.total = total;
                params.message = message;
                let _ = peer.notify_progress(params).await;
            }
            EventKind::Log {
                level,
                logger,
                data,
            } => {
                let level =
                    serde_json::from_value(Value::String(level)).unwrap_or(LoggingLevel::Info);
                let mut params = LoggingMessageNotificationParam::new(level, data);
                params.logger = logger;
                let _ = peer.notify_logging_message(params).await;
            }
            _ => {}
        }
    }

    /// Gets the answer to a prompt: `None` when the host answers it itself (it got the
    /// event); otherwise asks the MCP client with an elicitation.
    pub(crate) async fn answer_prompt(&self, path: &NodePath, prompt: &Question) -> Option<Answer> {
        match &self.target {
            Target::Host(Some(events)) if !events.is_closed() => None,
            Target::Host(_) => Some(Answer::Cancel),
            Target::Mcp { peer, .. } => Some(elicit(peer, path, prompt).await),
            #[cfg(test)]
            Target::Stateless => None,
        }
    }

    /// Runs a node's sampling request through the caller's model.
    /// The caller's roots (`ListRootsResult` as JSON): asked of an MCP client that declared
    /// the roots capability; none for one that did not, and for a Rust host.
    pub(crate) async fn list_roots(&self) -> Result<serde_json::Value, McpError> {
        let none = || serde_json::json!({ "roots": [] });
        match &self.target {
            Target::Mcp { peer, .. } => {
                if peer
                    .peer_info()
                    .is_some_and(|info| info.capabilities.roots.is_none())
                {
                    return Ok(none());
                }
                let roots = peer.list_roots().await.map_err(|error| {
                    McpError::internal_error(
                        format!("roots/list to the client failed: {error}"),
                        None,
                    )
                })?;
                Ok(serde_json::to_value(roots).unwrap_or_else(|_| none()))
            }
            _ => Ok(none()),
        }
    }

    pub(crate) async fn sample(
        &self,
        path: &NodePath,
        params: CreateMessageRequestParams,
    ) -> Result<CreateMessageResult, McpError> {
        match (&self.target, &self.sampling) {
            (Target::Mcp { peer, .. }, _) => {
                if peer
                    .peer_info()
                    .is_some_and(|info| info.capabilities.sampling.is_none())
                {
                    return Err(McpError::invalid_request(
                        format!(
                            "node '{path}' asked for sampling, but the client did not declare the sampling capability"
                        ),
                        None,
                    ));
                }
                peer.create_message(params).await.map_err(|error| {
                    McpError::internal_error(
                        format!("sampling through the client failed: {error}"),
                        None,
                    )
                })
            }
            (Target::Host(_), Some(handler)) => handler.create_message(path, params).await,
            #[cfg(test)]
            (Target::Stateless, _) => {
                Err(McpError::internal_error("no sampling in unit tests", None))
            }
            (Target::Host(_), None) => Err(McpError::invalid_request(
                format!("node '{path}' asked for sampling, but the tree has no sampling handler"),
                None,
            )),
        }
    }
}

/// The elicitation request that carries `prompt` to an MCP client.
pub(crate) fn elicit_params(path: &NodePath, prompt: &Question) -> ElicitRequestParams {
    if let Some(original) = prompt.origin() {
        return original.clone();
    }
    let schema: ElicitationSchema = serde_json::from_value(prompt.schema.clone())
        .unwrap_or_else(|_| ElicitationSchema::builder().build_unchecked());
    let mut message = if path.is_root() {
        prompt.message.clone()
    } else {
        format!("[{path}] {}", prompt.message)
    };
    // A permission question stays a valid form (an empty object), marked so that a client
    // that knows Canopy asks for an explicit yes, with the call's arguments in the text for
    // one that does not.
    let meta = (prompt.kind == QuestionKind::Permission).then(|| {
        if let Some(arguments) = prompt.arguments_text() {
            message.push_str(&format!("\nArguments: {arguments}"));
        }
        let mut meta = rmcp::model::RequestMetaObject::new();
        meta.0.insert(
            crate::event::PERMISSION_META_KEY.to_owned(),
            serde_json::json!({ "arguments": prompt.arguments }),
        );
        meta
    });
    ElicitRequestParams::FormElicitationParams {
        meta,
        message,
        requested_schema: schema,
    }
}

/// Converts an MCP elicitation result into a prompt answer.
pub(crate) fn answer_from_elicit(result: &ElicitResult) -> Answer {
    match result.action {
        ElicitationAction::Accept => Answer::Accept(match &result.content {
            Some(Value::Object(map)) => map.clone(),
            _ => serde_json::Map::new(),
        }),
        ElicitationAction::Decline => Answer::Decline,
        _ => Answer::Cancel,
    }
}

async fn elicit(peer: &Peer<RoleServer>, path: &NodePath, prompt: &Question) -> Answer {
    if peer
        .peer_info()
        .is_some_and(|info| info.capabilities.elicitation.is_none())
    {
        tracing::warn!(%path, "the client cannot answer prompts (no elicitation capability); declining");
        return Answer::Decline;
    }
    match peer.create_elicitation(elicit_params(path, prompt)).await {
        Ok(result) => answer_from_elicit(&result),
        Err(error) => {
            tracing::warn!(%path, %error, "elicitation through the client failed; cancelling");
            Answer::Cancel
        }
    }
}
