//! The client side of `canopy connect`: shows the server's progress and log messages,
//! answers its elicitations at the terminal (2026-07-28 input requests come here too, as
//! rmcp's client turns them into the same handler calls), prints resource updates, and keeps
//! the server's tool list for argument typing, suggestions and the REPL's completion.

use std::sync::{Arc, Mutex, MutexGuard};

use canopy_node::{Answer, PERMISSION_META_KEY, QuestionKind};
use rmcp::{
    ClientHandler, Peer, RoleClient,
    model::{
        ClientCapabilities, ClientConfig, ElicitRequestParams, ElicitResult, ElicitationAction,
        Implementation, LoggingMessageNotificationParam, ProgressNotificationParam,
        ProtocolVersion, ResourceUpdatedNotificationParam, Tool,
    },
    service::{NotificationContext, RequestContext, RunningService, ServiceError},
};
use serde_json::Value;

use crate::{
    prompt::{self, Answering, Query},
    render::{LiveView, print_line},
};

/// A connection to the server.
pub(crate) type Session = RunningService<RoleClient, Client>;

/// The client's state, shared by the handler's clones.
#[derive(Clone)]
pub(crate) struct Client {
    view: Arc<Mutex<LiveView>>,
    answering: Answering,
    protocol: Option<ProtocolVersion>,
    /// What the progress bar of the running request is called.
    current: Arc<Mutex<String>>,
    /// Whether a permission question was declined since [`Client::start`].
    declined: Arc<Mutex<bool>>,
    /// The server's tools as last listed (`None`: not listed yet, or changed since).
    tools: Arc<Mutex<Option<Vec<Tool>>>>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Client {
    /// A client that answers prompts as `answering` says and shows progress in `view`.
    pub(crate) fn new(
        view: LiveView,
        answering: Answering,
        protocol: Option<ProtocolVersion>,
    ) -> Self {
        Self {
            view: Arc::new(Mutex::new(view)),
            answering,
            protocol,
            current: Arc::default(),
            declined: Arc::default(),
            tools: Arc::default(),
        }
    }

    /// The live view.
    pub(crate) fn view(&self) -> MutexGuard<'_, LiveView> {
        lock(&self.view)
    }

    /// A request called `label` starts.
    pub(crate) fn start(&self, label: &str) {
        *lock(&self.current) = label.to_owned();
        *lock(&self.declined) = false;
    }

    /// The request ended.
    pub(crate) fn done(&self) {
        let label = std::mem::take(&mut *lock(&self.current));
        self.view().finish(&label);
    }

    /// Whether a permission question was declined during the last request.
    pub(crate) fn declined(&self) -> bool {
        *lock(&self.declined)
    }

    /// The tools as last listed, if the list is still current.
    pub(crate) fn cached_tools(&self) -> Option<Vec<Tool>> {
        lock(&self.tools).clone()
    }

    /// The server's tools: the cached list, or a fresh `tools/list`.
    pub(crate) async fn tools(&self, peer: &Peer<RoleClient>) -> Result<Vec<Tool>, ServiceError> {
        if let Some(tools) = self.cached_tools() {
            return Ok(tools);
        }
        let tools = peer.list_all_tools().await?;
        *lock(&self.tools) = Some(tools.clone());
        Ok(tools)
    }

    /// The tool called `name`, if the server has it.
    pub(crate) async fn tool(
        &self,
        peer: &Peer<RoleClient>,
        name: &str,
    ) -> Result<Option<Tool>, ServiceError> {
        Ok(self.tools(peer).await?.into_iter().find(|t| t.name == name))
    }
}

impl ClientHandler for Client {
    fn get_info(&self) -> ClientConfig {
        let capabilities = ClientCapabilities::builder().enable_elicitation().build();
        let mut config = ClientConfig::new(
            capabilities,
            Implementation::new("canopy", env!("CARGO_PKG_VERSION")),
        );
        if let Some(version) = &self.protocol {
            config = config.with_protocol_version(version.clone());
        }
        config
    }

    async fn on_progress(
        &self,
        params: ProgressNotificationParam,
        _context: NotificationContext<RoleClient>,
    ) {
        let label = lock(&self.current).clone();
        let label = if label.is_empty() {
            "progress".to_owned()
        } else {
            label
        };
        self.view().progress(
            &label,
            params.progress,
            params.total,
            params.message.as_deref(),
        );
    }

    async fn on_logging_message(
        &self,
        params: LoggingMessageNotificationParam,
        _context: NotificationContext<RoleClient>,
    ) {
        let level = serde_json::to_value(params.level)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        let logger = params.logger.map(|l| format!(" {l}:")).unwrap_or_default();
        let data = match params.data {
            Value::String(text) => text,
            other => other.to_string(),
        };
        self.view()
            .line(&format!("[server] {level}{logger} {data}"));
    }

    async fn on_resource_updated(
        &self,
        params: ResourceUpdatedNotificationParam,
        _context: NotificationContext<RoleClient>,
    ) {
        print_line(&format!("updated {}", params.uri));
    }

    async fn on_tool_list_changed(&self, _context: NotificationContext<RoleClient>) {
        *lock(&self.tools) = None;
    }

    async fn create_elicitation(
        &self,
        request: ElicitRequestParams,
        _context: RequestContext<RoleClient>,
    ) -> Result<ElicitResult, rmcp::ErrorData> {
        let (kind, message, schema, url) = match &request {
            ElicitRequestParams::FormElicitationParams {
                message,
                requested_schema,
                meta,
            } => {
                // A Canopy tree marks its permission questions; an empty or boolean-only
                // form is one too (the prompt module decides that from the schema).
                let marked = meta
                    .as_ref()
                    .is_some_and(|meta| meta.0.contains_key(PERMISSION_META_KEY));
                let kind = if marked {
                    QuestionKind::Permission
                } else {
                    QuestionKind::Input
                };
                let schema = serde_json::to_value(requested_schema).unwrap_or_default();
                (kind, message.clone(), schema, false)
            }
            ElicitRequestParams::UrlElicitationParams { message, url, .. } => (
                // Opening a URL is a permission question: may I send you there?
                QuestionKind::Permission,
                format!("{message}\nOpen {url} to continue. Done?"),
                Value::Null,
                true,
            ),
            _ => (
                QuestionKind::Input,
                "(an input request of an unknown kind)".to_owned(),
                Value::Null,
                false,
            ),
        };
        let question = Query::new(kind, &message, &schema);
        let answer = {
            let view = self.view();
            prompt::answer(self.answering, question, &view)
        };
        let permission =
            kind == QuestionKind::Permission || prompt::permission_form(&schema).is_some();
        Ok(match answer {
            Answer::Accept(content) => {
                let result = ElicitResult::new(ElicitationAction::Accept);
                if url {
                    result
                } else {
                    result.with_content(Value::Object(content))
                }
            }
            Answer::Decline => {
                if permission {
                    *lock(&self.declined) = true;
                }
                ElicitResult::new(ElicitationAction::Decline)
            }
            _ => ElicitResult::new(ElicitationAction::Cancel),
        })
    }
}
