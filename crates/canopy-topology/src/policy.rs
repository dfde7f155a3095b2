//! Per-node policies over canonical ids, and the chain that combines the policies of every
//! node on a capability's path into one [`Decision`].
//!
//! Each node's globs are relative to that node (`db/*write*` on `hub` matches
//! `hub/db/rows_write`). Across nodes the most restrictive verdict wins
//! (deny > ask > allow), so an ancestor can only narrow what its descendants may do.
//!
//! Two kinds of rule depend on who calls — the scopes of the caller's access token:
//! [`Policy::require_scopes`] denies (and hides) a capability from callers without the
//! scopes, and [`Policy::allow_scopes`] lets callers with the scopes skip the node's `ask`.
//! [`PolicyChain::decide`] ignores both (the verdict for a caller whose scopes do not
//! matter: the widest a caller can see); [`PolicyChain::decide_for`] applies them.

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
///
/// Scope rules ([`Policy::require_scopes`], [`Policy::allow_scopes`]) test the caller's
/// scopes; a caller without an identity (a stdio client, a host calling from Rust) holds no
/// scope.
#[derive(Clone, Debug, Default)]
pub struct Policy {
    allow: Vec<Pattern>,
    ask: Vec<Pattern>,
    deny: Vec<Pattern>,
    require_scopes: Vec<ScopeRule>,
    allow_scopes: Vec<ScopeRule>,
    on_unanswerable: OnUnanswerable,
}

/// A glob with the scopes a caller must hold all of.
#[derive(Clone, Debug)]
pub(crate) struct ScopeRule {
    pub(crate) pattern: Pattern,
    pub(crate) scopes: Vec<String>,
}

impl ScopeRule {
    fn new<S: Into<String>>(glob: String, scopes: impl IntoIterator<Item = S>) -> Self {
        Self {
            pattern: Pattern::new(glob),
            scopes: scopes.into_iter().map(Into::into).collect(),
        }
    }

    fn held_by(&self, granted: &[String]) -> bool {
        self.scopes.iter().all(|scope| granted.contains(scope))
    }

    fn rule(&self, kind: RuleKind) -> Rule {
        Rule {
            kind,
            glob: self.pattern.glob.clone(),
            scopes: self.scopes.clone(),
        }
    }
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

    /// Denies (and hides) what `glob` matches from every caller that does not hold all of
    /// `scopes` (a caller without an identity holds none). Deny rules still apply to callers
    /// that hold them.
    pub fn require_scopes<S: Into<String>>(
        mut self,
        glob: impl Into<String>,
        scopes: impl IntoIterator<Item = S>,
    ) -> Self {
        self.require_scopes
            .push(ScopeRule::new(glob.into(), scopes));
        self
    }

    /// Lets a caller that holds all of `scopes` use what `glob` matches without this node's
    /// `ask` (everyone else is still asked). It never overrides a deny rule, a
    /// [`require_scopes`](Self::require_scopes) rule or the allow list.
    pub fn allow_scopes<S: Into<String>>(
        mut self,
        glob: impl Into<String>,
        scopes: impl IntoIterator<Item = S>,
    ) -> Self {
        self.allow_scopes.push(ScopeRule::new(glob.into(), scopes));
        self
    }

