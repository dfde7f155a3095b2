//! `canopy connect`: a general MCP client for any server (the reference client), over
//! Streamable HTTP (a URL) or stdio (a command to launch, after `--`).
//!
//! One-shot subcommands (`tools`, `call`, `read`, …) print their result and exit; with no
//! subcommand it opens a line REPL with the same commands. Progress is shown while requests
//! run, log messages are printed on stderr, and elicitations (or 2026-07-28 input requests,
//! which rmcp's client turns into the same handler calls) are answered at the terminal.

use std::{
    ffi::OsString,
    io::{BufRead, IsTerminal, Write},
    sync::{Arc, Mutex, MutexGuard},
};

use canopy_node::{PromptAnswer, PromptKind};
use clap::{Args, Subcommand, ValueEnum};
use rmcp::{
    ClientHandler, RoleClient,
    model::{
        CallToolRequestParams, ClientCapabilities, ClientConfig, ElicitRequestParams, ElicitResult,
        ElicitationAction, GetPromptRequestParams, Implementation, LoggingMessageNotificationParam,
        ProgressNotificationParam, ProtocolVersion, ReadResourceRequestParams,
        ResourceUpdatedNotificationParam, SubscribeRequestParams, SubscriptionFilter,
        UnsubscribeRequestParams,
    },
    service::{
        ClientLifecycleMode, ClientServiceExt, NotificationContext, RequestContext, RunningService,
    },
    transport::{StreamableHttpClientTransport, TokioChildProcess},
};
use serde::Serialize;
use serde_json::Value;

use crate::{
    Failure, Outcome,
    call::parse_arguments,
    prompt::{self, Answering},
    render::{LiveView, format_result, pretty, print_line},
    serve::shutdown_signal,
};

/// Arguments of `canopy connect`.
#[derive(Debug, Args)]
#[command(
    override_usage = "canopy connect [OPTIONS] <URL> [COMMAND]\n       \
                      canopy connect [OPTIONS] [COMMAND] -- <CMD> [ARGS]...",
    after_help = "\
Examples:
  canopy connect http://127.0.0.1:3000/mcp tools
  canopy connect http://127.0.0.1:3000/mcp call research__web__search --args '{\"query\":\"rust\"}'
  canopy connect tools -- canopy serve hub.toml        launch a stdio server and list its tools
  canopy connect read notes://all -- my-mcp-server --flag
  canopy connect --protocol 2026-07-28 http://127.0.0.1:3000/mcp prompts
  canopy connect http://127.0.0.1:3000/mcp complete --prompt summarize topic ru
  canopy connect http://127.0.0.1:3000/mcp            an interactive session (type `help`)

A command to launch comes last, after `--` (the subcommand, if any, goes before it).
--protocol picks the revision; by default the client probes 2026-07-28 (server/discover)
and falls back to the initialize handshake. --json prints results as JSON."
)]
pub(crate) struct ConnectArgs {
    /// The server's Streamable HTTP endpoint (or give a command after `--`).
    #[arg(value_name = "URL")]
    pub(crate) url: Option<String>,
    /// The protocol revision to speak (default: discover, with fallback).
    #[arg(long, value_enum, global = true)]
    pub(crate) protocol: Option<Protocol>,
    /// Print results as JSON.
    #[arg(long, global = true)]
    pub(crate) json: bool,
    /// Accept URL-mode elicitations and fill forms with defaults without asking.
    #[arg(long, global = true, conflicts_with = "no")]
    pub(crate) yes: bool,
    /// Decline every elicitation.
    #[arg(long, global = true)]
    pub(crate) no: bool,
    #[command(subcommand)]
    pub(crate) action: Option<Action>,
}

/// The protocol revisions `--protocol` accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Protocol {
    /// Session-based, with `initialize`.
    #[value(name = "2025-06-18")]
    V2025_06_18,
    /// Session-based, with `initialize`.
    #[value(name = "2025-11-25")]
    V2025_11_25,
    /// Stateless, with `server/discover`.
    #[value(name = "2026-07-28")]
    V2026_07_28,
}

