//! What an anonymous answer shows of public content, for the response cache (issue 22): a resolver that reads
//! public content marks the part it shows (`shows(ctx, Part::…)`). The marks cost nothing when the answer
//! cannot be kept (a signed-in viewer, the cache off): there is no `ReadSet` in the request then.

use std::sync::Arc;

use async_graphql::Context;

use crate::db::notify::{Part, ReadSet};

/// The answer being computed shows `part` (kept answers are dropped when it changes).
pub fn shows(ctx: &Context<'_>, part: Part) {
    if let Some(shown) = ctx.data_opt::<Arc<ReadSet>>() {
        shown.mark(part);
    }
}
