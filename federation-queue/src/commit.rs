//! Durable writes of many callers made cheap: group commit, and WAL checkpoints off the
//! writer's path. The queue's enqueues use both; so does `federation`'s idempotency record of
//! the inbox (feature `sql-record`), which has the same problem (many small durable writes,
//! each awaited by a caller).
//!
//! **Group commit** ([`GroupCommit`]). A caller joins the waiting group. If no write is under
//! way, it starts one: a writer that takes every item waiting ([`GroupWriter::next_group`]),
//! writes them in one transaction, replies to each caller ([`Reply::send`]), and goes on with
//! the next group that gathered meanwhile, until none is waiting. A lone item is thus written
//! at once, with no added wait; one that arrives during a write waits for that write (one
//! transaction) and goes in the next. Nothing waits for a timer: the longest wait is the
//! transaction under way and the item's own. A caller's future should resolve only from its
//! reply, sent once the transaction holding its item has committed.
//!
//! The writer should run as a task of its own (`tokio::spawn`), so that a caller that stops
//! waiting (its future dropped) takes nothing down with it: the group is written as it was
//! gathered, the dropped caller's item included, and the others get their replies. If the
//! writer itself is dropped before it took every group (a panic, or the runtime shutting
//! down), the callers waiting see their receivers closed rather than wait for ever, and the
//! next caller starts a writer again.
//!
//! **Checkpoints** ([`WalCheckpoints`]). In WAL mode, the commit that takes the WAL past
//! `wal_autocheckpoint` pages copies it back into the database, with its fsyncs, stalling that
//! commit and every caller queued behind it. A connection of its own checkpoints instead
//! (`PRAGMA wal_checkpoint(PASSIVE)`, every [`CHECKPOINT_INTERVAL`] when something was
//! written), beside the writer: in WAL mode a checkpoint and a writer do not block each other.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::time::Duration;

use sqlx::Connection as _;
use sqlx::sqlite::SqliteConnection;
use tokio::sync::oneshot;

struct Waiting<I, R> {
    item: I,
    reply: oneshot::Sender<R>,
}

struct State<I, R> {
    waiting: Vec<Waiting<I, R>>,
    /// Whether a writer is under way (it will take what is waiting).
    writing: bool,
}

/// The items waiting to be written together, and whether a writer is under way (see the
/// [module](self)). `I` is what a caller hands in, `R` what it gets back.
pub struct GroupCommit<I, R> {
    state: Mutex<State<I, R>>,
}

impl<I, R> Default for GroupCommit<I, R> {
    fn default() -> Self {
        Self {
            state: Mutex::new(State {
                waiting: Vec::new(),
                writing: false,
            }),
        }
    }
}

impl<I, R> std::fmt::Debug for GroupCommit<I, R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = self.lock();
        f.debug_struct("GroupCommit")
            .field("waiting", &state.waiting.len())
            .field("writing", &state.writing)
            .finish()
    }
}

impl<I, R> GroupCommit<I, R> {
    /// Nothing waiting, no writer.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, State<I, R>> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Adds `item` to the waiting group; returns the receiver of its reply, and whether the
    /// caller must start a writer (none is under way): then it calls [`GroupCommit::writer`]
    /// and writes group after group until [`GroupWriter::next_group`] gives none.
    pub fn join(&self, item: I) -> (oneshot::Receiver<R>, bool) {
        let (reply, receiver) = oneshot::channel();
        let mut state = self.lock();
        state.waiting.push(Waiting { item, reply });
        let start = !state.writing;
        state.writing = true;
        (receiver, start)
    }

    /// The writer's hold on the waiting groups (the one [`GroupCommit::join`] told to start).
    pub fn writer(&self) -> GroupWriter<'_, I, R> {
        GroupWriter {
            group: self,
            armed: true,
        }
    }
}

/// The items of one transaction, in the order their callers joined.
pub struct Group<I, R> {
    items: Vec<I>,
    replies: Vec<Reply<R>>,
}

impl<I, R> Group<I, R> {
    /// The items.
    pub fn items(&self) -> &[I] {
        &self.items
    }

