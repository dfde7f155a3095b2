//! Reads the parsed TOML of a tree file into [`NodeDecl`]s, checking every key and value on
//! the way so that each error points at the line and key at fault.

use std::{collections::BTreeMap, ops::Range, path::Path, time::Duration};

use canopy_topology::{NodeName, OnUnanswerable, Policy};
use rmcp::model::ProtocolVersion;
use toml::{
    Spanned,
    de::{DeTable, DeValue},
};

use super::{
    AgentSchema,
    decl::{LinkDecl, NodeDecl, PolicyDecl},
    error::TreeFileError,
    expand::expand,
    paths::{resolve_command, resolve_dir},
    position::LineIndex,
};
use crate::{HttpSpec, StdioSpec};

pub(super) type Value<'i> = Spanned<DeValue<'i>>;
pub(super) type Result<T> = std::result::Result<T, TreeFileError>;

/// The keys a node may have, in the order the reference lists them.
pub const NODE_KEYS: &[&str] = &[
    "name",
    "description",
    "policy",
    "children",
    "command",
    "args",
    "env",
    "cwd",
    "start",
    "timeout",
    "protocol",
    "url",
    "headers",
    "inline",
    "agent",
    "serve",
];

/// The keys of a `[policy]` table.
pub const POLICY_KEYS: &[&str] = &[
    "allow",
    "ask",
    "deny",
    "require_scopes",
    "allow_scopes",
    "on_unanswerable",
];

/// Keys that only make sense with `command`.
const STDIO_KEYS: &[&str] = &["args", "env", "cwd", "start"];

/// One key of a table, with where it is and its dotted path.
pub(super) struct Entry<'t, 'i> {
    pub(super) key_span: Range<usize>,
    pub(super) value: &'t Value<'i>,
    pub(super) path: String,
}

/// A table and its key path, for looking keys up.
pub(super) struct Table<'t, 'i> {
    pub(super) table: &'t DeTable<'i>,
    pub(super) prefix: &'t str,
}

impl<'t, 'i> Table<'t, 'i> {
    pub(super) fn get(&self, key: &str) -> Option<Entry<'t, 'i>> {
        self.table.get_key_value(key).map(|(k, value)| Entry {
            key_span: k.span(),
            value,
            path: join(self.prefix, key),
        })
    }
}

/// Everything needed to read one tree file.
pub(super) struct Reader<'a> {
    origin: &'a str,
    source: &'a str,
    lines: LineIndex<'a>,
    pub(super) base_dir: &'a Path,
    pub(super) env: &'a dyn Fn(&str) -> Option<String>,
    /// What `[agent]` tables may hold (`None`: the program runs no agents).
    pub(super) agents: Option<&'a AgentSchema>,
}

impl<'a> Reader<'a> {
    pub(super) fn new(
        source: &'a str,
        origin: &'a str,
        base_dir: &'a Path,
        env: &'a dyn Fn(&str) -> Option<String>,
        agents: Option<&'a AgentSchema>,
    ) -> Self {
        Self {
            origin,
            source,
            lines: LineIndex::new(source),
            base_dir,
            env,
            agents,
        }
    }

    /// Parses the TOML and reads its root node.
    pub(super) fn read(&self) -> Result<NodeDecl> {
        let root = DeTable::parse(self.source).map_err(|err| {
            let mut message = format!("invalid TOML: {}", err.message());
            // toml says only "duplicate key"; its span covers the key, so name it.
            if err.message() == "duplicate key"
                && let Some(key) = err.span().and_then(|span| self.source.get(span))
                && !key.is_empty()
            {
                let quoted = if key.starts_with(['"', '\'']) {
                    key.to_owned()
                } else {
                    format!("'{key}'")
                };
                message = format!(
                    "invalid TOML: duplicate key {quoted} (a key may appear only once in a table)"
                );
            }
            TreeFileError::file(self.origin, message)
                .at(err.span().map(|span| self.lines.position(span.start)))
        })?;
        self.node(root.get_ref(), &root.span(), "", true)
    }

    /// The source text of a value, as written.
    pub(super) fn source_of(&self, value: &Value<'_>) -> &str {
        self.source.get(value.span()).unwrap_or("?")
    }

    pub(super) fn error(
        &self,
        span: &Range<usize>,
        key: &str,
        message: impl Into<String>,
    ) -> TreeFileError {
        let error =
            TreeFileError::file(self.origin, message).at(Some(self.lines.position(span.start)));
        if key.is_empty() {
            error
        } else {
            error.key(key)
        }
    }

