//! `canopy bench`: Canopy's performance targets, each scenario against its baseline measured
//! in the same run, printed as a table (or JSON lines) with p50/p99 latency and throughput;
//! and `canopy bench TREE TOOL`, one tool of the user's own tree (`tool.rs`).
//!
//! A debug build says loudly that its figures mean nothing. The table fits 120 columns:
//! each side shows the number its ratio compares; names, p99 and sample counts are in
//! `--json`.
//!
//! Timing decides nothing here but the `pass` column: the command succeeds whenever every
//! scenario ran. The stdio and HTTP scenarios launch the `leaf_server` example (built by
//! `cargo build --examples`). The guide is `docs/performance.md`.
//!
//! What is measured (the leaves, the naive chain, the trees, the leaf processes, the clients)
//! and the table's layout come from the `canopy-bench` crate, which the criterion benches
//! use too; the scenarios, their targets, the sampling and the output are this module's.

mod alloc;
mod measure;
mod scenarios;
mod tool;

use std::{
    io::Write as _,
    path::{Path, PathBuf},
    time::{Duration, Instant},
};

use canopy_bench::table::markdown;
use serde_json::{Value, json};

use self::measure::{Budget, Stats};
use crate::{Failure, Outcome};

/// `canopy bench`.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Examples:
  canopy bench                                  the full run (several minutes)
  canopy bench --quick                          about a minute
  canopy bench --json > bench.jsonl             one JSON object per scenario (table on stderr)
  python3 scripts/bench_chart.py bench.jsonl    draw docs/bench-depth.svg from it
  canopy bench --leaf target/release/examples/leaf_server
  canopy bench hub.toml research__web__search --args '{\"query\":\"rust\"}' --concurrency 8
  canopy bench hub.toml notes__list --requests 200 --json

Build canopy with --release first: a debug build's figures are not meaningful (it says so).
With TREE TOOL, the tool is called --requests times by --concurrency callers (stopping at
--duration), after one uncounted call that checks it answers; the result is latency
percentiles (p50, p90, p99, max) and throughput. Progress goes to stderr. The exit status is
0 whenever every scenario ran, whatever the timings (see the pass column); with TREE TOOL, 1
when the first call fails.")]
pub(crate) struct BenchArgs {
    /// Measure a tool of this tree file instead of Canopy's own scenarios.
    #[arg(value_name = "TREE", requires = "tool", conflicts_with_all = ["quick", "leaf"])]
    tree: Option<PathBuf>,
    /// The tool's exposed name (with TREE).
    #[arg(value_name = "TOOL")]
    tool: Option<String>,
    /// The tool's arguments, a JSON object (with TREE TOOL).
    #[arg(long, value_name = "JSON", requires = "tool")]
    args: Option<String>,
    /// Calls in flight at once (with TREE TOOL).
    #[arg(long, value_name = "N", default_value_t = 1, requires = "tool",
          value_parser = clap::value_parser!(u32).range(1..=1024))]
    concurrency: u32,
    /// Calls to make in all, after the first uncounted one (with TREE TOOL).
    #[arg(long, value_name = "N", default_value_t = 1000, requires = "tool",
          value_parser = clap::value_parser!(u32).range(1..=10_000_000))]
    requests: u32,
    /// Stop making calls after this many seconds, even if fewer than --requests were made
    /// (with TREE TOOL).
    #[arg(long, value_name = "SECS", default_value = "60", requires = "tool",
          value_parser = crate::call::parse_timeout)]
    duration: Duration,
    /// A short run (about a minute): shorter warm-up, fewer and shorter rounds.
    #[arg(long)]
    quick: bool,
    /// Print one JSON object per scenario on stdout (and the table on stderr).
    #[arg(long)]
    json: bool,
    /// Run only this scenario (its id, as the table and the JSON name it; repeat for more).
    #[arg(long = "only", value_name = "ID", conflicts_with = "tree",
          value_parser = clap::builder::PossibleValuesParser::new(SCENARIO_IDS))]
    only: Vec<String>,
    /// The `leaf_server` example binary the stdio and HTTP scenarios launch
    /// [default: examples/leaf_server next to the canopy binary].
    #[arg(long, value_name = "PATH")]
    leaf: Option<PathBuf>,
}

