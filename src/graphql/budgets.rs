//! Per-user write budgets (issue 22, H2): every mutation spends one of a few budgets, declared where the
//! mutation is (`RoleGuard::signed_in().spending(Budget::Writes)`, documented in the schema as
//! `@spends(budget: WRITES)`), so that one user cannot write in a loop: a budget past its limit answers
//! RATE_LIMITED with `retryAfterSeconds`. A test walks `schema.graphql` and fails on a mutation that spends
//! none.

use std::time::Duration;

use async_graphql::{Enum, TypeDirective};

use crate::auth::ratelimit::{DEFAULT_CAPACITY, RateLimiter};
use crate::auth::shared_counts::SharedCounts;
use crate::config::WriteBudgetLimits;
use crate::error::AppResult;

/// What a mutation spends. Each is counted per user per minute.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Budget {
    /// Everyday writes: favorites, reactions, ratings, comments, likes, cart, profile (WRITES_PER_MINUTE).
    Writes,
    /// Placing and canceling orders, asking for refunds (ORDER_WRITES_PER_MINUTE).
    Orders,
    /// Opening checkouts: each may cost calls to the payment provider (CHECKOUTS_PER_MINUTE).
    Checkouts,
    /// Moderators' and admins' changes (STAFF_WRITES_PER_MINUTE): generous, but a runaway script stops.
    Staff,
}

impl Budget {
    fn name(self) -> &'static str {
        match self {
            Budget::Writes => "writes",
            Budget::Orders => "orders",
            Budget::Checkouts => "checkouts",
            Budget::Staff => "staff",
        }
    }
}

/// Documents the per-user budget a mutation spends (the guard enforces it).
#[TypeDirective(name = "spends", location = "FieldDefinition")]
pub fn spends(budget: Budget) {}

/// The budgets' counters and limits, shared by every request of this instance, and by every instance with a
/// shared store.
pub struct WriteBudgets {
    counters: RateLimiter,
    limits: WriteBudgetLimits,
}

impl WriteBudgets {
    pub fn new(limits: WriteBudgetLimits, shared: Option<&SharedCounts>) -> WriteBudgets {
        WriteBudgets {
            counters: RateLimiter::new(Duration::from_secs(60), DEFAULT_CAPACITY).shared_through(shared),
            limits,
        }
    }

    fn limit(&self, budget: Budget) -> u32 {
        let limits = &self.limits;
        match budget {
            Budget::Writes => limits.writes_per_minute,
            Budget::Orders => limits.order_writes_per_minute,
            Budget::Checkouts => limits.checkouts_per_minute,
            Budget::Staff => limits.staff_writes_per_minute,
        }
    }

    /// Spends one of `user_id`'s `budget`; RATE_LIMITED past its limit.
    pub async fn spend(&self, budget: Budget, user_id: i64) -> AppResult<()> {
        let user = user_id.to_string();
        self.counters
            .hit(&["budget", budget.name(), &user], self.limit(budget))
            .await
    }
}
