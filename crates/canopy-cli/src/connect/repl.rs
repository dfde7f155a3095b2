//! The interactive session of `canopy connect` (no subcommand): one command per line, parsed
//! by the one-shot subcommands' own grammar ([`Action`]), until `quit` or end of input.
//!
//! On a terminal the lines are read with rustyline: line editing, history, and Tab
//! completion of the commands, the server's tool names (its `tools/list`, listed again after
//! a `list_changed`) and a tool's argument names (from its input schema). Other input (a
//! pipe, a file) is read line by line, without a prompt.

use std::{
    borrow::Cow,
    io::{BufRead, IsTerminal},
};

use clap::{Parser, error::ErrorKind};
use rmcp::{Peer, RoleClient, model::Tool};
use rustyline::{
    Context, Editor, Helper,
    completion::{Completer, Pair},
    error::ReadlineError,
    highlight::Highlighter,
    hint::Hinter,
    history::DefaultHistory,
    validate::Validator,
};

use super::{
    Action,
    client::{Client, Session},
    perform,
};
use crate::{Failure, Outcome, prompt::terminal_config};

/// The REPL's commands: name, usage and what it does (the help, the usage errors and the
/// completion of command names all come from here).
const COMMANDS: &[(&str, &str, &str)] = &[
    ("tools", "tools", "list the tools"),
    (
        "call",
        "call NAME [key=value ...] | call NAME {json}",
        "call a tool",
    ),
    ("resources", "resources", "list the resources"),
    ("templates", "templates", "list the resource templates"),
    ("read", "read URI", "read a resource"),
    ("prompts", "prompts", "list the prompts"),
    (
        "prompt",
        "prompt NAME [key=value ...] | prompt NAME {json}",
        "get a prompt",
    ),
    (
        "complete",
        "complete (--prompt NAME | --template URI) ARG [VALUE]",
        "complete an argument",
    ),
    (
        "subscribe",
        "subscribe URI",
        "print a resource's updates until Ctrl-C",
    ),
    ("help", "help", "this list"),
    ("quit", "quit", "leave (Ctrl-D and end of input too)"),
];

/// The help text: one line per command.
fn help() -> String {
    let width = COMMANDS.iter().map(|(_, u, _)| u.len()).max().unwrap_or(0);
    let mut text = "commands:".to_owned();
    for (_, usage, what) in COMMANDS {
        text.push_str(&format!("\n  {usage:<width$}  {what}"));
    }
    text.push_str(
        "\nValues are typed by the tool's input schema; quote a value with spaces: \
         query=\"rust lang\".\nTab completes commands, tool names and argument names.",
    );
    text
}

fn usage(command: &str) -> Option<&'static str> {
    COMMANDS
        .iter()
        .find(|(name, _, _)| *name == command)
        .map(|(_, usage, _)| *usage)
}

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

/// A REPL line, parsed as the one-shot subcommands are.
#[derive(Debug, Parser)]
#[command(
    no_binary_name = true,
    disable_help_flag = true,
    disable_help_subcommand = true
)]
struct Line {
    #[command(subcommand)]
    action: Action,
}

/// The words of a line: as a shell splits them, except that after `call NAME` or
/// `prompt NAME` a JSON object is the rest of the line, so it needs no quoting.
fn words(line: &str) -> Result<Vec<String>, String> {
    let mut parts = line.splitn(3, char::is_whitespace);
    if let (Some(command @ ("call" | "prompt")), Some(name), Some(rest)) =
        (parts.next(), parts.next(), parts.next())
        && rest.trim_start().starts_with('{')
    {
        return Ok(vec![
            command.to_owned(),
            name.to_owned(),
            rest.trim().to_owned(),
        ]);
    }
    shlex::split(line).ok_or_else(|| "unbalanced quotes".to_owned())
}

/// Parses a REPL line.
pub(crate) fn parse_line(line: &str) -> Result<ReplLine, String> {
    let line = line.trim();
    let words = words(line)?;
    let Some(command) = words.first() else {
        return Ok(ReplLine::Empty);
    };
    match command.as_str() {
        "help" | "?" => return Ok(ReplLine::Help),
        "quit" | "exit" | "q" => return Ok(ReplLine::Quit),
        _ => {}
    }
    match Line::try_parse_from(&words) {
        Ok(parsed) => Ok(ReplLine::Action(parsed.action)),
        Err(error) => Err(match (error.kind(), usage(command)) {
            (ErrorKind::InvalidSubcommand, _) | (_, None) => {
                format!("unknown command '{command}' (type `help`)")
            }
            (ErrorKind::MissingRequiredArgument | ErrorKind::MissingSubcommand, Some(usage)) => {
                format!("usage: {usage}")
            }
            (_, Some(usage)) => {
                let rendered = error.to_string();
                let first = rendered.lines().next().unwrap_or_default();
                let first = first.strip_prefix("error: ").unwrap_or(first);
                format!("{first}\nusage: {usage}")
            }
        }),
    }
}

