//! The `[agent]` table: a node driven by a language model that plans calls over its
//! children. The tree file only *declares* the agent ([`AgentDecl`]); a program that can run
//! agents (the `canopy` binary, or any program using `canopy-agent`) turns the declaration
//! into a node with [`TreeBuilder::agents`](crate::TreeBuilder::agents).

use std::{path::PathBuf, time::Duration};

use toml::de::DeValue;

use super::{
    decl::PolicyDecl,
    read::{Entry, Reader, Result, Table, Value},
};
use crate::budget::Limits;

/// The providers an `[agent]` table may name.
pub const PROVIDERS: &[&str] = &["openai", "anthropic", "sampling", "scripted"];

/// The keys of an `[agent]` table.
pub const AGENT_KEYS: &[&str] = &[
    "provider",
    "model",
    "base_url",
    "api_key_env",
    "script",
    "system",
    "max_turns",
    "max_tokens",
    "temperature",
    "tool",
    "tool_description",
    "tools",
    "concurrency",
    "budget",
    "pricing",
];

/// The keys of an `[agent.budget]` table.
pub const BUDGET_KEYS: &[&str] = &["calls", "tokens", "time"];
/// The keys of an `[agent.pricing]` table.
pub const PRICING_KEYS: &[&str] = &["input", "output"];
/// The keys of an `[agent.tools]` table.
pub const TOOLS_KEYS: &[&str] = &["allow", "deny"];

/// An agent as a tree file declares it (checked: known provider, the keys it needs,
/// numbers in range, the script file present, the key's variable set).
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct AgentDecl {
    /// `openai`, `anthropic`, `sampling` or `scripted`.
    pub provider: String,
    /// The model name (required for `openai` and `anthropic`; a hint for `sampling`).
    pub model: Option<String>,
    /// The provider's base URL (OpenAI-compatible servers, a proxy).
    pub base_url: Option<String>,
    /// The API key, read from the environment variable `api_key_env` names.
    pub api_key: Option<String>,
    /// The name of that variable (for messages; never the key itself).
    pub api_key_env: Option<String>,
    /// For `scripted`: the script file, resolved against the tree file's folder.
    pub script: Option<PathBuf>,
    /// The system prompt.
    pub system: Option<String>,
    /// The most model turns per run.
    pub max_turns: Option<u32>,
    /// The most tokens per model answer.
    pub max_tokens: Option<u32>,
    /// Sampling temperature (0 to 2).
    pub temperature: Option<f32>,
    /// The name of the tool the agent exposes (default `run`).
    pub tool: Option<String>,
    /// The tool's description.
    pub tool_description: Option<String>,
    /// Which of its subtree's tools the model sees (`allow`/`deny` globs relative to the
    /// agent).
    pub tools_allow: Vec<String>,
    /// See `tools_allow`.
    pub tools_deny: Vec<String>,
    /// The most tool calls run at once within one turn.
    pub concurrency: Option<usize>,
    /// Limits of each run.
    pub budget: Limits,
    /// Prices in US dollars per million tokens: (input, output).
    pub pricing: Option<(f64, f64)>,
}

