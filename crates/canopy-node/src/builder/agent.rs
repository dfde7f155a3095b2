//! Nodes declared as agents: what a declaration holds ([`AgentDecl`], [`Setting`]), and the
//! program's [`AgentFactory`] that turns one into the node's service when the tree is built.
//!
//! This layer knows no provider and no key: a tree file's `[agent]` table is read against
//! the [`AgentSchema`](crate::treefile::AgentSchema) that the crate running agents registers
//! (canopy-agent's `canopy_agent::schema()`), and that crate's factory reads the settings
//! back by key.

use std::{
    collections::BTreeMap,
    fmt,
    path::{Path, PathBuf},
    sync::Arc,
};

use canopy_topology::NodePath;

use crate::{
    backend::BackendFactory,
    budget::Limits,
    error::{AgentError, BuildError, NoAgentFactory},
    service::NodeService,
};

/// Turns a node's agent declaration into the node's service (see
/// [`TreeBuilder::agents`](crate::TreeBuilder::agents)). Gets the node's path and the
/// declaration; an `Err` says why the declaration cannot run (it fails the build).
pub type AgentFactory =
    dyn Fn(&NodePath, &AgentDecl) -> Result<Arc<dyn NodeService>, AgentError> + Send + Sync;

/// An agent as declared (by a tree file's `[agent]` table): which provider runs it, and its
/// settings by key, each checked against the registered schema when it was read.
///
/// ```
/// use canopy_node::{AgentDecl, Setting};
///
/// let decl = AgentDecl::new("scripted")
///     .with("max_turns", Setting::Integer(4))
///     .with("system", Setting::Text("Be brief.".into()));
/// assert_eq!(decl.provider(), "scripted");
/// assert_eq!(decl.integer("max_turns"), Some(4));
/// assert_eq!(decl.text("system"), Some("Be brief."));
/// assert_eq!(decl.text("model"), None);
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct AgentDecl {
    provider: String,
    settings: BTreeMap<String, Setting>,
}

/// One setting of an [`AgentDecl`], in the form the schema's kind of key reads it.
#[derive(Clone, PartialEq)]
#[non_exhaustive]
pub enum Setting {
    /// A string (`${VAR}` expanded), or a URL.
    Text(String),
    /// A secret read from the environment: the variable's name and its value (never shown
    /// by `Debug`).
    Secret {
        /// The variable's name (for messages).
        variable: String,
        /// Its value.
        value: String,
    },
    /// A file, resolved against the tree file's folder (it existed when the file was read).
    Path(PathBuf),
    /// A whole number.
    Integer(u64),
    /// A number.
    Number(f64),
    /// `allow`/`deny` glob lists (each glob checked to compile).
    Globs {
        /// Globs allowed.
        allow: Vec<String>,
        /// Globs denied.
        deny: Vec<String>,
    },
    /// Budget limits (`calls`, `tokens`, `time`).
    Limits(Limits),
    /// A table of numbers by name.
    Numbers(BTreeMap<String, f64>),
}

impl fmt::Debug for Setting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Text(text) => f.debug_tuple("Text").field(text).finish(),
            Self::Secret { variable, .. } => f
                .debug_struct("Secret")
                .field("variable", variable)
                .field("value", &"<redacted>")
                .finish(),
            Self::Path(path) => f.debug_tuple("Path").field(path).finish(),
            Self::Integer(n) => f.debug_tuple("Integer").field(n).finish(),
            Self::Number(n) => f.debug_tuple("Number").field(n).finish(),
            Self::Globs { allow, deny } => f
                .debug_struct("Globs")
                .field("allow", allow)
                .field("deny", deny)
                .finish(),
            Self::Limits(limits) => f.debug_tuple("Limits").field(limits).finish(),
            Self::Numbers(numbers) => f.debug_tuple("Numbers").field(numbers).finish(),
        }
    }
}

impl AgentDecl {
    /// A declaration of an agent run by `provider`, with no settings yet.
    pub fn new(provider: impl Into<String>) -> Self {
        Self {
            provider: provider.into(),
            settings: BTreeMap::new(),
        }
    }

    /// Sets `key`.
    #[must_use]
    pub fn with(mut self, key: impl Into<String>, setting: Setting) -> Self {
        self.settings.insert(key.into(), setting);
        self
    }

    /// The provider that runs the agent.
    pub fn provider(&self) -> &str {
        &self.provider
    }

    /// A setting by key.
    pub fn get(&self, key: &str) -> Option<&Setting> {
        self.settings.get(key)
    }

    /// Every setting, by key.
    pub fn settings(&self) -> impl Iterator<Item = (&str, &Setting)> {
        self.settings
            .iter()
            .map(|(key, setting)| (key.as_str(), setting))
    }

    /// A text setting.
    pub fn text(&self, key: &str) -> Option<&str> {
        match self.get(key)? {
            Setting::Text(text) => Some(text),
            _ => None,
        }
    }

    /// A secret's value.
    pub fn secret(&self, key: &str) -> Option<&str> {
        match self.get(key)? {
            Setting::Secret { value, .. } => Some(value),
            _ => None,
        }
    }

    /// A file setting.
    pub fn path(&self, key: &str) -> Option<&Path> {
        match self.get(key)? {
            Setting::Path(path) => Some(path),
            _ => None,
        }
    }

    /// A whole-number setting.
    pub fn integer(&self, key: &str) -> Option<u64> {
        match self.get(key)? {
            Setting::Integer(n) => Some(*n),
            _ => None,
        }
    }

    /// A number setting (a whole number reads as one too).
    pub fn number(&self, key: &str) -> Option<f64> {
        match self.get(key)? {
            Setting::Number(n) => Some(*n),
            Setting::Integer(n) => Some(*n as f64),
            _ => None,
        }
    }

    /// A glob setting: (`allow`, `deny`).
    pub fn globs(&self, key: &str) -> Option<(&[String], &[String])> {
        match self.get(key)? {
            Setting::Globs { allow, deny } => Some((allow, deny)),
            _ => None,
        }
    }

    /// A budget setting.
    pub fn limits(&self, key: &str) -> Option<Limits> {
        match self.get(key)? {
            Setting::Limits(limits) => Some(*limits),
            _ => None,
        }
    }

    /// A table of numbers.
    pub fn numbers(&self, key: &str) -> Option<&BTreeMap<String, f64>> {
        match self.get(key)? {
            Setting::Numbers(numbers) => Some(numbers),
            _ => None,
        }
    }
}

/// The backend of a node declared as an agent, made by the program's agent factory; `None`
/// for other nodes.
pub(super) fn agent_backend(
    path: &NodePath,
    decl: Option<&AgentDecl>,
    agents: Option<&AgentFactory>,
) -> Result<Option<BackendFactory>, BuildError> {
    let Some(decl) = decl else {
        return Ok(None);
    };
    let error = |source: AgentError| BuildError::Agent {
        node: path.to_string(),
        source,
    };
    let factory = agents.ok_or_else(|| error(Box::new(NoAgentFactory)))?;
    let service = factory(path, decl).map_err(error)?;
    Ok(Some(Box::new(move |cx| {
        Arc::new(crate::service::ServiceBackend::new(service, cx))
    })))
}
