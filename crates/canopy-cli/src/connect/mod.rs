//! `canopy connect`: a general MCP client for any server (the reference client), over
//! Streamable HTTP (a URL) or stdio (a command to launch, after `--`).
//!
//! One-shot subcommands (`tools`, `call`, `read`, …) print their result and exit; with no
//! subcommand it opens a REPL ([`repl`]) with the same commands, parsed by the same
//! grammar ([`Action`]). Progress is shown while requests run, log messages are printed on
//! stderr, and elicitations are answered at the terminal ([`client`]).

mod client;
mod repl;

use std::{ffi::OsString, io::IsTerminal};

use clap::{Args, Subcommand, ValueEnum};
use rmcp::{
    model::{
        CallToolRequestParams, GetPromptRequestParams, ProtocolVersion, ReadResourceRequestParams,
        SubscribeRequestParams, SubscriptionFilter, Tool, UnsubscribeRequestParams,
    },
    service::{ClientLifecycleMode, ClientServiceExt, ServiceError},
    transport::{StreamableHttpClientTransport, TokioChildProcess},
};
use serde::Serialize;
use serde_json::{Map, Value};

use self::client::{Client, Session};
use crate::{
    Failure, Outcome,
    call::{parse_arguments, says_invalid_arguments, schema_note, word_arguments},
    prompt::Answering,
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
  canopy connect http://127.0.0.1:3000/mcp call research__web__search query=rust
  canopy connect http://127.0.0.1:3000/mcp call research__web__search --args '{\"query\":\"rust\"}'
  canopy connect tools -- canopy serve hub.toml        launch a stdio server and list its tools
  canopy connect read notes://all -- my-mcp-server --flag
  canopy connect --protocol 2026-07-28 http://127.0.0.1:3000/mcp prompts
  canopy connect http://127.0.0.1:3000/mcp complete --prompt summarize topic ru
  canopy connect http://127.0.0.1:3000/mcp            an interactive session (type `help`)

A command to launch comes last, after `--` (the subcommand, if any, goes before it).
A call's (or a prompt's) arguments are key=value words, typed by the tool's input schema,
or one JSON object with --args. The interactive session has line editing, history and Tab
completion of commands, tool names and argument names.
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
    /// Accept permission questions (URL-mode elicitations, empty or confirm-only forms)
    /// without asking; fill forms at the terminal, or with their defaults without one.
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
        /// Its arguments as key=value words (typed by its input schema), or one JSON object.
        #[arg(value_name = "KEY=VALUE", conflicts_with = "args")]
        arguments: Vec<String>,
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
        /// Its arguments as key=value words, or one JSON object.
        #[arg(value_name = "KEY=VALUE", conflicts_with = "args")]
        arguments: Vec<String>,
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
        #[arg(default_value = "")]
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
    let client = Client::new(
        LiveView::new(std::io::stderr().is_terminal()),
        Answering::from_flags(args.yes, args.no),
        args.protocol.map(Protocol::version),
    );
    let session = open(&target, args.protocol, client.clone()).await?;
    let outcome = match args.action {
        Some(action) => perform(&session, &client, action, args.json).await,
        None => repl::run(&session, &client, args.json).await,
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

fn failed(what: &str, error: &ServiceError) -> Failure {
    Failure::Failed(format!(
        "canopy connect: {what} failed: {}",
        describe(error)
    ))
}

/// A request's error for a person: the server's message (not its JSON data), or what
/// happened to the connection.
fn describe(error: &ServiceError) -> String {
    match error {
        ServiceError::McpError(error) => error.message.to_string(),
        ServiceError::TransportSend(error) => format!("the connection failed: {error}"),
        ServiceError::TransportClosed => "the server closed the connection".to_owned(),
        other => other.to_string(),
    }
}

/// The names among `names` closest to `wanted`: by edit distance (up to a third of the
/// name, at least 1), and those that contain it (`write_note` in `notes__write_note`); best
/// first, at most 3.
pub(crate) fn suggestions<'a>(
    wanted: &str,
    names: impl IntoIterator<Item = &'a str>,
) -> Vec<&'a str> {
    let limit = (wanted.chars().count() / 3).max(1);
    let mut close: Vec<(usize, &str)> = names
        .into_iter()
        .filter_map(|name| {
            let distance = strsim::damerau_levenshtein(wanted, name);
            let contains = !wanted.is_empty() && name.contains(wanted);
            if distance <= limit {
                Some((distance, name))
            } else if contains {
                Some((limit + 1, name))
            } else {
                None
            }
        })
        .collect();
    close.sort();
    close.into_iter().take(3).map(|(_, name)| name).collect()
}

