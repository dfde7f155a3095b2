//! The namespace codec: turns a capability's canonical id into the name a client sees.
//!
//! Names depend only on the node's *prefix segments* (its path minus segments mounted
//! `inline`), the capability's own name and the [`NameStyle`], so they are deterministic and
//! stable across restarts and across adding siblings. Resolution is always a table lookup
//! (see `RoutePlan`), never string splitting.
//!
//! Encoding rules:
//! - A *clean* segment is `[A-Za-z0-9-]+(_[A-Za-z0-9-]+)*`: no `__`, no leading or trailing
//!   `_` (in [`NameStyle::Mcp`] `.` counts as allowed too). Node names that are not clean
//!   (`a__b`, `x_`) are legal node names but make the name unclean.
//! - Plain form: prefix segments and the name joined by `__`, e.g. `research__web__fetch`.
//!   Used when every segment is clean and the result fits the style's maximum length
//!   (64 for [`NameStyle::LlmSafe`], 128 for [`NameStyle::Mcp`]).
//! - Otherwise the hashed form `{base}___{hash}`: `base` is the plain join with every
//!   disallowed character replaced by `_`, runs of `_` collapsed to one, leading and
//!   trailing `_` trimmed, truncated so the whole fits (`x` if that leaves nothing); `hash`
//!   is the first 10 hex digits of the SHA-256 of the prefix segments and the raw name
//!   joined with `\0`. A clean plain name never contains `___`, so a hashed name never
//!   equals a plain one.
//! - [`NamespaceCodec::encode_name_disambiguated`] always gives the hashed form, hashing
//!   the full node path (inline segments included), `\0`, the raw name and `\0dup`, so it
//!   differs from the ordinary hashed form and between inline siblings.
//! - URIs: with prefix segments `a`, `b` a resource `test://x` is exposed as
//!   `{scheme}://a/b/test://x` (the original verbatim); templates the same, with their
//!   `{var}` parts left in place. Without prefix segments (root, inline chain) a URI is
//!   exposed unchanged.

use std::sync::Arc;

use sha2::{Digest, Sha256};

use crate::path::{NodeName, NodePath};

const SEPARATOR: &str = "__";
const HASH_SEPARATOR: &str = "___";
const HASH_LEN: usize = 10;

/// Which alphabet and length exposed tool and prompt names must fit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum NameStyle {
    /// `^[a-zA-Z0-9_-]{1,64}$` — accepted by every LLM provider API (the default).
    #[default]
    LlmSafe,
    /// MCP's SEP-986 tool names: 1-128 of `[A-Za-z0-9_.-]`.
    Mcp,
}

impl NameStyle {
    fn max_len(self) -> usize {
        match self {
            Self::LlmSafe => 64,
            Self::Mcp => 128,
        }
    }

    /// Whether `c` may appear in a name of this style (`_` included).
    fn allows(self, c: char) -> bool {
        c.is_ascii_alphanumeric() || c == '_' || c == '-' || (c == '.' && self == Self::Mcp)
    }
}

/// Settings of a [`NamespaceCodec`].
#[derive(Clone, Debug)]
pub struct CodecOptions {
    /// The style exposed tool and prompt names must fit.
    pub style: NameStyle,
    /// The scheme of exposed resource URIs (default `canopy`).
    pub uri_scheme: String,
}

impl Default for CodecOptions {
    fn default() -> Self {
        Self {
            style: NameStyle::default(),
            uri_scheme: "canopy".to_owned(),
        }
    }
}

/// Where a node is mounted, as the codec sees it: the path, and for each segment whether it
/// contributes a prefix (false for a child mounted `inline`).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Default)]
pub struct MountPath {
    path: NodePath,
    visible: Arc<[bool]>,
}

impl MountPath {
    /// The root's mount: no segments.
    pub fn root() -> Self {
        Self::default()
    }

    /// The mount of this node's child `name`; an `inline` child contributes no prefix.
    pub fn child(&self, name: NodeName, inline: bool) -> Self {
        let mut visible = self.visible.to_vec();
        visible.push(!inline);
        Self {
            path: self.path.child(name),
            visible: visible.into(),
        }
    }

    /// The node's canonical path.
    pub fn path(&self) -> &NodePath {
        &self.path
    }

    /// The segments that contribute a prefix, in order.
    pub fn prefix_segments(&self) -> impl Iterator<Item = &NodeName> {
        self.path
            .segments()
            .iter()
            .zip(self.visible.iter())
            .filter(|(_, visible)| **visible)
            .map(|(segment, _)| segment)
    }

    /// Whether the node itself is mounted inline (false for the root).
    pub(crate) fn is_inline(&self) -> bool {
        self.visible.last() == Some(&false)
    }
}

/// Turns canonical ids into exposed names and URIs (see the module docs for the rules).
#[derive(Clone, Debug, Default)]
pub struct NamespaceCodec {
    options: CodecOptions,
}

impl NamespaceCodec {
    /// A codec with these options.
    pub fn new(options: CodecOptions) -> Self {
        Self { options }
    }

