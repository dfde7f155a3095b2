//! `canopy tools`: every tool of the tree with its exposed name, canonical id, the policy
//! verdict and the rules that decided it, its description and its arguments; and the policy
//! warnings every command that builds a tree prints.

use std::path::{Path, PathBuf};

use canopy_node::{ToolRoute, Tree};
use canopy_topology::{Decision, NodePath, OnUnanswerable, Rule};
use clap::Args;
use serde_json::{Value, json};

use crate::{Outcome, load::build_tree, render::print_line, tree::check_policies};

/// Arguments of `canopy tools`.
#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  canopy tools hub.toml                      name, id, verdict, description, arguments
  canopy tools hub.toml --json | jq '.[] | select(.verdict == \"ask\") | .name'
  canopy tools hub.toml --check              exit 2 if a policy rule matches nothing (CI)

Each tool shows its verdict (allow, ask or deny) and the rule and node that decided it;
denied tools are listed too (clients do not see them). Nodes are named by their path, the
root as `/`. The text view summarises the arguments (`*` = required); --json has the full
input schema.")]
pub(crate) struct ToolsArgs {
    /// The tree file (TOML).
    #[arg(value_name = "TREE")]
    pub(crate) tree: PathBuf,
    /// Print one JSON array of the tools, with their input schemas.
    #[arg(long)]
    pub(crate) json: bool,
    /// Exit with status 2 when a policy rule matches no capability (after printing).
    #[arg(long)]
    pub(crate) check: bool,
    #[command(flatten)]
    pub(crate) build: crate::load::BuildArgs,
}

/// Runs `canopy tools`.
pub(crate) async fn run(args: ToolsArgs) -> Outcome {
    let tree = build_tree(&args.tree, args.build).await?;
    // Lazy children are started so that their tools are listed (and checked) too.
    tree.start_lazy().await;
    let tools = tree.tool_routes();
    if args.json {
        let listing: Vec<Value> = tools.iter().map(tool_json).collect();
        print_line(&serde_json::to_string_pretty(&listing).unwrap_or_default());
    } else if tools.is_empty() {
        print_line("(no tools)");
    } else {
        let text: Vec<String> = tools.iter().map(tool_text).collect();
        print_line(&text.join("\n"));
    }
    let unmatched = tree.policy_warnings().len();
    tree.shutdown().await;
    check_policies(args.check, unmatched)
}

/// Prints the tree's policy warnings on stderr, once, as the tree is built.
pub(crate) fn warn_policies(path: &Path, tree: &Tree) {
    for warning in tree.policy_warnings() {
        eprintln!("canopy: warning: {}: {warning}", path.display());
    }
}

/// A node as the listing names it: its path, `/` for the root.
fn node_name(path: &NodePath) -> String {
    if path.is_root() {
        "/".to_owned()
    } else {
        path.to_string()
    }
}

/// `by NODE: KIND "GLOB"`, or `by NODE: not in its allow list`.
fn rule_text(node: &NodePath, rule: &Rule) -> String {
    if rule.glob.is_empty() {
        format!("by {}: not in its allow list", node_name(node))
    } else {
        format!("by {}: {} \"{}\"", node_name(node), rule.kind, rule.glob)
    }
}

/// The verdict and the rules that decided it, as one phrase.
fn verdict_text(tool: &ToolRoute) -> String {
    let rules = |by: &[(NodePath, Rule)]| {
        by.iter()
            .map(|(node, rule)| rule_text(node, rule))
            .collect::<Vec<_>>()
            .join("; ")
    };
    let text = match &tool.route.decision {
        Decision::Allow if tool.route.allowed_by.is_empty() => "allow".to_owned(),
        Decision::Allow => format!("allow ({})", rules(&tool.route.allowed_by)),
        Decision::Ask {
            by,
            on_unanswerable,
        } => {
            let fallback = match on_unanswerable {
                OnUnanswerable::Deny => "",
                OnUnanswerable::Allow => "; allowed unasked for clients that cannot answer",
            };
            format!("ask ({}{fallback})", rules(by))
        }
        Decision::Deny { by, rule } => format!("deny ({})", rule_text(by, rule)),
    };
    if tool.route.scoped {
        // A require_scopes or allow_scopes rule matches: the verdict above is the one for
        // a caller whose scopes change nothing.
        format!("{text}, for callers whose scopes change nothing (scope rules apply)")
    } else {
        text
    }
}

