//! Single-use emailed tokens (activation, password reset): random, stored only as a SHA-256 hash, with an
//! expiry. Every function takes a connection so that it can run inside the caller's transaction.
//!
//! A registration's activation token is *bound*: it carries the password that registration chose, and several
//! may wait side by side for one unverified address (the mailbox owner's link decides, not the first
//! registration; see docs/security.md, H4). Every other token is *unbound* and one per user and purpose.

use chrono::NaiveDateTime;
use diesel::QueryResult;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use crate::accounts::models::{NewOneTimeToken, TokenPurpose};
use crate::db::schema::one_time_tokens;
use crate::db::{DbConn, now};
use crate::util::{random_token, sha256_hex};

/// What a presented token turned out to be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Presented {
    /// Valid, and now used up: the user it was issued to, and the password hash bound to it by a registration.
    Taken {
        user_id: i64,
        password_hash: Option<String>,
    },
    Expired,
    /// Never issued, already used, or replaced by a newer one.
    Unknown,
}

/// Issues a fresh unbound token for (user, purpose), replacing the older unbound one (which thereby dies; a
/// registration's bound links live on); returns the plain token for the email.
pub async fn issue(
    conn: &mut DbConn,
    user_id: i64,
    purpose: TokenPurpose,
    ttl: chrono::Duration,
) -> QueryResult<String> {
    let plain = random_token(32);
    let at = now();
    crate::per_backend!(conn, |c| {
        diesel::delete(
            one_time_tokens::table
                .filter(one_time_tokens::user_id.eq(user_id))
                .filter(one_time_tokens::purpose.eq(purpose))
                .filter(one_time_tokens::password_hash.is_null()),
        )
        .execute(c)
        .await
    })?;
    let row = NewOneTimeToken {
        user_id,
        purpose,
        token_hash: sha256_hex(&plain),
        created_at: at,
        expires_at: at + ttl,
        password_hash: None,
    };
    crate::per_backend!(conn, |c| diesel::insert_into(one_time_tokens::table)
        .values(&row)
        .execute(c)
        .await)?;
    Ok(plain)
}

/// Keeps a registration's chosen password beside an activation token that does not work yet: its stored hash
/// is of a random value no one knows, until `arm` gives it a real one as the email goes out. Returns the
/// token's id, for the job that sends the email.
pub async fn reserve_for_registration(
    conn: &mut DbConn,
    user_id: i64,
    password_hash: &str,
    ttl: chrono::Duration,
) -> QueryResult<i64> {
    let at = now();
    let row = NewOneTimeToken {
        user_id,
        purpose: TokenPurpose::Activation,
        token_hash: sha256_hex(&random_token(32)),
        created_at: at,
        expires_at: at + ttl,
        password_hash: Some(password_hash.to_string()),
    };
    crate::per_backend!(conn, |c| diesel::insert_into(one_time_tokens::table)
        .values(&row)
        .returning(one_time_tokens::id)
        .get_result(c)
        .await)
}

/// How many registrations of this user still wait for their activation link to be followed.
pub async fn pending_registrations(conn: &mut DbConn, user_id: i64) -> QueryResult<i64> {
    let at = now();
    crate::per_backend!(conn, |c| {
        one_time_tokens::table
            .filter(one_time_tokens::user_id.eq(user_id))
            .filter(one_time_tokens::password_hash.is_not_null())
            .filter(one_time_tokens::expires_at.gt(at))
            .count()
            .get_result(c)
            .await
    })
}

/// Gives a reserved registration token its real value as its email goes out; None when the token is gone (the
/// account was activated or purged meanwhile).
pub async fn arm(conn: &mut DbConn, token_id: i64, user_id: i64) -> QueryResult<Option<String>> {
    let plain = random_token(32);
    let armed = crate::per_backend!(conn, |c| {
        diesel::update(
            one_time_tokens::table
                .find(token_id)
                .filter(one_time_tokens::user_id.eq(user_id))
                .filter(one_time_tokens::expires_at.gt(now())),
        )
        .set(one_time_tokens::token_hash.eq(sha256_hex(&plain)))
        .execute(c)
        .await
    })?;
    Ok((armed == 1).then_some(plain))
}

/// Uses up a token of `purpose`. A valid token is deleted, so a second use of it is `Unknown`.
pub async fn take(conn: &mut DbConn, token: &str, purpose: TokenPurpose) -> QueryResult<Presented> {
    let hash = sha256_hex(token);
    let found: Option<(i64, i64, NaiveDateTime, Option<String>)> = crate::per_backend!(conn, |c| {
        one_time_tokens::table
            .filter(one_time_tokens::token_hash.eq(&hash))
            .filter(one_time_tokens::purpose.eq(purpose))
            .select((
                one_time_tokens::id,
                one_time_tokens::user_id,
                one_time_tokens::expires_at,
                one_time_tokens::password_hash,
            ))
            .first(c)
            .await
            .optional()
    })?;
    let Some((token_id, user_id, expires_at, password_hash)) = found else {
        return Ok(Presented::Unknown);
    };
    if expires_at < now() {
        return Ok(Presented::Expired);
    }
    // Two concurrent uses of one token: only the one whose delete takes effect gets it.
    let deleted = crate::per_backend!(conn, |c| diesel::delete(one_time_tokens::table.find(token_id))
        .execute(c)
        .await)?;
    Ok(if deleted == 1 {
        Presented::Taken { user_id, password_hash }
    } else {
        Presented::Unknown
    })
}

/// Deletes a user's tokens of one purpose, bound ones included (a verified account needs no activation link;
/// a password change makes outstanding reset links useless).
pub async fn delete_for_user(conn: &mut DbConn, user_id: i64, purpose: TokenPurpose) -> QueryResult<usize> {
    crate::per_backend!(conn, |c| {
        diesel::delete(
            one_time_tokens::table
                .filter(one_time_tokens::user_id.eq(user_id))
                .filter(one_time_tokens::purpose.eq(purpose)),
        )
        .execute(c)
        .await
    })
}

/// Deletes every token of a user (a disabled account keeps no link that could change it).
pub async fn delete_all_of_user(conn: &mut DbConn, user_id: i64) -> QueryResult<usize> {
    crate::per_backend!(conn, |c| {
        diesel::delete(one_time_tokens::table.filter(one_time_tokens::user_id.eq(user_id)))
            .execute(c)
            .await
    })
}

/// Deletes every token that expired before `at` (A4); returns how many.
pub async fn delete_expired(conn: &mut DbConn, at: NaiveDateTime) -> QueryResult<usize> {
    crate::per_backend!(conn, |c| {
        diesel::delete(one_time_tokens::table.filter(one_time_tokens::expires_at.lt(at)))
            .execute(c)
            .await
    })
}