impl Protocol {
    fn version(self) -> ProtocolVersion {
        match self {
            Self::V2025_06_18 => ProtocolVersion::V_2025_06_18,
            Self::V2025_11_25 => ProtocolVersion::V_2025_11_25,
            Self::V2026_07_28 => ProtocolVersion::V_2026_07_28,
        }
    }
}

/// What to do once connected.
#[derive(Debug, Clone, PartialEq, Eq, Subcommand)]
pub(crate) enum Action {
    /// List the tools.
    Tools,
    /// Call a tool.
    Call {
        /// The tool's name.
        name: String,
        /// Its arguments, a JSON object.
        #[arg(long, value_name = "JSON")]
        args: Option<String>,
    },
    /// List the resources.
    Resources,
    /// List the resource templates.
    Templates,
    /// Read a resource.
    Read {
        /// The resource's URI.
        uri: String,
    },
    /// List the prompts.
    Prompts,
    /// Get a prompt.
    Prompt {
        /// The prompt's name.
        name: String,
        /// Its arguments, a JSON object.
        #[arg(long, value_name = "JSON")]
        args: Option<String>,
    },
    /// Ask for completions of a prompt's or a resource template's argument.
    Complete {
        /// Complete an argument of this prompt.
        #[arg(
            long,
            value_name = "NAME",
            conflicts_with = "template",
            required_unless_present = "template"
        )]
        prompt: Option<String>,
        /// Complete a variable of this resource template.
        #[arg(long, value_name = "URI")]
        template: Option<String>,
        /// The argument's name.
        arg: String,
        /// What was typed so far.
        value: String,
    },
    /// Subscribe to a resource and print its updates until Ctrl-C.
    Subscribe {
        /// The resource's URI.
        uri: String,
    },
}

/// The command line with a connect's `-- CMD ARGS...` taken out (clap cannot put a
/// subcommand before a trailing command), and that command.
#[derive(Debug)]
pub(crate) struct SplitArgs {
    /// What clap parses.
    pub(crate) argv: Vec<OsString>,
    /// The command after `--`, for `canopy connect`.
    pub(crate) command_tail: Option<Vec<String>>,
}

/// Takes the part after the first `--` out of a `canopy connect` command line.
pub(crate) fn split_command_tail(argv: Vec<OsString>) -> SplitArgs {
    let is_connect = argv.get(1).is_some_and(|arg| arg == "connect");
    match argv.iter().position(|arg| arg == "--") {
        Some(at) if is_connect => {
            let mut argv = argv;
            let tail = argv.split_off(at);
            let command = tail
                .into_iter()
                .skip(1)
                .map(|arg| arg.to_string_lossy().into_owned())
                .collect();
            SplitArgs {
                argv,
                command_tail: Some(command),
            }
        }
        _ => SplitArgs {
            argv,
            command_tail: None,
        },
    }
}

/// The server to talk to.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Target {
    Url(String),
    Command(Vec<String>),
}

fn target(url: Option<String>, command: Option<Vec<String>>) -> Result<Target, Failure> {
    match (url, command) {
        (Some(_), Some(_)) => Err(Failure::Usage(
            "canopy connect: give a URL or a command after `--`, not both".into(),
        )),
        (Some(url), None) if url.starts_with("http://") || url.starts_with("https://") => {
            Ok(Target::Url(url))
        }
        (Some(url), None) => Err(Failure::Usage(format!(
            "canopy connect: '{url}' is not an http(s) URL (to launch a command, put it after `--`)"
        ))),
        (None, Some(command)) if !command.is_empty() => Ok(Target::Command(command)),
        _ => Err(Failure::Usage(
            "canopy connect: give the server's URL, or a command to launch after `--`\n\
             usage: canopy connect [OPTIONS] <URL> [COMMAND]\n       \
             canopy connect [OPTIONS] [COMMAND] -- <CMD> [ARGS]..."
                .into(),
        )),
    }
}

