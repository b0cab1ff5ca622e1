//! Notices about committed changes, for live updates (G1, subscriptions): a change announces itself inside its
//! transaction (`notify`), and every subscriber of every instance hears of it once the transaction commits.
//!
//! - PostgreSQL: `pg_notify` in the transaction (PostgreSQL delivers it at commit, and never after a
//!   rollback); each instance LISTENs on a connection of its own (`Db::listen`) and passes what it hears on.
//!   Several instances on one database all hear every notice.
//! - SQLite (one process): the notices of a transaction wait beside it and are passed on after its commit.
//!
//! A notice is a hint, not a record: one can be lost (a listener reconnecting), so subscribers read the current
//! state when they start and after every notice, never from the notice alone.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use diesel::QueryResult;
use diesel::sql_types::Text;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use futures_util::StreamExt;
use tokio::sync::broadcast;

use crate::db::{Db, DbConn};

/// How many notices a slow subscriber may fall behind before it is told it lagged (and re-reads).
pub const NOTICE_BUFFER: usize = 1_024;

/// One committed change: a channel and what changed (an id).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    pub channel: String,
    pub payload: String,
}

tokio::task_local! {
    /// The notices of the SQLite transaction this task is running, passed on after it commits.
    static PENDING: Arc<Mutex<Vec<Notice>>>;
}

/// Announces a change on `channel` from inside the caller's transaction; heard only if it commits.
pub async fn notify(conn: &mut DbConn, channel: &str, payload: &str) -> QueryResult<()> {
    match conn {
        DbConn::Postgres(c) => {
            diesel::sql_query("SELECT pg_notify($1, $2)")
                .bind::<Text, _>(channel)
                .bind::<Text, _>(payload)
                .execute(&mut **c)
                .await?;
        }
        DbConn::Sqlite(_) => {
            let notice = Notice {
                channel: channel.to_string(),
                payload: payload.to_string(),
            };
            let kept = PENDING.try_with(|pending| {
                pending
                    .lock()
                    .unwrap_or_else(|poisoned| poisoned.into_inner())
                    .push(notice)
            });
            if kept.is_err() {
                tracing::warn!(channel, "a notice outside a transaction was dropped");
            }
        }
    }
    Ok(())
}

/// Runs `work` (a transaction's body) with a place for its notices; returns them with its result.
pub(crate) async fn collecting<T>(work: impl Future<Output = T>) -> (T, Vec<Notice>) {
    let pending = Arc::new(Mutex::new(Vec::new()));
    let result = PENDING.scope(pending.clone(), work).await;
    let notices = std::mem::take(&mut *pending.lock().unwrap_or_else(|poisoned| poisoned.into_inner()));
    (result, notices)
}

impl Db {
    /// Notices of committed changes, from now on.
    pub fn notices(&self) -> broadcast::Receiver<Notice> {
        self.notices.subscribe()
    }

    /// Passes a committed SQLite transaction's notices on (nobody listening is fine).
    pub(crate) fn publish(&self, notices: Vec<Notice>) {
        for notice in notices {
            let _ = self.notices.send(notice);
        }
    }

    /// On PostgreSQL, LISTENs on `channels` on a connection of its own and passes every notice on, reconnecting
    /// after a failure (a second later, then up to every 30 seconds); nothing to do on SQLite, whose notices
    /// are passed on at commit. Runs until the task is aborted.
    pub fn listen(&self, channels: &'static [&'static str]) -> Option<tokio::task::JoinHandle<()>> {
        let url = self.postgres_url()?.to_string();
        let sender = self.notices.clone();
        Some(tokio::spawn(async move {
            let mut wait = Duration::from_secs(1);
            loop {
                match listen_once(&url, channels, &sender).await {
                    Ok(()) => wait = Duration::from_secs(1),
                    Err(error) => tracing::warn!(%error, "listening for notices failed; reconnecting"),
                }
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(Duration::from_secs(30));
            }
        }))
    }
}

/// One LISTEN connection's life: returns when the connection ends.
async fn listen_once(url: &str, channels: &[&str], sender: &broadcast::Sender<Notice>) -> anyhow::Result<()> {
    let mut conn = AsyncPgConnection::establish(url).await?;
    for channel in channels {
        // Channel names are our own constants, never input.
        diesel::sql_query(format!("LISTEN \"{channel}\""))
            .execute(&mut conn)
            .await?;
    }
    tracing::info!(?channels, "listening for notices");
    let mut heard = std::pin::pin!(conn.notifications_stream());
    while let Some(notification) = heard.next().await {
        let notification = notification?;
        let _ = sender.send(Notice {
            channel: notification.channel,
            payload: notification.payload,
        });
    }
    Ok(())
}
