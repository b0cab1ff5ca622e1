//! The accounts' part of the GraphQL schema.

use crate::graphql::budgets::{Budget, spends};
use async_graphql::{Context, ID, InputObject, MaybeUndefined, Object, Result, Upload};
use chrono::{DateTime, NaiveDate, Utc};

use crate::accounts::Accounts;
use crate::accounts::audit::AdminAction;
use crate::accounts::models::{Gender, ProfileChanges, ProfileRow, UserFilter, UserRow};
use crate::accounts::service::AdminActionEntry;
use crate::catalog::graphql::{MovieConnection, MovieFilterInput, MovieListInput, MovieSortInput, OwnList, own_movies};
use crate::community::Community;
use crate::community::graphql::{Notification, NotificationCount, notifications_page};
use crate::db::Role;
use crate::error::AppError;
use crate::graphql::guards::{RoleGuard, authenticated, requires_role, viewer};
use crate::graphql::pagination::{self, Counted, Page, PageNode, Total};

#[derive(Default)]
pub struct AccountQuery;

#[Object]
impl AccountQuery {
    /// The signed-in user.
    #[graphql(guard = "RoleGuard::signed_in()", directive = authenticated::apply())]
    async fn me(&self, ctx: &Context<'_>) -> Result<User> {
        let viewer = viewer(ctx)?;
        let row = ctx
            .data::<Accounts>()?
            .user(viewer.user_id)
            .await?
            .ok_or(AppError::Unauthenticated)?;
        Ok(User(row))
    }

    /// Users, newest first, filtered by email, role and state (A10).
    #[graphql(
        guard = "RoleGuard::role(Role::Admin)",
        directive = requires_role::apply(Role::Admin),
        complexity = "crate::graphql::limits::page_cost(first, child_complexity, false)"
    )]
    async fn users(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        #[graphql(desc = "Case-insensitive part of the email.")] email_contains: Option<String>,
        role: Option<Role>,
        is_active: Option<bool>,
    ) -> Result<Page<User, UserFilter>> {
        let window = pagination::window(first, after.as_deref())?;
        let filter = UserFilter {
            email_contains,
            role,
            is_active,
        };
        let rows = ctx
            .data::<Accounts>()?
            .users(&filter, window.offset, window.limit + 1)
            .await?;
        Ok(Page::from_rows(rows, window, filter, User))
    }

    /// What admins did to accounts, newest first (A10).
    #[graphql(
        guard = "RoleGuard::role(Role::Admin)",
        directive = requires_role::apply(Role::Admin),
        complexity = "crate::graphql::limits::page_cost(first, child_complexity, false)"
    )]
    async fn admin_actions(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Page<AdminActionRecord, AllAdminActions>> {
        let window = pagination::window(first, after.as_deref())?;
        let rows = ctx
            .data::<Accounts>()?
            .admin_actions(window.offset, window.limit + 1)
            .await?;
        Ok(Page::from_rows(rows, window, AllAdminActions, AdminActionRecord))
    }
}

#[derive(Default)]
pub struct AccountMutation;

/// Every admin action (the list `adminActions` counts).
pub struct AllAdminActions;

impl Counted for AllAdminActions {
    async fn count(&self, ctx: &Context<'_>) -> Result<Total> {
        Ok(Total::exact(ctx.data::<Accounts>()?.count_admin_actions().await?))
    }
}

/// Something an admin did to an account (A10).
#[derive(Clone)]
pub struct AdminActionRecord(AdminActionEntry);

impl PageNode for AdminActionRecord {
    const CONNECTION: &'static str = "AdminActionConnection";
    const EDGE: &'static str = "AdminActionEdge";
}

#[Object]
impl AdminActionRecord {
    async fn action(&self) -> AdminAction {
        self.0.row.action
    }

    /// The admin's email (null for an account deleted since).
    async fn admin_email(&self) -> Option<&str> {
        self.0.admin_email.as_deref()
    }

    /// The account's email (null for an account deleted since).
    async fn user_email(&self) -> Option<&str> {
        self.0.target_email.as_deref()
    }

    /// For a role change, `OLD -> NEW`.
    async fn detail(&self) -> &str {
        &self.0.row.detail
    }

    /// When it was done (UTC).
    async fn at(&self) -> DateTime<Utc> {
        self.0.row.created_at.and_utc()
    }
}