/// The client side: shows progress and logs, answers elicitations, prints updates.
#[derive(Clone)]
struct Client {
    view: Arc<Mutex<LiveView>>,
    answering: Answering,
    protocol: Option<ProtocolVersion>,
    /// What the progress bar of the running request is called.
    current: Arc<Mutex<String>>,
}

impl Client {
    fn view(&self) -> MutexGuard<'_, LiveView> {
        self.view
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn start(&self, label: &str) {
        *self.current.lock().unwrap_or_else(|p| p.into_inner()) = label.to_owned();
    }

    fn done(&self) {
        let label = std::mem::take(&mut *self.current.lock().unwrap_or_else(|p| p.into_inner()));
        self.view().finish(&label);
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
        let label = self
            .current
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
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

    async fn create_elicitation(
        &self,
        request: ElicitRequestParams,
        _context: RequestContext<RoleClient>,
    ) -> Result<ElicitResult, rmcp::ErrorData> {
        let (kind, message, schema) = match &request {
            ElicitRequestParams::FormElicitationParams {
                message,
                requested_schema,
                ..
            } => (
                PromptKind::Input,
                message.clone(),
                serde_json::to_value(requested_schema).unwrap_or_default(),
            ),
            ElicitRequestParams::UrlElicitationParams { message, url, .. } => (
                // Opening a URL is a permission question: may I send you there?
                PromptKind::Permission,
                format!("{message}\nOpen {url} to continue. Done?"),
                Value::Null,
            ),
            _ => (
                PromptKind::Input,
                "(an input request of an unknown kind)".to_owned(),
                Value::Null,
            ),
        };
        let this = self.clone();
        let answer = {
            let view = this.view();
            prompt::answer(this.answering, kind, &message, &schema, &view)
        };
        Ok(match answer {
            PromptAnswer::Accept(content) => {
                let result = ElicitResult::new(ElicitationAction::Accept);
                if kind == PromptKind::Input {
                    result.with_content(Value::Object(content))
                } else {
                    result
                }
            }
            PromptAnswer::Decline => ElicitResult::new(ElicitationAction::Decline),
            _ => ElicitResult::new(ElicitationAction::Cancel),
        })
    }
}

type Session = RunningService<RoleClient, Client>;

async fn open(
    target: &Target,
    protocol: Option<Protocol>,
    client: Client,
) -> Result<Session, Failure> {
    let lifecycle = match protocol {
        None => ClientLifecycleMode::Auto {
            preferred_versions: vec![ProtocolVersion::V_2026_07_28],
            legacy_version: None,
        },
        Some(Protocol::V2026_07_28) => ClientLifecycleMode::Discover {
            preferred_versions: vec![ProtocolVersion::V_2026_07_28],
        },
        Some(_) => ClientLifecycleMode::Initialize,
    };
    let connected = match target {
        Target::Url(url) => {
            let transport = StreamableHttpClientTransport::from_uri(url.as_str());
            client.serve_with_lifecycle(transport, lifecycle).await
        }
        Target::Command(command) => {
            let mut process = tokio::process::Command::new(&command[0]);
            process.args(&command[1..]);
            let (transport, _) = TokioChildProcess::builder(process)
                .stderr(std::process::Stdio::inherit())
                .spawn()
                .map_err(|error| {
                    Failure::Failed(format!(
                        "canopy connect: cannot launch '{}': {error}",
                        command[0]
                    ))
                })?;
            client.serve_with_lifecycle(transport, lifecycle).await
        }
    };
    connected.map_err(|error| {
        let what = match target {
            Target::Url(url) => url.clone(),
            Target::Command(command) => command.join(" "),
        };
        Failure::Failed(format!("canopy connect: cannot connect to {what}: {error}"))
    })
}

/// Runs `canopy connect`.
pub(crate) async fn run(args: ConnectArgs, command: Option<Vec<String>>) -> Outcome {
    let target = target(args.url, command)?;
    let client = Client {
        view: Arc::new(Mutex::new(LiveView::new(std::io::stderr().is_terminal()))),
        answering: Answering::from_flags(args.yes, args.no),
        protocol: args.protocol.map(Protocol::version),
        current: Arc::default(),
    };
    let session = open(&target, args.protocol, client.clone()).await?;
    let outcome = match args.action {
        Some(action) => perform(&session, &client, action, args.json).await,
        None => repl(&session, &client, args.json).await,
    };
    client.view().clear();
    let _ = session.cancel().await;
    outcome
}

/// Prints a serializable value as JSON, or as `human` says.
fn output<T: Serialize>(json: bool, value: &T, human: impl FnOnce(&Value) -> String) {
    let value = serde_json::to_value(value).unwrap_or_default();
    let text = if json { pretty(&value) } else { human(&value) };
    if !text.is_empty() {
        print_line(&text);
    }
}

fn failed(what: &str, error: impl std::fmt::Display) -> Failure {
    Failure::Failed(format!("canopy connect: {what} failed: {error}"))
}

/// Performs one action and prints its result.
async fn perform(session: &Session, client: &Client, action: Action, json: bool) -> Outcome {
    match action {
        Action::Tools => {
            let tools = session
                .list_all_tools()
                .await
                .map_err(|e| failed("tools/list", e))?;
            output(json, &tools, |v| listing(v, "name", "description"));
        }
        Action::Call { name, args } => {
            let arguments = parse_arguments(args.as_deref())?;
            let mut params = CallToolRequestParams::new(name.clone());
            params.arguments = arguments;
            client.start(&name);
            let result = session.call_tool(params).await;
            client.done();
            let result = result.map_err(|e| failed("tools/call", e))?;
            client.view().clear();
            output(json, &result, format_result);
            if result.is_error == Some(true) {
                eprintln!("canopy connect: the tool '{name}' reported an error");
                return Err(Failure::Quiet(1));
            }
        }
        Action::Resources => {
            let resources = session
                .list_all_resources()
                .await
                .map_err(|e| failed("resources/list", e))?;
            output(json, &resources, |v| listing(v, "uri", "name"));
        }
        Action::Templates => {
            let templates = session
                .list_all_resource_templates()
                .await
                .map_err(|e| failed("resources/templates/list", e))?;
            output(json, &templates, |v| listing(v, "uriTemplate", "name"));
        }
        Action::Read { uri } => {
            client.start(&uri);
            let result = session
                .read_resource(ReadResourceRequestParams::new(uri.clone()))
                .await;
            client.done();
            let result = result.map_err(|e| failed("resources/read", e))?;
            output(json, &result, format_result);
        }
        Action::Prompts => {
            let prompts = session
                .list_all_prompts()
                .await
                .map_err(|e| failed("prompts/list", e))?;
            output(json, &prompts, prompt_listing);
        }
        Action::Prompt { name, args } => {
            let mut params = GetPromptRequestParams::new(name.clone());
            if let Some(arguments) = parse_arguments(args.as_deref())? {
                params = params.with_arguments(arguments);
            }
            client.start(&name);
            let result = session.get_prompt(params).await;
            client.done();
            let result = result.map_err(|e| failed("prompts/get", e))?;
            output(json, &result, format_result);
        }
        Action::Complete {
            prompt,
            template,
            arg,
            value,
        } => {
            let completion = match (prompt, template) {
                (Some(prompt), _) => {
                    session
                        .complete_prompt_argument(prompt, arg, value, None)
                        .await
                }
                (None, Some(template)) => {
                    session
                        .complete_resource_argument(template, arg, value, None)
                        .await
                }
                (None, None) => {
                    return Err(Failure::Usage(
                        "canopy connect complete: give --prompt NAME or --template URI".into(),
                    ));
                }
            }
            .map_err(|e| failed("completion/complete", e))?;
            output(json, &completion, |v| {
                v.get("values")
                    .and_then(Value::as_array)
                    .map(|values| {
                        values
                            .iter()
                            .filter_map(Value::as_str)
                            .collect::<Vec<_>>()
                            .join("\n")
                    })
                    .unwrap_or_default()
            });
        }
        Action::Subscribe { uri } => subscribe(session, &uri).await?,
    }
    Ok(())
}

/// Subscribes to a resource and prints `updated URI` per update until Ctrl-C: with
/// `resources/subscribe` on session revisions, with `subscriptions/listen` on 2026-07-28.
async fn subscribe(session: &Session, uri: &str) -> Outcome {
    let stateless = session
        .peer_info()
        .is_some_and(|info| info.protocol_version >= ProtocolVersion::V_2026_07_28);
    if stateless {
        let filter = SubscriptionFilter::builder()
            .resource_subscription(uri)
            .build();
        let mut subscription = session
            .listen(filter)
            .await
            .map_err(|e| failed("subscriptions/listen", e))?;
        eprintln!("subscribed to {uri}; Ctrl-C stops");
        loop {
            tokio::select! {
                next = subscription.next() => match next {
                    Ok(Some(notification)) => {
                        let value = serde_json::to_value(&notification).unwrap_or_default();
                        match value.pointer("/params/uri").and_then(Value::as_str) {
                            Some(updated) => print_line(&format!("updated {updated}")),
                            None => print_line(&value.to_string()),
                        }
                    }
                    Ok(None) => break,
                    Err(error) => return Err(failed("subscription", error)),
                },
                () = shutdown_signal() => {
                    let _ = subscription.cancel().await;
                    break;
                }
            }
        }
    } else {
        session
            .subscribe(SubscribeRequestParams::new(uri))
            .await
            .map_err(|e| failed("resources/subscribe", e))?;
        eprintln!("subscribed to {uri}; Ctrl-C stops");
        shutdown_signal().await;
        let _ = session
            .unsubscribe(UnsubscribeRequestParams::new(uri))
            .await;
    }
    Ok(())
}

/// `key — detail` per item of a JSON array.
fn listing(items: &Value, key: &str, detail: &str) -> String {
    items
        .as_array()
        .map(|items| {
            items
                .iter()
                .map(|item| {
                    let name = item.get(key).and_then(Value::as_str).unwrap_or("?");
                    match item.get(detail).and_then(Value::as_str) {
                        Some(detail) if !detail.is_empty() => format!("{name} — {detail}"),
                        _ => name.to_owned(),
                    }
                })
                .collect::<Vec<_>>()
                .join("\n")
        })
        .unwrap_or_default()
}

/// `name(arg*, other) — description` per prompt (`*` marks required arguments).
fn prompt_listing(prompts: &Value) -> String {
    prompts
        .as_array()
        .map(|prompts| {
            prompts
                .iter()
                .map(|prompt| {
                    let name = prompt.get("name").and_then(Value::as_str).unwrap_or("?");
                    let arguments: Vec<String> = prompt
                        .get("arguments")
                        .and_then(Value::as_array)
                        .map(|args| {
                            args.iter()
                                .map(|arg| {
                                    let name =
                                        arg.get("name").and_then(Value::as_str).unwrap_or("?");
                                    let required =
                                        arg.get("required").and_then(Value::as_bool) == Some(true);
                                    format!("{name}{}", if required { "*" } else { "" })
                                })
                                .collect()
                        })
                        .unwrap_or_default();
                    let mut line = format!("{name}({})", arguments.join(", "));
                    if let Some(description) = prompt.get("description").and_then(Value::as_str) {
                        line.push_str(&format!(" — {description}"));
                    }
                    line
                })
                .collect::<Vec<_>>()
                .join("\n")
        })
        .unwrap_or_default()
}

const REPL_HELP: &str = "\
commands:
  tools                              list the tools
  call NAME [{json}]                 call a tool
  resources                          list the resources
  templates                          list the resource templates
  read URI                           read a resource
  prompts                            list the prompts
  prompt NAME [{json}]               get a prompt
  complete prompt|template REF ARG VALUE   complete an argument
  subscribe URI                      print a resource's updates until Ctrl-C
  help                               this list
  quit                               leave (end of input too)";

/// One line of the REPL.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum ReplLine {
    /// An action.
    Action(Action),
    /// `help`.
    Help,
    /// `quit`, `exit`.
    Quit,
    /// Nothing typed.
    Empty,
}

