//! `canopy run`: run the root agent of a tree on a task, with a live view of the whole tree
//! (which agent is thinking, what it says, which tool runs where, progress bars, prompts
//! answered inline), then the final answer and a usage and cost table per agent.

use std::{collections::BTreeMap, path::PathBuf, time::Duration};

use canopy_agent::UsageReport;
use canopy_node::{Event, EventKind, Limits, NodeState, Tree};
use canopy_topology::{CapabilityKind, NodePath};
use clap::Args;
use serde_json::Value;

use crate::{
    Failure, Outcome,
    call::{EventFlags, drive, parse_timeout},
    load::build_tree,
    render::{LiveView, node_label, print_line},
};

/// Arguments of `canopy run`.
#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  canopy run analyst.toml \"Which customers spent the most?\"
  canopy run team.toml \"Summarise the corpus\" --yes
  canopy run team.toml \"…\" --max-calls 20 --max-tokens 50000 --timeout 120
  canopy run team.toml \"…\" --json | jq -c 'select(.type == \"partial\")'

The root node must be an agent (a tree file whose root has an [agent] table). Its tool is
called with {\"task\": TASK}. On a terminal the run is shown live: each agent's turns and
streamed text, each tool call with the node that runs it, progress bars, and permission
prompts asked inline (--yes accepts them, --no declines them; with no terminal they are
declined). Without a terminal the same is printed as plain lines on stderr. The final answer
and a usage table go to stdout: one row per agent with what it used itself (model calls, tool
calls, input and output tokens, cost in USD; its agent descendants have their own rows), and
a total row for the whole run.
With --json, stdout has the call's events, one JSON object per line, and nothing else.
Exit status: 0 when the agent answered, 1 when the run failed, stopped at its turn limit or
ran out of budget, 2 bad usage or a bad tree file.")]
pub(crate) struct RunArgs {
    /// The tree file (TOML); its root must be an agent.
    #[arg(value_name = "TREE")]
    pub(crate) tree: PathBuf,
    /// How the tree is built (`--strict`).
    #[command(flatten)]
    pub(crate) build: crate::load::BuildArgs,
    /// The task for the root agent.
    #[arg(value_name = "TASK")]
    pub(crate) task: String,
    #[command(flatten)]
    pub(crate) output: EventFlags,
    /// The most tool calls the whole run may make (every node on the way counts).
    #[arg(long, value_name = "N")]
    pub(crate) max_calls: Option<u64>,
    /// The most model tokens every agent of the run may spend together.
    #[arg(long, value_name = "N")]
    pub(crate) max_tokens: Option<u64>,
    /// The run's deadline, in seconds: agents stop and answer with what they have; a run
    /// still busy 5 s later is cancelled.
    #[arg(long, value_name = "SECS", value_parser = parse_timeout)]
    pub(crate) timeout: Option<Duration>,
    /// The root agent's tool to call, when the root has more than one.
    #[arg(long, value_name = "NAME")]
    pub(crate) tool: Option<String>,
}

/// How long a run may go on past its `--timeout` (finishing a tool call, answering) before
/// it is cancelled.
const DEADLINE_GRACE: Duration = Duration::from_secs(5);

/// Runs `canopy run`.
pub(crate) async fn run(args: RunArgs) -> Outcome {
    let answering = args.output.answering();
    let tree = build_tree(&args.tree, args.build).await?;
    let tool = match root_tool(&tree, args.tool.as_deref()) {
        Ok(tool) => tool,
        Err(message) => {
            tree.shutdown().await;
            return Err(Failure::Usage(format!(
                "canopy: {}: {message}",
                args.tree.display()
            )));
        }
    };
    let limits = Limits {
        calls: args.max_calls,
        tokens: args.max_tokens,
        time: args.timeout,
    };
    let mut task = serde_json::Map::new();
    task.insert("task".to_owned(), Value::String(args.task.clone()));
    let call = tree.start_call_with(&tool, Some(task), limits);
    let mut view = args.output.view(tree.name());
    let mut agents = AgentView::default();
    // The budget's deadline stops agents between turns, but a tool call already running
    // is not interrupted by it: past the deadline and a short grace, the run is cancelled.
    let guard = args.timeout.map(|t| t + DEADLINE_GRACE);
    let ended = drive(
        call,
        args.output.json,
        answering,
        guard,
        |view, event| agents.show(view, event),
        &mut view,
    )
    .await;
    tree.shutdown().await;
    let result = match &ended.result {
        Ok(result) => result,
        Err(_) if ended.timed_out => {
            return Err(Failure::Failed(format!(
                "canopy: the run passed its deadline ({} s) and had not stopped {} s later, so \
                 it was cancelled",
                args.timeout.map_or(0.0, |t| t.as_secs_f64()),
                DEADLINE_GRACE.as_secs()
            )));
        }
        Err(error) => return Err(ended.failure(&tool, guard, error)),
    };
    let summary = result.structured_content.clone().unwrap_or(Value::Null);
    if !args.output.json {
        let answer = result
            .content
            .iter()
            .filter_map(|c| c.as_text().map(|t| t.text.as_str()))
            .collect::<Vec<_>>()
            .join("\n");
        print_line(&answer);
        print_line("");
        print_line(&usage_table(&agents.usage, &summary, tree.name()));
    }
    if result.is_error == Some(true) {
        return Err(Failure::Failed(format!(
            "canopy: the root agent's tool '{tool}' reported an error"
        )));
    }
    match summary.get("outcome").and_then(Value::as_str) {
        Some("answered") | None => Ok(()),
        Some("max_turns") => Err(Failure::Failed(format!(
            "canopy: the root agent stopped at its turn limit ({} turns) without a final answer",
            summary["turns"]
        ))),
        Some(_) => Err(Failure::Failed(format!(
            "canopy: the run stopped: {}",
            summary
                .get("budget")
                .and_then(Value::as_str)
                .unwrap_or("the budget ran out")
        ))),
    }
}

/// The root agent's tool: the exposed name of the tool the root node itself serves.
fn root_tool(tree: &Tree, wanted: Option<&str>) -> Result<String, String> {
    let topology = tree.topology();
    let root = topology.node(topology.root());
    if root.kind != "agent" {
        return Err(format!(
            "the root node '{}' is a {}, not an agent; `canopy run` needs a root with an \
             [agent] table (use `canopy call` to call a tool)",
            tree.name(),
            root.kind
        ));
    }
    let plan = tree.routes();
    let own: Vec<String> = plan
        .routes(CapabilityKind::Tool)
        .iter()
        .filter(|route| route.id.node == NodePath::root())
        .map(|route| route.exposed.to_string())
        .collect();
    match (wanted, own.as_slice()) {
        (Some(name), _) if own.iter().any(|t| t == name) => Ok(name.to_owned()),
        (Some(name), _) => Err(format!(
            "the root agent has no tool '{name}' (it has: {})",
            own.join(", ")
        )),
        (None, [one]) => Ok(one.clone()),
        (None, []) => Err("the root agent offers no tool".to_owned()),
        (None, many) => Err(format!(
            "the root agent has several tools ({}); pick one with --tool",
            many.join(", ")
        )),
    }
}

/// What the view remembers of agents: the text each is streaming, and the usage each
/// reported when it finished (including its descendants').
#[derive(Debug, Default)]
struct AgentView {
    text: BTreeMap<String, String>,
    usage: BTreeMap<String, UsageReport>,
}

impl AgentView {
    fn show(&mut self, view: &mut LiveView, event: &Event) {
        let path = event.path.to_string();
        let key = view.label(&path);
        match &event.kind {
            EventKind::Partial { data } => {
                if let Some(text) = data.get("text").and_then(Value::as_str) {
                    let buffer = self.text.entry(path).or_default();
                    buffer.push_str(text);
                    let tail: String = buffer
                        .chars()
                        .rev()
                        .take(60)
                        .collect::<Vec<_>>()
                        .into_iter()
                        .rev()
                        .collect();
                    view.note(&key, &format!("says: {}", tail.replace('\n', " ")));
                } else if let Some(tool) = data.get("toolCall").and_then(Value::as_str) {
                    self.flush(view, &path);
                    view.line(&format!("[{key}] calls {tool}"));
                } else {
                    view.show(event);
                }
            }
            EventKind::Status {
                state: NodeState::Finished | NodeState::Failed,
                usage: Some(usage),
                capability,
            } => {
                self.flush(view, &path);
                view.finish(&key);
                let report: UsageReport = serde_json::from_value(usage.clone()).unwrap_or_default();
                view.line(&format!(
                    "[{key}] finished {} ({} tokens in, {} out{})",
                    capability.as_deref().unwrap_or("its task"),
                    report.input_tokens,
                    report.output_tokens,
                    cost_text(report.cost_usd, ", $")
                ));
                self.usage.insert(path, report);
            }
            _ => {
                if !matches!(event.kind, EventKind::Progress { .. }) {
                    self.flush(view, &path);
                }
                view.show(event);
            }
        }
    }

    /// Prints what the agent at `path` said since the last time.
    fn flush(&mut self, view: &LiveView, path: &str) {
        if let Some(text) = self.text.remove(path)
            && !text.trim().is_empty()
        {
            view.line(&format!("[{}] says: {}", view.label(path), text.trim()));
        }
    }
}

fn cost_text(cost: f64, prefix: &str) -> String {
    if cost > 0.0 {
        format!("{prefix}{cost:.4}")
    } else {
        String::new()
    }
}

/// The usage table: one row per agent with its own usage (what it reported minus what its
/// nearest agent descendants reported), and the run's total.
fn usage_table(reported: &BTreeMap<String, UsageReport>, summary: &Value, root: &str) -> String {
    let total: UsageReport = summary
        .get("total")
        .and_then(|t| serde_json::from_value(t.clone()).ok())
        .or_else(|| reported.get("").copied())
        .unwrap_or_default();
    let mut rows = vec![[
        "agent".to_owned(),
        "model calls".to_owned(),
        "tool calls".to_owned(),
        "input tokens".to_owned(),
        "output tokens".to_owned(),
        "cost (USD)".to_owned(),
    ]];
    for (path, report) in reported {
        let mut own = *report;
        for (other, below) in reported {
            if is_nearest_agent_below(path, other, reported) {
                own.input_tokens = own.input_tokens.saturating_sub(below.input_tokens);
                own.output_tokens = own.output_tokens.saturating_sub(below.output_tokens);
                own.model_calls = own.model_calls.saturating_sub(below.model_calls);
                own.tool_calls = own.tool_calls.saturating_sub(below.tool_calls);
                own.cost_usd -= below.cost_usd;
            }
        }
        rows.push(row(&node_label(path, root), &own));
    }
    rows.push(row("total", &total));
    let widths: Vec<usize> = (0..6)
        .map(|i| rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0))
        .collect();
    rows.iter()
        .map(|r| {
            r.iter()
                .zip(&widths)
                .enumerate()
                .map(|(i, (cell, width))| {
                    if i == 0 {
                        format!("{cell:<width$}")
                    } else {
                        format!("{cell:>width$}")
                    }
                })
                .collect::<Vec<_>>()
                .join("  ")
                .trim_end()
                .to_owned()
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn row(label: &str, usage: &UsageReport) -> [String; 6] {
    [
        label.to_owned(),
        usage.model_calls.to_string(),
        usage.tool_calls.to_string(),
        usage.input_tokens.to_string(),
        usage.output_tokens.to_string(),
        format!("{:.4}", usage.cost_usd.max(0.0)),
    ]
}

/// Whether `below` is an agent under `path` with no other reporting agent in between.
fn is_nearest_agent_below(
    path: &str,
    below: &str,
    reported: &BTreeMap<String, UsageReport>,
) -> bool {
    let under = |ancestor: &str, node: &str| {
        node != ancestor && (ancestor.is_empty() || node.starts_with(&format!("{ancestor}/")))
    };
    under(path, below)
        && !reported
            .keys()
            .any(|middle| under(path, middle) && under(middle, below))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn report(input: u64, model_calls: u64) -> UsageReport {
        UsageReport {
            input_tokens: input,
            model_calls,
            agents: 1,
            ..UsageReport::default()
        }
    }

    #[test]
    fn each_agent_row_shows_its_own_usage_and_the_total_row_everything() {
        let mut reported = BTreeMap::new();
        reported.insert(String::new(), report(60, 6));
        reported.insert("research".to_owned(), report(40, 4));
        reported.insert("research/deep".to_owned(), report(10, 1));
        reported.insert("writer".to_owned(), report(5, 1));
        let summary = json!({ "total": report(60, 6) });
        let table = usage_table(&reported, &summary, "team");
        let lines: Vec<Vec<&str>> = table
            .lines()
            .map(|l| l.split_whitespace().collect())
            .collect();
        assert_eq!(lines[1][..4], ["team", "1", "0", "15"]);
        assert_eq!(lines[2][..4], ["research", "3", "0", "30"]);
        assert_eq!(lines[3][..4], ["research/deep", "1", "0", "10"]);
        assert_eq!(lines[4][..4], ["writer", "1", "0", "5"]);
        assert_eq!(lines[5][..4], ["total", "6", "0", "60"]);
    }
}
