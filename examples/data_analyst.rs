//! A data analyst: an agent over the `canopy-sql` server (a stdio child serving the bundled
//! sample shop database) that answers a question with the schema and a query.
//!
//! ```text
//! analyst      agent: lists the tables, queries, answers
//! └─ shop      canopy-sql: query, explain, list_tables, describe_table, sample_rows
//! ```
//!
//! Offline by default: a scripted model picks a query for the question (who spent the most,
//! revenue per category, or orders per status). With `OPENAI_API_KEY` (optionally
//! `OPENAI_BASE_URL`, `CANOPY_MODEL`) or `ANTHROPIC_API_KEY` set, a real model writes the SQL.
//! The same analyst as a tree file: `canopy run examples/trees/analyst.toml "…"`.
//!
//! Run: `cargo run --example data_analyst [QUESTION]` (build `canopy-sql` first, or let the
//! example start it with `cargo run -p canopy-sql`).

use std::{path::PathBuf, sync::Arc};

use canopy::{
    agent::{
        Agent, AgentConfig, Model, ModelError, ModelRequest, Part, Role, RunSummary,
        providers::scripted::{ScriptStep, Scripted},
    },
    node::{EventKind, Node, StdioSpec, Tree},
};
use serde_json::{Value, json};

const DEFAULT_QUESTION: &str = "Which customers spent the most?";

const USAGE: &str = "\
usage: data_analyst [QUESTION]

An agent answers QUESTION (default: \"Which customers spent the most?\") from canopy-sql's
sample shop database. Offline, a scripted model picks the query; with OPENAI_API_KEY
(optionally OPENAI_BASE_URL, CANOPY_MODEL) or ANTHROPIC_API_KEY set, a real model does.

Options:
  -h, --help  print this help";

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    if std::env::args().skip(1).any(|a| a == "-h" || a == "--help") {
        println!("{USAGE}");
        return Ok(());
    }
    let question = std::env::args()
        .nth(1)
        .unwrap_or_else(|| DEFAULT_QUESTION.to_owned());
    let analyst = Node::service(
        "analyst",
        Agent::from_arc(
            model()?,
            AgentConfig::default()
                .system(
                    "You are a data analyst for a small shop. Use list_tables and describe_table \
                     to learn the schema, then one read-only SQL query, and answer with the \
                     numbers.",
                )
                .max_turns(8),
        ),
    )
    .child(Node::stdio("shop", sql_server()));
    let tree = Tree::builder(analyst).build().await?;

    println!("Question: {question}\n");
    let mut task = serde_json::Map::new();
    task.insert("task".to_owned(), Value::String(question));
    let mut call = tree.start_call("run", Some(task));
    while let Some(event) = call.next_event().await {
        match &event.kind {
            EventKind::Partial { data } if data["toolCall"].is_string() => {
                println!(
                    "[analyst] calls {}",
                    data["toolCall"].as_str().unwrap_or("?")
                );
            }
            EventKind::Status {
                state, capability, ..
            } if !event.path.is_root() => {
                println!(
                    "[{}] {state:?} {}",
                    event.path,
                    capability.as_deref().unwrap_or("")
                );
            }
            _ => {}
        }
    }
    let result = call.result().await?;
    let summary: RunSummary =
        serde_json::from_value(result.structured_content.unwrap_or_default())?;
    println!("\nAnswer:\n{}\n", summary.answer);
    println!(
        "{} turns, {} tool calls, {} input and {} output tokens ({})",
        summary.turns,
        summary.tool_calls,
        summary.total.input_tokens,
        summary.total.output_tokens,
        summary.model
    );
    tree.shutdown().await;
    Ok(())
}

/// `canopy-sql` on the sample database: the binary beside this example's when it was built,
/// else through cargo.
fn sql_server() -> StdioSpec {
    let data = "target/canopy-sql-sample";
    let built: Option<PathBuf> = std::env::current_exe()
        .ok()
        .and_then(|exe| Some(exe.parent()?.parent()?.join("canopy-sql")))
        .filter(|path| path.exists());
    match built {
        Some(path) => StdioSpec::new(path.display().to_string()).args(["--data-dir", data]),
        None => StdioSpec::new("cargo").args([
            "run",
            "--quiet",
            "-p",
            "canopy-sql",
            "--",
            "--data-dir",
            data,
        ]),
    }
}

fn model() -> anyhow::Result<Arc<dyn Model>> {
    let model = std::env::var("CANOPY_MODEL").ok();
    if let Ok(key) = std::env::var("OPENAI_API_KEY") {
        use canopy::agent::providers::openai::{OpenAi, OpenAiConfig};
        let mut config =
            OpenAiConfig::new(model.unwrap_or_else(|| "gpt-4o-mini".to_owned())).api_key(key);
        if let Ok(url) = std::env::var("OPENAI_BASE_URL") {
            config = config.base_url(url);
        }
        return Ok(Arc::new(OpenAi::new(config)?));
    }
    if let Ok(key) = std::env::var("ANTHROPIC_API_KEY") {
        use canopy::agent::providers::anthropic::{Anthropic, AnthropicConfig};
        let config = AnthropicConfig::new(model.unwrap_or_else(|| "claude-sonnet-4-5".to_owned()))
            .api_key(key);
        return Ok(Arc::new(Anthropic::new(config)?));
    }
    Ok(Arc::new(Scripted::from_fn("analyst", analyst)))
}

/// The scripted analyst: the tables, then a query chosen for the question, then the rows.
fn analyst(request: &ModelRequest) -> Result<ScriptStep, ModelError> {
    let question = request.messages[0].text().to_lowercase();
    let turn = request
        .messages
        .iter()
        .filter(|m| m.role == Role::Assistant)
        .count();
    let last = request
        .messages
        .last()
        .map(|m| {
            m.parts
                .iter()
                .filter_map(|p| match p {
                    Part::ToolResult(r) => Some(r.content.clone()),
                    _ => None,
                })
                .collect::<Vec<_>>()
                .join("\n")
        })
        .unwrap_or_default();
    Ok(match turn {
        0 => ScriptStep::say("Looking at the schema first.").and_call("list_tables", json!({})),
        1 => {
            let sql = if question.contains("categor") || question.contains("product") {
                "SELECT p.category, ROUND(SUM(i.quantity * i.unit_price), 2) AS revenue \
                 FROM order_items i JOIN products p ON p.id = i.product_id \
                 GROUP BY p.category ORDER BY revenue DESC"
            } else if question.contains("status") || question.contains("orders") {
                "SELECT status, COUNT(*) AS orders FROM orders GROUP BY status ORDER BY orders DESC"
            } else {
                "SELECT c.name, ROUND(SUM(i.quantity * i.unit_price), 2) AS spent \
                 FROM customers c JOIN orders o ON o.customer_id = c.id \
                 JOIN order_items i ON i.order_id = o.id \
                 GROUP BY c.name ORDER BY spent DESC LIMIT 3"
            };
            ScriptStep::say("Querying.").and_call("query", json!({ "sql": sql }))
        }
        _ => ScriptStep::say(format!("Here is what the data says:\n{last}")),
    })
}
