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

use std::cell::RefCell;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use diesel::QueryResult;
use diesel::sql_types::Text;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use futures_util::StreamExt;
use tokio::sync::broadcast;

use crate::db::{Db, DbConn};

/// How many notices a slow subscriber may fall behind before it is told it lagged (and re-reads).
pub const NOTICE_BUFFER: usize = 1_024;

/// Where changes to public content are announced: whatever anyone may read without signing in (the catalog,
/// its counters, comments and the names they show). Every instance listens here and moves its
/// `ContentVersion`, which the response cache keys its answers by (docs/architecture.md, "Response cache").
pub const PUBLIC_CONTENT_CHANNEL: &str = "public_content";

/// One committed change: a channel and what changed (an id).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    pub channel: String,
    pub payload: String,
}

/// What a transaction announced that this process acts on only after it commits.
#[derive(Debug, Default)]
pub(crate) struct Unpublished {
    /// This instance's tag, which its public content notices carry (`ContentVersion::instance`).
    pub instance: String,
    /// SQLite's notices (PostgreSQL's ride in the transaction itself).
    pub notices: Vec<Notice>,
    /// The transaction changed public content (both backends).
    pub public_content_changed: bool,
}

tokio::task_local! {
    /// What the transaction this task is running announced, acted on after it commits.
    static UNPUBLISHED: RefCell<Unpublished>;
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
            let kept = UNPUBLISHED.try_with(|unpublished| unpublished.borrow_mut().notices.push(notice));
            if kept.is_err() {
                tracing::warn!(channel, "a notice outside a transaction was dropped");
            }
        }
    }
    Ok(())
}

/// Announces, from inside the caller's transaction, that it changes public content: once it commits, this
/// instance's `ContentVersion` moves (before the caller gets its answer), and on PostgreSQL every other
/// instance's moves when it hears the notice. Every write of public content calls it; outside a transaction
/// it would be lost, so such writes run in one.
pub async fn public_content_changed(conn: &mut DbConn) -> QueryResult<()> {
    let instance = UNPUBLISHED.try_with(|unpublished| {
        let mut unpublished = unpublished.borrow_mut();
        unpublished.public_content_changed = true;
        unpublished.instance.clone()
    });
    let Ok(instance) = instance else {
        tracing::warn!("a public content change outside a transaction: cached answers may be stale");
        return Ok(());
    };
    if let DbConn::Postgres(c) = conn {
        // Signed with this instance's tag: its own listener ignores it, since the commit has moved its version
        // already (hearing it too would throw away the answers kept in between). Several in one transaction
        // are delivered once (PostgreSQL folds identical notices).
        diesel::sql_query("SELECT pg_notify($1, $2)")
            .bind::<Text, _>(PUBLIC_CONTENT_CHANNEL)
            .bind::<Text, _>(instance)
            .execute(&mut **c)
            .await?;
    }
    Ok(())
}

/// Runs `work` (a transaction's body of the instance tagged `instance`) with a place for what it announces;
/// returns that with its result.
pub(crate) async fn collecting<T>(instance: &str, work: impl Future<Output = T>) -> (T, Unpublished) {
    let place = RefCell::new(Unpublished {
        instance: instance.to_string(),
        ..Unpublished::default()
    });
    let mut scoped = std::pin::pin!(UNPUBLISHED.scope(place, work));
    let result = scoped.as_mut().await;
    let unpublished = scoped.take_value().map(RefCell::into_inner).unwrap_or_default();
    (result, unpublished)
}

/// The version of public content as this instance knows it: it moves after every committed change, this
/// instance's at once and another instance's when its notice arrives. An answer computed from public content
/// is reusable while the version it started under is the current one.
#[derive(Debug)]
pub struct ContentVersion {
    /// A random tag this instance signs its notices with, to know its own when they come back.
    instance: String,
    version: AtomicU64,
    /// Whether changes made elsewhere reach this instance: always on SQLite (one process); on PostgreSQL only
    /// while the LISTEN connection is up.
    hearing: AtomicBool,
}