    /// Whether any rule of this policy depends on the caller's scopes.
    pub fn has_scope_rules(&self) -> bool {
        !self.require_scopes.is_empty() || !self.allow_scopes.is_empty()
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

    /// Every rule with its kind: allow, ask, deny (the tree file's order), then
    /// require_scopes (as deny) and allow_scopes (as allow), each list in the order added.
    pub(crate) fn patterns(&self) -> impl Iterator<Item = (RuleKind, &Pattern, &[String])> {
        let tag = |kind: RuleKind| move |pattern| (kind, pattern, &[][..]);
        fn scoped(kind: RuleKind) -> impl Fn(&ScopeRule) -> (RuleKind, &Pattern, &[String]) {
            move |rule| (kind, &rule.pattern, &rule.scopes[..])
        }
        self.allow
            .iter()
            .map(tag(RuleKind::Allow))
            .chain(self.ask.iter().map(tag(RuleKind::Ask)))
            .chain(self.deny.iter().map(tag(RuleKind::Deny)))
            .chain(self.require_scopes.iter().map(scoped(RuleKind::Deny)))
            .chain(self.allow_scopes.iter().map(scoped(RuleKind::Allow)))
    }

    /// Whether a scope rule of this policy matches `relative_id` (its verdict then depends
    /// on the caller).
    pub(crate) fn scoped(&self, relative_id: &str) -> bool {
        self.require_scopes
            .iter()
            .chain(&self.allow_scopes)
            .any(|rule| rule.pattern.matches(relative_id, true))
    }

    /// Checks every glob; the first bad one is [`PolicyError::InvalidGlob`].
    pub fn validate(&self) -> Result<(), PolicyError> {
        let scoped = self.require_scopes.iter().chain(&self.allow_scopes);
        let all = self
            .deny
            .iter()
            .chain(&self.ask)
            .chain(&self.allow)
            .chain(scoped.map(|rule| &rule.pattern));
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
        self.allow.is_empty()
            && self.ask.is_empty()
            && self.deny.is_empty()
            && !self.has_scope_rules()
    }

    /// This node's own verdict on `relative_id` (deny > ask > allow; not matched by a
    /// non-empty allow list = deny), with the rule that decided it, scope rules left out.
    /// None = no opinion (allow).
    pub fn evaluate(&self, relative_id: &str) -> Option<Rule> {
        self.evaluate_with(relative_id, None)
    }

    /// This node's own verdict on `relative_id` for a caller holding the scopes `granted`:
    /// deny, then [`require_scopes`](Self::require_scopes) (a rule whose scopes the caller
    /// lacks denies), then ask (unless an [`allow_scopes`](Self::allow_scopes) rule whose
    /// scopes the caller holds matches), then the allow list.
    pub fn evaluate_for(&self, relative_id: &str, granted: &[String]) -> Option<Rule> {
        self.evaluate_with(relative_id, Some(granted))
    }

    fn evaluate_with(&self, relative_id: &str, granted: Option<&[String]>) -> Option<Rule> {
        let first_match = |patterns: &[Pattern], invalid_matches: bool| {
            patterns
                .iter()
                .find(|pattern| pattern.matches(relative_id, invalid_matches))
                .map(|pattern| pattern.glob.clone())
        };
        let scope_match = |rules: &'_ [ScopeRule], want_held: bool, granted: &[String]| {
            rules
                .iter()
                .find(|rule| {
                    // A bad glob fails closed: it requires (matches) everything and
                    // exempts nothing.
                    rule.pattern.matches(relative_id, !want_held)
                        && rule.held_by(granted) == want_held
                })
                .cloned()
        };
        if let Some(glob) = first_match(&self.deny, true) {
            return Some(Rule::new(RuleKind::Deny, glob));
        }
        let mut exempt = None;
        if let Some(granted) = granted {
            if let Some(rule) = scope_match(&self.require_scopes, false, granted) {
                return Some(rule.rule(RuleKind::Deny));
            }
            exempt = scope_match(&self.allow_scopes, true, granted);
        }
        if exempt.is_none()
            && let Some(glob) = first_match(&self.ask, true)
        {
            return Some(Rule::new(RuleKind::Ask, glob));
        }
        let exempted = |exempt: Option<ScopeRule>| exempt.map(|rule| rule.rule(RuleKind::Allow));
        if self.allow.is_empty() {
            return exempted(exempt);
        }
        match first_match(&self.allow, false) {
            Some(glob) => Some(exempted(exempt).unwrap_or(Rule::new(RuleKind::Allow, glob))),
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
    /// For a scope rule: the scopes it names (a `require_scopes` rule's that the caller
    /// lacks some of, an `allow_scopes` rule's that the caller holds); empty otherwise.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub scopes: Vec<String>,
}

impl Rule {
    pub(crate) fn new(kind: RuleKind, glob: String) -> Self {
        Self {
            kind,
            glob,
            scopes: Vec::new(),
        }
    }
}

impl std::fmt::Display for Rule {
    /// The rule as the tree file spells it: `deny "db/*"`, `require_scopes "db/*" = db:read`,
    /// `allow_scopes "notes/*" = notes:write`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (self.kind, self.scopes.is_empty()) {
            (kind, true) => write!(f, "{kind} \"{}\"", self.glob),
            (RuleKind::Deny, false) => {
                write!(
                    f,
                    "require_scopes \"{}\" = {}",
                    self.glob,
                    self.scopes.join(" ")
                )
            }
            (_, false) => write!(
                f,
                "allow_scopes \"{}\" = {}",
                self.glob,
                self.scopes.join(" ")
            ),
        }
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
        self.decide_with(id, None)
    }

    /// The decision for a caller holding the scopes `granted` (none for a caller without an
    /// identity): scope rules apply (see [`Policy::evaluate_for`]).
    pub fn decide_for(&self, id: &CanonicalId, granted: &[String]) -> Decision {
        self.decide_with(id, Some(granted)).0
    }

    /// Whether a scope rule of a node on the path matches `id`: its decision then depends
    /// on the caller ([`decide_for`](Self::decide_for)).
    pub fn scoped(&self, id: &CanonicalId) -> bool {
        self.links.iter().any(|(node, policy)| {
            policy.has_scope_rules()
                && id
                    .relative_to(node)
                    .is_some_and(|relative| policy.scoped(&relative))
        })
    }