    /// The codec's options.
    pub fn options(&self) -> &CodecOptions {
        &self.options
    }

    /// The exposed name of a tool or prompt `name` owned by the node at `mount`.
    /// Pure and deterministic: depends only on (mount's prefix segments, name, style).
    pub fn encode_name(&self, mount: &MountPath, name: &str) -> String {
        let style = self.options.style;
        let parts: Vec<&str> = mount
            .prefix_segments()
            .map(NodeName::as_str)
            .chain([name])
            .collect();
        let plain = parts.join(SEPARATOR);
        if parts.iter().all(|part| is_clean(part, style)) && plain.len() <= style.max_len() {
            return plain;
        }
        self.hashed(&plain, &parts.join("\0"))
    }

    /// The same, with a disambiguating stable hash suffix that is a pure function of the
    /// canonical id (used only when two capabilities would get the same exposed name).
    pub fn encode_name_disambiguated(&self, mount: &MountPath, name: &str) -> String {
        let parts: Vec<&str> = mount
            .prefix_segments()
            .map(NodeName::as_str)
            .chain([name])
            .collect();
        self.hashed(&parts.join(SEPARATOR), &disambiguation_key(mount, name))
    }

    /// The exposed URI of a resource `uri` owned by the node at `mount`; identity when the
    /// mount has no prefix segments (root or inline chain).
    pub fn encode_uri(&self, mount: &MountPath, uri: &str) -> String {
        let mut out = String::new();
        for (i, segment) in mount.prefix_segments().enumerate() {
            if i == 0 {
                out.push_str(&self.options.uri_scheme);
                out.push_str("://");
            }
            out.push_str(segment.as_str());
            out.push('/');
        }
        out.push_str(uri);
        out
    }

    /// The same for a URI template (RFC 6570); expanding the exposed template must give a
    /// URI that `RoutePlan::resolve_uri` maps back to the node and the original expansion.
    pub fn encode_uri_template(&self, mount: &MountPath, template: &str) -> String {
        // The prefix holds no `{`, so expansion only touches the original's expressions.
        self.encode_uri(mount, template)
    }

    /// A URI (or template) for a resource whose ordinary exposed URI is taken:
    /// `{scheme}://~{hash}/{original}`. `~` is not allowed in node names, so this never
    /// looks like a node prefix.
    pub(crate) fn encode_uri_disambiguated(&self, mount: &MountPath, uri: &str) -> String {
        let hash = short_hash(&disambiguation_key(mount, uri));
        format!("{}://~{hash}/{uri}", self.options.uri_scheme)
    }

    fn hashed(&self, plain: &str, key: &str) -> String {
        let style = self.options.style;
        let mut base = String::with_capacity(plain.len());
        for c in plain.chars() {
            let c = if c != '_' && style.allows(c) { c } else { '_' };
            if !(c == '_' && base.ends_with('_')) {
                base.push(c);
            }
        }
        // Every char is ASCII now, so byte truncation stays on a char boundary.
        let budget = style.max_len() - HASH_SEPARATOR.len() - HASH_LEN;
        let base = base.trim_start_matches('_');
        let base = base[..base.len().min(budget)].trim_end_matches('_');
        let base = if base.is_empty() { "x" } else { base };
        format!("{base}{HASH_SEPARATOR}{}", short_hash(key))
    }
}

/// The key of the disambiguated form: the full path (inline segments too), so that inline
/// siblings exposing the same name get different names. A path holds no `\0`, so the key
/// is unambiguous.
fn disambiguation_key(mount: &MountPath, name: &str) -> String {
    format!("{}\0{name}\0dup", mount.path())
}

/// `[A-Za-z0-9-]+(_[A-Za-z0-9-]+)*` (with `.` allowed in [`NameStyle::Mcp`]).
fn is_clean(segment: &str, style: NameStyle) -> bool {
    segment
        .split('_')
        .all(|run| !run.is_empty() && run.chars().all(|c| c != '_' && style.allows(c)))
}

