//! The resource URI of a table, `sql://tables/{schema}/{table}` (both parts
//! percent-encoded): made by the databases when they list tables, read back by the server
//! when a client reads one.

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
