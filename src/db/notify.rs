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
    /// The parts of public content the transaction changed (both backends).
    pub changed: Vec<Part>,
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

/// Announces, from inside the caller's transaction, that it changes these parts of public content: once it
/// commits, this instance's `ContentVersion` moves them (before the caller gets its answer), and on PostgreSQL
/// every other instance's moves them when it hears the notice. The repository functions that write public
/// content call it, so a new caller of theirs cannot forget; outside a transaction it would be lost, so such
/// writes run in one.
pub async fn public_content_changed(conn: &mut DbConn, parts: &[Part]) -> QueryResult<()> {
    let instance = UNPUBLISHED.try_with(|unpublished| {
        let mut unpublished = unpublished.borrow_mut();
        unpublished.changed.extend_from_slice(parts);
        unpublished.instance.clone()
    });
    let Ok(instance) = instance else {
        tracing::warn!("a public content change outside a transaction: cached answers may be stale");
        return Ok(());
    };
    if let DbConn::Postgres(c) = conn {
        // Signed with this instance's tag: its own listener ignores it, since the commit has moved its version
        // already (hearing it too would throw away the answers kept in between). Identical notices of one
        // transaction are delivered once (PostgreSQL folds them).
        diesel::sql_query("SELECT pg_notify($1, $2)")
            .bind::<Text, _>(PUBLIC_CONTENT_CHANNEL)
            .bind::<Text, _>(format!("{instance}|{}", Part::encode_all(parts)))
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

/// A kind of public content: what a write changes and a read depends on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Content {
    /// Movies' own fields, genres, people, certifications, and which movie has which: every catalog read.
    Catalog,
    /// A movie's likes and dislikes.
    Reactions,
    /// A movie's ratings.
    Ratings,
    /// A movie's comments, replies and their likes.
    Comments,
    /// Purchases (a movie's popularity).
    Purchases,
    /// Users' public names (comment authors).
    Names,
}

impl Content {
    const ALL: [Content; 6] = [
        Content::Catalog,
        Content::Reactions,
        Content::Ratings,
        Content::Comments,
        Content::Purchases,
        Content::Names,
    ];

    fn letter(self) -> char {
        match self {
            Content::Catalog => 'c',
            Content::Reactions => 'r',
            Content::Ratings => 't',
            Content::Comments => 'm',
            Content::Purchases => 'p',
            Content::Names => 'n',
        }
    }

    fn index(self) -> usize {
        Content::ALL.iter().position(|c| *c == self).unwrap_or_default()
    }
}

/// A part of public content: a kind, of one movie or of all. A write names what it changed (one movie's
/// likes); a read names what it shows (one movie's likes) or what its order or selection depends on (all
/// movies' likes, for a list sorted by popularity). A change to one movie's part changes the kind's whole too.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Part {
    pub content: Content,
    pub movie: Option<i64>,
}

impl Part {
    /// The kind as a whole.
    pub const fn all(content: Content) -> Part {
        Part { content, movie: None }
    }

    /// One movie's part of the kind.
    pub const fn of_movie(content: Content, movie: i64) -> Part {
        Part {
            content,
            movie: Some(movie),
        }
    }

    /// `c,r12,t12`: how a notice carries parts.
    fn encode_all(parts: &[Part]) -> String {
        let mut text = String::new();
        for part in parts {
            if !text.is_empty() {
                text.push(',');
            }
            text.push(part.content.letter());
            if let Some(movie) = part.movie {
                text.push_str(&movie.to_string());
            }
        }
        text
    }

    /// The parts a notice names; None when it names something this version does not know.
    fn decode_all(text: &str) -> Option<Vec<Part>> {
        text.split(',')
            .filter(|item| !item.is_empty())
            .map(|item| {
                let letter = item.chars().next()?;
                let content = Content::ALL.into_iter().find(|c| c.letter() == letter)?;
                let rest = &item[letter.len_utf8()..];
                let movie = if rest.is_empty() {
                    None
                } else {
                    Some(rest.parse().ok()?)
                };
                Some(Part { content, movie })
            })
            .collect()
    }
}

/// Slots that versions are kept in: one for "everything", one per kind as a whole, and the rest shared by the
/// parts of single movies (by hash: two movies sharing a slot only cost each other a cache miss).
const SLOTS: usize = 4096;
const EVERYTHING: usize = 0;
const FIRST_MOVIE_SLOT: usize = 1 + Content::ALL.len();