    /// Reads one node's table; `prefix` is its key path (`""` for the root).
    fn node(
        &self,
        table: &DeTable<'_>,
        span: &Range<usize>,
        prefix: &str,
        is_root: bool,
    ) -> Result<NodeDecl> {
        self.known_keys(table, prefix, NODE_KEYS)?;
        let node = Table { table, prefix };

        let Some(name) = node.get("name") else {
            return Err(self.error(
                span,
                &join(prefix, "name"),
                "missing required key 'name' (every node needs one: 1-32 of a-z, 0-9, '_' and \
                 '-', starting with a letter)",
            ));
        };
        let name_text = self.string(name.value, &name.path)?;
        NodeName::new(name_text)
            .map_err(|err| self.error(&name.value.span(), &name.path, err.to_string()))?;

        let command = node.get("command");
        let url = node.get("url");
        self.one_kind(&node, command.as_ref(), url.as_ref(), is_root)?;

        let description = node
            .get("description")
            .map(|entry| self.expanded(entry.value, &entry.path))
            .transpose()?;
        let policy = node
            .get("policy")
            .map(|entry| self.policy(&entry))
            .transpose()?
            .unwrap_or_default();
        let agent = node
            .get("agent")
            .map(|entry| self.agent(&entry))
            .transpose()?;
        let link = match (command, url) {
            (Some(command), _) => LinkDecl::Stdio(self.stdio(&node, &command)?),
            (None, Some(url)) => LinkDecl::Http(self.http(&node, &url)?),
            (None, None) => LinkDecl::Router,
        };
        let inline = match node.get("inline") {
            Some(entry) => {
                let inline = self.boolean(entry.value, &entry.path)?;
                if inline && is_root {
                    return Err(self.error(
                        &entry.value.span(),
                        &entry.path,
                        "the root cannot be inline (only a child can be mounted without a name \
                         prefix); remove inline",
                    ));
                }
                inline
            }
            None => false,
        };
        let serve = match node.get("serve") {
            Some(entry) if is_root => self.serve(&entry)?,
            Some(entry) => {
                return Err(self.error(
                    &entry.key_span,
                    &entry.path,
                    "only the root may say how the tree is served: move [serve] to the top of \
                     the file",
                ));
            }
            None => super::ServeSettings::default(),
        };
        let children = node
            .get("children")
            .map(|entry| self.children(&entry))
            .transpose()?
            .unwrap_or_default();
        Ok(NodeDecl {
            name: name_text.to_owned(),
            description,
            policy,
            link,
            inline,
            agent,
            serve,
            children,
        })
    }

    /// A node is a router, a launched process or a remote server: never two of them, and
    /// with no keys of a kind it is not.
    fn one_kind(
        &self,
        node: &Table<'_, '_>,
        command: Option<&Entry<'_, '_>>,
        url: Option<&Entry<'_, '_>>,
        is_root: bool,
    ) -> Result<()> {
        if let (Some(command), Some(url)) = (command, url) {
            let later = if url.key_span.start > command.key_span.start {
                url
            } else {
                command
            };
            let what = if is_root { "a node" } else { "a child" };
            return Err(self.error(
                &later.key_span,
                &later.path,
                format!(
                    "{what} with more than one kind: it has both 'command' (a launched stdio \
                     server) and 'url' (a Streamable HTTP server); keep one of them"
                ),
            ));
        }
        if let Some(agent) = node.get("agent")
            && let Some(link) = command.or(url)
        {
            let what = if link.path.ends_with("command") {
                "'command' (a launched stdio server)"
            } else {
                "'url' (a Streamable HTTP server)"
            };
            return Err(self.error(
                &agent.key_span,
                &agent.path,
                format!(
                    "a node with more than one kind: it has both [agent] (a model that plans \
                     over the node's children) and {what}; put the server in a child of the \
                     agent"
                ),
            ));
        }
        let misplaced = |key: &str, message: &str| match node.get(key) {
            Some(entry) => Err(self.error(&entry.key_span, &entry.path, message)),
            None => Ok(()),
        };
        if command.is_none() {
            for key in STDIO_KEYS {
                misplaced(
                    key,
                    &format!(
                        "'{key}' applies only to a node with 'command' (add a command, or \
                         remove {key})"
                    ),
                )?;
            }
        }
        if url.is_none() {
            misplaced(
                "headers",
                "'headers' applies only to a node with 'url' (add a url, or remove headers)",
            )?;
        }
        if command.is_none() && url.is_none() {
            misplaced(
                "protocol",
                "'protocol' applies only to a node with 'command' or 'url' (a router speaks \
                 no protocol of its own)",
            )?;
            misplaced(
                "timeout",
                "'timeout' applies only to a node with 'command' or 'url' (a router has no \
                 server to wait for)",
            )?;
        }
        Ok(())
    }