/// Runs the interactive session.
pub(crate) async fn run(session: &Session, client: &Client, json: bool) -> Outcome {
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
    let mut editor = if interactive {
        let mut editor: Editor<Completion, DefaultHistory> =
            Editor::with_config(terminal_config(true))
                .map_err(|error| Failure::Failed(format!("canopy connect: {error}")))?;
        editor.set_helper(Some(Completion {
            client: client.clone(),
            peer: session.peer().clone(),
            runtime: tokio::runtime::Handle::current(),
        }));
        // List the tools now, so the first Tab does not wait for the server.
        let _ = client.tools(session.peer()).await;
        Some(editor)
    } else {
        None
    };
    loop {
        let (back, line) = tokio::task::spawn_blocking(move || {
            let line = match editor.as_mut() {
                Some(editor) => match editor.readline("canopy> ") {
                    Ok(line) => Ok(Some(line)),
                    // Ctrl-C drops the line typed so far, as in a shell.
                    Err(ReadlineError::Interrupted) => Ok(Some(String::new())),
                    Err(ReadlineError::Eof) => Ok(None),
                    Err(error) => Err(error.to_string()),
                },
                None => {
                    let mut line = String::new();
                    std::io::stdin()
                        .lock()
                        .read_line(&mut line)
                        .map(|n| (n > 0).then_some(line))
                        .map_err(|error| error.to_string())
                }
            };
            (editor, line)
        })
        .await
        .map_err(|error| Failure::Failed(format!("canopy connect: {error}")))?;
        editor = back;
        let line = line.map_err(|error| {
            Failure::Failed(format!("canopy connect: cannot read a command: {error}"))
        })?;
        let Some(line) = line else { break };
        match parse_line(&line) {
            Ok(ReplLine::Empty) => {}
            Ok(ReplLine::Help) => eprintln!("{}", help()),
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

/// Tab completion from the commands and the server's tools.
struct Completion {
    client: Client,
    peer: Peer<RoleClient>,
    runtime: tokio::runtime::Handle,
}

impl Completion {
    /// The tools: the cached list, or (after a `list_changed`) a fresh one. Completion runs
    /// on the blocking thread that reads the line, so it may wait for the server.
    fn tools(&self) -> Vec<Tool> {
        self.client.cached_tools().unwrap_or_else(|| {
            self.runtime
                .block_on(self.client.tools(&self.peer))
                .unwrap_or_default()
        })
    }
}

/// The candidates for the word being typed at the end of `line`: a command first, a tool's
/// name after `call`, then `key=` for each argument of its schema not given yet.
pub(crate) fn candidates(line: &str, tools: impl FnOnce() -> Vec<Tool>) -> (usize, Vec<String>) {
    let start = line.rfind(char::is_whitespace).map_or(0, |at| at + 1);
    let typed = &line[start..];
    let before: Vec<&str> = line[..start].split_whitespace().collect();
    let matching = |names: Vec<String>| -> Vec<String> {
        names
            .into_iter()
            .filter(|name| name.starts_with(typed))
            .collect()
    };
    let found = match before.as_slice() {
        [] => matching(
            COMMANDS
                .iter()
                .map(|(name, _, _)| (*name).to_owned())
                .collect(),
        ),
        ["call"] => matching(tools().iter().map(|t| t.name.to_string()).collect()),
        ["call", name, given @ ..] if !typed.contains('=') => {
            let given: Vec<&str> = given
                .iter()
                .filter_map(|word| word.split_once('=').map(|(key, _)| key))
                .collect();
            let properties = tools()
                .into_iter()
                .find(|t| t.name == *name)
                .and_then(|t| {
                    t.input_schema
                        .get("properties")
                        .and_then(serde_json::Value::as_object)
                        .map(|p| p.keys().cloned().collect::<Vec<_>>())
                })
                .unwrap_or_default();
            matching(
                properties
                    .into_iter()
                    .filter(|key| !given.contains(&key.as_str()))
                    .map(|key| format!("{key}="))
                    .collect(),
            )
        }
        _ => Vec::new(),
    };
    (start, found)
}

impl Completer for Completion {
    type Candidate = Pair;

    fn complete(
        &self,
        line: &str,
        pos: usize,
        _context: &Context<'_>,
    ) -> rustyline::Result<(usize, Vec<Pair>)> {
        let (start, found) = candidates(&line[..pos], || self.tools());
        let pairs = found
            .into_iter()
            .map(|name| {
                // A command or a tool's name is followed by a space; `key=` by its value.
                let replacement = if name.ends_with('=') {
                    name.clone()
                } else {
                    format!("{name} ")
                };
                Pair {
                    display: name,
                    replacement,
                }
            })
            .collect();
        Ok((start, pairs))
    }
}

impl Hinter for Completion {
    type Hint = String;
}

impl Highlighter for Completion {
    fn highlight_prompt<'b, 's: 'b, 'p: 'b>(
        &'s self,
        prompt: &'p str,
        _default: bool,
    ) -> Cow<'b, str> {
        Cow::Borrowed(prompt)
    }
}

impl Validator for Completion {}

impl Helper for Completion {}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    #[test]
    fn lines_parse_with_the_subcommands_grammar() {
        assert_eq!(parse_line("tools"), Ok(ReplLine::Action(Action::Tools)));
        assert_eq!(
            parse_line("call web__search {\"query\": \"rust lang\"}"),
            Ok(ReplLine::Action(Action::Call {
                name: "web__search".into(),
                arguments: vec!["{\"query\": \"rust lang\"}".into()],
                args: None,
            }))
        );
        assert_eq!(
            parse_line("call web__search query=\"rust lang\" n=3"),
            Ok(ReplLine::Action(Action::Call {
                name: "web__search".into(),
                arguments: vec!["query=rust lang".into(), "n=3".into()],
                args: None,
            }))
        );
        assert_eq!(
            parse_line("call fail"),
            Ok(ReplLine::Action(Action::Call {
                name: "fail".into(),
                arguments: vec![],
                args: None
            }))
        );
        assert_eq!(
            parse_line("read notes://all"),
            Ok(ReplLine::Action(Action::Read {
                uri: "notes://all".into()
            }))
        );
        assert_eq!(
            parse_line("complete --prompt summarize topic ru"),
            Ok(ReplLine::Action(Action::Complete {
                prompt: Some("summarize".into()),
                template: None,
                arg: "topic".into(),
                value: "ru".into()
            }))
        );
        assert_eq!(
            parse_line("complete --template notes://{id} id"),
            Ok(ReplLine::Action(Action::Complete {
                prompt: None,
                template: Some("notes://{id}".into()),
                arg: "id".into(),
                value: String::new()
            }))
        );
        assert_eq!(parse_line("  "), Ok(ReplLine::Empty));
        assert_eq!(parse_line("quit"), Ok(ReplLine::Quit));
        assert_eq!(parse_line("help"), Ok(ReplLine::Help));
        assert_eq!(parse_line("read"), Err("usage: read URI".into()));
        assert_eq!(
            parse_line("call"),
            Err("usage: call NAME [key=value ...] | call NAME {json}".into())
        );
        assert_eq!(
            parse_line("frobnicate"),
            Err("unknown command 'frobnicate' (type `help`)".into())
        );
        assert_eq!(parse_line("call x \"open"), Err("unbalanced quotes".into()));
    }

    #[test]
    fn the_help_never_mentions_args() {
        assert!(!help().contains("--args"), "{}", help());
        assert!(help().contains("call NAME [key=value ...]"));
    }

    fn tool(name: &str, properties: &[&str]) -> Tool {
        let properties: serde_json::Map<String, serde_json::Value> = properties
            .iter()
            .map(|p| ((*p).to_owned(), serde_json::json!({"type": "string"})))
            .collect();
        let schema = serde_json::json!({"type": "object", "properties": properties});
        Tool::new(
            name.to_owned(),
            "",
            Arc::new(schema.as_object().cloned().unwrap_or_default()),
        )
    }

    #[test]
    fn tab_completes_commands_tools_and_argument_names() {
        let tools = || {
            vec![
                tool("notes__write_note", &["text"]),
                tool("notes__read_notes", &[]),
                tool("research__web__search", &["query", "limit"]),
            ]
        };
        assert_eq!(candidates("to", tools), (0, vec!["tools".to_owned()]));
        assert_eq!(
            candidates("call notes", tools),
            (
                5,
                vec![
                    "notes__write_note".to_owned(),
                    "notes__read_notes".to_owned()
                ]
            )
        );
        assert_eq!(
            candidates("call research__web__search ", tools),
            (27, vec!["limit=".to_owned(), "query=".to_owned()])
        );
        assert_eq!(
            candidates("call research__web__search query=x l", tools),
            (35, vec!["limit=".to_owned()])
        );
        assert_eq!(
            candidates("call research__web__search query=r", tools).1,
            Vec::<String>::new()
        );
    }
}