impl Reader<'_> {
    /// Reads an `[agent]` table.
    pub(super) fn agent(&self, entry: &Entry<'_, '_>) -> Result<AgentDecl> {
        let table = self.table(entry.value, &entry.path)?;
        self.known_keys(table, &entry.path, AGENT_KEYS)?;
        let agent = Table {
            table,
            prefix: &entry.path,
        };
        let string = |key: &str| -> Result<Option<(String, Entry<'_, '_>)>> {
            match agent.get(key) {
                Some(entry) => Ok(Some((self.expanded(entry.value, &entry.path)?, entry))),
                None => Ok(None),
            }
        };

        let Some((provider, provider_entry)) = string("provider")? else {
            return Err(self.error(
                &entry.value.span(),
                &format!("{}.provider", entry.path),
                format!(
                    "missing required key 'provider' (one of: {})",
                    PROVIDERS.join(", ")
                ),
            ));
        };
        if !PROVIDERS.contains(&provider.as_str()) {
            return Err(self.error(
                &provider_entry.value.span(),
                &provider_entry.path,
                format!(
                    "unknown provider '{provider}' (expected one of: {})",
                    PROVIDERS.join(", ")
                ),
            ));
        }
        let model = string("model")?.map(|(model, _)| model);
        if model.is_none() && matches!(provider.as_str(), "openai" | "anthropic") {
            return Err(self.error(
                &provider_entry.value.span(),
                &format!("{}.model", entry.path),
                format!("provider '{provider}' needs 'model' (the model's name)"),
            ));
        }
        let base_url = match string("base_url")? {
            Some((url, url_entry)) => {
                if !(url.starts_with("http://") || url.starts_with("https://")) {
                    return Err(self.error(
                        &url_entry.value.span(),
                        &url_entry.path,
                        format!("expected an http:// or https:// URL, found '{url}'"),
                    ));
                }
                Some(url)
            }
            None => None,
        };
        let (api_key, api_key_env) = match agent.get("api_key_env") {
            Some(key_entry) => {
                let name = self.string(key_entry.value, &key_entry.path)?;
                let Some(key) = (self.env)(name) else {
                    return Err(self.error(
                        &key_entry.value.span(),
                        &key_entry.path,
                        format!(
                            "environment variable '{name}' is not set (it should hold the \
                             API key)"
                        ),
                    ));
                };
                (Some(key), Some(name.to_owned()))
            }
            None => (None, None),
        };
        let script = match string("script")? {
            Some((script, script_entry)) => {
                let path = self.base_dir.join(&script);
                if !path.is_file() {
                    return Err(self.error(
                        &script_entry.value.span(),
                        &script_entry.path,
                        format!(
                            "script file '{script}' does not exist (resolved to {})",
                            path.display()
                        ),
                    ));
                }
                Some(path)
            }
            None => None,
        };
        if provider == "scripted" && script.is_none() {
            return Err(self.error(
                &provider_entry.value.span(),
                &format!("{}.script", entry.path),
                "provider 'scripted' needs 'script' (a JSON script file)",
            ));
        }
        if provider != "scripted"
            && let Some(script_entry) = agent.get("script")
        {
            return Err(self.error(
                &script_entry.key_span,
                &script_entry.path,
                format!("'script' applies only to provider 'scripted', not '{provider}'"),
            ));
        }
        let tool = match string("tool")? {
            Some((tool, tool_entry)) => {
                let valid = !tool.is_empty()
                    && tool.len() <= 64
                    && tool
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
                if !valid {
                    return Err(self.error(
                        &tool_entry.value.span(),
                        &tool_entry.path,
                        format!("invalid tool name '{tool}' (1-64 of A-Z, a-z, 0-9, '_', '-')"),
                    ));
                }
                Some(tool)
            }
            None => None,
        };
        let tools = match agent.get("tools") {
            Some(tools_entry) => self.globs(&tools_entry, TOOLS_KEYS)?,
            None => PolicyDecl::default(),
        };
        Ok(AgentDecl {
            provider,
            model,
            base_url,
            api_key,
            api_key_env,
            script,
            system: string("system")?.map(|(system, _)| system),
            max_turns: self.count(&agent, "max_turns", 1, 1000)?.map(|n| n as u32),
            max_tokens: self
                .count(&agent, "max_tokens", 1, 1_000_000)?
                .map(|n| n as u32),
            temperature: self
                .number(&agent, "temperature", 0.0, 2.0)?
                .map(|t| t as f32),
            tool,
            tool_description: string("tool_description")?.map(|(d, _)| d),
            tools_allow: tools.allow,
            tools_deny: tools.deny,
            concurrency: self
                .count(&agent, "concurrency", 1, 256)?
                .map(|n| n as usize),
            budget: match agent.get("budget") {
                Some(budget) => self.budget(&budget)?,
                None => Limits::none(),
            },
            pricing: match agent.get("pricing") {
                Some(pricing) => Some(self.pricing(&pricing)?),
                None => None,
            },
        })
    }

    fn budget(&self, entry: &Entry<'_, '_>) -> Result<Limits> {
        let table = self.table(entry.value, &entry.path)?;
        self.known_keys(table, &entry.path, BUDGET_KEYS)?;
        let budget = Table {
            table,
            prefix: &entry.path,
        };
        Ok(Limits {
            calls: self.count(&budget, "calls", 1, u64::MAX)?,
            tokens: self.count(&budget, "tokens", 1, u64::MAX)?,
            time: match budget.get("time") {
                Some(time) => Some(self.timeout(time.value, &time.path)?),
                None => None::<Duration>,
            },
        })
    }

    fn pricing(&self, entry: &Entry<'_, '_>) -> Result<(f64, f64)> {
        let table = self.table(entry.value, &entry.path)?;
        self.known_keys(table, &entry.path, PRICING_KEYS)?;
        let pricing = Table {
            table,
            prefix: &entry.path,
        };
        Ok((
            self.number(&pricing, "input", 0.0, 1e6)?.unwrap_or(0.0),
            self.number(&pricing, "output", 0.0, 1e6)?.unwrap_or(0.0),
        ))
    }

    /// An optional integer in `min..=max`.
    fn count(&self, table: &Table<'_, '_>, key: &str, min: u64, max: u64) -> Result<Option<u64>> {
        let Some(entry) = table.get(key) else {
            return Ok(None);
        };
        let expected = if max == u64::MAX {
            format!("an integer of at least {min}")
        } else {
            format!("an integer from {min} to {max}")
        };
        let DeValue::Integer(integer) = entry.value.get_ref() else {
            return Err(self.wrong_type(entry.value, &entry.path, &expected));
        };
        match u64::from_str_radix(integer.as_str(), integer.radix()) {
            Ok(n) if (min..=max).contains(&n) => Ok(Some(n)),
            _ => Err(self.error(
                &entry.value.span(),
                &entry.path,
                format!("expected {expected}, found {integer}"),
            )),
        }
    }

    /// An optional number (integer or float) in `min..=max`.
    fn number(&self, table: &Table<'_, '_>, key: &str, min: f64, max: f64) -> Result<Option<f64>> {
        let Some(entry) = table.get(key) else {
            return Ok(None);
        };
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
            Some(n) if n.is_finite() && (min..=max).contains(&n) => Ok(Some(n)),
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