    fn stdio(&self, node: &Table<'_, '_>, command: &Entry<'_, '_>) -> Result<StdioSpec> {
        let text = self.expanded(command.value, &command.path)?;
        let path_var = (self.env)("PATH").or_else(|| std::env::var("PATH").ok());
        let resolved = resolve_command(&text, self.base_dir, path_var.as_deref())
            .map_err(|message| self.error(&command.value.span(), &command.path, message))?;
        let mut spec = StdioSpec::new(resolved);
        if let Some(args) = node.get("args") {
            spec = spec.args(self.string_array(args.value, &args.path, true)?);
        }
        if let Some(env) = node.get("env") {
            for (name, value) in self.string_table(&env, check_env_name)? {
                spec = spec.env(name, value);
            }
        }
        if let Some(cwd) = node.get("cwd") {
            let dir = self.expanded(cwd.value, &cwd.path)?;
            let resolved = resolve_dir(&dir, self.base_dir)
                .map_err(|message| self.error(&cwd.value.span(), &cwd.path, message))?;
            spec = spec.cwd(resolved);
        }
        if let Some(start) = node.get("start") {
            match self.string(start.value, &start.path)? {
                "eager" => {}
                "lazy" => spec = spec.lazy(),
                other => {
                    return Err(self.error(
                        &start.value.span(),
                        &start.path,
                        format!("expected 'eager' or 'lazy', found '{other}'"),
                    ));
                }
            }
        }
        if let Some(timeout) = node.get("timeout") {
            spec = spec.timeout(self.timeout(timeout.value, &timeout.path)?);
        }
        if let Some(protocol) = node.get("protocol") {
            spec = spec.protocol(self.protocol(protocol.value, &protocol.path)?);
        }
        Ok(spec)
    }

    fn http(&self, node: &Table<'_, '_>, url: &Entry<'_, '_>) -> Result<HttpSpec> {
        let text = self.expanded(url.value, &url.path)?;
        if !(text.starts_with("http://") || text.starts_with("https://")) {
            return Err(self.error(
                &url.value.span(),
                &url.path,
                format!("expected an http:// or https:// URL, found '{text}'"),
            ));
        }
        let mut spec = HttpSpec::new(text);
        if let Some(headers) = node.get("headers") {
            for (name, value) in self.string_table(&headers, check_header)? {
                spec = spec.header(name, value);
            }
        }
        if let Some(timeout) = node.get("timeout") {
            spec = spec.timeout(self.timeout(timeout.value, &timeout.path)?);
        }
        if let Some(protocol) = node.get("protocol") {
            spec = spec.protocol(self.protocol(protocol.value, &protocol.path)?);
        }
        Ok(spec)
    }

    fn policy(&self, entry: &Entry<'_, '_>) -> Result<PolicyDecl> {
        let mut policy = self.globs(entry, POLICY_KEYS)?;
        let table = Table {
            table: self.table(entry.value, &entry.path)?,
            prefix: &entry.path,
        };
        if let Some(fallback) = table.get("on_unanswerable") {
            policy.on_unanswerable = match self.string(fallback.value, &fallback.path)? {
                "deny" => OnUnanswerable::Deny,
                "allow" => OnUnanswerable::Allow,
                other => {
                    return Err(self.error(
                        &fallback.value.span(),
                        &fallback.path,
                        format!("expected 'deny' or 'allow', found '{other}'"),
                    ));
                }
            };
        }
        policy.require_scopes = self.scope_rules(&table, "require_scopes")?;
        policy.allow_scopes = self.scope_rules(&table, "allow_scopes")?;
        Ok(policy)
    }

