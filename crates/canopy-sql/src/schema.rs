//! What the server knows about the database's tables: names, columns, keys, indexes.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A table or view, as listed by `list_tables` and the resource list.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[non_exhaustive]
pub struct TableRef {
    /// Schema (PostgreSQL) or database name (`main` for SQLite).
    pub schema: String,
    /// Table name, exactly as stored (no quoting).
    pub name: String,
    /// `table`, `view`, `materialized view`, `foreign table` or `partitioned table`.
    pub kind: String,
}

impl TableRef {
    /// Creates a reference to `schema.name` of the given kind.
    pub fn new(
        schema: impl Into<String>,
        name: impl Into<String>,
        kind: impl Into<String>,
    ) -> Self {
        Self {
            schema: schema.into(),
            name: name.into(),
            kind: kind.into(),
        }
    }

    /// `schema.name`, with either part double-quoted when it is not a plain lower-case
    /// identifier, so the result can be pasted into SQL.
    pub fn qualified(&self) -> String {
        format!(
            "{}.{}",
            quote_ident_if_needed(&self.schema),
            quote_ident_if_needed(&self.name)
        )
    }

    /// `"schema"."name"`, always quoted.
    pub fn quoted(&self) -> String {
        format!("{}.{}", quote_ident(&self.schema), quote_ident(&self.name))
    }
}

/// Double-quotes an identifier for SQL (`my "x"` becomes `"my ""x"""`).
pub fn quote_ident(ident: &str) -> String {
    format!("\"{}\"", ident.replace('"', "\"\""))
}

/// Quotes an identifier only when it is not a plain lower-case identifier.
pub fn quote_ident_if_needed(ident: &str) -> String {
    let plain = ident
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && ident
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if plain {
        ident.to_string()
    } else {
        quote_ident(ident)
    }
}

/// One row of `list_tables`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[non_exhaustive]
pub struct TableSummary {
    /// Schema name.
    pub schema: String,
    /// Table name.
    pub name: String,
    /// Kind of relation.
    pub kind: String,
    /// The name to use in SQL (quoted where needed).
    pub qualified_name: String,
    /// Estimated number of rows (PostgreSQL statistics; exact for SQLite). Absent when unknown.
    pub row_estimate: Option<i64>,
    /// URI of the schema resource.
    pub uri: String,
    /// Comment on the table, if any.
    pub comment: Option<String>,
}

/// A column of a table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[non_exhaustive]
pub struct ColumnInfo {
    /// Column name.
    pub name: String,
    /// Declared type (`integer`, `numeric(10,2)`, `TEXT`…).
    pub data_type: String,
    /// Whether the column accepts NULL.
    pub nullable: bool,
    /// Default expression, if any.
    pub default: Option<String>,
    /// Whether the column is part of the primary key.
    pub primary_key: bool,
    /// Comment on the column, if any.
    pub comment: Option<String>,
}

/// A foreign key of a table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[non_exhaustive]
pub struct ForeignKey {
    /// Constraint name (may be empty on SQLite).
    pub name: String,
    /// Columns of this table.
    pub columns: Vec<String>,
    /// Referenced table, qualified.
    pub references_table: String,
    /// Referenced columns.
    pub references_columns: Vec<String>,
}

/// An index of a table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[non_exhaustive]
pub struct IndexInfo {
    /// Index name.
    pub name: String,
    /// Whether it enforces uniqueness.
    pub unique: bool,
    /// Whether it backs the primary key.
    pub primary: bool,
    /// Indexed columns (expressions appear as written).
    pub columns: Vec<String>,
    /// The index definition, when the database keeps one.
    pub definition: Option<String>,
}

/// Everything `describe_table` and a table resource report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[non_exhaustive]
pub struct TableSchema {
    /// Schema name.
    pub schema: String,
    /// Table name.
    pub name: String,
    /// Kind of relation.
    pub kind: String,
    /// The name to use in SQL (quoted where needed).
    pub qualified_name: String,
    /// Columns in table order.
    pub columns: Vec<ColumnInfo>,
    /// Primary key columns, in key order.
    pub primary_key: Vec<String>,
    /// Foreign keys.
    pub foreign_keys: Vec<ForeignKey>,
    /// Indexes.
    pub indexes: Vec<IndexInfo>,
    /// Estimated number of rows (PostgreSQL statistics; exact for SQLite). Absent when unknown.
    pub row_estimate: Option<i64>,
    /// Comment on the table, if any.
    pub comment: Option<String>,
}

impl TableSchema {
    /// Renders the schema as a short Markdown description for prompts and text output.
    pub fn to_markdown(&self) -> String {
        let mut out = format!("Table {} ({})", self.qualified_name, self.kind);
        if let Some(rows) = self.row_estimate {
            out.push_str(&format!(", about {rows} rows"));
        }
        out.push('\n');
        if let Some(comment) = &self.comment {
            out.push_str(&format!("{comment}\n"));
        }
        for column in &self.columns {
            out.push_str(&format!(
                "- {} {}{}{}{}\n",
                quote_ident_if_needed(&column.name),
                column.data_type,
                if column.nullable { "" } else { " NOT NULL" },
                if column.primary_key {
                    " PRIMARY KEY"
                } else {
                    ""
                },
                column
                    .default
                    .as_ref()
                    .map(|d| format!(" DEFAULT {d}"))
                    .unwrap_or_default()
            ));
        }
        for fk in &self.foreign_keys {
            out.push_str(&format!(
                "- foreign key ({}) references {} ({})\n",
                fk.columns.join(", "),
                fk.references_table,
                fk.references_columns.join(", ")
            ));
        }
        for index in &self.indexes {
            out.push_str(&format!(
                "- {}index {} on ({})\n",
                if index.unique { "unique " } else { "" },
                index.name,
                index.columns.join(", ")
            ));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_leaves_plain_names_alone_and_escapes_quotes() {
        assert_eq!(quote_ident_if_needed("orders"), "orders");
        assert_eq!(quote_ident_if_needed("Orders"), "\"Orders\"");
        assert_eq!(quote_ident_if_needed("my \"x\""), "\"my \"\"x\"\"\"");
        assert_eq!(
            TableRef::new("public", "Ünïcode tàble", "table").qualified(),
            "public.\"Ünïcode tàble\""
        );
    }
}
