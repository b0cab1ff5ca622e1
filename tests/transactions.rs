//! The transaction handle (docs/architecture.md, "Storage"), on both backends: work that returns Ok commits,
//! work that returns Err leaves nothing, and work cut off half-way (a cancelled request) leaves nothing and
//! holds no lock.

use std::time::Duration;

use cinema::accounts::models::NewUser;
use cinema::accounts::repo;
use cinema::db::{Backend, Role, now};
use cinema::error::AppError;

use crate::common::TestApp;

backend_tests!(
    ok_commits_every_step_and_err_rolls_every_step_back,
    a_transaction_cut_off_half_way_leaves_nothing_and_holds_no_lock,
);

fn user(email: &str) -> NewUser {
    let at = now();
    NewUser {
        uuid: uuid::Uuid::new_v4().to_string(),
        email: email.to_string(),
        password_hash: "not a hash".into(),
        role: Role::User,
        email_verified: true,
        created_at: at,
        updated_at: at,
    }
}

async fn exists(app: &TestApp, email: &str) -> bool {
    let mut conn = app.conn().await;
    repo::user_by_email(&mut conn, email).await.unwrap().is_some()
}

async fn ok_commits_every_step_and_err_rolls_every_step_back(backend: Backend) {
    let app = TestApp::start_with(backend, &[("RUN_WORKER", "off")]).await;
    let db = app.db();
    let (first, second) = (user("one@example.com"), user("two@example.com"));
    let committed = db
        .transaction(async |conn| {
            let one = repo::insert_user(conn, &first).await?;
            let two = repo::insert_user(conn, &second).await?;
            Ok((one.id, two.id))
        })
        .await;
    assert!(committed.is_ok());
    assert!(exists(&app, "one@example.com").await && exists(&app, "two@example.com").await);

    let third = user("three@example.com");
    let refused = db
        .transaction(async |conn| {
            repo::insert_user(conn, &third).await?;
            Err::<(), _>(AppError::Conflict("a later rule says no".into()))
        })
        .await;
    assert_eq!(refused.map_err(|e| e.code()), Err("CONFLICT"));
    assert!(
        !exists(&app, "three@example.com").await,
        "the first step was rolled back"
    );

    // A database error half-way (the unique email) rolls back the steps before it, too.
    let (fourth, duplicate) = (user("four@example.com"), user("one@example.com"));
    let failed = db
        .transaction(async |conn| {
            repo::insert_user(conn, &fourth).await?;
            repo::insert_user(conn, &duplicate).await?;
            Ok(())
        })
        .await;
    assert_eq!(failed.map_err(|e| e.code()), Err("CONFLICT"));
    assert!(!exists(&app, "four@example.com").await);
}

async fn a_transaction_cut_off_half_way_leaves_nothing_and_holds_no_lock(backend: Backend) {
    let app = TestApp::start_with(backend, &[("RUN_WORKER", "off")]).await;
    let db = app.db();
    // Idle connections in the pool, so that the next writer does not simply get the cut-off one back.
    let warm = [app.conn().await, app.conn().await, app.conn().await];
    drop(warm);
    let stalled = user("stalled@example.com");
    let cut_off = tokio::time::timeout(
        Duration::from_millis(300),
        db.transaction(async |conn| {
            repo::insert_user(conn, &stalled).await?;
            // The request stops here: its client went away, or a timeout fired.
            std::future::pending::<()>().await;
            Ok(())
        }),
    )
    .await;
    assert!(cut_off.is_err(), "the work never finished");
    // The write lock (SQLite) or row locks (PostgreSQL) of the cut-off transaction are gone: a writer that
    // needs the same row gets through at once instead of waiting for a busy timeout.
    let again = user("stalled@example.com");
    let started = std::time::Instant::now();
    let written = db
        .transaction(async |conn| Ok(repo::insert_user(conn, &again).await?.id))
        .await;
    assert!(written.is_ok(), "{:?}", written.map_err(|e| e.public_message()));
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "took {:?}",
        started.elapsed()
    );
    assert!(exists(&app, "stalled@example.com").await);
}
