//! Per-node policies over canonical ids, and the chain that combines the policies of every
//! node on a capability's path into one [`Decision`].
//!
//! Each node's globs are relative to that node (`db/*write*` on `hub` matches
//! `hub/db/rows_write`). Across nodes the most restrictive verdict wins
//! (deny > ask > allow), so an ancestor can only narrow what its descendants may do.

use globset::{GlobBuilder, GlobMatcher};

use crate::error::PolicyError;
use crate::path::{CanonicalId, NodePath};

/// The three verdicts a rule can give.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RuleKind {
    /// The capability may be used.
    Allow,
    /// The user must be asked first.
    Ask,
    /// The capability is refused and hidden.
    Deny,
}

/// What happens to a call that needs the user's permission (an `ask` rule) when its caller
/// cannot answer permission prompts (an MCP client without elicitation, a host call nobody
/// reads).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OnUnanswerable {
    /// The call is refused, saying that the client cannot answer the prompt (the default).
    #[default]
    Deny,
    /// The call goes ahead without asking.
    Allow,
}

impl OnUnanswerable {
    /// The tree file's spelling: `deny` or `allow`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Deny => "deny",
            Self::Allow => "allow",
        }
    }
}

/// One glob, compiled when it was added; a bad glob keeps globset's reason.
#[derive(Clone, Debug)]
pub(crate) struct Pattern {
    pub(crate) glob: String,
    matcher: Result<GlobMatcher, String>,
}

impl Pattern {
    fn new(glob: String) -> Self {
        let matcher = GlobBuilder::new(&glob)
            .literal_separator(true)
            .build()
            .map(|glob| glob.compile_matcher())
            .map_err(|err| err.kind().to_string());
        Self { glob, matcher }
    }

    /// Whether the glob matches; an invalid glob matches `invalid_matches` (fail closed).
    pub(crate) fn matches(&self, id: &str, invalid_matches: bool) -> bool {
        match &self.matcher {
            Ok(matcher) => matcher.is_match(id),
            Err(_) => invalid_matches,
        }
    }
}

/// One node's policy: globs over canonical ids *relative to that node* (`db/*write*`).
/// Glob syntax is globset's with `literal_separator(true)`: `*` stays inside one path
/// segment, `**` crosses segments. Empty `allow` = everything allowed; non-empty = an
/// allowlist.
///
/// Globs are compiled as they are added; [`Policy::validate`] reports a bad one. Until
/// fixed, a bad glob fails closed: in `deny` and `ask` it matches everything, in `allow`
/// nothing.
///
/// [`Policy::on_unanswerable`] says what this node's `ask` rules do when the caller cannot
/// answer a permission prompt (default: refuse the call).
#[derive(Clone, Debug, Default)]
pub struct Policy {
    allow: Vec<Pattern>,
    ask: Vec<Pattern>,
    deny: Vec<Pattern>,
    on_unanswerable: OnUnanswerable,
}

impl Policy {
    /// An empty policy: no opinion on anything.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a glob to the allow list (a non-empty allow list denies everything else).
    pub fn allow(mut self, glob: impl Into<String>) -> Self {
        self.allow.push(Pattern::new(glob.into()));
        self
    }

    /// Adds a glob whose matches need the user's permission first.
    pub fn ask(mut self, glob: impl Into<String>) -> Self {
        self.ask.push(Pattern::new(glob.into()));
        self
    }

    /// Adds a glob whose matches are refused and hidden.
    pub fn deny(mut self, glob: impl Into<String>) -> Self {
        self.deny.push(Pattern::new(glob.into()));
        self
    }

    /// What this node's `ask` rules do when the caller cannot answer a permission prompt.
    /// A call goes ahead unanswered only if every node whose rule asks allows it.
    pub fn on_unanswerable(mut self, fallback: OnUnanswerable) -> Self {
        self.on_unanswerable = fallback;
        self
    }

    /// The fallback set with [`Policy::on_unanswerable`].
    pub fn unanswerable(&self) -> OnUnanswerable {
        self.on_unanswerable
    }