/// Which number a row's ratio compares.
#[derive(Clone, Copy, Debug)]
enum Basis {
    /// Median latency, Canopy over baseline.
    P50,
    /// Throughput (calls or events per second), Canopy over baseline.
    Throughput,
    /// A single value, Canopy's over the limit.
    Value,
}

/// What one side of a row measured.
#[derive(Clone, Copy, Debug)]
enum Measure {
    Stats(Stats),
    Value { value: f64, unit: &'static str },
}

/// The target a ratio must meet.
#[derive(Clone, Copy, Debug)]
enum Rule {
    AtMost(f64),
    AtLeast(f64),
    Below(f64),
}

impl Rule {
    fn holds(self, ratio: f64) -> bool {
        match self {
            Self::AtMost(max) => ratio <= max,
            Self::AtLeast(min) => ratio >= min,
            Self::Below(max) => ratio < max,
        }
    }

    fn text(self) -> String {
        match self {
            Self::AtMost(max) => format!("<= {max}"),
            Self::AtLeast(min) => format!(">= {min}"),
            Self::Below(max) => format!("< {max}"),
        }
    }
}

/// One line of the result.
#[derive(Debug)]
struct Row {
    id: &'static str,
    scenario: String,
    names: (String, String),
    baseline: Measure,
    canopy: Measure,
    basis: Basis,
    rule: Rule,
    /// More keys of the row's JSON object (the depth sweep's `series`, the build's `heap`).
    extra: Vec<(&'static str, Value)>,
}

impl Row {
    fn new(
        id: &'static str,
        scenario: &str,
        names: (&str, &str),
        (baseline, canopy): (Stats, Stats),
        basis: Basis,
        rule: Rule,
    ) -> Self {
        Self {
            id,
            scenario: scenario.to_owned(),
            names: (names.0.to_owned(), names.1.to_owned()),
            baseline: Measure::Stats(baseline),
            canopy: Measure::Stats(canopy),
            basis,
            rule,
            extra: Vec::new(),
        }
    }

    fn absolute(
        id: &'static str,
        scenario: &str,
        limit: Measure,
        measured: Measure,
        rule: Rule,
    ) -> Self {
        Self {
            id,
            scenario: scenario.to_owned(),
            names: ("limit".to_owned(), "Canopy".to_owned()),
            baseline: limit,
            canopy: measured,
            basis: Basis::Value,
            rule,
            extra: Vec::new(),
        }
    }

    fn ratio(&self) -> f64 {
        match (self.basis, self.baseline, self.canopy) {
            (Basis::P50, Measure::Stats(b), Measure::Stats(c)) => c.p50_ns / b.p50_ns,
            (Basis::Throughput, Measure::Stats(b), Measure::Stats(c)) => {
                c.throughput / b.throughput
            }
            (_, Measure::Value { value: b, .. }, Measure::Value { value: c, .. }) => c / b,
            _ => f64::NAN,
        }
    }

    fn pass(&self) -> bool {
        self.rule.holds(self.ratio())
    }

    /// What the ratio compares, in words.
    fn metric(&self) -> &'static str {
        match self.basis {
            Basis::P50 => "p50 latency, canopy / baseline",
            Basis::Throughput => "throughput, canopy / baseline",
            Basis::Value => "measured / limit",
        }
    }

    fn to_json(&self) -> Value {
        let side = |name: &str, measure: Measure| match measure {
            Measure::Stats(s) => json!({
                "name": name,
                "p50_ns": s.p50_ns,
                "p99_ns": s.p99_ns,
                "throughput_per_s": s.throughput,
                "samples": s.samples,
            }),
            Measure::Value { value, unit } => json!({"name": name, "value": value, "unit": unit}),
        };
        let mut object = json!({
            "id": self.id,
            "scenario": self.scenario,
            "metric": self.metric(),
            "baseline": side(&self.names.0, self.baseline),
            "canopy": side(&self.names.1, self.canopy),
            "ratio": self.ratio(),
            "target": self.rule.text(),
            "pass": self.pass(),
            "build": build_kind(),
        });
        if let Some(map) = object.as_object_mut() {
            for (key, value) in &self.extra {
                map.insert((*key).into(), value.clone());
            }
        }
        object
    }
}

/// `"debug"` or `"release"`: how this canopy was built.
fn build_kind() -> &'static str {
    if cfg!(debug_assertions) {
        "debug"
    } else {
        "release"
    }
}

