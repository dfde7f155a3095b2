//! The `[agent]` table: a node whose service the program makes from a declaration. The
//! tree-file layer knows no provider and no setting: the crate that runs agents registers an
//! [`AgentSchema`] with the [`Loader`](super::Loader) (canopy-agent's
//! `canopy_agent::schema()`), and the table is read and checked against it, every mistake
//! with its line and key, into an [`AgentDecl`] that the program's
//! [`AgentFactory`](crate::AgentFactory) turns into the node when the tree is built.

use std::{collections::BTreeMap, time::Duration};

use toml::de::DeValue;

use super::read::{Entry, Reader, Result, Table, Value};
use crate::{AgentDecl, Setting, budget::Limits};

/// The keys of a [`KeyKind::Limits`] table.
const BUDGET_KEYS: &[&str] = &["calls", "tokens", "time"];
/// The keys of a [`KeyKind::Globs`] table.
const GLOB_KEYS: &[&str] = &["allow", "deny"];

/// What an `[agent]` table may hold: the providers, and each key with its kind. Registered by
/// the crate that runs agents; read by the loader, which checks every key and reports
/// mistakes with their line.
///
/// ```
/// use canopy_node::treefile::{AgentSchema, KeyKind, Loader};
///
/// let schema = AgentSchema::new()
///     .provider("echo", &[])
///     .provider("remote", &["url"])
///     .key("url", KeyKind::Url, "the server's URL")
///     .key("turns", KeyKind::Integer { min: 1, max: 10 }, "the most turns");
/// let env = |_: &str| None;
/// let source = "name = \"lead\"\n[agent]\nprovider = \"remote\"\n";
/// let error = Loader::new()
///     .agents(schema.clone())
///     .parse(source, "lead.toml", std::path::Path::new("."), &env)
///     .unwrap_err();
/// assert_eq!(
///     error.to_string(),
///     "lead.toml:3:12: agent.url: provider 'remote' needs 'url' (the server's URL)"
/// );
///
/// let source = "name = \"lead\"\n[agent]\nprovider = \"echo\"\nturns = 3\n";
/// let root = Loader::new().agents(schema).parse(source, "lead.toml", ".".as_ref(), &env)?;
/// assert_eq!(root.agent_declaration().and_then(|a| a.integer("turns")), Some(3));
/// # Ok::<(), canopy_node::treefile::TreeFileError>(())
/// ```
#[derive(Clone, Debug, Default)]
pub struct AgentSchema {
    providers: Vec<Provider>,
    keys: Vec<Key>,
}

#[derive(Clone, Debug)]
struct Provider {
    name: String,
    needs: Vec<String>,
}

#[derive(Clone, Debug)]
struct Key {
    name: String,
    kind: KeyKind,
    what: String,
    /// The providers it applies to (empty: every provider).
    only: Vec<String>,
}

/// How the value of one `[agent]` key is read and checked.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum KeyKind {
    /// A string, `${VAR}` expanded: [`Setting::Text`].
    Text,
    /// An `http://` or `https://` URL: [`Setting::Text`].
    Url,
    /// The name of an environment variable that must be set; its value is the secret:
    /// [`Setting::Secret`].
    Secret,
    /// A file relative to the tree file's folder, which must exist: [`Setting::Path`].
    File,
    /// A tool name (1–64 of `A-Z a-z 0-9 _ -`): [`Setting::Text`].
    ToolName,
    /// A whole number in `min..=max`: [`Setting::Integer`].
    Integer {
        /// The least value.
        min: u64,
        /// The greatest value.
        max: u64,
    },
    /// A number in `min..=max`: [`Setting::Number`].
    Number {
        /// The least value.
        min: f64,
        /// The greatest value.
        max: f64,
    },
    /// A table of `allow`/`deny` glob lists: [`Setting::Globs`].
    Globs,
    /// A budget table (`calls`, `tokens`, `time`): [`Setting::Limits`].
    Limits,
    /// A table of these keys, each a number in `min..=max` (absent ones read as 0):
    /// [`Setting::Numbers`].
    Numbers {
        /// The keys.
        keys: Vec<String>,
        /// The least value.
        min: f64,
        /// The greatest value.
        max: f64,
    },
}

impl KeyKind {
    /// The keys of the table this kind reads, if it reads one.
    pub fn table_keys(&self) -> Option<Vec<&str>> {
        match self {
            Self::Globs => Some(GLOB_KEYS.to_vec()),
            Self::Limits => Some(BUDGET_KEYS.to_vec()),
            Self::Numbers { keys, .. } => Some(keys.iter().map(String::as_str).collect()),
            _ => None,
        }
    }
}

impl AgentSchema {
    /// A schema with no provider and no key.
    pub fn new() -> Self {
        Self::default()
    }