    /// Every rule with its kind: allow, ask, deny (the tree file's order), each list in the
    /// order added.
    pub(crate) fn patterns(&self) -> impl Iterator<Item = (RuleKind, &Pattern)> {
        let tag = |kind: RuleKind| move |pattern| (kind, pattern);
        self.allow
            .iter()
            .map(tag(RuleKind::Allow))
            .chain(self.ask.iter().map(tag(RuleKind::Ask)))
            .chain(self.deny.iter().map(tag(RuleKind::Deny)))
    }

    /// Checks every glob; the first bad one is [`PolicyError::InvalidGlob`].
    pub fn validate(&self) -> Result<(), PolicyError> {
        let all = self.deny.iter().chain(&self.ask).chain(&self.allow);
        for pattern in all {
            if let Err(reason) = &pattern.matcher {
                return Err(PolicyError::InvalidGlob {
                    glob: pattern.glob.clone(),
                    reason: reason.clone(),
                });
            }
        }
        Ok(())
    }

    /// Whether the policy has no rules at all.
    pub fn is_empty(&self) -> bool {
        self.allow.is_empty() && self.ask.is_empty() && self.deny.is_empty()
    }

    /// This node's own verdict on `relative_id` (deny > ask > allow; not matched by a
    /// non-empty allow list = deny), with the rule that decided it. None = no opinion (allow).
    pub fn evaluate(&self, relative_id: &str) -> Option<Rule> {
        let first_match = |patterns: &[Pattern], invalid_matches: bool| {
            patterns
                .iter()
                .find(|pattern| pattern.matches(relative_id, invalid_matches))
                .map(|pattern| pattern.glob.clone())
        };
        if let Some(glob) = first_match(&self.deny, true) {
            return Some(Rule::new(RuleKind::Deny, glob));
        }
        if let Some(glob) = first_match(&self.ask, true) {
            return Some(Rule::new(RuleKind::Ask, glob));
        }
        if self.allow.is_empty() {
            return None;
        }
        match first_match(&self.allow, false) {
            Some(glob) => Some(Rule::new(RuleKind::Allow, glob)),
            None => Some(Rule::new(RuleKind::Deny, String::new())),
        }
    }
}

/// A rule that decided a verdict.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Rule {
    /// The verdict.
    pub kind: RuleKind,
    /// The glob that matched; "" for "not in the allow list".
    pub glob: String,
}

impl Rule {
    pub(crate) fn new(kind: RuleKind, glob: String) -> Self {
        Self { kind, glob }
    }
}

impl RuleKind {
    /// The tree file's key: `allow`, `ask` or `deny`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Allow => "allow",
            Self::Ask => "ask",
            Self::Deny => "deny",
        }
    }
}

impl std::fmt::Display for RuleKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The decision for one capability after every node on its path had its say.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub enum Decision {
    /// The capability may be used.
    Allow,
    /// Ask the user first; `by` lists every node whose policy asks, outermost first.
    Ask {
        /// The asking nodes and their rules, outermost first.
        by: Vec<(NodePath, Rule)>,
        /// What to do when the caller cannot answer: `Allow` only if every asking node's
        /// policy allows it (ancestors can only narrow).
        on_unanswerable: OnUnanswerable,
    },
    /// Refused and hidden; the outermost node that denies, and its rule.
    Deny {
        /// The outermost denying node.
        by: NodePath,
        /// Its rule.
        rule: Rule,
    },
}

/// The policies of the nodes on a capability's path, outermost first.
#[derive(Debug, Default)]
pub struct PolicyChain<'a> {
    links: Vec<(&'a NodePath, &'a Policy)>,
}

/// The explicit allow rules that let a capability through, outermost first (empty when no
/// node on the path has an allow list: allowed by default). Kept beside the [`Decision`] so
/// a listing can say which rule decided an `allow`.
pub type AllowedBy = Vec<(NodePath, Rule)>;

impl<'a> PolicyChain<'a> {
    /// An empty chain: everything is allowed.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds the policy of the next node down the path.
    pub fn push(&mut self, node: &'a NodePath, policy: &'a Policy) {
        self.links.push((node, policy));
    }

    /// Most restrictive wins across nodes (Deny > Ask > Allow), so ancestors can only narrow.
    /// Nodes that are not ancestors of `id`'s node have no say.
    pub fn decide(&self, id: &CanonicalId) -> Decision {
        self.decide_with_rules(id).0
    }