/// The slot that keeps `part`'s version.
pub fn slot_of(part: Part) -> u16 {
    let slot = match part.movie {
        None => 1 + part.content.index(),
        Some(movie) => {
            let mixed = (movie as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ (part.content.index() as u64) << 59;
            FIRST_MOVIE_SLOT + (mixed >> 20) as usize % (SLOTS - FIRST_MOVIE_SLOT)
        }
    };
    slot as u16
}

/// The versions of public content as this instance knows them (issue 22: by what changed, so that one writer
/// cannot empty the cache of answers that never showed what it writes). Every change takes the next number
/// of one sequence and writes it into the slots of the parts it changed; an answer computed from public
/// content records the sequence number current when it started and the slots of what it read, and is
/// reusable while none of those slots holds a later number.
#[derive(Debug)]
pub struct ContentVersion {
    /// A random tag this instance signs its notices with, to know its own when they come back.
    instance: String,
    sequence: AtomicU64,
    slots: Box<[AtomicU64]>,
    /// Whether changes made elsewhere reach this instance: always on SQLite (one process); on PostgreSQL only
    /// while the LISTEN connection is up.
    hearing: AtomicBool,
}

impl ContentVersion {
    pub(crate) fn new(hearing: bool) -> ContentVersion {
        ContentVersion {
            instance: uuid::Uuid::new_v4().simple().to_string(),
            sequence: AtomicU64::new(0),
            slots: (0..SLOTS).map(|_| AtomicU64::new(0)).collect(),
            hearing: AtomicBool::new(hearing),
        }
    }

    /// Where the sequence is now: an answer computed from now on is as of this; None while changes made
    /// elsewhere might go unheard (nothing may be reused then).
    pub fn current(&self) -> Option<u64> {
        // SeqCst pairs the loads with `changed` and `hear`: a number read as current was current when
        // `hearing` was true. (Called as functions: diesel's `RunQueryDsl::load` is in scope too.)
        AtomicBool::load(&self.hearing, Ordering::SeqCst).then(|| AtomicU64::load(&self.sequence, Ordering::SeqCst))
    }

    /// The version of one kind as a whole (a copy of a whole table is kept under it); None as for `current`.
    pub fn version_of(&self, content: Content) -> Option<u64> {
        self.current()?;
        let kind = AtomicU64::load(&self.slots[usize::from(slot_of(Part::all(content)))], Ordering::SeqCst);
        let everything = AtomicU64::load(&self.slots[EVERYTHING], Ordering::SeqCst);
        Some(kind.max(everything))
    }

    /// Whether nothing in `slots` (nor everything) changed after `as_of`, and changes are heard.
    pub fn unchanged_since(&self, as_of: u64, slots: &[u16]) -> bool {
        self.current().is_some()
            && AtomicU64::load(&self.slots[EVERYTHING], Ordering::SeqCst) <= as_of
            && slots
                .iter()
                .all(|slot| AtomicU64::load(&self.slots[usize::from(*slot)], Ordering::SeqCst) <= as_of)
    }

    /// The tag this instance's notices carry.
    pub fn instance(&self) -> &str {
        &self.instance
    }

    /// These parts of public content changed (a commit here, or a notice from elsewhere): a part of one movie
    /// changes its kind's whole too.
    pub fn changed(&self, parts: &[Part]) {
        if parts.is_empty() {
            return;
        }
        let number = self.sequence.fetch_add(1, Ordering::SeqCst) + 1;
        for part in parts {
            self.slots[usize::from(slot_of(*part))].fetch_max(number, Ordering::SeqCst);
            if part.movie.is_some() {
                self.slots[usize::from(slot_of(Part::all(part.content)))].fetch_max(number, Ordering::SeqCst);
            }
        }
    }

    /// Anything may have changed (a notice went unheard, or named what this version does not know).
    pub fn changed_everything(&self) {
        let number = self.sequence.fetch_add(1, Ordering::SeqCst) + 1;
        self.slots[EVERYTHING].fetch_max(number, Ordering::SeqCst);
    }

    /// The LISTEN connection came up or went down. Either way, a change may have gone unheard meanwhile
    /// (everything moves); while it is down nothing is reusable (`current` is None).
    fn hear(&self, hearing: bool) {
        if hearing {
            self.changed_everything();
        }
        self.hearing.store(hearing, Ordering::SeqCst);
        if !hearing {
            self.changed_everything();
        }
    }

    /// Acts on a public content notice from another instance (`instance|parts`); this instance's own were
    /// acted on at commit.
    fn heard(&self, payload: &str) {
        let Some((instance, parts)) = payload.split_once('|') else {
            return self.changed_everything();
        };
        if instance == self.instance {
            return;
        }
        match Part::decode_all(parts) {
            Some(parts) => self.changed(&parts),
            None => self.changed_everything(),
        }
    }
}

/// What one anonymous read showed of public content: the slots of the parts its resolvers marked (a set of
/// bits, marked from any of the request's tasks without a lock). An answer that marked nothing is not kept:
/// a public field that forgets to mark cannot serve stale content, it only misses the cache.
pub struct ReadSet {
    bits: Box<[AtomicU64]>,
}

impl Default for ReadSet {
    fn default() -> ReadSet {
        ReadSet {
            bits: (0..SLOTS / 64).map(|_| AtomicU64::new(0)).collect(),
        }
    }
}

impl ReadSet {
    /// The answer shows `part`.
    pub fn mark(&self, part: Part) {
        let slot = usize::from(slot_of(part));
        self.bits[slot / 64].fetch_or(1 << (slot % 64), Ordering::Relaxed);
    }

    /// The slots marked.
    pub fn slots(&self) -> Vec<u16> {
        let mut slots = Vec::new();
        for (word, bits) in self.bits.iter().enumerate() {
            let mut bits = bits.load(Ordering::Relaxed);
            while bits != 0 {
                let bit = bits.trailing_zeros() as usize;
                slots.push((word * 64 + bit) as u16);
                bits &= bits - 1;
            }
        }
        slots
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
        self.content_version().changed(&unpublished.changed);
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
            content.heard(&notification.payload);
            continue;
        }
        let _ = sender.send(Notice {
            channel: notification.channel,
            payload: notification.payload,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_travel_in_notices() {
        let parts = [
            Part::all(Content::Catalog),
            Part::of_movie(Content::Reactions, 12),
            Part::of_movie(Content::Comments, 9_000_000_001),
            Part::all(Content::Purchases),
        ];
        let text = Part::encode_all(&parts);
        assert_eq!(text, "c,r12,m9000000001,p");
        assert_eq!(Part::decode_all(&text), Some(parts.to_vec()));
        assert_eq!(Part::decode_all("x1"), None);
        assert_eq!(Part::decode_all("r1a"), None);
    }

    #[test]
    fn a_change_moves_only_what_it_names_and_its_kind() {
        let content = ContentVersion::new(true);
        let as_of = content.current().unwrap();
        let reader = ReadSet::default();
        reader.mark(Part::all(Content::Catalog));
        reader.mark(Part::of_movie(Content::Reactions, 1));
        let other = ReadSet::default();
        other.mark(Part::of_movie(Content::Reactions, 2));
        let sorted = ReadSet::default();
        sorted.mark(Part::all(Content::Reactions));

        content.changed(&[Part::of_movie(Content::Reactions, 2)]);
        assert!(content.unchanged_since(as_of, &reader.slots()), "another movie's likes");
        assert!(!content.unchanged_since(as_of, &other.slots()));
        assert!(
            !content.unchanged_since(as_of, &sorted.slots()),
            "a list sorted by likes"
        );

        let as_of = content.current().unwrap();
        content.changed(&[Part::all(Content::Catalog)]);
        assert!(!content.unchanged_since(as_of, &reader.slots()));
        assert!(content.unchanged_since(as_of, &other.slots()));

        let as_of = content.current().unwrap();
        content.heard("elsewhere|garbage!");
        assert!(
            !content.unchanged_since(as_of, &other.slots()),
            "an unreadable notice moves everything"
        );
        let as_of = content.current().unwrap();
        content.heard(&format!("{}|c", content.instance()));
        assert!(
            content.unchanged_since(as_of, &reader.slots()),
            "its own notice was acted on at commit"
        );
        content.hear(false);
        assert_eq!(content.current(), None);
    }
}
