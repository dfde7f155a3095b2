//! Budgets and deadlines that travel down with a call: how many tool calls it may still
//! make, how many model tokens it may still spend, and when it must be done.
//!
//! A [`Budget`] is shared by every node working on a call. Routers charge one call for each
//! `tools/call` they route, agents charge the tokens their model used; a node that finds
//! the budget spent refuses with a clear error instead of doing the work. An agent with
//! limits of its own runs its loop under a [`Budget::child`]: a charge counts against the
//! child and every ancestor, so the tightest limit on the path wins.
//!
//! Across a process boundary the remaining budget is sent in the request's `_meta` under
//! [`BUDGET_META_KEY`] (see [`Budget::to_meta`] and [`Budget::from_meta`]), so a Canopy tree
//! served as a child enforces what is left of its parent's budget.

use std::{
    fmt,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The `_meta` key that carries a budget across a process boundary.
pub const BUDGET_META_KEY: &str = "canopy/budget";

/// The `_meta` key under which a tool result reports model usage and cost (agents set it;
/// routers copy it into their `status` events, and parent agents roll it up).
pub const USAGE_META_KEY: &str = "canopy/usage";

/// Limits for a call: tool calls, model tokens, wall time. `None` = unlimited.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Limits {
    /// Tool calls the call may make (every node on the path counts each routed call).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub calls: Option<u64>,
    /// Model tokens (input plus output) the agents working on the call may spend.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tokens: Option<u64>,
    /// Wall time from the start of the call.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "duration_ms",
        rename = "timeMs"
    )]
    pub time: Option<Duration>,
}

impl Limits {
    /// No limits.
    pub fn none() -> Self {
        Self::default()
    }

    /// Whether no limit is set.
    pub fn is_unlimited(&self) -> bool {
        self.calls.is_none() && self.tokens.is_none() && self.time.is_none()
    }
}

/// What ran out.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BudgetExceeded {
    /// Every allowed tool call was made.
    #[error("the call budget is spent ({limit} tool call{})", if *limit == 1 { "" } else { "s" })]
    Calls {
        /// The limit.
        limit: u64,
    },
    /// The agents used every allowed token.
    #[error("the token budget is spent ({used} of {limit} tokens used)")]
    Tokens {
        /// Tokens used so far.
        used: u64,
        /// The limit.
        limit: u64,
    },
    /// The deadline passed.
    #[error("the deadline passed ({:.1} s allowed)", limit.as_secs_f64())]
    Deadline {
        /// The time that was allowed.
        limit: Duration,
    },
}

impl BudgetExceeded {
    /// The JSON-RPC error a node answers with when the budget is spent.
    pub fn to_error(&self) -> rmcp::ErrorData {
        let kind = match self {
            Self::Calls { .. } => "calls",
            Self::Tokens { .. } => "tokens",
            Self::Deadline { .. } => "time",
        };
        rmcp::ErrorData::invalid_request(
            self.to_string(),
            Some(serde_json::json!({ "reason": "budget_exceeded", "budget": kind })),
        )
    }
}

/// A call's shared budget: limits, what was used, and the budget it is nested in.
pub struct Budget {
    limits: Limits,
    deadline: Option<Instant>,
    calls: AtomicU64,
    tokens: AtomicU64,
    parent: Option<Arc<Budget>>,
}

impl fmt::Debug for Budget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Budget")
            .field("limits", &self.limits)
            .field("calls_used", &self.calls_used())
            .field("tokens_used", &self.tokens_used())
            .field("has_parent", &self.parent.is_some())
            .finish()
    }
}

impl Budget {
    /// A budget with these limits, starting now.
    pub fn new(limits: Limits) -> Arc<Self> {
        Arc::new(Self::make(limits, None))
    }

    /// A budget nested in `self`: charges count against both, and the earlier deadline
    /// holds.
    pub fn child(self: &Arc<Self>, limits: Limits) -> Arc<Self> {
        Arc::new(Self::make(limits, Some(Arc::clone(self))))
    }

    fn make(limits: Limits, parent: Option<Arc<Budget>>) -> Self {
        Self {
            deadline: limits.time.map(|time| Instant::now() + time),
            limits,
            calls: AtomicU64::new(0),
            tokens: AtomicU64::new(0),
            parent,
        }
    }

    /// This budget's own limits (its ancestors' limits hold too).
    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// Tool calls charged to this budget (including nested ones).
    pub fn calls_used(&self) -> u64 {
        self.calls.load(Ordering::Relaxed)
    }

    /// Tokens charged to this budget (including nested ones).
    pub fn tokens_used(&self) -> u64 {
        self.tokens.load(Ordering::Relaxed)
    }