/// `no tool 'X' on the server; did you mean 'a' or 'b'?` (or the tools it has).
fn unknown_tool(name: &str, tools: &[Tool]) -> String {
    let names: Vec<&str> = tools.iter().map(|t| &*t.name).collect();
    let close = suggestions(name, names.iter().copied());
    let hint = match close.as_slice() {
        [] if names.is_empty() => " (it has no tools)".to_owned(),
        [] => format!(" (its tools: {})", names.join(", ")),
        close => format!(
            "; did you mean {}?",
            close
                .iter()
                .map(|n| format!("'{n}'"))
                .collect::<Vec<_>>()
                .join(" or ")
        ),
    };
    format!("canopy connect: no tool '{name}' on the server{hint}")
}

/// Performs a `tools/call`: the arguments typed by the tool's schema, a failure explained
/// (an unknown name with suggestions, bad arguments with the schema, a decline as such).
async fn call(
    session: &Session,
    client: &Client,
    name: String,
    arguments: &[String],
    args: Option<&str>,
    json: bool,
) -> Outcome {
    let peer = session.peer();
    let json_arguments = parse_arguments(args)?;
    let typed_by_schema = match arguments {
        [] => false,
        [one] => !one.trim_start().starts_with('{'),
        _ => true,
    };
    let tool = if typed_by_schema {
        let tools = client
            .tools(peer)
            .await
            .map_err(|e| failed("tools/list", &e))?;
        match tools.iter().find(|t| t.name == name) {
            Some(tool) => Some(tool.clone()),
            None => return Err(Failure::Failed(unknown_tool(&name, &tools))),
        }
    } else {
        None
    };
    let schema = tool.as_ref().map(|t| &*t.input_schema);
    let arguments = match word_arguments(arguments, &name, schema) {
        Ok(words) => words.or(json_arguments),
        Err(message) => {
            let note = schema
                .map(|s| format!("\n{}", schema_note(&name, s)))
                .unwrap_or_default();
            return Err(Failure::Usage(format!("canopy connect: {message}{note}")));
        }
    };
    let mut params = CallToolRequestParams::new(name.clone());
    params.arguments = arguments;
    client.start(&name);
    let result = session.call_tool(params).await;
    client.done();
    let schema_of = |tool: Option<Tool>| {
        tool.map(|t| format!("\n{}", schema_note(&name, &t.input_schema)))
            .unwrap_or_default()
    };
    let result = match result {
        Ok(result) => result,
        Err(error) => {
            // Find out whether the name or the arguments were wrong.
            let invalid = matches!(&error, ServiceError::McpError(e) if e.code.0 == -32602);
            let tools = if invalid {
                client.tools(peer).await.ok()
            } else {
                None
            };
            return Err(match tools {
                Some(tools) if !tools.iter().any(|t| t.name == name) => {
                    Failure::Failed(unknown_tool(&name, &tools))
                }
                Some(tools) => {
                    let tool = tools.into_iter().find(|t| t.name == name);
                    Failure::Failed(format!(
                        "canopy connect: the call to '{name}' failed: {}{}",
                        describe(&error),
                        schema_of(tool)
                    ))
                }
                None => failed("tools/call", &error),
            });
        }
    };
    client.view().clear();
    output(json, &result, format_result);
    if result.is_error == Some(true) {
        if client.declined() {
            eprintln!("canopy connect: the call to '{name}' was declined by the user");
        } else if says_invalid_arguments(&result) {
            let tool = client.tool(peer, &name).await.ok().flatten();
            eprintln!(
                "canopy connect: the tool '{name}' refused its arguments{}",
                schema_of(tool)
            );
        } else {
            eprintln!("canopy connect: the tool '{name}' reported an error");
        }
        return Err(Failure::Quiet(1));
    }
    Ok(())
}

