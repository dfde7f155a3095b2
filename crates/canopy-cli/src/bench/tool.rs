//! `canopy bench TREE TOOL`: one tool of the user's own tree, called `--requests` times by
//! `--concurrency` callers (within `--duration`), with latency percentiles and throughput.
//!
//! One call is made first and not counted: it checks that the tool answers (an unknown tool,
//! bad arguments or a declined call stop the run with the tool's own error) and warms the
//! links up. Calls go through [`Tree::call_tool`], the path an embedding program takes;
//! prompts raised on the way are cancelled, so a tool that asks counts as failing.

use std::{
    path::PathBuf,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use canopy_node::Tree;
use serde_json::{Map, Value, json};

use super::measure::percentile;
use crate::{
    Failure,
    call::parse_arguments,
    load::{BuildArgs, build_tree},
};

/// What to measure.
#[derive(Debug)]
pub(super) struct ToolBench {
    pub(super) tree: PathBuf,
    pub(super) tool: String,
    pub(super) args: Option<String>,
    pub(super) concurrency: usize,
    pub(super) requests: usize,
    pub(super) duration: Duration,
}

/// What one run measured.
#[derive(Debug)]
pub(super) struct Report {
    tree: String,
    tool: String,
    arguments: Option<Map<String, Value>>,
    concurrency: usize,
    requested: usize,
    /// Latency of each call that returned (successful or not), in ns, sorted.
    latencies_ns: Vec<f64>,
    /// Calls that failed or whose result had `isError`.
    errors: usize,
    /// The first failure's message.
    first_error: Option<String>,
    wall: Duration,
    /// Whether `--duration` ended the run before every request was made.
    timed_out: bool,
}

impl ToolBench {
    /// Builds the tree, makes the unmeasured first call, then measures.
    pub(super) async fn run(&self) -> Result<Report, Failure> {
        let arguments = parse_arguments(self.args.as_deref())?;
        // Strict: a benchmark of a tree with a child down would measure the wrong thing.
        let tree = build_tree(&self.tree, BuildArgs { strict: true }).await?;
        let measured = self.measure(&tree, arguments).await;
        tree.shutdown().await;
        measured
    }

    async fn measure(
        &self,
        tree: &Tree,
        arguments: Option<Map<String, Value>>,
    ) -> Result<Report, Failure> {
        let tool = self.tool.as_str();
        match tree.call_tool(tool, arguments.clone()).await {
            Ok(result) if result.is_error == Some(true) => {
                return Err(Failure::Failed(format!(
                    "canopy bench: the first call of '{tool}' reported an error: {}",
                    result_text(&serde_json::to_value(&result).unwrap_or_default())
                )));
            }
            Ok(_) => {}
            Err(error) => {
                return Err(Failure::Failed(format!(
                    "canopy bench: the first call of '{tool}' failed: {error}"
                )));
            }
        }
        let next = Arc::new(AtomicUsize::new(0));
        let started = Instant::now();
        let deadline = started + self.duration;
        let mut callers = tokio::task::JoinSet::new();
        for _ in 0..self.concurrency.min(self.requests) {
            let (tree, next, arguments) = (tree.clone(), Arc::clone(&next), arguments.clone());
            let (tool, requests) = (self.tool.clone(), self.requests);
            callers.spawn(async move {
                let mut seen = Caller::default();
                while Instant::now() < deadline && next.fetch_add(1, Ordering::Relaxed) < requests {
                    let t = Instant::now();
                    let outcome = tree.call_tool(&tool, arguments.clone()).await;
                    seen.latencies_ns.push(t.elapsed().as_nanos() as f64);
                    let failure = match outcome {
                        Ok(result) if result.is_error == Some(true) => Some(format!(
                            "the tool reported an error: {}",
                            result_text(&serde_json::to_value(&result).unwrap_or_default())
                        )),
                        Ok(_) => None,
                        Err(error) => Some(error.to_string()),
                    };
                    if let Some(failure) = failure {
                        seen.errors += 1;
                        seen.first_error.get_or_insert(failure);
                    }
                }
                seen
            });
        }
        let mut all = Caller::default();
        let collect = async {
            while let Some(done) = callers.join_next().await {
                let done = done.map_err(|e| {
                    Failure::Failed(format!("canopy bench: a caller task failed: {e}"))
                })?;
                all.latencies_ns.extend(done.latencies_ns);
                all.errors += done.errors;
                if all.first_error.is_none() {
                    all.first_error = done.first_error;
                }
            }
            Ok::<(), Failure>(())
        };
        tokio::select! {
            collected = collect => collected?,
            () = crate::serve::shutdown_signal() => {
                return Err(Failure::Failed("canopy bench: interrupted".into()));
            }
        }
        let wall = started.elapsed();
        all.latencies_ns.sort_by(f64::total_cmp);
        Ok(Report {
            tree: tree.name().to_owned(),
            tool: self.tool.clone(),
            arguments,
            concurrency: self.concurrency,
            requested: self.requests,
            timed_out: all.latencies_ns.len() < self.requests,
            latencies_ns: all.latencies_ns,
            errors: all.errors,
            first_error: all.first_error,
            wall,
        })
    }
}

/// What one caller task saw.
#[derive(Debug, Default)]
struct Caller {
    latencies_ns: Vec<f64>,
    errors: usize,
    first_error: Option<String>,
}

impl Report {
    fn calls(&self) -> usize {
        self.latencies_ns.len()
    }

    fn throughput(&self) -> f64 {
        self.calls() as f64 / self.wall.as_secs_f64().max(f64::MIN_POSITIVE)
    }

    fn at(&self, q: f64) -> f64 {
        percentile(&self.latencies_ns, q)
    }

    /// The run as one JSON object.
    pub(super) fn to_json(&self) -> Value {
        let mean = if self.latencies_ns.is_empty() {
            f64::NAN
        } else {
            self.latencies_ns.iter().sum::<f64>() / self.latencies_ns.len() as f64
        };
        json!({
            "id": "tree_tool",
            "tree": self.tree,
            "tool": self.tool,
            "arguments": self.arguments,
            "concurrency": self.concurrency,
            "requests": self.requested,
            "calls": self.calls(),
            "errors": self.errors,
            "first_error": self.first_error,
            "stopped_by_duration": self.timed_out,
            "wall_s": self.wall.as_secs_f64(),
            "latency_ns": {
                "p50": self.at(0.50),
                "p90": self.at(0.90),
                "p99": self.at(0.99),
                "max": self.at(1.0),
                "mean": mean,
            },
            "throughput_per_s": self.throughput(),
            "build": super::build_kind(),
        })
    }

    /// The run for a person: a summary line, a one-row table, and the first error if any.
    pub(super) fn text(&self) -> String {
        let mut out = format!(
            "tree '{}', tool {}: {} call{} ({} failed) at concurrency {} in {:.2} s{}\n",
            self.tree,
            self.tool,
            self.calls(),
            if self.calls() == 1 { "" } else { "s" },
            self.errors,
            self.concurrency,
            self.wall.as_secs_f64(),
            if self.timed_out {
                format!(
                    " (stopped by --duration before {} requests)",
                    self.requested
                )
            } else {
                String::new()
            }
        );
        let cells = [
            super::format_ns(self.at(0.50)),
            super::format_ns(self.at(0.90)),
            super::format_ns(self.at(0.99)),
            super::format_ns(self.at(1.0)),
            super::format_rate(self.throughput()),
        ];
        out.push_str(&super::markdown(
            &["p50", "p90", "p99", "max", "throughput"],
            &[cells.to_vec()],
        ));
        if let Some(error) = &self.first_error {
            // The whole message is in --json; the table's width stays within 120 columns.
            let short: String = error.chars().take(100).collect();
            let cut = if short.len() < error.len() { "…" } else { "" };
            out.push_str(&format!("first error: {short}{cut}\n"));
        }
        out
    }
}

/// The text of a result's content, for messages.
fn result_text(result: &Value) -> String {
    let text = crate::render::format_result(result);
    let text = text.trim();
    if text.chars().count() > 200 {
        format!("{}…", text.chars().take(200).collect::<String>())
    } else {
        text.to_owned()
    }
}