    /// A table of scope rules (`"notes/*" = ["notes:write"]`): each glob checked to compile,
    /// each list of scopes non-empty, each scope an OAuth scope token (RFC 6749 §3.3).
    fn scope_rules(&self, policy: &Table<'_, '_>, key: &str) -> Result<Vec<(String, Vec<String>)>> {
        let Some(rules) = policy.get(key) else {
            return Ok(Vec::new());
        };
        let table = self.table(rules.value, &rules.path)?;
        let mut out = Vec::with_capacity(table.len());
        for (glob, value) in table.iter() {
            let path = join(&rules.path, glob.get_ref());
            Policy::new()
                .deny(glob.get_ref().as_ref())
                .validate()
                .map_err(|err| self.error(&glob.span(), &path, err.to_string()))?;
            let scopes = self.string_array(value, &path, false)?;
            if scopes.is_empty() {
                return Err(self.error(
                    &value.span(),
                    &path,
                    "expected at least one scope (the caller must hold all of them)",
                ));
            }
            let scope_token = |c: char| c.is_ascii_graphic() && c != '"' && c != '\\';
            for (index, (scope, item)) in scopes.iter().zip(as_array(value)).enumerate() {
                if scope.is_empty() || !scope.chars().all(scope_token) {
                    return Err(self.error(
                        &item.span(),
                        &format!("{path}[{index}]"),
                        format!(
                            "'{scope}' is not a scope (printable ASCII, no spaces, quotes or \\)"
                        ),
                    ));
                }
            }
            out.push((glob.get_ref().to_string(), scopes));
        }
        Ok(out)
    }

    /// A table of glob lists (`allow`, `ask`, `deny`; `keys` says which may appear), each
    /// glob checked to compile.
    pub(super) fn globs(&self, entry: &Entry<'_, '_>, keys: &[&str]) -> Result<PolicyDecl> {
        let table = self.table(entry.value, &entry.path)?;
        self.known_keys(table, &entry.path, keys)?;
        let policy = Table {
            table,
            prefix: &entry.path,
        };
        let globs = |key: &str| -> Result<Vec<String>> {
            let Some(rule) = policy.get(key) else {
                return Ok(Vec::new());
            };
            let globs = self.string_array(rule.value, &rule.path, false)?;
            let items = as_array(rule.value);
            for (index, (glob, item)) in globs.iter().zip(items).enumerate() {
                Policy::new().deny(glob).validate().map_err(|err| {
                    self.error(
                        &item.span(),
                        &format!("{}[{index}]", rule.path),
                        err.to_string(),
                    )
                })?;
            }
            Ok(globs)
        };
        Ok(PolicyDecl {
            allow: globs("allow")?,
            ask: globs("ask")?,
            deny: globs("deny")?,
            ..PolicyDecl::default()
        })
    }

    fn children(&self, entry: &Entry<'_, '_>) -> Result<Vec<NodeDecl>> {
        let DeValue::Array(items) = entry.value.get_ref() else {
            return Err(self.wrong_type(
                entry.value,
                &entry.path,
                "an array of tables (write [[children]] for each child)",
            ));
        };
        let mut children: Vec<NodeDecl> = Vec::with_capacity(items.len());
        for (index, item) in items.iter().enumerate() {
            let path = format!("{}[{index}]", entry.path);
            let table = self.table(item, &path)?;
            let child = self.node(table, &item.span(), &path, false)?;
            if let Some(first) = children.iter().position(|c| c.name == child.name) {
                let name_key = join(&path, "name");
                let name_span = table.get("name").map_or_else(|| item.span(), Spanned::span);
                return Err(self.error(
                    &name_span,
                    &name_key,
                    format!(
                        "duplicate sibling name '{}' ({}[{first}] has it too; sibling names \
                         must be unique)",
                        child.name, entry.path
                    ),
                ));
            }
            children.push(child);
        }
        Ok(children)
    }

    /// Fails on the first key (in source order) that is not in `allowed`.
    pub(super) fn known_keys(
        &self,
        table: &DeTable<'_>,
        prefix: &str,
        allowed: &[&str],
    ) -> Result<()> {
        for key in table.keys() {
            if !allowed.contains(&key.get_ref().as_ref()) {
                return Err(self.error(
                    &key.span(),
                    &join(prefix, key.get_ref()),
                    format!(
                        "unknown key '{}' (expected one of: {})",
                        key.get_ref(),
                        allowed.join(", ")
                    ),
                ));
            }
        }
        Ok(())
    }

    pub(super) fn wrong_type(&self, value: &Value<'_>, key: &str, expected: &str) -> TreeFileError {
        self.error(
            &value.span(),
            key,
            format!("expected {expected}, found {}", type_name(value.get_ref())),
        )
    }

    pub(super) fn table<'t, 'i>(&self, value: &'t Value<'i>, key: &str) -> Result<&'t DeTable<'i>> {
        match value.get_ref() {
            DeValue::Table(table) => Ok(table),
            _ => Err(self.wrong_type(value, key, "a table")),
        }
    }

    pub(super) fn string<'t>(&self, value: &'t Value<'_>, key: &str) -> Result<&'t str> {
        value
            .get_ref()
            .as_str()
            .ok_or_else(|| self.wrong_type(value, key, "a string"))
    }

