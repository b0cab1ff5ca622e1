//! The accounts' part of the GraphQL schema.

use async_graphql::{Context, ID, Object, Result};
use chrono::{DateTime, Utc};

use crate::accounts::models::UserRow;
use crate::accounts::repo;
use crate::db::{Db, Role};
use crate::error::AppError;
use crate::graphql::guards::{RoleGuard, authenticated, viewer};

#[derive(Default)]
pub struct AccountQuery;

#[Object]
impl AccountQuery {
    /// The signed-in user.
    #[graphql(guard = "RoleGuard::signed_in()", directive = authenticated::apply())]
    async fn me(&self, ctx: &Context<'_>) -> Result<User> {
        let viewer = viewer(ctx)?;
        let db = ctx.data::<Db>()?;
        let row = repo::user_by_id(db, viewer.user_id)
            .await?
            .ok_or(AppError::Unauthenticated)?;
        Ok(User(row))
    }
}

/// A user account.
pub struct User(pub UserRow);

#[Object]
impl User {
    /// Public id (a UUID).
    async fn id(&self) -> ID {
        ID(self.0.uuid.clone())
    }

    async fn email(&self) -> &str {
        &self.0.email
    }

    async fn role(&self) -> Role {
        self.0.role
    }

    /// False until the emailed activation link is used, or after an admin deactivated the account.
    async fn is_active(&self) -> bool {
        self.0.is_active
    }

    /// When the account was created (UTC).
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at.and_utc()
    }
}