    /// Like [`decide`](Self::decide), with the allow rules that matched on the way.
    pub fn decide_with_rules(&self, id: &CanonicalId) -> (Decision, AllowedBy) {
        let mut asks = Vec::new();
        let mut allowed_by = Vec::new();
        let mut on_unanswerable = OnUnanswerable::Allow;
        for (node, policy) in &self.links {
            let Some(relative) = id.relative_to(node) else {
                continue;
            };
            match policy.evaluate(&relative) {
                Some(rule) if rule.kind == RuleKind::Deny => {
                    let decision = Decision::Deny {
                        by: (*node).clone(),
                        rule,
                    };
                    return (decision, Vec::new());
                }
                Some(rule) if rule.kind == RuleKind::Ask => {
                    if policy.on_unanswerable == OnUnanswerable::Deny {
                        on_unanswerable = OnUnanswerable::Deny;
                    }
                    asks.push(((*node).clone(), rule));
                }
                Some(rule) => allowed_by.push(((*node).clone(), rule)),
                None => {}
            }
        }
        if asks.is_empty() {
            (Decision::Allow, allowed_by)
        } else {
            let decision = Decision::Ask {
                by: asks,
                on_unanswerable,
            };
            (decision, allowed_by)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::path::CapabilityKind;

    fn path(s: &str) -> NodePath {
        NodePath::parse(s).expect("valid path")
    }

    fn tool(node: &str, name: &str) -> CanonicalId {
        CanonicalId::new(CapabilityKind::Tool, path(node), name)
    }

    fn rule(kind: RuleKind, glob: &str) -> Rule {
        Rule::new(kind, glob.to_owned())
    }

    #[test]
    fn deny_beats_ask_beats_allow() {
        let policy = Policy::new().allow("db/*").ask("db/*").deny("db/drop*");
        assert_eq!(
            policy.evaluate("db/drop_table"),
            Some(rule(RuleKind::Deny, "db/drop*"))
        );
        assert_eq!(
            policy.evaluate("db/query"),
            Some(rule(RuleKind::Ask, "db/*"))
        );
        let policy = Policy::new().allow("db/*");
        assert_eq!(
            policy.evaluate("db/query"),
            Some(rule(RuleKind::Allow, "db/*"))
        );
    }

    #[test]
    fn non_empty_allow_list_denies_the_rest() {
        let policy = Policy::new().allow("db/query");
        assert_eq!(
            policy.evaluate("db/query"),
            Some(rule(RuleKind::Allow, "db/query"))
        );
        assert_eq!(policy.evaluate("db/write"), Some(rule(RuleKind::Deny, "")));
        assert_eq!(Policy::new().evaluate("anything"), None);
        assert!(Policy::new().is_empty());
        assert!(!policy.is_empty());
    }

    #[test]
    fn star_stays_in_a_segment_and_double_star_crosses() {
        let policy = Policy::new().deny("shell/*");
        assert!(policy.evaluate("shell/run").is_some());
        assert_eq!(policy.evaluate("shell/inner/run"), None);
        let policy = Policy::new().deny("shell/**");
        assert!(policy.evaluate("shell/inner/run").is_some());
        let policy = Policy::new().ask("*write*");
        assert_eq!(policy.evaluate("db/write"), None);
        assert!(policy.evaluate("write_rows").is_some());
    }

    #[test]
    fn invalid_globs_are_reported_and_fail_closed() {
        let policy = Policy::new().deny("a/[b");
        let err = policy.validate().expect_err("bad glob");
        assert!(
            err.to_string().starts_with("invalid policy glob 'a/[b': "),
            "{err}"
        );
        assert_eq!(policy.evaluate("x"), Some(rule(RuleKind::Deny, "a/[b")));
        let policy = Policy::new().allow("a/[b");
        assert_eq!(policy.evaluate("a/b"), Some(rule(RuleKind::Deny, "")));
        assert_eq!(Policy::new().allow("db/*").validate(), Ok(()));
    }

    #[test]
    fn chain_takes_the_most_restrictive_verdict() {
        let (root, research) = (path(""), path("research"));
        let root_policy = Policy::new().ask("research/web/*");
        let research_policy = Policy::new().ask("web/fetch");
        let mut chain = PolicyChain::new();
        chain.push(&root, &root_policy);
        chain.push(&research, &research_policy);
        assert_eq!(
            chain.decide(&tool("research/web", "fetch")),
            Decision::Ask {
                by: vec![
                    (root.clone(), rule(RuleKind::Ask, "research/web/*")),
                    (research.clone(), rule(RuleKind::Ask, "web/fetch")),
                ],
                on_unanswerable: OnUnanswerable::Deny,
            }
        );
        assert_eq!(chain.decide(&tool("research", "search")), Decision::Allow);
    }

    #[test]
    fn unanswered_asks_go_ahead_only_if_every_asking_node_allows_it() {
        let (root, research) = (path(""), path("research"));
        let decide = |root_policy: &Policy, research_policy: &Policy, id: &CanonicalId| {
            let mut chain = PolicyChain::new();
            chain.push(&root, root_policy);
            chain.push(&research, research_policy);
            match chain.decide(id) {
                Decision::Ask {
                    on_unanswerable, ..
                } => on_unanswerable,
                other => panic!("not an ask: {other:?}"),
            }
        };
        let allow = OnUnanswerable::Allow;
        let fetch = tool("research/web", "fetch");
        let root_allows = Policy::new().ask("research/web/*").on_unanswerable(allow);
        let research_asks = Policy::new().ask("web/fetch");
        // The research node asks too and keeps the default (deny): denied.
        assert_eq!(
            decide(&root_allows, &research_asks, &fetch),
            OnUnanswerable::Deny
        );
        let research_allows = research_asks.on_unanswerable(allow);
        assert_eq!(decide(&root_allows, &research_allows, &fetch), allow);
        // A node whose rules do not ask has no say, whatever its fallback.
        let research_silent = Policy::new().on_unanswerable(OnUnanswerable::Deny);
        assert_eq!(decide(&root_allows, &research_silent, &fetch), allow);
        let root_denies = Policy::new().ask("research/web/*");
        assert_eq!(
            decide(&root_denies, &research_allows, &fetch),
            OnUnanswerable::Deny
        );
        assert_eq!(Policy::new().unanswerable(), OnUnanswerable::Deny);
    }

    #[test]
    fn allow_rules_that_let_a_call_through_are_kept() {
        let (root, research) = (path(""), path("research"));
        let root_policy = Policy::new().allow("research/**");
        let research_policy = Policy::new().allow("web/fetch");
        let mut chain = PolicyChain::new();
        chain.push(&root, &root_policy);
        chain.push(&research, &research_policy);
        assert_eq!(
            chain.decide_with_rules(&tool("research/web", "fetch")),
            (
                Decision::Allow,
                vec![
                    (root.clone(), rule(RuleKind::Allow, "research/**")),
                    (research.clone(), rule(RuleKind::Allow, "web/fetch")),
                ]
            )
        );
        assert_eq!(
            PolicyChain::new().decide_with_rules(&tool("", "x")),
            (Decision::Allow, Vec::new())
        );
    }

    #[test]
    fn descendants_cannot_widen_an_ancestors_deny() {
        let (root, research) = (path(""), path("research"));
        let root_policy = Policy::new().deny("research/**");
        let research_policy = Policy::new().allow("**");
        let mut chain = PolicyChain::new();
        chain.push(&root, &root_policy);
        chain.push(&research, &research_policy);
        assert_eq!(
            chain.decide(&tool("research/web", "fetch")),
            Decision::Deny {
                by: root.clone(),
                rule: rule(RuleKind::Deny, "research/**"),
            }
        );
    }

    #[test]
    fn descendants_can_narrow() {
        let (root, research) = (path(""), path("research"));
        let root_policy = Policy::new().allow("research/**");
        let research_policy = Policy::new().deny("web/*");
        let mut chain = PolicyChain::new();
        chain.push(&root, &root_policy);
        chain.push(&research, &research_policy);
        assert_eq!(
            chain.decide(&tool("research/web", "fetch")),
            Decision::Deny {
                by: research.clone(),
                rule: rule(RuleKind::Deny, "web/*"),
            }
        );
        assert_eq!(chain.decide(&tool("research", "search")), Decision::Allow);
        // The root's allow list does not cover its own tools.
        assert_eq!(
            chain.decide(&tool("", "status")),
            Decision::Deny {
                by: root.clone(),
                rule: rule(RuleKind::Deny, ""),
            }
        );
    }
}