    /// Accepts `provider = "NAME"`; `needs` are the keys the provider requires.
    pub fn provider(mut self, name: impl Into<String>, needs: &[&str]) -> Self {
        self.providers.push(Provider {
            name: name.into(),
            needs: needs.iter().map(|&key| key.to_owned()).collect(),
        });
        self
    }

    /// Accepts `key` for every provider; `what` names its value in messages ("the model's
    /// name").
    pub fn key(self, key: impl Into<String>, kind: KeyKind, what: impl Into<String>) -> Self {
        self.key_for(key, kind, what, &[])
    }

    /// Accepts `key` for the listed providers only (for every provider when empty).
    pub fn key_for(
        mut self,
        key: impl Into<String>,
        kind: KeyKind,
        what: impl Into<String>,
        providers: &[&str],
    ) -> Self {
        self.keys.push(Key {
            name: key.into(),
            kind,
            what: what.into(),
            only: providers.iter().map(|&p| p.to_owned()).collect(),
        });
        self
    }

    /// The providers, in the order registered.
    pub fn providers(&self) -> impl Iterator<Item = &str> {
        self.providers.iter().map(|p| p.name.as_str())
    }

    /// Every key an `[agent]` table accepts (`provider` first), with its kind (`None` for
    /// `provider`).
    pub fn keys(&self) -> impl Iterator<Item = (&str, Option<&KeyKind>)> {
        std::iter::once(("provider", None))
            .chain(self.keys.iter().map(|k| (k.name.as_str(), Some(&k.kind))))
    }

    /// The tables this schema accepts, by a short name, with their keys: `agent`, then
    /// `agent_KEY` for each key whose kind is a table (`agent_budget`, `agent_tools`…), as
    /// [`keys::TABLES`](super::keys::TABLES) lists the others.
    pub fn tables(&self) -> Vec<(String, Vec<&str>)> {
        let mut tables = vec![("agent".to_owned(), self.key_names())];
        for key in &self.keys {
            if let Some(keys) = key.kind.table_keys() {
                tables.push((format!("agent_{}", key.name), keys));
            }
        }
        tables
    }

    fn key_names(&self) -> Vec<&str> {
        self.keys().map(|(name, _)| name).collect()
    }
}