fn short_hash(key: &str) -> String {
    let digest = Sha256::digest(key.as_bytes());
    let mut hex = String::with_capacity(HASH_LEN);
    for byte in digest.iter().take(HASH_LEN.div_ceil(2)) {
        hex.push_str(&format!("{byte:02x}"));
    }
    hex.truncate(HASH_LEN);
    hex
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mount(segments: &[(&str, bool)]) -> MountPath {
        segments
            .iter()
            .fold(MountPath::root(), |mount, (name, inline)| {
                mount.child(NodeName::new(name).expect("valid name"), *inline)
            })
    }

    fn llm() -> NamespaceCodec {
        NamespaceCodec::default()
    }

    fn mcp() -> NamespaceCodec {
        NamespaceCodec::new(CodecOptions {
            style: NameStyle::Mcp,
            ..CodecOptions::default()
        })
    }

    fn is_llm_safe(name: &str) -> bool {
        (1..=64).contains(&name.len())
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    }

    #[test]
    fn plain_names_join_prefix_segments() {
        let web = mount(&[("research", false), ("web", false)]);
        assert_eq!(llm().encode_name(&web, "fetch"), "research__web__fetch");
        assert_eq!(llm().encode_name(&MountPath::root(), "fetch"), "fetch");
        assert_eq!(
            llm().encode_name(&web, "get_page"),
            "research__web__get_page"
        );
    }

    #[test]
    fn inline_children_add_no_prefix() {
        let conf = mount(&[("conf", true)]);
        assert_eq!(llm().encode_name(&conf, "fetch"), "fetch");
        let nested = mount(&[("research", false), ("conf", true), ("web", false)]);
        assert_eq!(llm().encode_name(&nested, "fetch"), "research__web__fetch");
        let names: Vec<&str> = nested.prefix_segments().map(NodeName::as_str).collect();
        assert_eq!(names, ["research", "web"]);
        assert_eq!(nested.path().to_string(), "research/conf/web");
    }

    #[test]
    fn hashed_names_have_the_documented_shape() {
        let research = mount(&[("research", false)]);
        assert_eq!(
            llm().encode_name(&research, "web__fetch"),
            format!(
                "research_web_fetch___{}",
                short_hash("research\0web__fetch")
            )
        );
        assert_eq!(
            llm().encode_name(&MountPath::root(), ""),
            format!("x___{}", short_hash(""))
        );
        assert_eq!(
            llm().encode_name(&MountPath::root(), "ünï cødé 🚀"),
            format!("n_c_d___{}", short_hash("ünï cødé 🚀"))
        );
    }

    #[test]
    fn long_names_are_hashed_to_fit() {
        let web = mount(&[("research", false), ("web", false)]);
        let name = "a".repeat(200);
        let encoded = llm().encode_name(&web, &name);
        assert!(encoded.len() <= 64, "{encoded}");
        assert!(is_llm_safe(&encoded), "{encoded}");
        assert!(encoded.starts_with("research_web_aaaa"));
        assert!(encoded.contains("___"));
        let encoded = mcp().encode_name(&web, &name);
        assert_eq!(encoded.len(), 128);
    }

    #[test]
    fn dots_are_hashed_in_llm_style_and_plain_in_mcp_style() {
        let web = mount(&[("web", false)]);
        assert_eq!(mcp().encode_name(&web, "a.b"), "web__a.b");
        let hashed = llm().encode_name(&web, "a.b");
        assert_eq!(hashed, format!("web_a_b___{}", short_hash("web\0a.b")));
        assert_ne!(hashed, llm().encode_name(&web, "a_b"));
        assert_eq!(llm().encode_name(&web, "a_b"), "web__a_b");
    }

    #[test]
    fn unclean_node_names_force_hashing() {
        let odd = mount(&[("a__b", false)]);
        let encoded = llm().encode_name(&odd, "c");
        assert_eq!(encoded, format!("a_b_c___{}", short_hash("a__b\0c")));
        let trailing = mount(&[("x_", false)]);
        assert!(llm().encode_name(&trailing, "c").contains("___"));
    }

    #[test]
    fn disambiguated_names_differ_from_the_ordinary_ones() {
        let web = mount(&[("web", false)]);
        let ordinary = llm().encode_name(&web, "a.b");
        let dup = llm().encode_name_disambiguated(&web, "a.b");
        assert_ne!(ordinary, dup);
        assert!(dup.starts_with("web_a_b___"));
        let plain_dup = llm().encode_name_disambiguated(&web, "fetch");
        assert_eq!(
            plain_dup,
            format!("web_fetch___{}", short_hash("web\0fetch\0dup"))
        );
        // Inline siblings get different disambiguated names.
        let a = mount(&[("a", true)]);
        let b = mount(&[("b", true)]);
        assert_eq!(llm().encode_name(&a, "t"), llm().encode_name(&b, "t"));
        assert_ne!(
            llm().encode_name_disambiguated(&a, "t"),
            llm().encode_name_disambiguated(&b, "t")
        );
    }

    #[test]
    fn uris_are_prefixed_reversibly() {
        let web = mount(&[("research", false), ("web", false)]);
        assert_eq!(
            llm().encode_uri(&web, "test://static-text"),
            "canopy://research/web/test://static-text"
        );
        assert_eq!(
            llm().encode_uri_template(&web, "file:///{path}"),
            "canopy://research/web/file:///{path}"
        );
        assert_eq!(llm().encode_uri(&MountPath::root(), "test://x"), "test://x");
        assert_eq!(
            llm().encode_uri(&mount(&[("c", true)]), "test://x"),
            "test://x"
        );
        let custom = NamespaceCodec::new(CodecOptions {
            uri_scheme: "tree".into(),
            ..CodecOptions::default()
        });
        assert_eq!(
            custom.encode_uri(&mount(&[("db", false)]), "x://1"),
            "tree://db/x://1"
        );
        assert_eq!(custom.options().uri_scheme, "tree");
    }
}
