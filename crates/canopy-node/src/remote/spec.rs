//! How to reach a child in another process: a command to launch (stdio) or a Streamable HTTP
//! URL. These are plain descriptions; the tree starts the links when it is built.

use std::{collections::BTreeMap, path::PathBuf, time::Duration};

use rmcp::model::ProtocolVersion;

use crate::backend::StartMode;

/// A child server launched as a process and spoken to over its stdin/stdout.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct StdioSpec {
    /// The program to run (looked up on `PATH` when it has no slash).
    pub command: String,
    /// Its arguments.
    pub args: Vec<String>,
    /// Extra environment variables.
    pub env: BTreeMap<String, String>,
    /// Its working directory (default: the current one).
    pub cwd: Option<PathBuf>,
    /// When it starts.
    pub start: StartMode,
    /// How long one request may take before it fails (default: [`DEFAULT_TIMEOUT`]).
    pub timeout: Option<Duration>,
    /// The protocol revision to speak (default: the newest the child speaks).
    pub protocol: Option<ProtocolVersion>,
}

/// A remote child spoken to over Streamable HTTP.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct HttpSpec {
    /// The endpoint, e.g. `http://127.0.0.1:3001/mcp`.
    pub url: String,
    /// Extra request headers (e.g. `Authorization`).
    pub headers: BTreeMap<String, String>,
    /// How long one request may take before it fails (default: [`DEFAULT_TIMEOUT`]).
    pub timeout: Option<Duration>,
    /// The protocol revision to speak (default: the newest the child speaks).
    pub protocol: Option<ProtocolVersion>,
}

/// How long a request to a child in another process may take, unless its spec says otherwise.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(300);

impl StdioSpec {
    /// Launches `command` with no arguments.
    pub fn new(command: impl Into<String>) -> Self {
        Self {
            command: command.into(),
            args: Vec::new(),
            env: BTreeMap::new(),
            cwd: None,
            start: StartMode::Eager,
            timeout: None,
            protocol: None,
        }
    }

    /// Adds arguments.
    #[must_use]
    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    /// Sets an environment variable.
    #[must_use]
    pub fn env(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.env.insert(key.into(), value.into());
        self
    }

    /// Sets the working directory.
    #[must_use]
    pub fn cwd(mut self, dir: impl Into<PathBuf>) -> Self {
        self.cwd = Some(dir.into());
        self
    }

    /// Starts the child on first use instead of when the tree is built.
    #[must_use]
    pub fn lazy(mut self) -> Self {
        self.start = StartMode::Lazy;
        self
    }

    /// Sets the per-request timeout.
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Speaks `version` instead of negotiating the newest revision (for a server whose
    /// support of a newer revision is incomplete).
    #[must_use]
    pub fn protocol(mut self, version: ProtocolVersion) -> Self {
        self.protocol = Some(version);
        self
    }
}

impl HttpSpec {
    /// Connects to `url`.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            headers: BTreeMap::new(),
            timeout: None,
            protocol: None,
        }
    }

    /// Adds a request header.
    #[must_use]
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.insert(name.into(), value.into());
        self
    }

    /// Sets the per-request timeout.
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Speaks `version` instead of negotiating the newest revision (for a server whose
    /// support of a newer revision is incomplete).
    #[must_use]
    pub fn protocol(mut self, version: ProtocolVersion) -> Self {
        self.protocol = Some(version);
        self
    }
}
