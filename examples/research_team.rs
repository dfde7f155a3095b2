//! A research team of agents: a lead agent delegates a question to two researcher agents,
//! each working over its own copy of a small forest-ecology library (`search`, `read`; the
//! documents are in `examples/corpus/`), and files the answer with a notes writer whose
//! `write_note` the lead's policy gates with an `ask` prompt.
//!
//! ```text
//! lead                 agent: delegates, notes, answers      policy: ask notes/write_note
//! ├─ ecology           agent: researches how networks work
//! │  └─ library        search, read
//! ├─ forestry          agent: researches what it means for forests
//! │  └─ library        search, read
//! └─ notes             write_note, read_notes
//! ```
//!
//! It prints the run as it happens — each agent's turns, what it says, the tools it calls
//! and where they run, the permission prompt — then the answer and a usage table rolled up
//! from the nested agents.
//!
//! Offline by default: every agent is a scripted model that searches, reads the best hit and
//! summarises what it read. With `OPENAI_API_KEY` set (and optionally `OPENAI_BASE_URL` for
//! any OpenAI-compatible server, `CANOPY_MODEL` for the model), or `ANTHROPIC_API_KEY`, every
//! agent uses that provider instead.
//!
//! Run: `cargo run --example research_team [-- --yes] [QUESTION]`

#[path = "common/corpus.rs"]
mod corpus;

use std::{
    collections::BTreeMap,
    io::{BufRead, IsTerminal, Write},
    sync::Arc,
};

use canopy::{
    agent::{
        Agent, AgentConfig, Model, ModelError, ModelRequest, Part, Pricing, Role, UsageReport,
        providers::scripted::{ScriptStep, Scripted},
    },
    node::{Answer, EventKind, Node, Tree},
    topology::Policy,
};
use canopy_fixtures::servers;
use serde_json::{Value, json};

const DEFAULT_QUESTION: &str = "How do trees share resources through fungal networks?";

const USAGE: &str = "\
usage: research_team [--yes] [QUESTION]

A lead agent delegates QUESTION to two researcher agents and files the answer with a notes
writer whose write_note asks first. Offline, every agent is scripted; with OPENAI_API_KEY
(optionally OPENAI_BASE_URL, CANOPY_MODEL) or ANTHROPIC_API_KEY set, a real model is used.

