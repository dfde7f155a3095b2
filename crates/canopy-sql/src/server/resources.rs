//! Table schemas as resources (URIs from [`crate::uri`]), one per table, paginated, plus a
//! template for any table.

use rmcp::ErrorData as McpError;
use rmcp::model::{
    ListResourcesResult, ReadResourceResult, Resource, ResourceContents, ResourceTemplate,
};

use super::SqlServer;
use crate::uri::{TEMPLATE, parse_uri};

pub(super) fn template() -> ResourceTemplate {
    ResourceTemplate::new(TEMPLATE, "table")
        .with_title("Table schema")
        .with_description("Columns, types, nullability, keys, indexes and row estimate of any table or view (schema `main` on SQLite).")
        .with_mime_type("application/json")
}

pub(super) async fn list(
    server: &SqlServer,
    cursor: Option<String>,
) -> Result<ListResourcesResult, McpError> {
    let start = match cursor {
        None => 0,
        Some(c) => c
            .parse::<usize>()
            .map_err(|_| McpError::invalid_params(format!("invalid cursor '{c}'"), None))?,
    };
    let tables = server
        .shared
        .db
        .list_tables()
        .await
        .map_err(|e| McpError::internal_error(e.to_string(), None))?;
    let page = server.shared.options.page_size;
    let resources: Vec<Resource> = tables
        .iter()
        .skip(start)
        .take(page)
        .map(|t| {
            let rows = t
                .row_estimate
                .map(|r| format!(", about {r} rows"))
                .unwrap_or_default();
            Resource::new(&t.uri, &t.qualified_name)
                .with_title(format!("{} {}", t.kind, t.qualified_name))
                .with_description(format!(
                    "Schema of {} {}{rows}: columns, keys, indexes.{}",
                    t.kind,
                    t.qualified_name,
                    t.comment
                        .as_ref()
                        .map(|c| format!(" {c}"))
                        .unwrap_or_default()
                ))
                .with_mime_type("application/json")
        })
        .collect();
    let mut result = ListResourcesResult::with_all_items(resources);
    if start + page < tables.len() {
        result.next_cursor = Some((start + page).to_string());
    }
    Ok(result)
}

pub(super) async fn read(server: &SqlServer, uri: &str) -> Result<ReadResourceResult, McpError> {
    let not_found =
        |why: String| McpError::resource_not_found(why, Some(serde_json::json!({ "uri": uri })));
    let (schema, table) = parse_uri(uri)
        .ok_or_else(|| not_found(format!("unknown resource '{uri}' (expected {TEMPLATE})")))?;
    let db = &server.shared.db;
    let table = db
        .resolve_table(&table, Some(&schema))
        .await
        .map_err(|e| not_found(e.to_string()))?;
    let described = db
        .describe(&table)
        .await
        .map_err(|e| not_found(e.to_string()))?;
    let json = serde_json::to_string_pretty(&described).map_err(|e| {
        McpError::internal_error(format!("could not serialize the schema: {e}"), None)
    })?;
    Ok(ReadResourceResult::new(vec![
        ResourceContents::text(json, uri).with_mime_type("application/json"),
    ]))
}