fn verdict_name(decision: &Decision) -> &'static str {
    match decision {
        Decision::Allow => "allow",
        Decision::Ask { .. } => "ask",
        Decision::Deny { .. } => "deny",
    }
}

/// The argument names of an input schema, `*` after the required ones.
fn arguments_summary(schema: &serde_json::Map<String, Value>) -> String {
    let required: Vec<&str> = schema
        .get("required")
        .and_then(Value::as_array)
        .map(|names| names.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let names: Vec<String> = schema
        .get("properties")
        .and_then(Value::as_object)
        .map(|properties| {
            properties
                .keys()
                .map(|name| {
                    let star = if required.contains(&name.as_str()) {
                        "*"
                    } else {
                        ""
                    };
                    format!("{name}{star}")
                })
                .collect()
        })
        .unwrap_or_default();
    if names.is_empty() {
        "none".to_owned()
    } else {
        names.join(", ")
    }
}

/// The first line of a description, cut at 100 characters.
fn short_description(description: &str) -> String {
    const LIMIT: usize = 100;
    let line = description.lines().next().unwrap_or_default().trim();
    if line.chars().count() > LIMIT {
        let cut: String = line.chars().take(LIMIT - 1).collect();
        format!("{cut}…")
    } else {
        line.to_owned()
    }
}

/// A tool as text: `NAME  ID  VERDICT`, its description, its arguments.
fn tool_text(tool: &ToolRoute) -> String {
    let mut out = format!(
        "{}  {}  {}",
        tool.route.exposed,
        tool.route.id,
        verdict_text(tool)
    );
    if let Some(description) = tool.tool.description.as_deref() {
        let description = short_description(description);
        if !description.is_empty() {
            out.push_str("\n    ");
            out.push_str(&description);
        }
    }
    out.push_str("\n    args: ");
    out.push_str(&arguments_summary(&tool.tool.input_schema));
    out
}

fn rules_json(by: &[(NodePath, Rule)]) -> Vec<Value> {
    by.iter()
        .map(|(node, rule)| {
            let mut value =
                json!({ "node": node.to_string(), "kind": rule.kind, "glob": rule.glob });
            if !rule.scopes.is_empty() {
                value["scopes"] = json!(rule.scopes);
            }
            value
        })
        .collect()
}

/// A tool as JSON: `name`, `id`, `node`, `verdict`, `scoped` (a scope rule matches: the
/// verdict is for a caller whose scopes change nothing), `rules` (the deciding rules, each
/// with `node`, `kind`, `glob`), `on_unanswerable` (ask only), `description`, `input_schema`.
fn tool_json(tool: &ToolRoute) -> Value {
    let route = &tool.route;
    let mut value = json!({
        "name": &*route.exposed,
        "id": route.id.to_string(),
        "node": route.id.node.to_string(),
        "verdict": verdict_name(&route.decision),
        "scoped": route.scoped,
        "description": tool.tool.description.as_deref(),
        "input_schema": &*tool.tool.input_schema,
    });
    let rules = match &route.decision {
        Decision::Allow => rules_json(&route.allowed_by),
        Decision::Ask {
            by,
            on_unanswerable,
        } => {
            value["on_unanswerable"] = json!(on_unanswerable.as_str());
            rules_json(by)
        }
        Decision::Deny { by, rule } => rules_json(&[(by.clone(), rule.clone())]),
    };
    value["rules"] = Value::Array(rules);
    value
}