Options:
  --yes       accept the permission prompt without asking
  -h, --help  print this help";

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "-h" || a == "--help") {
        println!("{USAGE}");
        return Ok(());
    }
    let yes = args.iter().any(|a| a == "--yes");
    let question = args
        .iter()
        .find(|a| !a.starts_with("--"))
        .cloned()
        .unwrap_or_else(|| DEFAULT_QUESTION.to_owned());

    let (lead_model, ecology_model, forestry_model) = models()?;
    let researcher = |name: &str, focus: &str, model: Arc<dyn Model>| {
        Node::service(
            name,
            Agent::from_arc(
                model,
                AgentConfig::default()
                    .tool("run", format!("Researches {focus} in the library"))
                    .system(format!(
                        "You research {focus}. Search the library, read what is relevant, \
                         and answer in two or three sentences citing document ids."
                    ))
                    .max_turns(6)
                    .pricing(Pricing {
                        input_per_mtok: 0.15,
                        output_per_mtok: 0.60,
                    }),
            ),
        )
        .child(Node::server("library", corpus::Corpus::new()))
    };
    let lead = Node::service(
        "lead",
        Agent::from_arc(
            lead_model,
            AgentConfig::default()
                .system(
                    "You lead two researchers. Ask both, file a note with the findings, and \
                     answer the question.",
                )
                .max_turns(6)
                .pricing(Pricing {
                    input_per_mtok: 2.50,
                    output_per_mtok: 10.0,
                }),
        ),
    )
    .policy(Policy::new().ask("notes/write_note"))
    .child(researcher(
        "ecology",
        "how mycorrhizal networks work",
        ecology_model,
    ))
    .child(researcher(
        "forestry",
        "what the networks mean for forests",
        forestry_model,
    ))
    .child(Node::server("notes", servers::Notes::new()));
    let tree = Tree::builder(lead).build().await?;

    println!("Question: {question}\n");
    let mut task = serde_json::Map::new();
    task.insert("task".to_owned(), Value::String(question));
    let mut call = tree.start_call("run", Some(task));
    let mut said: BTreeMap<String, String> = BTreeMap::new();
    let mut usage: BTreeMap<String, UsageReport> = BTreeMap::new();
    while let Some(event) = call.next_event().await {
        let who = if event.path.is_root() {
            "lead".to_owned()
        } else {
            event.path.to_string()
        };
        match &event.kind {
            EventKind::Partial { data } => {
                if let Some(text) = data["text"].as_str() {
                    said.entry(who).or_default().push_str(text);
                } else if let Some(tool) = data["toolCall"].as_str() {
                    flush(&mut said, &who);
                    println!("[{who}] calls {tool}");
                }
            }
            EventKind::Progress {
                message: Some(message),
                ..
            } if message.ends_with("thinking") => println!("[{who}] {message}"),
            EventKind::Status {
                state,
                capability: Some(capability),
                usage: report,
            } => {
                flush(&mut said, &who);
                println!("[{who}] {state:?} {capability}");
                if let Some(report) = report {
                    usage.insert(who, serde_json::from_value(report.clone())?);
                }
            }
            EventKind::Question(prompt) => {
                flush(&mut said, &who);
                let allow = ask(&prompt.message, yes);
                prompt.respond(if allow {
                    Answer::accept()
                } else {
                    Answer::Decline
                });
            }
            _ => {}
        }
    }
    let result = call.result().await?;
    let answer = result
        .content
        .first()
        .and_then(|c| c.as_text())
        .map(|t| t.text.clone())
        .unwrap_or_default();
    println!("\nAnswer:\n{answer}\n");
    println!(
        "{:<10} {:>11} {:>10} {:>12} {:>13} {:>10}",
        "agent", "model calls", "tool calls", "input tokens", "output tokens", "cost (USD)"
    );
    for (agent, report) in &usage {
        println!(
            "{agent:<10} {:>11} {:>10} {:>12} {:>13} {:>10.5}",
            report.model_calls,
            report.tool_calls,
            report.input_tokens,
            report.output_tokens,
            report.cost_usd
        );
    }
    println!("(each row includes the agents below it; `lead` is the whole run)");
    tree.shutdown().await;
    Ok(())
}

/// Prints what `who` said since the last time.
fn flush(said: &mut BTreeMap<String, String>, who: &str) {
    if let Some(text) = said.remove(who)
        && !text.trim().is_empty()
    {
        println!("[{who}] says: {}", text.trim());
    }
}

/// Asks the user about a permission prompt (`--yes` accepts; no terminal declines).
fn ask(message: &str, yes: bool) -> bool {
    if yes {
        println!("[prompt] {message} — accepted (--yes)");
        return true;
    }
    if !std::io::stdin().is_terminal() {
        println!("[prompt] {message} — declined (no terminal; pass --yes to accept)");
        return false;
    }
    print!("[prompt] {message} [y/N] ");
    let _ = std::io::stdout().flush();
    let mut line = String::new();
    let _ = std::io::stdin().lock().read_line(&mut line);
    matches!(line.trim(), "y" | "Y" | "yes")
}

/// The models of the lead and the two researchers.
type Models = (Arc<dyn Model>, Arc<dyn Model>, Arc<dyn Model>);

