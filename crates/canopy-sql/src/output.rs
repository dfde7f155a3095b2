//! Query results as the tools return them: JSON for `structuredContent`, a text table for reading.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A column of a result set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[non_exhaustive]
pub struct ResultColumn {
    /// Column name as the database reports it (duplicates are possible).
    pub name: String,
    /// The database's type name (`int4`, `numeric`, `timestamptz`, `TEXT`…).
    pub data_type: String,
}

/// The result of `query` and `sample_rows`.
///
/// Values are JSON: numbers for integer and floating-point columns, strings for `numeric`
/// (to keep every digit), timestamps (ISO 8601), UUIDs, intervals and other types, nested JSON
/// for `json`/`jsonb`, arrays for array columns, `null` for SQL NULL, and `\x…` hex for bytes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[non_exhaustive]
pub struct QueryOutput {
    /// The columns, in order.
    pub columns: Vec<ResultColumn>,
    /// The rows, each an array of values in column order.
    pub rows: Vec<Vec<Value>>,
    /// Number of rows returned here.
    pub row_count: usize,
    /// Whether the result was cut at `row_limit`: the statement produced more rows.
    pub truncated: bool,
    /// The row limit that applied.
    pub row_limit: usize,
    /// Wall-clock time of the statement, in milliseconds.
    pub elapsed_ms: u64,
}

impl QueryOutput {
    /// The note that states truncation, or `None` when the result is complete.
    pub fn truncation_note(&self) -> Option<String> {
        self.truncated.then(|| {
            format!(
                "Result truncated: showing the first {} rows; the query returned more. Add a LIMIT, filter, or aggregate, or raise max_rows.",
                self.row_count
            )
        })
    }

    /// Renders the result as a text table (cells cut at `max_cell` characters), followed by
    /// the row count and the truncation note.
    pub fn to_text(&self, max_cell: usize) -> String {
        let headers: Vec<String> = self.columns.iter().map(|c| c.name.clone()).collect();
        let cells: Vec<Vec<String>> = self
            .rows
            .iter()
            .map(|row| row.iter().map(|v| cell_text(v, max_cell)).collect())
            .collect();
        let mut out = render_table(&headers, &cells);
        out.push_str(&format!(
            "({} row{}, {} ms)",
            self.row_count,
            if self.row_count == 1 { "" } else { "s" },
            self.elapsed_ms
        ));
        if let Some(note) = self.truncation_note() {
            out.push('\n');
            out.push_str(&note);
        }
        out
    }
}

/// How one value reads in the text table: strings bare, NULL as `NULL`, the rest as JSON.
fn cell_text(value: &Value, max_cell: usize) -> String {
    let text = match value {
        Value::Null => "NULL".to_string(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let text = text
        .replace('\n', "\\n")
        .replace('\t', "\\t")
        .replace('\r', "\\r");
    if text.chars().count() > max_cell {
        let cut: String = text.chars().take(max_cell.saturating_sub(1)).collect();
        format!("{cut}…")
    } else {
        text
    }
}

/// A plain `|`-separated table with a header rule; widths count characters.
pub(crate) fn render_table(headers: &[String], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            if let Some(w) = widths.get_mut(i) {
                *w = (*w).max(cell.chars().count());
            }
        }
    }
    let line = |cells: &[String]| -> String {
        let parts: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c}{}", " ".repeat(w - c.chars().count())))
            .collect();
        format!("| {} |\n", parts.join(" | "))
    };
    let mut out = line(headers);
    let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
    out.push_str(&format!("|-{}-|\n", rule.join("-|-")));
    for row in rows {
        out.push_str(&line(row));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn text_table_shows_nulls_and_truncation() {
        let output = QueryOutput {
            columns: vec![
                ResultColumn {
                    name: "id".into(),
                    data_type: "int4".into(),
                },
                ResultColumn {
                    name: "näme".into(),
                    data_type: "text".into(),
                },
            ],
            rows: vec![vec![json!(1), json!("Ann")], vec![json!(2), Value::Null]],
            row_count: 2,
            truncated: true,
            row_limit: 2,
            elapsed_ms: 3,
        };
        assert_eq!(
            output.to_text(50),
            "| id | näme |\n|----|------|\n| 1  | Ann  |\n| 2  | NULL |\n(2 rows, 3 ms)\nResult truncated: showing the first 2 rows; the query returned more. Add a LIMIT, filter, or aggregate, or raise max_rows."
        );
    }
}
