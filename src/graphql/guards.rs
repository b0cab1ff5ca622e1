//! Role rules (G2). A guarded field carries both the `@requiresRole` / `@authenticated` directive, which
//! documents the rule in the schema, and the guard below, which enforces it:
//!
//! ```text
//! #[graphql(
//!     guard = "RoleGuard::role(Role::Moderator)",
//!     directive = requires_role::apply(Role::Moderator)
//! )]
//! ```

use async_graphql::{Context, Guard, Result, TypeDirective};

use crate::auth::Viewer;
use crate::db::Role;
use crate::error::AppError;
use crate::graphql::budgets::{Budget, WriteBudgets};

/// Documents that a field needs a signed-in viewer holding at least `role`.
#[TypeDirective(name = "requiresRole", location = "FieldDefinition")]
pub fn requires_role(role: Role) {}

/// Documents that a field needs a signed-in viewer of any role.
#[TypeDirective(name = "authenticated", location = "FieldDefinition")]
pub fn authenticated() {}

/// Enforces the rule a directive documents: no viewer is UNAUTHENTICATED, too low a role is FORBIDDEN; and,
/// for a mutation, spends the viewer's write budget (`@spends`), RATE_LIMITED past it.
pub struct RoleGuard {
    required: Option<Role>,
    budget: Option<Budget>,
}

impl RoleGuard {
    pub fn signed_in() -> Self {
        RoleGuard {
            required: None,
            budget: None,
        }
    }

    pub fn role(role: Role) -> Self {
        RoleGuard {
            required: Some(role),
            budget: None,
        }
    }

    /// The same rule, spending `budget` once the role is checked (every mutation spends one).
    pub fn spending(self, budget: Budget) -> Self {
        RoleGuard {
            budget: Some(budget),
            ..self
        }
    }
}

impl Guard for RoleGuard {
    async fn check(&self, ctx: &Context<'_>) -> Result<()> {
        let Some(viewer) = ctx.data_opt::<Viewer>() else {
            return Err(AppError::Unauthenticated.into());
        };
        if let Some(required) = self.required
            && !viewer.role.includes(required)
        {
            return Err(AppError::Forbidden(format!("this needs the {required} role")).into());
        }
        if let Some(budget) = self.budget {
            ctx.data::<WriteBudgets>()?.spend(budget, viewer.user_id).await?;
        }
        Ok(())
    }
}

/// The viewer of a request, or UNAUTHENTICATED.
pub fn viewer<'a>(ctx: &'a Context<'_>) -> Result<&'a Viewer> {
    ctx.data_opt::<Viewer>().ok_or_else(|| AppError::Unauthenticated.into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use async_graphql::{EmptyMutation, EmptySubscription, Object, Request, Schema};

    struct Query;

    #[Object]
    impl Query {
        #[graphql(guard = "RoleGuard::signed_in()", directive = authenticated::apply())]
        async fn mine(&self) -> i32 {
            1
        }

        #[graphql(guard = "RoleGuard::role(Role::Moderator)", directive = requires_role::apply(Role::Moderator))]
        async fn moderated(&self) -> i32 {
            2
        }
    }

    fn viewer(role: Role) -> Viewer {
        Viewer {
            user_id: 1,
            user_uuid: "u".into(),
            role,
            session_id: "s".into(),
        }
    }

    async fn code_of(viewer: Option<Viewer>, query: &str) -> Option<String> {
        let schema = Schema::new(Query, EmptyMutation, EmptySubscription);
        let mut request = Request::new(query);
        if let Some(v) = viewer {
            request = request.data(v);
        }
        let response = schema.execute(request).await;
        response.errors.first().map(|e| {
            e.extensions
                .as_ref()
                .and_then(|x| x.get("code"))
                .map(|c| c.to_string())
                .unwrap_or_default()
        })
    }

    #[tokio::test]
    async fn guards_follow_roles() {
        assert_eq!(code_of(None, "{ mine }").await.as_deref(), Some("\"UNAUTHENTICATED\""));
        assert_eq!(code_of(Some(viewer(Role::User)), "{ mine }").await, None);
        assert_eq!(
            code_of(None, "{ moderated }").await.as_deref(),
            Some("\"UNAUTHENTICATED\"")
        );
        assert_eq!(
            code_of(Some(viewer(Role::User)), "{ moderated }").await.as_deref(),
            Some("\"FORBIDDEN\"")
        );
        assert_eq!(code_of(Some(viewer(Role::Moderator)), "{ moderated }").await, None);
        assert_eq!(code_of(Some(viewer(Role::Admin)), "{ moderated }").await, None);
    }

    #[test]
    fn directives_appear_in_the_schema() {
        let sdl = Schema::new(Query, EmptyMutation, EmptySubscription).sdl();
        assert!(sdl.contains("mine: Int! @authenticated"), "{sdl}");
        assert!(sdl.contains("moderated: Int! @requiresRole(role: MODERATOR)"), "{sdl}");
        assert!(
            sdl.contains("directive @requiresRole(role: Role!) on FIELD_DEFINITION"),
            "{sdl}"
        );
    }
}