/// Says loudly, on stderr, that a debug build's figures are not meaningful.
fn warn_if_debug() {
    if cfg!(debug_assertions) {
        let rule = "=".repeat(78);
        eprintln!(
            "{rule}\n\
             WARNING: this canopy is a DEBUG build. Its figures are NOT meaningful: debug code\n\
             is many times slower than release code, and not evenly so. Build with --release:\n\
             \x20 cargo build --release -p canopy-cli --examples && target/release/canopy bench\n\
             {rule}"
        );
    }
}

/// Runs `canopy bench`.
pub(crate) async fn run(args: BenchArgs) -> Outcome {
    warn_if_debug();
    if let (Some(tree), Some(tool)) = (&args.tree, &args.tool) {
        let bench = tool::ToolBench {
            tree: tree.clone(),
            tool: tool.clone(),
            args: args.args.clone(),
            concurrency: args.concurrency as usize,
            requests: args.requests as usize,
            duration: args.duration,
        };
        let report = bench.run().await?;
        let mut out = std::io::stdout().lock();
        let written = if args.json {
            writeln!(out, "{}", report.to_json())
        } else {
            write!(out, "{}", report.text())
        };
        return written
            .map_err(|e| Failure::Failed(format!("canopy bench: cannot write the result: {e}")));
    }
    let leaf = leaf_binary(args.leaf.as_deref())?;
    let budget = if args.quick {
        Budget::quick()
    } else {
        Budget::full()
    };
    let started = Instant::now();
    let mut rows: Vec<Row> = Vec::new();
    // Each step runs when no --only is given or it names one of the step's rows.
    let wanted = |ids: &[&str]| {
        args.only.is_empty() || ids.iter().any(|id| args.only.iter().any(|o| o == id))
    };
    let steps = STEPS.iter().filter(|ids| wanted(ids)).count();
    let mut step = 0;
    let mut begin = |what: &str| {
        step += 1;
        eprintln!(
            "canopy bench: [{step}/{steps}] {what} ({:.0} s so far)",
            started.elapsed().as_secs_f64()
        );
    };
    // The memory scenario first, while the process is fresh.
    if wanted(&["build_10000_time", "build_10000_memory"]) {
        begin("build a 10,000-node tree");
        rows.extend(scenarios::build_10000(budget).await?);
    }
    if wanted(&["inprocess_depth1_vs_direct"]) {
        begin("in-process depth 1 vs direct call");
        rows.push(scenarios::depth1_vs_direct(budget).await?);
    }
    if wanted(&["inprocess_depth16_vs_depth1"]) {
        begin("in-process depth 16 vs depth 1");
        rows.push(scenarios::depth16_vs_depth1(budget).await?);
    }
    if wanted(&["inprocess_depth4_vs_naive_chain"]) {
        begin("in-process depth 4 vs naive proxy chain, and the depth sweep");
        rows.push(scenarios::depth4_vs_naive(budget).await?);
    }
    if wanted(&["stdio_sequential", "stdio_concurrent"]) {
        begin("stdio leaf, sequential and concurrent");
        rows.extend(scenarios::leaf_link(budget, &leaf, scenarios::Link::Stdio).await?);
    }
    if wanted(&["http_sequential", "http_concurrent"]) {
        begin("HTTP leaf, sequential and concurrent");
        rows.extend(scenarios::leaf_link(budget, &leaf, scenarios::Link::Http).await?);
    }
    if wanted(&["serve_http_concurrent"]) {
        begin("the tree served over Streamable HTTP");
        rows.push(scenarios::serve_http(budget).await?);
    }
    if wanted(&["serve_http_oauth_concurrent"]) {
        begin("the served tree with OAuth JWTs vs without");
        rows.push(scenarios::serve_http_oauth(budget).await?);
    }
    if wanted(&["progress_depth8_vs_depth1"]) {
        begin("progress from depth 8 vs depth 1");
        rows.push(scenarios::progress(budget).await?);
    }
    if wanted(&["tools_list_1000"]) {
        begin("tools/list of 1,000 leaves");
        rows.push(scenarios::list_1000(budget).await?);
    }
    rows.sort_by_key(|row| order(row.id));
    eprintln!(
        "canopy bench: done in {:.0} s",
        started.elapsed().as_secs_f64()
    );
    let mut out = std::io::stdout().lock();
    let written = if args.json {
        // The table too, on stderr, so one run gives both.
        eprint!("{}", table(&rows));
        rows.iter()
            .try_for_each(|row| writeln!(out, "{}", row.to_json()))
    } else {
        write!(out, "{}", table(&rows))
    };
    written.map_err(|e| Failure::Failed(format!("canopy bench: cannot write the result: {e}")))
}

