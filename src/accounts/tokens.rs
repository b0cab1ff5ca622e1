//! Single-use emailed tokens (activation, password reset): random, stored only as a SHA-256 hash, with an
//! expiry. Every function takes a connection so that it can run inside the caller's transaction.

use chrono::NaiveDateTime;
use diesel::QueryResult;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use crate::accounts::models::{NewOneTimeToken, TokenPurpose};
use crate::db::schema::one_time_tokens;
use crate::db::{DbConn, now};
use crate::util::{random_token, sha256_hex};

/// What a presented token turned out to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Presented {
    /// Valid, and now used up: the user it was issued to.
    Taken {
        user_id: i64,
    },
    Expired,
    /// Never issued, already used, or replaced by a newer one.
    Unknown,
}

/// Issues a fresh token for (user, purpose), replacing any older one (which thereby dies); returns the plain
/// token for the email.
pub async fn issue(
    conn: &mut DbConn,
    user_id: i64,
    purpose: TokenPurpose,
    ttl: chrono::Duration,
) -> QueryResult<String> {
    let plain = random_token(32);
    let at = now();
    delete_for_user(conn, user_id, purpose).await?;
    let row = NewOneTimeToken {
        user_id,
        purpose,
        token_hash: sha256_hex(&plain),
        created_at: at,
        expires_at: at + ttl,
    };
    crate::per_backend!(conn, |c| diesel::insert_into(one_time_tokens::table)
        .values(&row)
        .execute(c)
        .await)?;
    Ok(plain)
}

/// Uses up a token of `purpose`. A valid token is deleted, so a second use of it is `Unknown`.
pub async fn take(conn: &mut DbConn, token: &str, purpose: TokenPurpose) -> QueryResult<Presented> {
    let hash = sha256_hex(token);
    let found: Option<(i64, i64, NaiveDateTime)> = crate::per_backend!(conn, |c| {
        one_time_tokens::table
            .filter(one_time_tokens::token_hash.eq(&hash))
            .filter(one_time_tokens::purpose.eq(purpose))
            .select((
                one_time_tokens::id,
                one_time_tokens::user_id,
                one_time_tokens::expires_at,
            ))
            .first(c)
            .await
            .optional()
    })?;
    let Some((token_id, user_id, expires_at)) = found else {
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
        Presented::Taken { user_id }
    } else {
        Presented::Unknown
    })
}

/// Deletes a user's tokens of one purpose (an account activated by hand needs no activation link; a password
/// change makes outstanding reset links useless).
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