    fn decide_with(&self, id: &CanonicalId, granted: Option<&[String]>) -> (Decision, AllowedBy) {
        let mut asks = Vec::new();
        let mut allowed_by = Vec::new();
        let mut on_unanswerable = OnUnanswerable::Allow;
        for (node, policy) in &self.links {
            let Some(relative) = id.relative_to(node) else {
                continue;
            };
            match policy.evaluate_with(&relative, granted) {
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

    fn scopes(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn require_scopes_denies_callers_without_them() {
        let policy = Policy::new().require_scopes("db/*", ["db:read"]);
        let denied = Rule {
            scopes: scopes(&["db:read"]),
            ..rule(RuleKind::Deny, "db/*")
        };
        assert_eq!(policy.evaluate_for("db/query", &[]), Some(denied.clone()));
        assert_eq!(
            policy.evaluate_for("db/query", &scopes(&["notes:read"])),
            Some(denied.clone())
        );
        assert_eq!(policy.evaluate_for("db/query", &scopes(&["db:read"])), None);
        assert_eq!(policy.evaluate_for("notes/list", &[]), None);
        // Scope rules are left out of the caller-independent verdict.
        assert_eq!(policy.evaluate("db/query"), None);
        assert!(policy.scoped("db/query") && !policy.scoped("notes/list"));
        assert_eq!(denied.to_string(), "require_scopes \"db/*\" = db:read");
        // A deny rule holds for callers with every scope.
        let policy = policy.deny("db/drop*");
        assert_eq!(
            policy.evaluate_for("db/drop_table", &scopes(&["db:read"])),
            Some(rule(RuleKind::Deny, "db/drop*"))
        );
    }

    #[test]
    fn allow_scopes_skip_the_ask_and_nothing_else() {
        let policy = Policy::new()
            .ask("notes/*")
            .allow_scopes("notes/*", ["notes:write"]);
        let writer = scopes(&["notes:read", "notes:write"]);
        assert_eq!(
            policy.evaluate_for("notes/add", &writer),
            Some(Rule {
                scopes: scopes(&["notes:write"]),
                ..rule(RuleKind::Allow, "notes/*")
            })
        );
        assert_eq!(
            policy.evaluate_for("notes/add", &scopes(&["notes:read"])),
            Some(rule(RuleKind::Ask, "notes/*"))
        );
        assert_eq!(
            policy.evaluate("notes/add"),
            Some(rule(RuleKind::Ask, "notes/*"))
        );
        // Not over an allow list, a deny, or a require_scopes rule.
        let listed = Policy::new()
            .allow("notes/list")
            .allow_scopes("notes/*", ["notes:write"]);
        assert_eq!(
            listed.evaluate_for("notes/add", &writer),
            Some(rule(RuleKind::Deny, ""))
        );
        let required = Policy::new()
            .ask("notes/*")
            .allow_scopes("notes/*", ["notes:write"])
            .require_scopes("notes/*", ["notes:admin"]);
        assert_eq!(
            required
                .evaluate_for("notes/add", &writer)
                .map(|rule| rule.kind),
            Some(RuleKind::Deny)
        );
    }

    #[test]
    fn a_bad_scope_glob_fails_closed() {
        let policy = Policy::new()
            .require_scopes("db/[x", ["db:read"])
            .ask("**")
            .allow_scopes("a/[b", ["s"]);
        assert!(policy.validate().is_err());
        assert_eq!(
            policy
                .evaluate_for("anything", &scopes(&["s"]))
                .map(|r| r.kind),
            Some(RuleKind::Deny)
        );
        let policy = Policy::new().ask("**").allow_scopes("a/[b", ["s"]);
        assert_eq!(
            policy.evaluate_for("a/b", &scopes(&["s"])).map(|r| r.kind),
            Some(RuleKind::Ask)
        );
    }

    #[test]
    fn the_chain_applies_scope_rules_of_every_node() {
        let (root, notes) = (path(""), path("notes"));
        let root_policy = Policy::new().require_scopes("notes/**", ["notes:read"]);
        let notes_policy = Policy::new()
            .ask("add")
            .allow_scopes("add", ["notes:write"]);
        let mut chain = PolicyChain::new();
        chain.push(&root, &root_policy);
        chain.push(&notes, &notes_policy);
        let add = tool("notes", "add");
        assert!(chain.scoped(&add));
        assert!(!chain.scoped(&tool("", "status")));
        assert!(matches!(chain.decide(&add), Decision::Ask { .. }));
        assert!(matches!(
            chain.decide_for(&add, &[]),
            Decision::Deny { by, .. } if by == root
        ));
        assert!(matches!(
            chain.decide_for(&add, &scopes(&["notes:read"])),
            Decision::Ask { .. }
        ));
        assert_eq!(
            chain.decide_for(&add, &scopes(&["notes:read", "notes:write"])),
            Decision::Allow
        );
    }
}