/// The rows of each step `run` takes, in the order it takes them (for the progress count).
const STEPS: [&[&str]; 10] = [
    &["build_10000_time", "build_10000_memory"],
    &["inprocess_depth1_vs_direct"],
    &["inprocess_depth16_vs_depth1"],
    &["inprocess_depth4_vs_naive_chain"],
    &["stdio_sequential", "stdio_concurrent"],
    &["http_sequential", "http_concurrent"],
    &["serve_http_concurrent"],
    &["serve_http_oauth_concurrent"],
    &["progress_depth8_vs_depth1"],
    &["tools_list_1000"],
];

/// Every scenario's id, in the order (the order the table shows them).
const SCENARIO_IDS: [&str; 13] = [
    "inprocess_depth1_vs_direct",
    "inprocess_depth16_vs_depth1",
    "inprocess_depth4_vs_naive_chain",
    "stdio_sequential",
    "stdio_concurrent",
    "http_sequential",
    "http_concurrent",
    "serve_http_concurrent",
    "serve_http_oauth_concurrent",
    "progress_depth8_vs_depth1",
    "tools_list_1000",
    "build_10000_time",
    "build_10000_memory",
];

fn order(id: &str) -> usize {
    SCENARIO_IDS
        .iter()
        .position(|i| *i == id)
        .unwrap_or(SCENARIO_IDS.len())
}

/// Finds the `leaf_server` example: `--leaf`, else `examples/leaf_server` next to this binary.
fn leaf_binary(given: Option<&Path>) -> Result<PathBuf, Failure> {
    if let Some(path) = given {
        return if path.is_file() {
            Ok(path.to_owned())
        } else {
            Err(Failure::Usage(format!(
                "canopy bench: --leaf {}: no such file",
                path.display()
            )))
        };
    }
    let exe = std::env::current_exe()
        .map_err(|e| Failure::Failed(format!("canopy bench: cannot locate canopy: {e}")))?;
    let mut dir = exe.parent().map(Path::to_path_buf).unwrap_or_default();
    // Test and bench binaries live one level down, in deps/.
    if dir.ends_with("deps") {
        dir.pop();
    }
    let leaf = dir
        .join("examples")
        .join(format!("leaf_server{}", std::env::consts::EXE_SUFFIX));
    if leaf.is_file() {
        Ok(leaf)
    } else {
        let profile = if dir.ends_with("release") {
            " --release"
        } else {
            ""
        };
        Err(Failure::Usage(format!(
            "canopy bench: the stdio and HTTP scenarios need the leaf_server example, and there \
             is none at {}: run `cargo build{profile} --examples` first, or pass --leaf PATH",
            leaf.display()
        )))
    }
}

fn format_ns(ns: f64) -> String {
    if !ns.is_finite() {
        "n/a".to_owned()
    } else if ns >= 1e9 {
        format!("{:.2} s", ns / 1e9)
    } else if ns >= 1e6 {
        format!("{:.2} ms", ns / 1e6)
    } else if ns >= 1e3 {
        format!("{:.1} µs", ns / 1e3)
    } else {
        format!("{ns:.0} ns")
    }
}

fn format_rate(per_s: f64) -> String {
    if per_s >= 1e6 {
        format!("{:.2}M/s", per_s / 1e6)
    } else if per_s >= 1e3 {
        format!("{:.1}k/s", per_s / 1e3)
    } else {
        format!("{per_s:.0}/s")
    }
}

/// The number a row's ratio compares, for one side: p50, throughput, or the value.
fn format_basis(basis: Basis, measure: Measure) -> String {
    match (basis, measure) {
        (Basis::Throughput, Measure::Stats(s)) => format_rate(s.throughput),
        (_, Measure::Stats(s)) => format_ns(s.p50_ns),
        (_, Measure::Value { value, unit: "s" }) => format_ns(value * 1e9),
        (_, Measure::Value { value, unit }) => format!("{value:.0} {unit}"),
    }
}

