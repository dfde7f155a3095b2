//! The audit trail of policy decisions: who asked for what, and what was decided.
//!
//! Every decision a policy rule took part in (allowed by an allow or `allow_scopes` rule,
//! denied, asked, answered, unanswerable), and every decision about a call of an
//! authenticated caller, is recorded twice: as an [`EventKind::Audit`] event of the call
//! (when someone listens: a host reading the call's events, a subscriber of the tree-wide
//! stream) and as a `tracing` event at target
//! `canopy::audit`, level INFO (`canopy serve --audit` or `RUST_LOG=canopy::audit=info`
//! prints it). A call of a caller without an identity that no rule touched is not recorded:
//! there is nothing to attribute, and it is the hot path.

use canopy_topology::{CanonicalId, NodePath, Rule};

use crate::{
    call::CallScope,
    event::{EventKind, Verdict},
};

/// Records one decision about `id` for the call `scope`; `rule` is the rule that decided it
/// and the node whose policy has it.
pub(crate) fn record(
    scope: &CallScope,
    verdict: Verdict,
    id: &CanonicalId,
    rule: Option<(&NodePath, &Rule)>,
) {
    let identity = scope.caller.identity.as_ref();
    if identity.is_none() && rule.is_none() && verdict == Verdict::Allowed {
        return;
    }
    let rule = rule.map(|(node, rule)| format!("{}: {rule}", display_path(node)));
    tracing::info!(
        target: "canopy::audit",
        verdict = verdict.as_str(),
        capability = %id,
        subject = identity.and_then(|c| c.subject()),
        client_id = identity.and_then(|c| c.client_id()),
        scopes = identity.map(|c| c.scopes().join(" ")),
        rule = rule.as_deref(),
        call = scope.call.map(|c| c.to_string()),
        "policy decision"
    );
    if scope.listening {
        scope.emit(
            &id.node,
            EventKind::Audit {
                verdict,
                capability: id.to_string(),
                caller: identity.map(crate::Caller::claims),
                rule,
            },
        );
    }
}

/// A node's path as messages and audit records show it: `(root)` for the root.
pub(crate) fn display_path(path: &NodePath) -> String {
    if path.is_root() {
        "(root)".to_owned()
    } else {
        path.to_string()
    }
}
