//! Account rules.

use crate::accounts::models::NewUser;
use crate::accounts::repo;
use crate::auth::password;
use crate::db::{Db, Role, now};
use crate::error::{AppError, AppResult};

/// Email as stored: trimmed and case-folded, so uniqueness is case-insensitive (A1). Refuses what cannot be
/// an address.
pub fn normalize_email(email: &str) -> AppResult<String> {
    let email = email.trim().to_lowercase();
    let invalid = || AppError::bad_input("email", "email is not a valid address");
    if email.len() < 3 || email.len() > 254 || email.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(invalid());
    }
    let (local, domain) = email.split_once('@').ok_or_else(invalid)?;
    let domain_ok = !domain.contains('@')
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains("..");
    if local.is_empty() || local.len() > 64 || !domain_ok {
        return Err(invalid());
    }
    Ok(email)
}

/// Creates the first ADMIN from the command line (A10), or promotes and activates an existing account and
/// sets the given password. Returns what was done, for the operator.
pub async fn create_admin(db: &Db, email: &str, plain_password: &str, bcrypt_cost: u32) -> AppResult<String> {
    let email = normalize_email(email)?;
    password::check_complexity(plain_password)?;
    let password_hash = password::hash(plain_password, bcrypt_cost).await?;
    if repo::promote_to_admin(db, &email, &password_hash).await? {
        return Ok(format!(
            "{email} already existed: it is now an active ADMIN with the given password"
        ));
    }
    let created = now();
    repo::insert_user(
        db,
        NewUser {
            uuid: uuid::Uuid::new_v4().to_string(),
            email: email.clone(),
            password_hash,
            role: Role::Admin,
            is_active: true,
            created_at: created,
            updated_at: created,
        },
    )
    .await?;
    Ok(format!("created ADMIN {email}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_case_folded_and_checked() {
        assert_eq!(normalize_email("  Ann@Example.COM ").unwrap(), "ann@example.com");
        for bad in [
            "",
            "ann",
            "ann@",
            "@example.com",
            "ann@example",
            "ann@@example.com",
            "a b@example.com",
            "ann@.com",
        ] {
            assert!(normalize_email(bad).is_err(), "{bad}");
        }
    }
}
