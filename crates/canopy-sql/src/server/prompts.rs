//! Prompts for common analysis tasks, and completion of their table and column arguments.

use std::collections::HashMap;

use rmcp::ErrorData as McpError;
use rmcp::model::{
    CompleteRequestParams, CompleteResult, CompletionInfo, GetPromptResult, Prompt, PromptArgument,
    PromptMessage, Reference, Role,
};

use super::SqlServer;
use crate::schema::{TableSchema, quote_ident_if_needed};

fn arg(name: &str, description: &str, required: bool) -> PromptArgument {
    PromptArgument::new(name)
        .with_description(description)
        .with_required(required)
}

/// The prompts the server offers.
pub(super) fn list() -> Vec<Prompt> {
    vec![
        Prompt::new(
            "summarize_table",
            Some(
                "Summarise a table: what it holds, its size, key columns, value distributions and data quality.",
            ),
            Some(vec![arg("table", "Table to summarise", true)]),
        ),
        Prompt::new(
            "find_anomalies",
            Some(
                "Look for anomalies in one column: outliers, unexpected NULLs, duplicates, impossible values.",
            ),
            Some(vec![
                arg("table", "Table to examine", true),
                arg("column", "Column to examine", true),
            ]),
        ),
        Prompt::new(
            "compare_segments",
            Some(
                "Compare two segments of a table (two values of one column) on counts and a metric.",
            ),
            Some(vec![
                arg("table", "Table holding the rows", true),
                arg("segment_column", "Column that defines the segments", true),
                arg("segment_a", "First segment value", true),
                arg("segment_b", "Second segment value", true),
                arg(
                    "metric_column",
                    "Numeric column to compare (optional)",
                    false,
                ),
            ]),
        ),
        Prompt::new(
            "explain_slow_query",
            Some("Explain why a query is slow from its plan, and suggest rewrites or indexes."),
            Some(vec![arg("sql", "The slow query", true)]),
        ),
    ]
}

fn required<'a>(args: &'a HashMap<String, String>, name: &str) -> Result<&'a str, McpError> {
    args.get(name)
        .map(String::as_str)
        .filter(|v| !v.trim().is_empty())
        .ok_or_else(|| {
            McpError::invalid_params(format!("missing required argument '{name}'"), None)
        })
}

async fn schema(server: &SqlServer, table: &str) -> Result<TableSchema, McpError> {
    let db = &server.shared.db;
    let t = db
        .resolve_table(table, None)
        .await
        .map_err(|e| McpError::invalid_params(e.to_string(), None))?;
    db.describe(&t)
        .await
        .map_err(|e| McpError::internal_error(e.to_string(), None))
}