    /// The earliest deadline on the path, if any.
    pub fn deadline(&self) -> Option<Instant> {
        let own = self.deadline;
        let inherited = self.parent.as_ref().and_then(|parent| parent.deadline());
        match (own, inherited) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Time left before the earliest deadline (`None` = no deadline).
    pub fn remaining_time(&self) -> Option<Duration> {
        self.deadline()
            .map(|deadline| deadline.saturating_duration_since(Instant::now()))
    }

    /// Fails when any budget on the path is spent or past its deadline (charges nothing).
    pub fn check(&self) -> Result<(), BudgetExceeded> {
        let mut budget = Some(self);
        while let Some(b) = budget {
            if let Some(deadline) = b.deadline
                && Instant::now() >= deadline
            {
                return Err(BudgetExceeded::Deadline {
                    limit: b.limits.time.unwrap_or_default(),
                });
            }
            if let Some(limit) = b.limits.tokens {
                let used = b.tokens_used();
                if used >= limit {
                    return Err(BudgetExceeded::Tokens { used, limit });
                }
            }
            budget = b.parent.as_deref();
        }
        Ok(())
    }

    /// Charges one tool call on every budget of the path; fails (charging nothing) when
    /// one of them has no call left, is out of tokens or is past its deadline.
    pub fn charge_call(&self) -> Result<(), BudgetExceeded> {
        self.check()?;
        let mut charged: Vec<&Budget> = Vec::new();
        let mut budget = Some(self);
        while let Some(b) = budget {
            let previous = b.calls.fetch_add(1, Ordering::Relaxed);
            charged.push(b);
            if let Some(limit) = b.limits.calls
                && previous >= limit
            {
                for b in charged {
                    b.calls.fetch_sub(1, Ordering::Relaxed);
                }
                return Err(BudgetExceeded::Calls { limit });
            }
            budget = b.parent.as_deref();
        }
        Ok(())
    }

    /// Charges tokens a model used on every budget of the path (they were spent, so they
    /// are always charged); fails when that went over a limit.
    pub fn charge_tokens(&self, tokens: u64) -> Result<(), BudgetExceeded> {
        let mut budget = Some(self);
        while let Some(b) = budget {
            b.tokens.fetch_add(tokens, Ordering::Relaxed);
            budget = b.parent.as_deref();
        }
        self.check()
    }

    /// What is left, as limits: the tightest remaining amount of each kind on the path.
    pub fn remaining(&self) -> Limits {
        let mut calls: Option<u64> = None;
        let mut tokens: Option<u64> = None;
        let mut budget = Some(self);
        while let Some(b) = budget {
            if let Some(limit) = b.limits.calls {
                let left = limit.saturating_sub(b.calls_used());
                calls = Some(calls.map_or(left, |c| c.min(left)));
            }
            if let Some(limit) = b.limits.tokens {
                let left = limit.saturating_sub(b.tokens_used());
                tokens = Some(tokens.map_or(left, |t| t.min(left)));
            }
            budget = b.parent.as_deref();
        }
        Limits {
            calls,
            tokens,
            time: self.remaining_time(),
        }
    }

    /// The remaining budget as the JSON value sent under [`BUDGET_META_KEY`].
    pub fn to_meta(&self) -> Value {
        serde_json::to_value(self.remaining()).unwrap_or_default()
    }

    /// Reads a budget a parent sent under [`BUDGET_META_KEY`]; `None` when there is none or
    /// it does not parse.
    pub fn from_meta(meta: &serde_json::Map<String, Value>) -> Option<Arc<Self>> {
        let limits: Limits = serde_json::from_value(meta.get(BUDGET_META_KEY)?.clone()).ok()?;
        (!limits.is_unlimited()).then(|| Self::new(limits))
    }
}

mod duration_ms {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(
        value: &Option<Duration>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match value {
            Some(duration) => serializer.serialize_u64(duration.as_millis() as u64),
            None => serializer.serialize_none(),
        }
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<Duration>, D::Error> {
        Ok(Option::<u64>::deserialize(deserializer)?.map(Duration::from_millis))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calls_are_counted_on_every_level_and_refused_past_the_tightest_limit() {
        let outer = Budget::new(Limits {
            calls: Some(3),
            ..Limits::none()
        });
        let inner = outer.child(Limits {
            calls: Some(10),
            ..Limits::none()
        });
        for _ in 0..3 {
            inner.charge_call().expect("within budget");
        }
        assert_eq!(
            inner.charge_call(),
            Err(BudgetExceeded::Calls { limit: 3 }),
            "the outer limit holds for the nested budget"
        );
        assert_eq!(outer.calls_used(), 3, "a refused call charges nothing");
        assert_eq!(inner.calls_used(), 3);
        assert_eq!(inner.remaining().calls, Some(0));
    }

    #[test]
    fn tokens_are_charged_and_then_refuse_further_work() {
        let budget = Budget::new(Limits {
            tokens: Some(100),
            ..Limits::none()
        });
        budget.charge_tokens(60).expect("within budget");
        assert_eq!(
            budget.charge_tokens(50),
            Err(BudgetExceeded::Tokens {
                used: 110,
                limit: 100
            })
        );
        assert!(
            budget.charge_call().is_err(),
            "no calls once tokens are spent"
        );
    }

    #[test]
    fn a_past_deadline_refuses_calls() {
        let budget = Budget::new(Limits {
            time: Some(Duration::ZERO),
            ..Limits::none()
        });
        assert!(matches!(
            budget.charge_call(),
            Err(BudgetExceeded::Deadline { .. })
        ));
    }

    #[test]
    fn the_remaining_budget_round_trips_through_meta() {
        let budget = Budget::new(Limits {
            calls: Some(5),
            tokens: Some(1000),
            time: Some(Duration::from_secs(60)),
        });
        budget.charge_call().expect("within budget");
        budget.charge_tokens(10).expect("within budget");
        let mut meta = serde_json::Map::new();
        meta.insert(BUDGET_META_KEY.to_owned(), budget.to_meta());
        let received = Budget::from_meta(&meta).expect("a budget");
        let limits = received.limits();
        assert_eq!(limits.calls, Some(4));
        assert_eq!(limits.tokens, Some(990));
        assert!(limits.time.is_some_and(|t| t <= Duration::from_secs(60)));
        assert!(Budget::from_meta(&serde_json::Map::new()).is_none());
    }
}