    /// The items, and each one's [`Reply`] (in the same order).
    pub fn into_parts(self) -> (Vec<I>, Vec<Reply<R>>) {
        (self.items, self.replies)
    }
}

/// Where one caller's reply goes.
pub struct Reply<R>(oneshot::Sender<R>);

impl<R> Reply<R> {
    /// Sends the reply. A caller that stopped waiting is no error: the reply is dropped.
    pub fn send(self, reply: R) {
        let _ = self.0.send(reply);
    }
}

/// The one writer of a [`GroupCommit`], while it writes.
pub struct GroupWriter<'a, I, R> {
    group: &'a GroupCommit<I, R>,
    armed: bool,
}

impl<I, R> GroupWriter<'_, I, R> {
    /// Takes every item waiting, as one group; `None` when none is waiting, which ends the
    /// writer's turn (the next caller starts another).
    pub fn next_group(&mut self) -> Option<Group<I, R>> {
        let mut state = self.group.lock();
        if state.waiting.is_empty() {
            state.writing = false;
            self.armed = false;
            return None;
        }
        let waiting = std::mem::take(&mut state.waiting);
        drop(state);
        let (items, replies) = waiting
            .into_iter()
            .map(|w| (w.item, Reply(w.reply)))
            .unzip();
        Some(Group { items, replies })
    }
}

impl<I, R> Drop for GroupWriter<'_, I, R> {
    fn drop(&mut self) {
        if self.armed {
            let mut state = self.group.lock();
            state.writing = false;
            // Dropping their senders tells the waiting callers that nothing will come.
            state.waiting.clear();
        }
    }
}

/// How often [`WalCheckpoints`] looks for work (it does nothing when nothing was written).
pub const CHECKPOINT_INTERVAL: Duration = Duration::from_millis(100);

/// The WAL size (pages) at which a commit should checkpoint by itself only if the
/// checkpointer falls far behind (SQLite's default is 1,000): set it on the writer's
/// connection (`PRAGMA wal_autocheckpoint`).
pub const AUTOCHECKPOINT_PAGES: &str = "10000";

#[derive(Debug, Default)]
struct CheckpointState {
    /// Writes noted: the checkpointer skips a round when this has not moved.
    writes: AtomicU64,
    /// Closed: the checkpointer stops.
    closed: AtomicBool,
}

/// Copies a SQLite database's WAL back into it every [`CHECKPOINT_INTERVAL`] when something
/// was written ([`WalCheckpoints::wrote`]), with `PRAGMA wal_checkpoint(PASSIVE)` on a
/// connection (and so a sqlx thread) of its own: the writer goes on committing meanwhile, and
/// the checkpoint's fsyncs wait on no caller. Stops when closed or dropped (every clone).
#[derive(Debug, Clone)]
pub struct WalCheckpoints {
    state: Arc<CheckpointState>,
}

impl WalCheckpoints {
    /// Starts checkpointing on `conn` (a connection to the database in WAL mode, used for
    /// nothing else), as a task on the current tokio runtime.
    pub fn spawn(conn: SqliteConnection) -> Self {
        let state = Arc::new(CheckpointState::default());
        tokio::spawn(checkpoints(conn, Arc::downgrade(&state)));
        Self { state }
    }

    /// Notes a write: the next round checkpoints.
    pub fn wrote(&self) {
        self.state.writes.fetch_add(1, Ordering::Relaxed);
    }

    /// Stops checkpointing (the connection is closed at the next round).
    pub fn close(&self) {
        self.state.closed.store(true, Ordering::Relaxed);
    }
}

async fn checkpoints(mut conn: SqliteConnection, state: Weak<CheckpointState>) {
    let mut seen = 0;
    loop {
        tokio::time::sleep(CHECKPOINT_INTERVAL).await;
        let writes = match state.upgrade() {
            Some(state) if !state.closed.load(Ordering::Relaxed) => {
                state.writes.load(Ordering::Relaxed)
            }
            _ => break,
        };
        if writes == seen {
            continue;
        }
        seen = writes;
        if let Err(error) = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
            .execute(&mut conn)
            .await
        {
            tracing::debug!(%error, "checkpointing the WAL failed; will retry");
        }
    }
    let _ = conn.close().await;
}
