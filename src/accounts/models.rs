use chrono::NaiveDateTime;
use diesel::prelude::{AsChangeset, Insertable, Queryable, Selectable};

use crate::db::Role;
use crate::db::schema::{profiles, users};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = users, check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
pub struct UserRow {
    pub id: i64,
    pub uuid: String,
    pub email: String,
    pub password_hash: String,
    pub role: Role,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    /// The owner of the address followed an emailed link (or an admin vouched for it).
    pub email_verified: bool,
    /// When an admin disabled the account; a disabled account cannot sign in or verify itself back.
    pub disabled_at: Option<NaiveDateTime>,
}

impl UserRow {
    /// Verified and not disabled: the account may sign in.
    pub fn is_active(&self) -> bool {
        self.email_verified && self.disabled_at.is_none()
    }
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = users)]
pub struct NewUser {
    pub uuid: String,
    pub email: String,
    pub password_hash: String,
    pub role: Role,
    pub email_verified: bool,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = profiles)]
pub struct NewProfile {
    pub user_id: i64,
    pub updated_at: NaiveDateTime,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = crate::db::schema::one_time_tokens)]
pub struct NewOneTimeToken {
    pub user_id: i64,
    pub purpose: TokenPurpose,
    pub token_hash: String,
    pub created_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
    /// The password a registration chose, for its activation link only.
    pub password_hash: Option<String>,
}

crate::text_enum! {
    /// What a single-use emailed token is for.
    #[derive(serde::Serialize, serde::Deserialize)]
    #[serde(rename_all = "SCREAMING_SNAKE_CASE")]
    pub enum TokenPurpose {
        Activation => "ACTIVATION",
        PasswordReset => "PASSWORD_RESET",
    }
}

crate::text_enum! {
    #[derive(async_graphql::Enum)]
    pub enum Gender {
        Female => "FEMALE",
        Male => "MALE",
        Other => "OTHER",
    }
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = profiles, check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
pub struct ProfileRow {
    pub user_id: i64,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub gender: Option<Gender>,
    pub date_of_birth: Option<chrono::NaiveDate>,
    pub info: Option<String>,
    pub avatar_key: Option<String>,
    pub updated_at: NaiveDateTime,
}

/// The editable part of a profile; `None` leaves a field as it is, `Some(None)` clears it.
#[derive(Debug, Clone, Default, AsChangeset)]
#[diesel(table_name = profiles)]
pub struct ProfileChanges {
    pub first_name: Option<Option<String>>,
    pub last_name: Option<Option<String>>,
    pub gender: Option<Option<Gender>>,
    pub date_of_birth: Option<Option<chrono::NaiveDate>>,
    pub info: Option<Option<String>>,
    pub updated_at: Option<NaiveDateTime>,
}

/// Which users an admin lists (A10).
#[derive(Debug, Clone, Default)]
pub struct UserFilter {
    pub email_contains: Option<String>,
    pub role: Option<Role>,
    /// Active means verified and not disabled.
    pub is_active: Option<bool>,
}
