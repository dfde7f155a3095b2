//! An rmcp client that records what a served tree sends it, and helpers for tool arguments
//! and results.
// The test client answers sampling and records logs, which SEP-2577 deprecates.
#![allow(deprecated)]

use std::sync::{Arc, Mutex};

use rmcp::{
    ClientHandler, RoleClient,
    model::{
        ClientCapabilities, ClientConfig, ElicitRequestParams, ElicitResult, ElicitationAction,
        Implementation, ProgressNotificationParam,
    },
    service::{NotificationContext, RequestContext},
};

/// What the test client saw.
#[derive(Debug, Default)]
pub struct Seen {
    /// Every `notifications/progress`, in order.
    pub progress: Vec<ProgressNotificationParam>,
    /// The message of every elicitation request, in order.
    pub elicitations: Vec<String>,
    /// Every `notifications/message` as `{ "logger": …, "data": … }`, in order.
    pub logs: Vec<serde_json::Value>,
    /// How many `notifications/tools/list_changed` arrived.
    pub tool_list_changes: usize,
    /// How many sampling requests (`sampling/createMessage`) the client answered.
    pub samplings: usize,
    /// The URIs of `notifications/resources/updated`, in order.
    pub resource_updates: Vec<String>,
}

/// An rmcp client that records progress and answers elicitations: permission prompts are
/// accepted when `allow` is true, name requests get `name`. Sampling requests are answered
/// "blue" by the model `test-model`.
#[derive(Debug, Clone)]
pub struct TestClient {
    /// What the client saw, shared by every clone.
    pub seen: Arc<Mutex<Seen>>,
    /// Whether permission prompts (elicitations that do not ask for a name) are accepted.
    pub allow: bool,
    /// The answer to an elicitation whose message mentions a name.
    pub name: String,
    /// The revision offered in `initialize` (default: rmcp's).
    pub protocol: Option<rmcp::model::ProtocolVersion>,
    /// Whether the client declares sampling (it always declares elicitation).
    pub sampling: bool,
    /// Whether the client declares the tasks extension.
    pub tasks: bool,
}

impl TestClient {
    /// A client that accepts permission prompts when `allow` is true, is called "Grace",
    /// offers rmcp's default revision and declares sampling but not tasks.
    pub fn new(allow: bool) -> Self {
        Self {
            seen: Arc::default(),
            allow,
            name: "Grace".into(),
            protocol: None,
            sampling: true,
            tasks: false,
        }
    }

    /// The `progress` values of the progress notifications seen so far, in order.
    pub fn progress(&self) -> Vec<f64> {
        self.seen
            .lock()
            .expect("lock")
            .progress
            .iter()
            .map(|p| p.progress)
            .collect()
    }
}

impl ClientHandler for TestClient {
    fn get_info(&self) -> ClientConfig {
        let mut capabilities = if self.tasks {
            ClientCapabilities::builder()
                .enable_elicitation()
                .enable_tasks()
                .build()
        } else {
            ClientCapabilities::builder().enable_elicitation().build()
        };
        if self.sampling {
            capabilities.sampling = Some(Default::default());
        }
        let config = ClientConfig::new(capabilities, Implementation::new("canopy-tests", "1.0"));
        match &self.protocol {
            Some(version) => config.with_protocol_version(version.clone()),
            None => config,
        }
    }

    async fn on_progress(
        &self,
        params: ProgressNotificationParam,
        _context: NotificationContext<RoleClient>,
    ) {
        self.seen.lock().expect("lock").progress.push(params);
    }

    async fn on_logging_message(
        &self,
        params: rmcp::model::LoggingMessageNotificationParam,
        _context: NotificationContext<RoleClient>,
    ) {
        let entry = serde_json::json!({ "logger": params.logger, "data": params.data });
        self.seen.lock().expect("lock").logs.push(entry);
    }

    async fn on_tool_list_changed(&self, _context: NotificationContext<RoleClient>) {
        self.seen.lock().expect("lock").tool_list_changes += 1;
    }

    async fn on_resource_updated(
        &self,
        params: rmcp::model::ResourceUpdatedNotificationParam,
        _context: NotificationContext<RoleClient>,
    ) {
        self.seen
            .lock()
            .expect("lock")
            .resource_updates
            .push(params.uri);
    }

    #[allow(deprecated)]
    async fn create_message(
        &self,
        _params: rmcp::model::CreateMessageRequestParams,
        _context: RequestContext<RoleClient>,
    ) -> Result<rmcp::model::CreateMessageResult, rmcp::ErrorData> {
        self.seen.lock().expect("lock").samplings += 1;
        Ok(rmcp::model::CreateMessageResult::new(
            rmcp::model::SamplingMessage::assistant_text("blue"),
            "test-model".into(),
        ))
    }

    async fn create_elicitation(
        &self,
        request: ElicitRequestParams,
        _context: RequestContext<RoleClient>,
    ) -> Result<ElicitResult, rmcp::ErrorData> {
        let message = match &request {
            ElicitRequestParams::FormElicitationParams { message, .. } => message.clone(),
            _ => String::new(),
        };
        self.seen
            .lock()
            .expect("lock")
            .elicitations
            .push(message.clone());
        Ok(if message.contains("name") {
            ElicitResult::new(ElicitationAction::Accept)
                .with_content(serde_json::json!({ "name": self.name }))
        } else if self.allow {
            ElicitResult::new(ElicitationAction::Accept).with_content(serde_json::json!({}))
        } else {
            ElicitResult::new(ElicitationAction::Decline)
        })
    }
}

/// The JSON object `value` as tool arguments (`None` for anything else).
pub fn args(value: serde_json::Value) -> Option<serde_json::Map<String, serde_json::Value>> {
    match value {
        serde_json::Value::Object(map) => Some(map),
        _ => None,
    }
}

/// The text contents of a tool result, one per line.
pub fn text(result: &rmcp::model::CallToolResult) -> String {
    result
        .content
        .iter()
        .filter_map(|c| c.as_text().map(|t| t.text.clone()))
        .collect::<Vec<_>>()
        .join("\n")
}