/// The three agents' models: a real provider when its key is set, else scripted ones.
fn models() -> anyhow::Result<Models> {
    let model = std::env::var("CANOPY_MODEL").ok();
    if let Ok(key) = std::env::var("OPENAI_API_KEY") {
        use canopy::agent::providers::openai::{OpenAi, OpenAiConfig};
        let mut config =
            OpenAiConfig::new(model.unwrap_or_else(|| "gpt-4o-mini".to_owned())).api_key(key);
        if let Ok(url) = std::env::var("OPENAI_BASE_URL") {
            config = config.base_url(url);
        }
        let shared: Arc<dyn Model> = Arc::new(OpenAi::new(config)?);
        return Ok((shared.clone(), shared.clone(), shared));
    }
    if let Ok(key) = std::env::var("ANTHROPIC_API_KEY") {
        use canopy::agent::providers::anthropic::{Anthropic, AnthropicConfig};
        let config = AnthropicConfig::new(model.unwrap_or_else(|| "claude-sonnet-4-5".to_owned()))
            .api_key(key);
        let shared: Arc<dyn Model> = Arc::new(Anthropic::new(config)?);
        return Ok((shared.clone(), shared.clone(), shared));
    }
    Ok((
        Arc::new(Scripted::from_fn("lead", lead)),
        Arc::new(Scripted::from_fn("ecology", |r| {
            researcher(r, "network fungi carbon")
        })),
        Arc::new(Scripted::from_fn("forestry", |r| {
            researcher(r, "forest management trees seedlings")
        })),
    ))
}

/// The tool results of the latest turn, in call order.
fn last_results(request: &ModelRequest) -> Vec<String> {
    request
        .messages
        .last()
        .filter(|m| m.role == Role::User)
        .map(|m| {
            m.parts
                .iter()
                .filter_map(|p| match p {
                    Part::ToolResult(r) => Some(r.content.clone()),
                    _ => None,
                })
                .collect()
        })
        .unwrap_or_default()
}

fn turn(request: &ModelRequest) -> usize {
    request
        .messages
        .iter()
        .filter(|m| m.role == Role::Assistant)
        .count()
}

/// The scripted lead: ask both researchers at once, file a note, answer.
fn lead(request: &ModelRequest) -> Result<ScriptStep, ModelError> {
    let question = request.messages[0].text();
    Ok(match turn(request) {
        0 => ScriptStep::say("I'll ask both researchers at once.")
            .and_call("ecology__run", json!({ "task": question }))
            .and_call("forestry__run", json!({ "task": question })),
        1 => {
            let findings = last_results(request).join(" ");
            ScriptStep::say("Filing the findings as a note.")
                .and_call("write_note", json!({ "text": findings }))
        }
        _ => {
            let findings: Vec<String> = request
                .messages
                .iter()
                .filter(|m| m.role == Role::User)
                .nth(1)
                .map(|m| {
                    m.parts
                        .iter()
                        .filter_map(|p| match p {
                            Part::ToolResult(r) => Some(r.content.clone()),
                            _ => None,
                        })
                        .collect()
                })
                .unwrap_or_default();
            ScriptStep::say(format!(
                "In short: {} Also: {}",
                findings.first().cloned().unwrap_or_default(),
                findings.get(1).cloned().unwrap_or_default()
            ))
        }
    })
}

/// A scripted researcher: search with its focus, read the best hit, summarise it.
fn researcher(request: &ModelRequest, focus: &str) -> Result<ScriptStep, ModelError> {
    Ok(match turn(request) {
        0 => {
            ScriptStep::say("Searching the library.").and_call("search", json!({ "query": focus }))
        }
        1 => {
            let hits = last_results(request).join("\n");
            let best = hits.split(':').next().unwrap_or_default().trim().to_owned();
            ScriptStep::say(format!("Reading '{best}'.")).and_call("read", json!({ "id": best }))
        }
        _ => {
            let document = last_results(request).join("\n");
            let title = document
                .lines()
                .next()
                .unwrap_or_default()
                .trim_start_matches("# ");
            let first_sentence = document
                .lines()
                .skip(2)
                .collect::<Vec<_>>()
                .join(" ")
                .split(". ")
                .next()
                .unwrap_or_default()
                .to_owned();
            ScriptStep::say(format!("{title}: {first_sentence}."))
        }
    })
}
