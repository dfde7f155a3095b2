//! Node names, node paths and canonical capability ids: the addresses everything else in
//! Canopy is keyed by. A path like `research/web` is built from validated [`NodeName`]s, and
//! a capability's [`CanonicalId`] is its node's path plus its own name (`research/web/fetch`).

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use crate::error::NameError;

const MAX_NODE_NAME: usize = 32;

/// A node's name: 1-32 chars of `[a-z0-9_-]`, starting with a lowercase letter.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Debug, serde::Serialize)]
pub struct NodeName(Arc<str>);

impl NodeName {
    /// Validates `name` and wraps it.
    pub fn new(name: &str) -> Result<Self, NameError> {
        let invalid = |reason: String| NameError::InvalidNodeName {
            name: name.to_owned(),
            reason,
        };
        let len = name.chars().count();
        if len == 0 || len > MAX_NODE_NAME {
            return Err(invalid(format!(
                "must be 1-{MAX_NODE_NAME} characters, got {len}"
            )));
        }
        if !name.starts_with(|c: char| c.is_ascii_lowercase()) {
            return Err(invalid("must start with a lowercase letter a-z".into()));
        }
        let allowed =
            |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-';
        if let Some(bad) = name.chars().find(|&c| !allowed(c)) {
            return Err(invalid(format!(
                "contains {bad:?}; allowed are a-z, 0-9, '_' and '-'"
            )));
        }
        Ok(Self(name.into()))
    }

    /// The name as a string slice.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for NodeName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for NodeName {
    type Err = NameError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::new(s)
    }
}

impl AsRef<str> for NodeName {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// A node's canonical address from the root: `research/web`; the root is the empty path "".
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Debug, Default)]
pub struct NodePath(Arc<[NodeName]>);

impl NodePath {
    /// The root's path, "".
    pub fn root() -> Self {
        Self::default()
    }

    /// Parses `a/b` into a path; "" is the root, and every segment must be a [`NodeName`].
    pub fn parse(path: &str) -> Result<Self, NameError> {
        if path.is_empty() {
            return Ok(Self::root());
        }
        let segments = path
            .split('/')
            .map(NodeName::new)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self(segments.into()))
    }

    /// The path of this node's child `name`.
    pub fn child(&self, name: NodeName) -> Self {
        let mut segments = self.0.to_vec();
        segments.push(name);
        Self(segments.into())
    }

    /// The names from the root down to this node (empty for the root).
    pub fn segments(&self) -> &[NodeName] {
        &self.0
    }

    /// The number of segments; the root has depth 0.
    pub fn depth(&self) -> usize {
        self.0.len()
    }

    /// Whether this is the root's path.
    pub fn is_root(&self) -> bool {
        self.0.is_empty()
    }

    /// The parent's path; `None` for the root.
    pub fn parent(&self) -> Option<Self> {
        let (_, parent) = self.0.split_last()?;
        Some(Self(parent.into()))
    }

    /// The last segment: this node's own name; `None` for the root.
    pub fn name(&self) -> Option<&NodeName> {
        self.0.last()
    }

    /// Whether `ancestor` is this path or one of its ancestors (the root always is).
    pub fn starts_with(&self, ancestor: &NodePath) -> bool {
        self.0.starts_with(&ancestor.0)
    }

    /// Every ancestor and then this path itself: root first, self last.
    pub fn ancestors_inclusive(&self) -> impl Iterator<Item = NodePath> {
        let segments = Arc::clone(&self.0);
        (0..=segments.len()).map(move |depth| Self(segments[..depth].into()))
    }
}

impl fmt::Display for NodePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, segment) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("/")?;
            }
            f.write_str(segment.as_str())?;
        }
        Ok(())
    }
}

impl serde::Serialize for NodePath {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// The kind of a capability; each kind has its own namespace of exposed names.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CapabilityKind {
    /// A tool (`tools/list`, `tools/call`).
    Tool,
    /// A prompt (`prompts/list`, `prompts/get`).
    Prompt,
    /// A concrete resource, named by its URI.
    Resource,
    /// A resource template, named by its RFC 6570 URI template.
    ResourceTemplate,
}

/// The canonical id of a capability: the owning node's path plus the capability's own name
/// (a tool or prompt name, a resource URI or a URI template, exactly as the node gave it).
#[derive(Clone, PartialEq, Eq, Hash, Debug, PartialOrd, Ord)]
pub struct CanonicalId {
    /// The capability's kind.
    pub kind: CapabilityKind,
    /// The owning node.
    pub node: NodePath,
    /// The capability's name as the owning node reports it.
    pub name: Arc<str>,
}