/// The result as a Markdown table within 120 columns: the scenario's id, each side's number
/// (p50 or throughput, as the ratio compares), the ratio, the target, pass.
fn table(rows: &[Row]) -> String {
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|row| {
            let ratio = row.ratio();
            vec![
                row.id.to_owned(),
                format_basis(row.basis, row.baseline),
                format_basis(row.basis, row.canopy),
                match row.basis {
                    Basis::P50 => format!("{ratio:.3}× p50"),
                    Basis::Throughput => format!("{ratio:.3}× rate"),
                    Basis::Value => format!("{ratio:.3}× limit"),
                },
                row.rule.text(),
                if row.pass() { "pass" } else { "FAIL" }.to_owned(),
            ]
        })
        .collect();
    markdown(
        &["scenario", "baseline", "Canopy", "ratio", "target", "pass"],
        &cells,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stats(p50_ns: f64, throughput: f64) -> Stats {
        Stats {
            p50_ns,
            p99_ns: p50_ns * 2.0,
            throughput,
            samples: 10,
        }
    }

    #[test]
    fn the_steps_cover_every_scenario_once() {
        let mut covered: Vec<&str> = STEPS.iter().flat_map(|ids| ids.iter().copied()).collect();
        covered.sort_unstable();
        let mut all = SCENARIO_IDS.to_vec();
        all.sort_unstable();
        assert_eq!(covered, all);
    }

    #[test]
    fn ratios_and_rules() {
        let row = Row::new(
            "x",
            "x",
            ("b", "c"),
            (stats(100.0, 10.0), stats(120.0, 9.0)),
            Basis::P50,
            Rule::AtMost(1.15),
        );
        assert!((row.ratio() - 1.2).abs() < 1e-9);
        assert!(!row.pass());
        let json = row.to_json();
        for key in ["scenario", "baseline", "canopy", "ratio", "target", "pass"] {
            assert!(json.get(key).is_some(), "no {key} in {json}");
        }
        assert_eq!(json["target"], "<= 1.15");
        let row = Row::new(
            "y",
            "y",
            ("b", "c"),
            (stats(100.0, 10.0), stats(120.0, 9.0)),
            Basis::Throughput,
            Rule::AtLeast(0.8),
        );
        assert!(row.pass());
        assert_eq!(row.to_json()["target"], ">= 0.8");
    }

    #[test]
    fn the_table_has_a_line_per_row() {
        let row = Row::absolute(
            "build_10000_time",
            "build",
            Measure::Value {
                value: 1.0,
                unit: "s",
            },
            Measure::Value {
                value: 0.25,
                unit: "s",
            },
            Rule::Below(1.0),
        );
        let text = table(&[row]);
        assert_eq!(text.lines().count(), 3, "{text}");
        assert!(text.contains("250.00 ms"), "{text}");
        assert!(text.contains("pass"), "{text}");
    }

    #[test]
    fn the_table_fits_120_columns() {
        // Every scenario's id, with the widest numbers each column can show (the two
        // build rows, absolute ones, are added below).
        let mut rows: Vec<Row> = SCENARIO_IDS[..11]
            .iter()
            .enumerate()
            .map(|(i, id)| {
                let basis = if i % 2 == 0 {
                    Basis::P50
                } else {
                    Basis::Throughput
                };
                Row::new(
                    id,
                    "a scenario described at length, as the real ones are, in many words",
                    ("a long baseline name", "a long Canopy name"),
                    (stats(999_990_000.0, 9_999_999.0), stats(1.0, 0.001)),
                    basis,
                    Rule::AtLeast(0.333),
                )
            })
            .collect();
        rows.push(Row::absolute(
            "build_10000_memory",
            "memory",
            Measure::Value {
                value: 4096.0,
                unit: "B/node",
            },
            Measure::Value {
                value: 123_456_789.0,
                unit: "B/node",
            },
            Rule::Below(1.0),
        ));
        let text = table(&rows);
        for line in text.lines() {
            assert!(
                line.chars().count() <= 120,
                "{} columns: {line}",
                line.chars().count()
            );
        }
        assert_eq!(text.lines().count(), rows.len() + 2, "{text}");
    }
}