/// Performs one action and prints its result.
async fn perform(session: &Session, client: &Client, action: Action, json: bool) -> Outcome {
    match action {
        Action::Tools => {
            let tools = session
                .list_all_tools()
                .await
                .map_err(|e| failed("tools/list", &e))?;
            output(json, &tools, |v| listing(v, "name", "description"));
        }
        Action::Call {
            name,
            arguments,
            args,
        } => call(session, client, name, &arguments, args.as_deref(), json).await?,
        Action::Resources => {
            let resources = session
                .list_all_resources()
                .await
                .map_err(|e| failed("resources/list", &e))?;
            output(json, &resources, |v| listing(v, "uri", "name"));
        }
        Action::Templates => {
            let templates = session
                .list_all_resource_templates()
                .await
                .map_err(|e| failed("resources/templates/list", &e))?;
            output(json, &templates, |v| listing(v, "uriTemplate", "name"));
        }
        Action::Read { uri } => {
            client.start(&uri);
            let result = session
                .read_resource(ReadResourceRequestParams::new(uri.clone()))
                .await;
            client.done();
            let result = result.map_err(|e| failed("resources/read", &e))?;
            output(json, &result, format_result);
        }
        Action::Prompts => {
            let prompts = session
                .list_all_prompts()
                .await
                .map_err(|e| failed("prompts/list", &e))?;
            output(json, &prompts, prompt_listing);
        }
        Action::Prompt {
            name,
            arguments,
            args,
        } => {
            let mut params = GetPromptRequestParams::new(name.clone());
            // A prompt's arguments are strings: no schema to type them by.
            let text_schema = prompt_argument_schema(&arguments);
            let words = word_arguments(&arguments, &name, Some(&text_schema))
                .map_err(|message| Failure::Usage(format!("canopy connect: {message}")))?;
            if let Some(arguments) = words.or(parse_arguments(args.as_deref())?) {
                params = params.with_arguments(arguments);
            }
            client.start(&name);
            let result = session.get_prompt(params).await;
            client.done();
            let result = result.map_err(|e| failed("prompts/get", &e))?;
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
            .map_err(|e| failed("completion/complete", &e))?;
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
            .map_err(|e| failed("subscriptions/listen", &e))?;
        let stop = shutdown_signal();
        tokio::pin!(stop);
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
                    Err(error) => return Err(failed("subscription", &error)),
                },
                () = &mut stop => {
                    let _ = subscription.cancel().await;
                    break;
                }
            }
        }
    } else {
        session
            .subscribe(SubscribeRequestParams::new(uri))
            .await
            .map_err(|e| failed("resources/subscribe", &e))?;
        let stop = shutdown_signal();
        eprintln!("subscribed to {uri}; Ctrl-C stops");
        stop.await;
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

/// A schema that types every `key=value` word as text (a prompt's arguments are strings).
fn prompt_argument_schema(words: &[String]) -> Map<String, Value> {
    let properties: Map<String, Value> = words
        .iter()
        .filter_map(|word| word.split_once('='))
        .map(|(key, _)| (key.to_owned(), serde_json::json!({"type": "string"})))
        .collect();
    let mut schema = Map::new();
    schema.insert("properties".to_owned(), Value::Object(properties));
    schema
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
    fn suggestions_are_close_names_and_suffixes() {
        let names = [
            "notes__write_note",
            "notes__read_notes",
            "research__web__search",
            "wait",
        ];
        assert_eq!(
            suggestions("notes__writenote", names),
            ["notes__write_note"]
        );
        assert_eq!(suggestions("write_note", names), ["notes__write_note"]);
        assert_eq!(suggestions("wiat", names), ["wait"]);
        assert!(suggestions("frobnicate", names).is_empty());
        let tools: Vec<Tool> = Vec::new();
        assert_eq!(
            unknown_tool("x", &tools),
            "canopy connect: no tool 'x' on the server (it has no tools)"
        );
    }

    #[test]
    fn listings_are_one_line_per_item() {
        let tools = serde_json::json!([{"name": "a", "description": "does a"}, {"name": "b"}]);
        assert_eq!(listing(&tools, "name", "description"), "a — does a\nb");
        let prompts = serde_json::json!([{"name": "p", "arguments": [{"name": "x", "required": true}, {"name": "y"}], "description": "d"}]);
        assert_eq!(prompt_listing(&prompts), "p(x*, y) — d");
    }
}