impl CanonicalId {
    /// The id of capability `name` of kind `kind` owned by `node`.
    pub fn new(kind: CapabilityKind, node: NodePath, name: impl Into<Arc<str>>) -> Self {
        Self {
            kind,
            node,
            name: name.into(),
        }
    }

    /// The id as seen from `ancestor` (an ancestor or the node itself): from `research` the
    /// id `research/web/fetch` is `web/fetch`; `None` if `ancestor` is not an ancestor.
    pub fn relative_to(&self, ancestor: &NodePath) -> Option<String> {
        let rest = self.node.segments().strip_prefix(ancestor.segments())?;
        let mut out = String::new();
        for segment in rest {
            out.push_str(segment.as_str());
            out.push('/');
        }
        out.push_str(&self.name);
        Some(out)
    }
}

impl fmt::Display for CanonicalId {
    /// `research/web/fetch`; for a root capability just `fetch`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.node.is_root() {
            f.write_str(&self.name)
        } else {
            write!(f, "{}/{}", self.node, self.name)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path(s: &str) -> NodePath {
        NodePath::parse(s).expect("valid path")
    }

    #[test]
    fn node_name_accepts_the_documented_alphabet() {
        for ok in [
            "a",
            "web",
            "a__b",
            "x_",
            "db-2",
            "abcdefghijklmnopqrstuvwxyz012345",
        ] {
            assert_eq!(NodeName::new(ok).map(|n| n.to_string()), Ok(ok.to_string()));
        }
    }

    #[test]
    fn node_name_rejections_say_why() {
        let err = NodeName::new("Web").expect_err("uppercase");
        assert_eq!(
            err.to_string(),
            "invalid node name 'Web': must start with a lowercase letter a-z"
        );
        let err = NodeName::new("we.b").expect_err("dot");
        assert_eq!(
            err.to_string(),
            "invalid node name 'we.b': contains '.'; allowed are a-z, 0-9, '_' and '-'"
        );
        let err = NodeName::new("").expect_err("empty");
        assert_eq!(
            err.to_string(),
            "invalid node name '': must be 1-32 characters, got 0"
        );
        assert!(NodeName::new(&"a".repeat(33)).is_err());
        assert!(NodeName::new("1abc").is_err());
        assert!("web".parse::<NodeName>().is_ok());
    }

    #[test]
    fn paths_parse_and_print() {
        assert_eq!(path(""), NodePath::root());
        assert_eq!(path("research/web").to_string(), "research/web");
        assert_eq!(path("research/web").depth(), 2);
        assert_eq!(NodePath::root().to_string(), "");
        assert!(NodePath::parse("research//web").is_err());
        assert!(NodePath::parse("/research").is_err());
    }

    #[test]
    fn path_navigation() {
        let p = path("research/web");
        assert_eq!(p.parent(), Some(path("research")));
        assert_eq!(NodePath::root().parent(), None);
        assert_eq!(p.name().map(NodeName::as_str), Some("web"));
        assert_eq!(NodePath::root().name(), None);
        assert!(p.starts_with(&NodePath::root()));
        assert!(p.starts_with(&p));
        assert!(p.starts_with(&path("research")));
        assert!(!p.starts_with(&path("web")));
        assert!(!path("research").starts_with(&p));
        let all: Vec<String> = p.ancestors_inclusive().map(|a| a.to_string()).collect();
        assert_eq!(all, ["", "research", "research/web"]);
    }

    #[test]
    fn canonical_ids_print_and_relativize() {
        let id = CanonicalId::new(CapabilityKind::Tool, path("research/web"), "fetch");
        assert_eq!(id.to_string(), "research/web/fetch");
        assert_eq!(
            id.relative_to(&path("research")).as_deref(),
            Some("web/fetch")
        );
        assert_eq!(
            id.relative_to(&path("research/web")).as_deref(),
            Some("fetch")
        );
        assert_eq!(
            id.relative_to(&NodePath::root()).as_deref(),
            Some("research/web/fetch")
        );
        assert_eq!(id.relative_to(&path("db")), None);
        let root = CanonicalId::new(CapabilityKind::Tool, NodePath::root(), "fetch");
        assert_eq!(root.to_string(), "fetch");
    }

    #[test]
    fn paths_serialize_as_strings() {
        let json = serde_json::to_string(&path("research/web")).expect("serializes");
        assert_eq!(json, "\"research/web\"");
        let json = serde_json::to_string(&CapabilityKind::ResourceTemplate).expect("serializes");
        assert_eq!(json, "\"resource_template\"");
    }
}