impl ContentVersion {
    pub(crate) fn new(hearing: bool) -> ContentVersion {
        ContentVersion {
            instance: uuid::Uuid::new_v4().simple().to_string(),
            version: AtomicU64::new(0),
            hearing: AtomicBool::new(hearing),
        }
    }

    /// The current version; None while changes made elsewhere might go unheard (nothing may be reused then).
    pub fn current(&self) -> Option<u64> {
        // SeqCst pairs the two loads with `changed` and `hear`: a version read as current was current when
        // `hearing` was true.
        // (Called as functions: diesel's `RunQueryDsl::load` is in scope too.)
        AtomicBool::load(&self.hearing, Ordering::SeqCst).then(|| AtomicU64::load(&self.version, Ordering::SeqCst))
    }

    /// The tag this instance's notices carry.
    pub fn instance(&self) -> &str {
        &self.instance
    }

    /// Public content changed (a commit here, or a notice from elsewhere).
    pub fn changed(&self) {
        self.version.fetch_add(1, Ordering::SeqCst);
    }

    /// The LISTEN connection came up or went down. Either way, a change may have gone unheard meanwhile (the
    /// version moves); while it is down nothing is reusable (`current` is None).
    fn hear(&self, hearing: bool) {
        if hearing {
            self.changed();
        }
        self.hearing.store(hearing, Ordering::SeqCst);
        if !hearing {
            self.changed();
        }
    }
}

impl Db {
    /// Notices of committed changes, from now on.
    pub fn notices(&self) -> broadcast::Receiver<Notice> {
        self.notices.subscribe()
    }

    /// Acts on what a committed transaction announced: passes SQLite's notices on (nobody listening is fine)
    /// and moves the public content version.
    pub(crate) fn publish(&self, unpublished: Unpublished) {
        for notice in unpublished.notices {
            let _ = self.notices.send(notice);
        }
        if unpublished.public_content_changed {
            self.content_version().changed();
        }
    }

    /// On PostgreSQL, LISTENs on `channels` and on `PUBLIC_CONTENT_CHANNEL` on a connection of its own, passes
    /// every notice on and moves the content version, reconnecting after a failure (a second later, then up to
    /// every 30 seconds); nothing to do on SQLite, whose notices are passed on at commit. Runs until the task
    /// is aborted.
    pub fn listen(&self, channels: &'static [&'static str]) -> Option<tokio::task::JoinHandle<()>> {
        let url = self.postgres_url()?.to_string();
        let sender = self.notices.clone();
        let content = self.content_version_handle();
        Some(tokio::spawn(async move {
            let mut wait = Duration::from_secs(1);
            loop {
                let outcome = listen_once(&url, channels, &sender, &content).await;
                content.hear(false);
                match outcome {
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
async fn listen_once(
    url: &str,
    channels: &[&str],
    sender: &broadcast::Sender<Notice>,
    content: &ContentVersion,
) -> anyhow::Result<()> {
    let mut conn = AsyncPgConnection::establish(url).await?;
    for channel in channels.iter().chain([&PUBLIC_CONTENT_CHANNEL]) {
        // Channel names are our own constants, never input.
        diesel::sql_query(format!("LISTEN \"{channel}\""))
            .execute(&mut conn)
            .await?;
    }
    tracing::info!(?channels, "listening for notices");
    content.hear(true);
    let mut heard = std::pin::pin!(conn.notifications_stream());
    while let Some(notification) = heard.next().await {
        let notification = notification?;
        if notification.channel == PUBLIC_CONTENT_CHANNEL {
            // This instance's own notices moved its version at commit.
            if notification.payload != content.instance() {
                content.changed();
            }
            continue;
        }
        let _ = sender.send(Notice {
            channel: notification.channel,
            payload: notification.payload,
        });
    }
    Ok(())
}