/// Parses a REPL line. `call` and `prompt` take the rest of the line as JSON arguments, so
/// JSON needs no quoting.
pub(crate) fn parse_repl_line(line: &str) -> Result<ReplLine, String> {
    let line = line.trim();
    let (command, rest) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
    let rest = rest.trim();
    let words: Vec<&str> = rest.split_whitespace().collect();
    let one = |what: &str| -> Result<String, String> {
        match words.as_slice() {
            [word] => Ok((*word).to_owned()),
            _ => Err(format!("usage: {command} {what}")),
        }
    };
    let named = |usage: &str| -> Result<(String, Option<String>), String> {
        let (name, json) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
        if name.is_empty() {
            return Err(format!("usage: {command} {usage}"));
        }
        let json = json.trim();
        Ok((name.to_owned(), (!json.is_empty()).then(|| json.to_owned())))
    };
    Ok(match command {
        "" => ReplLine::Empty,
        "help" | "?" => ReplLine::Help,
        "quit" | "exit" | "q" => ReplLine::Quit,
        "tools" => ReplLine::Action(Action::Tools),
        "resources" => ReplLine::Action(Action::Resources),
        "templates" => ReplLine::Action(Action::Templates),
        "prompts" => ReplLine::Action(Action::Prompts),
        "read" => ReplLine::Action(Action::Read { uri: one("URI")? }),
        "subscribe" => ReplLine::Action(Action::Subscribe { uri: one("URI")? }),
        "call" => {
            let (name, args) = named("NAME [{json}]")?;
            ReplLine::Action(Action::Call { name, args })
        }
        "prompt" => {
            let (name, args) = named("NAME [{json}]")?;
            ReplLine::Action(Action::Prompt { name, args })
        }
        "complete" => match words.as_slice() {
            [kind @ ("prompt" | "template"), reference, arg, value] => {
                let reference = Some((*reference).to_owned());
                let (prompt, template) = if *kind == "prompt" {
                    (reference, None)
                } else {
                    (None, reference)
                };
                ReplLine::Action(Action::Complete {
                    prompt,
                    template,
                    arg: (*arg).to_owned(),
                    value: (*value).to_owned(),
                })
            }
            [kind @ ("prompt" | "template"), reference, arg] => {
                let reference = Some((*reference).to_owned());
                let (prompt, template) = if *kind == "prompt" {
                    (reference, None)
                } else {
                    (None, reference)
                };
                ReplLine::Action(Action::Complete {
                    prompt,
                    template,
                    arg: (*arg).to_owned(),
                    value: String::new(),
                })
            }
            _ => return Err("usage: complete prompt|template REF ARG [VALUE]".into()),
        },
        other => return Err(format!("unknown command '{other}' (type `help`)")),
    })
}

