//! Column types shared by both backends: UTC timestamps, and enums stored as checked TEXT.

use chrono::{NaiveDateTime, SubsecRound, Utc};

/// Now, in UTC, truncated to microseconds: the precision both backends keep, so a value read back equals the
/// value written.
pub fn now() -> NaiveDateTime {
    Utc::now().naive_utc().trunc_subsecs(6)
}

/// Declares a Rust enum stored as TEXT (the column has a CHECK constraint listing the same values), with
/// diesel conversions for both backends and `as_str` / `FromStr`.
#[macro_export]
macro_rules! text_enum {
    ($(#[$meta:meta])* pub enum $name:ident { $($(#[$vmeta:meta])* $variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, diesel::expression::AsExpression, diesel::deserialize::FromSqlRow)]
        #[diesel(sql_type = diesel::sql_types::Text)]
        pub enum $name { $($(#[$vmeta])* $variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
        }

        impl std::str::FromStr for $name {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                match s {
                    $($text => Ok($name::$variant),)+
                    other => Err(format!("unknown {} {:?}", stringify!($name), other)),
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl<DB> diesel::deserialize::FromSql<diesel::sql_types::Text, DB> for $name
        where
            DB: diesel::backend::Backend,
            String: diesel::deserialize::FromSql<diesel::sql_types::Text, DB>,
        {
            fn from_sql(bytes: DB::RawValue<'_>) -> diesel::deserialize::Result<Self> {
                let text = String::from_sql(bytes)?;
                text.parse().map_err(Into::into)
            }
        }

        impl diesel::serialize::ToSql<diesel::sql_types::Text, diesel::pg::Pg> for $name {
            fn to_sql<'b>(&'b self, out: &mut diesel::serialize::Output<'b, '_, diesel::pg::Pg>) -> diesel::serialize::Result {
                <str as diesel::serialize::ToSql<diesel::sql_types::Text, diesel::pg::Pg>>::to_sql(self.as_str(), out)
            }
        }

        impl diesel::serialize::ToSql<diesel::sql_types::Text, diesel::sqlite::Sqlite> for $name {
            fn to_sql<'b>(&'b self, out: &mut diesel::serialize::Output<'b, '_, diesel::sqlite::Sqlite>) -> diesel::serialize::Result {
                out.set_value(self.as_str());
                Ok(diesel::serialize::IsNull::No)
            }
        }
    };
}

text_enum! {
    /// A user's role. A MODERATOR can do all a USER can; an ADMIN all a MODERATOR can.
    #[derive(async_graphql::Enum)]
    pub enum Role {
        /// Browses the catalog, keeps a cart, orders and pays.
        User => "USER",
        /// Also manages the catalog and payments.
        Moderator => "MODERATOR",
        /// Also manages users and roles.
        Admin => "ADMIN",
    }
}

impl Role {
    fn rank(self) -> u8 {
        match self {
            Role::User => 0,
            Role::Moderator => 1,
            Role::Admin => 2,
        }
    }

    /// Whether a holder of `self` may do what `required` may.
    pub fn includes(self, required: Role) -> bool {
        self.rank() >= required.rank()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_are_ordered() {
        assert!(Role::Admin.includes(Role::Moderator));
        assert!(Role::Admin.includes(Role::User));
        assert!(Role::Moderator.includes(Role::User));
        assert!(!Role::User.includes(Role::Moderator));
        assert!(!Role::Moderator.includes(Role::Admin));
        assert_eq!("MODERATOR".parse::<Role>(), Ok(Role::Moderator));
        assert!("root".parse::<Role>().is_err());
    }

    #[test]
    fn now_keeps_microseconds() {
        let t = now();
        assert_eq!(t.and_utc().timestamp_subsec_nanos() % 1000, 0);
    }
}