impl Reader<'_> {
    /// Reads an `[agent]` table against the registered schema.
    pub(super) fn agent(&self, entry: &Entry<'_, '_>) -> Result<AgentDecl> {
        let Some(schema) = self.agents else {
            return Err(self.error(
                &entry.key_span,
                &entry.path,
                "this program cannot read [agent] tables: load the tree file with an agent \
                 schema (treefile::Loader::new().agents(canopy_agent::schema()))",
            ));
        };
        let table = self.table(entry.value, &entry.path)?;
        self.known_keys(table, &entry.path, &schema.key_names())?;
        let agent = Table {
            table,
            prefix: &entry.path,
        };
        let providers = schema.providers().collect::<Vec<_>>().join(", ");
        let Some(provider_entry) = agent.get("provider") else {
            return Err(self.error(
                &entry.value.span(),
                &format!("{}.provider", entry.path),
                format!("missing required key 'provider' (one of: {providers})"),
            ));
        };
        let name = self.expanded(provider_entry.value, &provider_entry.path)?;
        let Some(provider) = schema.providers.iter().find(|p| p.name == name) else {
            return Err(self.error(
                &provider_entry.value.span(),
                &provider_entry.path,
                format!("unknown provider '{name}' (expected one of: {providers})"),
            ));
        };
        for need in &provider.needs {
            if agent.get(need).is_none() {
                let what = schema
                    .keys
                    .iter()
                    .find(|k| &k.name == need)
                    .map_or("", |k| k.what.as_str());
                return Err(self.error(
                    &provider_entry.value.span(),
                    &format!("{}.{need}", entry.path),
                    format!("provider '{name}' needs '{need}' ({what})"),
                ));
            }
        }
        let mut decl = AgentDecl::new(name.clone());
        for key in &schema.keys {
            let Some(value) = agent.get(&key.name) else {
                continue;
            };
            if !key.only.is_empty() && !key.only.contains(&name) {
                let only = key
                    .only
                    .iter()
                    .map(|p| format!("'{p}'"))
                    .collect::<Vec<_>>()
                    .join(" or ");
                return Err(self.error(
                    &value.key_span,
                    &value.path,
                    format!(
                        "'{}' applies only to provider {only}, not '{name}'",
                        key.name
                    ),
                ));
            }
            decl = decl.with(key.name.clone(), self.setting(key, &value)?);
        }
        Ok(decl)
    }

    /// One key's value, read and checked as its kind says.
    fn setting(&self, key: &Key, entry: &Entry<'_, '_>) -> Result<Setting> {
        let (span, path) = (entry.value.span(), entry.path.as_str());
        Ok(match &key.kind {
            KeyKind::Text => Setting::Text(self.expanded(entry.value, path)?),
            KeyKind::Url => {
                let url = self.expanded(entry.value, path)?;
                if !(url.starts_with("http://") || url.starts_with("https://")) {
                    return Err(self.error(
                        &span,
                        path,
                        format!("expected an http:// or https:// URL, found '{url}'"),
                    ));
                }
                Setting::Text(url)
            }
            KeyKind::Secret => {
                let variable = self.string(entry.value, path)?;
                let Some(value) = (self.env)(variable) else {
                    return Err(self.error(
                        &span,
                        path,
                        format!(
                            "environment variable '{variable}' is not set (it should hold {})",
                            key.what
                        ),
                    ));
                };
                Setting::Secret {
                    variable: variable.to_owned(),
                    value,
                }
            }
            KeyKind::File => {
                let file = self.expanded(entry.value, path)?;
                let resolved = self.base_dir.join(&file);
                if !resolved.is_file() {
                    return Err(self.error(
                        &span,
                        path,
                        format!(
                            "{} file '{file}' does not exist (resolved to {})",
                            key.name,
                            resolved.display()
                        ),
                    ));
                }
                Setting::Path(resolved)
            }
            KeyKind::ToolName => {
                let tool = self.expanded(entry.value, path)?;
                let valid = !tool.is_empty()
                    && tool.len() <= 64
                    && tool
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
                if !valid {
                    return Err(self.error(
                        &span,
                        path,
                        format!("invalid tool name '{tool}' (1-64 of A-Z, a-z, 0-9, '_', '-')"),
                    ));
                }
                Setting::Text(tool)
            }
            KeyKind::Integer { min, max } => Setting::Integer(self.count(entry, *min, *max)?),
            KeyKind::Number { min, max } => Setting::Number(self.number(entry, *min, *max)?),
            KeyKind::Globs => {
                let globs = self.globs(entry, GLOB_KEYS)?;
                Setting::Globs {
                    allow: globs.allow,
                    deny: globs.deny,
                }
            }
            KeyKind::Limits => Setting::Limits(self.budget(entry)?),
            KeyKind::Numbers { keys, min, max } => {
                let table = self.table(entry.value, path)?;
                let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
                self.known_keys(table, path, &keys)?;
                let numbers = Table {
                    table,
                    prefix: path,
                };
                let mut values = BTreeMap::new();
                for key in keys {
                    let value = match numbers.get(key) {
                        Some(number) => self.number(&number, *min, *max)?,
                        None => 0.0,
                    };
                    values.insert(key.to_owned(), value);
                }
                Setting::Numbers(values)
            }
        })
    }

    fn budget(&self, entry: &Entry<'_, '_>) -> Result<Limits> {
        let table = self.table(entry.value, &entry.path)?;
        self.known_keys(table, &entry.path, BUDGET_KEYS)?;
        let budget = Table {
            table,
            prefix: &entry.path,
        };
        let count = |key: &str| {
            budget
                .get(key)
                .map(|entry| self.count(&entry, 1, u64::MAX))
                .transpose()
        };
        Ok(Limits {
            calls: count("calls")?,
            tokens: count("tokens")?,
            time: match budget.get("time") {
                Some(time) => Some(self.timeout(time.value, &time.path)?),
                None => None::<Duration>,
            },
        })
    }

    /// An integer in `min..=max`.
    fn count(&self, entry: &Entry<'_, '_>, min: u64, max: u64) -> Result<u64> {
        let expected = if max == u64::MAX {
            format!("an integer of at least {min}")
        } else {
            format!("an integer from {min} to {max}")
        };
        let DeValue::Integer(integer) = entry.value.get_ref() else {
            return Err(self.wrong_type(entry.value, &entry.path, &expected));
        };
        match u64::from_str_radix(integer.as_str(), integer.radix()) {
            Ok(n) if (min..=max).contains(&n) => Ok(n),
            _ => Err(self.error(
                &entry.value.span(),
                &entry.path,
                format!("expected {expected}, found {integer}"),
            )),
        }
    }

    /// A number (integer or float) in `min..=max`.
    fn number(&self, entry: &Entry<'_, '_>, min: f64, max: f64) -> Result<f64> {
        let value: &Value<'_> = entry.value;
        let parsed = match value.get_ref() {
            DeValue::Integer(integer) => i64::from_str_radix(integer.as_str(), integer.radix())
                .ok()
                .map(|n| n as f64),
            DeValue::Float(float) => float.as_str().parse::<f64>().ok(),
            _ => {
                return Err(self.wrong_type(
                    value,
                    &entry.path,
                    &format!("a number from {min} to {max}"),
                ));
            }
        };
        match parsed {
            Some(n) if n.is_finite() && (min..=max).contains(&n) => Ok(n),
            _ => Err(self.error(
                &value.span(),
                &entry.path,
                format!(
                    "expected a number from {min} to {max}, found {}",
                    self.source_of(value)
                ),
            )),
        }
    }
}