    /// A string with `${VAR}` expanded.
    pub(super) fn expanded(&self, value: &Value<'_>, key: &str) -> Result<String> {
        let text = self.string(value, key)?;
        expand(text, self.env).map_err(|err| self.error(&value.span(), key, err.to_string()))
    }

    pub(super) fn boolean(&self, value: &Value<'_>, key: &str) -> Result<bool> {
        value
            .get_ref()
            .as_bool()
            .ok_or_else(|| self.wrong_type(value, key, "true or false"))
    }

    pub(super) fn string_array(
        &self,
        value: &Value<'_>,
        key: &str,
        expanded: bool,
    ) -> Result<Vec<String>> {
        let DeValue::Array(items) = value.get_ref() else {
            return Err(self.wrong_type(value, key, "an array of strings"));
        };
        items
            .iter()
            .enumerate()
            .map(|(index, item)| {
                let key = format!("{key}[{index}]");
                if expanded {
                    self.expanded(item, &key)
                } else {
                    self.string(item, &key).map(str::to_owned)
                }
            })
            .collect()
    }

    /// A table of strings (`env`, `headers`), values expanded; `check` vets a name and
    /// value and says what is wrong.
    fn string_table(
        &self,
        entry: &Entry<'_, '_>,
        check: fn(&str, &str) -> std::result::Result<(), String>,
    ) -> Result<BTreeMap<String, String>> {
        let table = self.table(entry.value, &entry.path)?;
        let mut out = BTreeMap::new();
        for (name, value) in table.iter() {
            let key = join(&entry.path, name.get_ref());
            let text = self.expanded(value, &key)?;
            check(name.get_ref(), &text)
                .map_err(|message| self.error(&name.span(), &key, message))?;
            out.insert(name.get_ref().to_string(), text);
        }
        Ok(out)
    }

    fn protocol(&self, value: &Value<'_>, key: &str) -> Result<ProtocolVersion> {
        let text = self.string(value, key)?;
        ProtocolVersion::KNOWN_VERSIONS
            .iter()
            .find(|known| known.as_str() == text)
            .cloned()
            .ok_or_else(|| {
                let known: Vec<&str> = ProtocolVersion::KNOWN_VERSIONS
                    .iter()
                    .map(|v| v.as_str())
                    .collect();
                self.error(
                    &value.span(),
                    key,
                    format!(
                        "unknown protocol revision '{text}' (known: {})",
                        known.join(", ")
                    ),
                )
            })
    }

    pub(super) fn timeout(&self, value: &Value<'_>, key: &str) -> Result<Duration> {
        const EXPECTED: &str = "a positive number of seconds (e.g. 30 or 2.5)";
        let bad = |found: &str| {
            self.error(
                &value.span(),
                key,
                format!("expected {EXPECTED}, found {found}"),
            )
        };
        match value.get_ref() {
            DeValue::Integer(integer) => {
                match i64::from_str_radix(integer.as_str(), integer.radix()) {
                    Ok(seconds) if seconds > 0 => Ok(Duration::from_secs(seconds.unsigned_abs())),
                    _ => Err(bad(&integer.to_string())),
                }
            }
            DeValue::Float(float) => float
                .as_str()
                .parse::<f64>()
                .ok()
                .filter(|seconds| seconds.is_finite() && *seconds > 0.0)
                .and_then(|seconds| Duration::try_from_secs_f64(seconds).ok())
                .ok_or_else(|| bad(float.as_str())),
            _ => Err(self.wrong_type(value, key, EXPECTED)),
        }
    }
}

fn as_array<'t, 'i>(value: &'t Value<'i>) -> &'t [Value<'i>] {
    match value.get_ref() {
        DeValue::Array(items) => items,
        _ => &[],
    }
}

fn check_env_name(name: &str, _value: &str) -> std::result::Result<(), String> {
    if name.is_empty() || name.contains(['=', '\0']) {
        Err(format!(
            "invalid environment variable name '{name}' (it must be non-empty, with no '=' or NUL)"
        ))
    } else {
        Ok(())
    }
}

fn check_header(name: &str, value: &str) -> std::result::Result<(), String> {
    let token = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c);
    if name.is_empty() || !name.chars().all(token) {
        return Err(format!(
            "invalid header name '{name}' (use letters, digits and !#$%&'*+-.^_`|~)"
        ));
    }
    if value.contains(['\r', '\n', '\0']) {
        return Err(format!(
            "the value of header '{name}' contains a line break or NUL"
        ));
    }
    Ok(())
}