#[Object]
impl AccountMutation {
    /// Changes a user's role (A10). An admin cannot change their own.
    #[graphql(guard = "RoleGuard::role(Role::Admin).spending(Budget::Staff)", directive = requires_role::apply(Role::Admin),
        directive = spends::apply(Budget::Staff))]
    async fn set_user_role(&self, ctx: &Context<'_>, user_id: ID, role: Role) -> Result<User> {
        let admin = viewer(ctx)?;
        let accounts = ctx.data::<Accounts>()?;
        Ok(User(accounts.set_role(admin.user_id, &user_id, role).await?))
    }

    /// Activates (verifies and lifts any ban) or disables an account by hand (A10); disabling signs the user out
    /// everywhere and voids their pending links.
    #[graphql(guard = "RoleGuard::role(Role::Admin).spending(Budget::Staff)", directive = requires_role::apply(Role::Admin),
        directive = spends::apply(Budget::Staff))]
    async fn set_user_active(&self, ctx: &Context<'_>, user_id: ID, active: bool) -> Result<User> {
        let admin = viewer(ctx)?;
        let accounts = ctx.data::<Accounts>()?;
        Ok(User(accounts.set_active(admin.user_id, &user_id, active).await?))
    }

    /// Edits the signed-in user's profile (A11). Omitted fields stay; null clears a field.
    #[graphql(guard = "RoleGuard::signed_in().spending(Budget::Writes)", directive = authenticated::apply(),
        directive = spends::apply(Budget::Writes))]
    async fn update_profile(&self, ctx: &Context<'_>, input: ProfileInput) -> Result<Profile> {
        let me = viewer(ctx)?;
        let accounts = ctx.data::<Accounts>()?;
        Ok(Profile(
            accounts.update_profile(me.user_id, input.into_changes()).await?,
        ))
    }
}

#[Object]
impl AvatarMutation {
    /// Uploads the signed-in user's avatar: a PNG, JPEG or WebP image of at most AVATAR_MAX_BYTES, sent as a
    /// GraphQL multipart request (the file travels once, with the bearer token, and no second endpoint or
    /// presigned URL has to be secured).
    #[graphql(guard = "RoleGuard::signed_in().spending(Budget::Writes)", directive = authenticated::apply(),
        directive = spends::apply(Budget::Writes))]
    async fn upload_avatar(&self, ctx: &Context<'_>, file: Upload) -> Result<Profile> {
        let me = viewer(ctx)?;
        let accounts = ctx.data::<Accounts>()?;
        let upload = file
            .value(ctx)
            .map_err(|_| AppError::bad_input("file", "the file part is missing"))?;
        Ok(Profile(
            accounts.set_avatar(me.user_id, &me.user_uuid, upload.content).await?,
        ))
    }

    /// Removes the signed-in user's avatar.
    #[graphql(guard = "RoleGuard::signed_in().spending(Budget::Writes)", directive = authenticated::apply(),
        directive = spends::apply(Budget::Writes))]
    async fn remove_avatar(&self, ctx: &Context<'_>) -> Result<Profile> {
        let me = viewer(ctx)?;
        Ok(Profile(ctx.data::<Accounts>()?.remove_avatar(me.user_id).await?))
    }
}

#[derive(Default)]
pub struct AvatarMutation;

/// Profile fields to change: omit a field to keep it, send null to clear it.
#[derive(Debug, Default, InputObject)]
pub struct ProfileInput {
    first_name: MaybeUndefined<String>,
    last_name: MaybeUndefined<String>,
    gender: MaybeUndefined<Gender>,
    date_of_birth: MaybeUndefined<NaiveDate>,
    info: MaybeUndefined<String>,
}

fn change<T>(value: MaybeUndefined<T>) -> Option<Option<T>> {
    match value {
        MaybeUndefined::Undefined => None,
        MaybeUndefined::Null => Some(None),
        MaybeUndefined::Value(v) => Some(Some(v)),
    }
}

impl ProfileInput {
    fn into_changes(self) -> ProfileChanges {
        ProfileChanges {
            first_name: change(self.first_name),
            last_name: change(self.last_name),
            gender: change(self.gender),
            date_of_birth: change(self.date_of_birth),
            info: change(self.info),
            updated_at: None,
        }
    }
}

impl Counted for UserFilter {
    async fn count(&self, ctx: &Context<'_>) -> Result<Total> {
        Ok(Total::exact(ctx.data::<Accounts>()?.count_users(self).await?))
    }
}

impl PageNode for User {
    const CONNECTION: &'static str = "UserConnection";
    const EDGE: &'static str = "UserEdge";
}