/// The interactive session: one command per line until `quit` or end of input.
async fn repl(session: &Session, client: &Client, json: bool) -> Outcome {
    let interactive = std::io::stdin().is_terminal();
    if let Some(info) = session.peer_info() {
        let name = info
            .server_info
            .as_ref()
            .map(|i| format!("{} {}", i.name, i.version))
            .unwrap_or_else(|| "the server".to_owned());
        eprintln!(
            "connected to {name} (protocol {}); type `help` for the commands",
            info.protocol_version
        );
    }
    loop {
        if interactive {
            eprint!("canopy> ");
            let _ = std::io::stderr().flush();
        }
        let line = tokio::task::spawn_blocking(|| {
            let mut line = String::new();
            std::io::stdin()
                .lock()
                .read_line(&mut line)
                .map(|n| (n > 0).then_some(line))
        })
        .await
        .map_err(|error| Failure::Failed(format!("canopy connect: {error}")))?
        .map_err(|error| Failure::Failed(format!("canopy connect: cannot read stdin: {error}")))?;
        let Some(line) = line else { break };
        match parse_repl_line(&line) {
            Ok(ReplLine::Empty) => {}
            Ok(ReplLine::Help) => eprintln!("{REPL_HELP}"),
            Ok(ReplLine::Quit) => break,
            Ok(ReplLine::Action(action)) => match perform(session, client, action, json).await {
                Ok(()) | Err(Failure::Quiet(_)) => {}
                Err(Failure::Failed(message) | Failure::Usage(message)) => eprintln!("{message}"),
            },
            Err(message) => eprintln!("{message}"),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(args: &[&str]) -> Vec<OsString> {
        args.iter().map(OsString::from).collect()
    }

    #[test]
    fn the_command_after_dashes_is_split_off_for_connect_only() {
        let split = split_command_tail(os(&["canopy", "connect", "tools", "--", "srv", "--", "x"]));
        assert_eq!(split.argv, os(&["canopy", "connect", "tools"]));
        assert_eq!(
            split.command_tail,
            Some(vec!["srv".into(), "--".into(), "x".into()])
        );
        let other = split_command_tail(os(&["canopy", "call", "t.toml", "x", "--", "y"]));
        assert_eq!(other.argv.len(), 6);
        assert_eq!(other.command_tail, None);
    }

    #[test]
    fn a_target_is_a_url_or_a_command() {
        assert_eq!(
            target(Some("http://127.0.0.1:1/mcp".into()), None).ok(),
            Some(Target::Url("http://127.0.0.1:1/mcp".into()))
        );
        assert_eq!(
            target(None, Some(vec!["srv".into()])).ok(),
            Some(Target::Command(vec!["srv".into()]))
        );
        assert!(matches!(target(None, None), Err(Failure::Usage(_))));
        assert!(matches!(
            target(Some("srv".into()), None),
            Err(Failure::Usage(_))
        ));
        assert!(matches!(target(None, Some(vec![])), Err(Failure::Usage(_))));
    }

    #[test]
    fn repl_lines_parse() {
        assert_eq!(
            parse_repl_line("tools"),
            Ok(ReplLine::Action(Action::Tools))
        );
        assert_eq!(
            parse_repl_line("call web__search {\"query\": \"rust lang\"}"),
            Ok(ReplLine::Action(Action::Call {
                name: "web__search".into(),
                args: Some("{\"query\": \"rust lang\"}".into())
            }))
        );
        assert_eq!(
            parse_repl_line("call fail"),
            Ok(ReplLine::Action(Action::Call {
                name: "fail".into(),
                args: None
            }))
        );
        assert_eq!(
            parse_repl_line("read notes://all"),
            Ok(ReplLine::Action(Action::Read {
                uri: "notes://all".into()
            }))
        );
        assert_eq!(
            parse_repl_line("complete prompt summarize topic ru"),
            Ok(ReplLine::Action(Action::Complete {
                prompt: Some("summarize".into()),
                template: None,
                arg: "topic".into(),
                value: "ru".into()
            }))
        );
        assert_eq!(parse_repl_line("  "), Ok(ReplLine::Empty));
        assert_eq!(parse_repl_line("quit"), Ok(ReplLine::Quit));
        assert_eq!(parse_repl_line("read"), Err("usage: read URI".into()));
        assert!(parse_repl_line("frobnicate").is_err());
    }

    #[test]
    fn listings_are_one_line_per_item() {
        let tools = serde_json::json!([{"name": "a", "description": "does a"}, {"name": "b"}]);
        assert_eq!(listing(&tools, "name", "description"), "a — does a\nb");
        let prompts = serde_json::json!([{"name": "p", "arguments": [{"name": "x", "required": true}, {"name": "y"}], "description": "d"}]);
        assert_eq!(prompt_listing(&prompts), "p(x*, y) — d");
    }
}