/// What a value is, with its article, for "expected …, found …".
fn type_name(value: &DeValue<'_>) -> &'static str {
    match value {
        DeValue::String(_) => "a string",
        DeValue::Integer(_) => "an integer",
        DeValue::Float(_) => "a float",
        DeValue::Boolean(_) => "a boolean",
        DeValue::Datetime(_) => "a date-time",
        DeValue::Array(_) => "an array",
        DeValue::Table(_) => "a table",
    }
}

/// `prefix.key`, or `key` at the top; keys that are not bare TOML keys are quoted.
fn join(prefix: &str, key: &str) -> String {
    let bare = !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    let key = if bare {
        key.to_owned()
    } else {
        format!("{key:?}")
    };
    if prefix.is_empty() {
        key
    } else {
        format!("{prefix}.{key}")
    }
}

#[cfg(test)]
mod tests {
    use std::{path::PathBuf, time::Duration};

    use super::*;
    use crate::StartMode;

    fn env(name: &str) -> Option<String> {
        match name {
            "TOKEN" => Some("secret".into()),
            "PORT" => Some("3001".into()),
            "PATH" => std::env::var("PATH").ok(),
            _ => None,
        }
    }

    fn base() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
    }

    fn read(source: &str) -> Result<NodeDecl> {
        let base = base();
        Reader::new(source, "t.toml", &base, &env, None).read()
    }

    fn error(source: &str) -> String {
        match read(source) {
            Ok(decl) => panic!("expected an error, got {decl:?}"),
            Err(err) => err.to_string(),
        }
    }

    #[test]
    fn an_agent_table_needs_a_registered_schema() {
        assert_eq!(
            error("name = \"lead\"\n\n[agent]\nprovider = \"sampling\"\n"),
            "t.toml:3:2: agent: this program cannot read [agent] tables: load the tree file \
             with an agent schema (treefile::Loader::new().agents(canopy_agent::schema()))"
        );
    }

    #[test]
    fn an_agent_table_is_read_against_the_schema() {
        let schema = AgentSchema::new()
            .provider("p", &["need"])
            .key("need", super::super::KeyKind::Text, "what it needs")
            .key("secret", super::super::KeyKind::Secret, "a token")
            .key_for("only", super::super::KeyKind::Text, "x", &["q"]);
        let base = base();
        let env = |name: &str| (name == "TOKEN").then(|| "s3cret".to_owned());
        let read = |source: &str| Reader::new(source, "t.toml", &base, &env, Some(&schema)).read();
        let decl =
            read("name = \"a\"\n[agent]\nprovider = \"p\"\nneed = \"x\"\nsecret = \"TOKEN\"\n")
                .expect("loads");
        let agent = decl.agent.expect("an agent");
        assert_eq!(agent.text("need"), Some("x"));
        assert_eq!(agent.secret("secret"), Some("s3cret"));
        assert!(!format!("{agent:?}").contains("s3cret"), "{agent:?}");
        let message = |source: &str| read(source).expect_err("fails").to_string();
        assert_eq!(
            message("name = \"a\"\n[agent]\nprovider = \"p\"\n"),
            "t.toml:3:12: agent.need: provider 'p' needs 'need' (what it needs)"
        );
        assert_eq!(
            message("name = \"a\"\n[agent]\nprovider = \"p\"\nneed = \"x\"\nonly = \"y\"\n"),
            "t.toml:5:1: agent.only: 'only' applies only to provider 'q', not 'p'"
        );
        assert_eq!(
            message("name = \"a\"\n[agent]\nprovider = \"p\"\nneed = \"x\"\nsecret = \"NO\"\n"),
            "t.toml:5:10: agent.secret: environment variable 'NO' is not set (it should hold a token)"
        );
    }

    #[test]
    fn a_stdio_child_keeps_every_setting() {
        let decl = read(
            r#"
name = "hub"
[[children]]
name = "db"
command = "sh"
args = ["-c", "exec cat", "${TOKEN}"]
env = { RUST_LOG = "warn", "MY.TOKEN" = "t-${TOKEN}" }
cwd = "./src"
start = "lazy"
timeout = 2.5
"#,
        )
        .expect("loads");
        let LinkDecl::Stdio(spec) = &decl.children[0].link else {
            panic!("not stdio: {decl:?}");
        };
        let expected = StdioSpec::new("sh")
            .args(["-c", "exec cat", "secret"])
            .env("RUST_LOG", "warn")
            .env("MY.TOKEN", "t-secret")
            .cwd(base().join("src"))
            .lazy()
            .timeout(Duration::from_millis(2500));
        assert_eq!(spec, &expected);
        assert_eq!(spec.start, StartMode::Lazy);
    }

    #[test]
    fn an_http_child_keeps_every_setting() {
        let decl = read(
            r#"
name = "hub"
description = "costs $$5, literally $${TOKEN}"
[[children]]
name = "search"
url = "http://127.0.0.1:${PORT}/mcp"
headers.Authorization = "Bearer ${TOKEN}"
timeout = 30
inline = true
"#,
        )
        .expect("loads");
        assert_eq!(
            decl.description.as_deref(),
            Some("costs $$5, literally ${TOKEN}")
        );
        let child = &decl.children[0];
        assert!(child.inline);
        let expected = HttpSpec::new("http://127.0.0.1:3001/mcp")
            .header("Authorization", "Bearer secret")
            .timeout(Duration::from_secs(30));
        assert_eq!(child.link, LinkDecl::Http(expected));
    }

    #[test]
    fn policies_keep_their_globs_unexpanded() {
        let decl = read(
            r#"
name = "hub"
[policy]
allow = ["**"]
ask = ["db/*write*", "$${x}"]
deny = ["shell/**"]
"#,
        )
        .expect("loads");
        assert_eq!(
            decl.policy,
            PolicyDecl {
                allow: vec!["**".into()],
                ask: vec!["db/*write*".into(), "$${x}".into()],
                deny: vec!["shell/**".into()],
                on_unanswerable: OnUnanswerable::Deny,
                ..PolicyDecl::default()
            }
        );
        assert_eq!(decl.link, LinkDecl::Router);
    }

    #[test]
    fn the_roots_serve_table_is_read_and_checked() {
        let decl = read(
            "name = \"hub\"\n[serve]\nhttp = \"127.0.0.1:${PORT}\"\naudit = true\n\
             allow_hosts = [\"mcp.example.com\"]\n[serve.auth]\nissuer = \"https://as\"\n\
             audience = \"http://127.0.0.1:3001/mcp\"\nscopes = [\"mcp:call\"]\n",
        )
        .expect("loads");
        assert_eq!(decl.serve.http.as_deref(), Some("127.0.0.1:3001"));
        assert!(decl.serve.audit);
        assert_eq!(decl.serve.allow_hosts, ["mcp.example.com"]);
        assert_eq!(
            decl.serve.auth,
            Some(super::super::ServeAuth::OAuth {
                issuer: "https://as".into(),
                audience: "http://127.0.0.1:3001/mcp".into(),
                scopes: vec!["mcp:call".into()],
            })
        );
        let decl = read("name = \"hub\"\n[serve.auth]\ntoken_file = \"t.txt\"\n").expect("loads");
        assert_eq!(
            decl.serve.auth,
            Some(super::super::ServeAuth::Tokens {
                file: base().join("t.txt")
            })
        );
        assert_eq!(
            error("name = \"hub\"\n[[children]]\nname = \"a\"\n[children.serve]\nhttp = \"1\"\n"),
            "t.toml:4:11: children[0].serve: only the root may say how the tree is served: move \
             [serve] to the top of the file"
        );
        assert!(
            error("name = \"hub\"\n[serve.auth]\nissuer = \"x\"\ntoken_file = \"t\"\n")
                .contains("use one or the other")
        );
        assert!(
            error("name = \"hub\"\n[serve.auth]\nissuer = \"x\"\n")
                .contains("issuer needs audience")
        );
        assert!(error("name = \"hub\"\n[serve]\nport = 3\n").contains("unknown key 'port'"));
    }

    #[test]
    fn scope_rules_map_globs_to_scopes() {
        let decl = read(
            "name = \"hub\"\n[policy]\nask = [\"notes/*\"]\n\
             allow_scopes = { \"notes/*\" = [\"notes:write\"] }\n\
             require_scopes = { \"db/*\" = [\"db:read\", \"db:use\"] }\n",
        )
        .expect("loads");
        assert_eq!(
            decl.policy.allow_scopes,
            vec![("notes/*".to_owned(), vec!["notes:write".to_owned()])]
        );
        assert_eq!(
            decl.policy.require_scopes,
            vec![(
                "db/*".to_owned(),
                vec!["db:read".to_owned(), "db:use".to_owned()]
            )]
        );
        assert_eq!(
            error("name = \"hub\"\n[policy]\nrequire_scopes = { \"db/*\" = [] }\n"),
            "t.toml:3:29: policy.require_scopes.\"db/*\": expected at least one scope (the caller \
             must hold all of them)"
        );
        assert_eq!(
            error("name = \"hub\"\n[policy]\nallow_scopes = { \"a\" = [\"two words\"] }\n"),
            "t.toml:3:25: policy.allow_scopes.a[0]: 'two words' is not a scope (printable \
             ASCII, no spaces, quotes or \\)"
        );
        assert!(
            error("name = \"hub\"\n[policy]\nallow_scopes = { \"a/[b\" = [\"s\"] }\n")
                .starts_with("t.toml:3:18: policy.allow_scopes.\"a/[b\": invalid policy glob"),
        );
        assert_eq!(
            error("name = \"hub\"\n[policy]\nallow_scopes = [\"a\"]\n"),
            "t.toml:3:16: policy.allow_scopes: expected a table, found an array"
        );
    }

    #[test]
    fn on_unanswerable_is_deny_or_allow() {
        let decl =
            read("name = \"hub\"\n[policy]\nask = [\"notes/*\"]\non_unanswerable = \"allow\"\n")
                .expect("loads");
        assert_eq!(decl.policy.on_unanswerable, OnUnanswerable::Allow);
        let decl = read("name = \"hub\"\npolicy.on_unanswerable = \"deny\"\n").expect("loads");
        assert_eq!(decl.policy.on_unanswerable, OnUnanswerable::Deny);
        assert_eq!(
            error("name = \"hub\"\n[policy]\non_unanswerable = \"ask\"\n"),
            "t.toml:3:19: policy.on_unanswerable: expected 'deny' or 'allow', found 'ask'"
        );
        assert_eq!(
            error("name = \"hub\"\n[policy]\non_unanswerable = true\n"),
            "t.toml:3:19: policy.on_unanswerable: expected a string, found a boolean"
        );
    }

    #[test]
    fn key_paths_follow_the_nesting() {
        let source = "name = \"a\"\n[[children]]\nname = \"b\"\n[[children.children]]\nname = \"c\"\n\
                      [[children.children.children]]\nname = \"d\"\nurl = 5\n";
        assert_eq!(
            error(source),
            "t.toml:8:7: children[0].children[0].children[0].url: expected a string, found an \
             integer"
        );
    }

    #[test]
    fn quoted_keys_are_quoted_in_key_paths() {
        let source = "name = \"a\"\n[[children]]\nname = \"b\"\ncommand = \"sh\"\n\
                      env = { \"MY.VAR\" = \"${NOPE}\" }\n";
        assert!(
            error(source).starts_with(
                "t.toml:5:20: children[0].env.\"MY.VAR\": environment variable 'NOPE' is not set"
            ),
            "{}",
            error(source)
        );
    }

    #[test]
    fn timeouts_must_be_positive_numbers() {
        let with = |timeout: &str| {
            format!(
                "name = \"a\"\n[[children]]\nname = \"b\"\nurl = \"http://x\"\ntimeout = {timeout}\n"
            )
        };
        for (timeout, found) in [
            ("0", "0"),
            ("-3", "-3"),
            ("0.0", "0.0"),
            ("nan", "nan"),
            ("inf", "inf"),
            ("\"30s\"", "a string"),
        ] {
            assert_eq!(
                error(&with(timeout)),
                format!(
                    "t.toml:5:11: children[0].timeout: expected a positive number of seconds (e.g. \
                     30 or 2.5), found {found}"
                )
            );
        }
        assert!(read(&with("0x10")).is_ok());
    }

    #[test]
    fn header_and_env_names_are_checked() {
        let headers = "name = \"a\"\n[[children]]\nname = \"b\"\nurl = \"http://x\"\n\
                       headers = { \"Bad Name\" = \"v\" }\n";
        assert!(error(headers).starts_with(
            "t.toml:5:13: children[0].headers.\"Bad Name\": invalid header name 'Bad Name'"
        ));
        let env = "name = \"a\"\n[[children]]\nname = \"b\"\ncommand = \"sh\"\nenv = { \"A=B\" = \"v\" }\n";
        assert!(error(env).starts_with(
            "t.toml:5:9: children[0].env.\"A=B\": invalid environment variable name 'A=B'"
        ));
    }

    #[test]
    fn the_root_may_say_inline_false() {
        assert!(read("name = \"a\"\ninline = false\n").is_ok_and(|decl| !decl.inline));
    }

    #[test]
    fn an_empty_file_misses_its_name() {
        assert_eq!(
            error(""),
            "t.toml:1:1: name: missing required key 'name' (every node needs one: 1-32 of a-z, \
             0-9, '_' and '-', starting with a letter)"
        );
    }
}
