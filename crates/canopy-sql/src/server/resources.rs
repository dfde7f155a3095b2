//! Table schemas as resources: `sql://tables/{schema}/{table}`, one per table, paginated,
//! plus a template for any table.

use rmcp::ErrorData as McpError;
use rmcp::model::{
    ListResourcesResult, ReadResourceResult, Resource, ResourceContents, ResourceTemplate,
};

use super::SqlServer;
use crate::schema::TableRef;

const PREFIX: &str = "sql://tables/";
/// The URI template of table resources.
pub(crate) const TEMPLATE: &str = "sql://tables/{schema}/{table}";

/// The resource URI of a table; both parts are percent-encoded.
pub(crate) fn table_uri(table: &TableRef) -> String {
    format!("{PREFIX}{}/{}", encode(&table.schema), encode(&table.name))
}

fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// `(schema, table)` of a table resource URI.
pub(crate) fn parse_uri(uri: &str) -> Option<(String, String)> {
    let rest = uri.strip_prefix(PREFIX)?;
    let (schema, table) = rest.split_once('/')?;
    if table.contains('/') {
        return None;
    }
    Some((decode(schema)?, decode(table)?))
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris_round_trip_odd_names() {
        let t = TableRef::new("My Schema", "Ünï/cödé \"t\"", "table");
        let uri = table_uri(&t);
        assert_eq!(
            uri,
            "sql://tables/My%20Schema/%C3%9Cn%C3%AF%2Fc%C3%B6d%C3%A9%20%22t%22"
        );
        assert_eq!(
            parse_uri(&uri),
            Some(("My Schema".into(), "Ünï/cödé \"t\"".into()))
        );
        assert_eq!(parse_uri("sql://tables/a"), None);
    }
}