fn column<'a>(
    schema: &'a TableSchema,
    name: &str,
) -> Result<&'a crate::schema::ColumnInfo, McpError> {
    schema
        .columns
        .iter()
        .find(|c| c.name == name)
        .or_else(|| {
            schema
                .columns
                .iter()
                .find(|c| c.name.eq_ignore_ascii_case(name))
        })
        .ok_or_else(|| {
            McpError::invalid_params(
                format!(
                    "table {} has no column '{name}' (columns: {})",
                    schema.qualified_name,
                    schema
                        .columns
                        .iter()
                        .map(|c| c.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                None,
            )
        })
}

pub(super) async fn get(
    server: &SqlServer,
    name: &str,
    args: HashMap<String, String>,
) -> Result<GetPromptResult, McpError> {
    let dialect = server.shared.db.dialect().name();
    let (description, text) = match name {
        "summarize_table" => {
            let s = schema(server, required(&args, "table")?).await?;
            (
                format!("Summarise {}", s.qualified_name),
                format!(
                    "Summarise the {dialect} table {} for me.\n\nIts schema:\n{}\nUse the read-only `query` tool (one statement per call). Report: how many rows; what one row represents; for each column the share of NULLs and the number of distinct values; ranges (min, max) of numeric and date columns; the most common values of low-cardinality columns; and anything that looks like a data-quality problem. Keep queries aggregate; do not dump whole tables.",
                    s.qualified_name,
                    s.to_markdown()
                ),
            )
        }
        "find_anomalies" => {
            let s = schema(server, required(&args, "table")?).await?;
            let c = column(&s, required(&args, "column")?)?;
            (
                format!("Find anomalies in {}.{}", s.qualified_name, c.name),
                format!(
                    "Find anomalies in column {} ({}) of the {dialect} table {}.\n\nThe table's schema:\n{}\nUse the read-only `query` tool. Check: NULLs and empty values; duplicates where values should be unique; for numbers, the distribution (min, percentiles, max, mean, standard deviation) and values far outside it (e.g. beyond 3 standard deviations or 1.5 IQR); for dates, values in the future or implausibly old; for text, unusual lengths, casing or encodings. Show the offending rows (with their keys) and say how many there are.",
                    quote_ident_if_needed(&c.name),
                    c.data_type,
                    s.qualified_name,
                    s.to_markdown()
                ),
            )
        }
        "compare_segments" => {
            let s = schema(server, required(&args, "table")?).await?;
            let seg = column(&s, required(&args, "segment_column")?)?;
            let a = required(&args, "segment_a")?;
            let b = required(&args, "segment_b")?;
            let metric = match args.get("metric_column").filter(|m| !m.trim().is_empty()) {
                Some(m) => Some(column(&s, m)?),
                None => None,
            };
            let metric_text = metric
                .map(|m| {
                    format!(
                        "the metric {} ({}): count, sum, mean, median and spread",
                        quote_ident_if_needed(&m.name),
                        m.data_type
                    )
                })
                .unwrap_or_else(|| {
                    "row counts and the numeric columns that differ most".to_string()
                });
            (
                format!(
                    "Compare {} = {a} with {b} in {}",
                    seg.name, s.qualified_name
                ),
                format!(
                    "Compare two segments of the {dialect} table {}: rows where {} = '{a}' against rows where {} = '{b}'.\n\nThe table's schema:\n{}\nUse the read-only `query` tool with parameters for the segment values. Compare {metric_text}, and how other categorical columns are distributed in each segment. Say which differences are large enough to matter and which could be noise given the sizes.",
                    s.qualified_name,
                    quote_ident_if_needed(&seg.name),
                    quote_ident_if_needed(&seg.name),
                    s.to_markdown()
                ),
            )
        }
        "explain_slow_query" => {
            let sql = required(&args, "sql")?;
            (
                "Explain a slow query".to_string(),
                format!(
                    "This {dialect} query is slow:\n\n```sql\n{sql}\n```\n\nCall the `explain` tool on it (with analyze=true if it finishes in reasonable time), and `describe_table` on the tables it reads to see their indexes and sizes. Then explain, step by step, where the time goes (scans, joins, sorts, row estimates that are far off), and suggest concrete fixes: rewrites, indexes to create (as CREATE INDEX statements for a human to review; this server cannot run them), or statistics to refresh."
                ),
            )
        }
        other => {
            return Err(McpError::invalid_params(
                format!(
                    "unknown prompt '{other}' (prompts: summarize_table, find_anomalies, compare_segments, explain_slow_query)"
                ),
                None,
            ));
        }
    };
    Ok(
        GetPromptResult::new(vec![PromptMessage::new_text(Role::User, text)])
            .with_description(description),
    )
}

fn matching(values: impl IntoIterator<Item = String>, prefix: &str) -> Vec<String> {
    let prefix = prefix.to_lowercase();
    let mut starts: Vec<String> = Vec::new();
    let mut contains: Vec<String> = Vec::new();
    for v in values {
        let lower = v.to_lowercase();
        if lower.starts_with(&prefix) {
            starts.push(v);
        } else if lower.contains(&prefix) {
            contains.push(v);
        }
    }
    starts.extend(contains);
    starts.dedup();
    starts
}

pub(super) async fn complete(
    server: &SqlServer,
    request: &CompleteRequestParams,
) -> Result<CompleteResult, McpError> {
    let db = &server.shared.db;
    let value = request.argument.value.as_str();
    let context_arg = |name: &str| {
        request
            .context
            .as_ref()
            .and_then(|c| c.get_argument(name))
            .cloned()
    };
    let tables = db
        .list_tables()
        .await
        .map_err(|e| McpError::internal_error(e.to_string(), None))?;
    let candidates: Vec<String> = match (&request.r#ref, request.argument.name.as_str()) {
        (Reference::Prompt(_), "table") => {
            tables.iter().map(|t| t.qualified_name.clone()).collect()
        }
        (Reference::Prompt(_), "column" | "segment_column" | "metric_column") => {
            match context_arg("table") {
                Some(table) => match db.resolve_table(&table, None).await {
                    Ok(t) => db
                        .describe(&t)
                        .await
                        .map(|s| s.columns.into_iter().map(|c| c.name).collect())
                        .unwrap_or_default(),
                    Err(_) => Vec::new(),
                },
                None => Vec::new(),
            }
        }
        (Reference::Resource(_), "schema") => {
            let mut schemas: Vec<String> = tables.iter().map(|t| t.schema.clone()).collect();
            schemas.dedup();
            schemas
        }
        (Reference::Resource(_), "table") => {
            let schema = context_arg("schema");
            tables
                .iter()
                .filter(|t| schema.as_ref().is_none_or(|s| &t.schema == s))
                .map(|t| t.name.clone())
                .collect()
        }
        _ => Vec::new(),
    };
    let all = matching(candidates, value);
    let total = all.len();
    let values: Vec<String> = all.into_iter().take(CompletionInfo::MAX_VALUES).collect();
    let has_more = values.len() < total;
    let info = CompletionInfo::with_pagination(values, Some(total as u32), has_more)
        .map_err(|e| McpError::internal_error(e, None))?;
    Ok(CompleteResult::new(info))
}