/// A user account.
#[derive(Clone)]
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

    /// True when the address is verified and no admin disabled the account: the account can sign in.
    async fn is_active(&self) -> bool {
        self.0.is_active()
    }

    /// Whether the owner of the address confirmed it (or an admin vouched for it).
    async fn email_verified(&self) -> bool {
        self.0.email_verified
    }

    /// When an admin disabled the account, if one did.
    async fn disabled_at(&self) -> Option<DateTime<Utc>> {
        self.0.disabled_at.map(|at| at.and_utc())
    }

    /// When the account was created (UTC).
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at.and_utc()
    }

    /// The user's profile: readable by the user and by admins.
    async fn profile(&self, ctx: &Context<'_>) -> Result<Profile> {
        let reader = viewer(ctx)?;
        if reader.user_id != self.0.id && !reader.role.includes(Role::Admin) {
            return Err(AppError::Forbidden("only the user and admins read a profile".into()).into());
        }
        Ok(Profile(ctx.data::<Accounts>()?.profile(self.0.id).await?))
    }

    /// The user's favorite movies (B7), with the catalog's filters, search, sorting and pages: readable by the
    /// user and by admins.
    #[graphql(complexity = "crate::graphql::limits::page_cost(first, child_complexity, search.is_some())")]
    async fn favorites(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        filter: Option<MovieFilterInput>,
        search: Option<String>,
        sort: Option<MovieSortInput>,
    ) -> Result<MovieConnection> {
        self.own_movies(
            ctx,
            OwnList::Favorites,
            MovieListInput {
                first,
                after,
                filter,
                search,
                sort,
            },
        )
        .await
    }

    /// The user's notifications (B11), newest first; only the user reads them.
    #[graphql(complexity = "crate::graphql::limits::page_cost(first, child_complexity, false)")]
    async fn notifications(
        &self,
        ctx: &Context<'_>,
        #[graphql(default)] unread_only: bool,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Page<Notification, NotificationCount>> {
        let user_id = self.only_self(ctx)?;
        notifications_page(ctx, user_id, unread_only, first, after.as_deref()).await
    }

    /// How many of the user's notifications are unread (B11).
    async fn unread_notification_count(&self, ctx: &Context<'_>) -> Result<i64> {
        let user_id = self.only_self(ctx)?;
        Ok(ctx.data::<Community>()?.unread_count(user_id).await?)
    }

    /// The movies the user bought (B14), with the catalog's filters, search, sorting and pages: readable by the
    /// user and by admins.
    #[graphql(complexity = "crate::graphql::limits::page_cost(first, child_complexity, search.is_some())")]
    async fn purchased_movies(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        filter: Option<MovieFilterInput>,
        search: Option<String>,
        sort: Option<MovieSortInput>,
    ) -> Result<MovieConnection> {
        self.own_movies(
            ctx,
            OwnList::Purchased,
            MovieListInput {
                first,
                after,
                filter,
                search,
                sort,
            },
        )
        .await
    }
}

impl User {
    /// The reader must be this user (notifications are nobody else's business, admins' included).
    fn only_self(&self, ctx: &Context<'_>) -> Result<i64> {
        if viewer(ctx)?.user_id != self.0.id {
            return Err(AppError::Forbidden("only the user reads their notifications".into()).into());
        }
        Ok(self.0.id)
    }

    async fn own_movies(&self, ctx: &Context<'_>, list: OwnList, input: MovieListInput) -> Result<MovieConnection> {
        let reader = viewer(ctx)?;
        if reader.user_id != self.0.id && !reader.role.includes(Role::Admin) {
            return Err(AppError::Forbidden("only the user and admins read a user's movie lists".into()).into());
        }
        own_movies(ctx, self.0.id, list, input).await
    }
}

/// Personal details of a user (A11).
pub struct Profile(pub ProfileRow);

#[Object]
impl Profile {
    async fn first_name(&self) -> Option<&str> {
        self.0.first_name.as_deref()
    }

    async fn last_name(&self) -> Option<&str> {
        self.0.last_name.as_deref()
    }

    async fn gender(&self) -> Option<Gender> {
        self.0.gender
    }

    async fn date_of_birth(&self) -> Option<NaiveDate> {
        self.0.date_of_birth
    }

    /// Free text about the user.
    async fn info(&self) -> Option<&str> {
        self.0.info.as_deref()
    }

    /// Where the avatar image is served, when there is one.
    async fn avatar_url(&self, ctx: &Context<'_>) -> Result<Option<String>> {
        let accounts = ctx.data::<Accounts>()?;
        Ok(self.0.avatar_key.as_deref().map(|key| accounts.avatar_url(key)))
    }

    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at.and_utc()
    }
}
