//! Group commit: enqueues that arrive while another is being written go into the store
//! together, in one transaction.
//!
//! An enqueue joins the waiting group. If no write is under way, it starts one: a task that
//! takes every enqueue waiting, writes them with one [`Store::enqueue`] call (one
//! transaction), hands each caller its own ids, and goes on with the next group that gathered
//! meanwhile, until none is waiting. A lone enqueue is thus written at once, with no added
//! wait; one that arrives during a write waits for that write (one transaction) and goes in the
//! next. A caller's future resolves only once the transaction holding its rows has committed,
//! and if that transaction fails, every caller in it gets the error.
//!
//! The write runs as a task of its own, so a caller that stops waiting (its future dropped)
//! takes nothing down with it: the group is written as it was gathered, the dropped caller's
//! activity included, and the others get their ids.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tokio::sync::oneshot;

use crate::model::{DeliveryId, NewActivity};
use crate::store::StoreError;

/// What a caller waiting in a group gets back.
pub(crate) type Reply = Result<Vec<DeliveryId>, GroupError>;

/// Why a group write gave a caller no ids.
#[derive(Debug)]
pub(crate) enum GroupError {
    /// The caller was alone in its transaction, which failed.
    Alone(StoreError),
    /// The transaction, shared with other callers, failed.
    Shared(Arc<StoreError>),
    /// The store returned fewer or more ids than the group had deliveries.
    Miscounted {
        /// Deliveries written.
        expected: usize,
        /// Ids returned.
        got: usize,
    },
}

/// An enqueue waiting to be written.
struct Waiting {
    activities: Vec<NewActivity>,
    reply: oneshot::Sender<Reply>,
}

#[derive(Default)]
struct State {
    waiting: Vec<Waiting>,
    /// Whether a writer task is under way (it will take what is waiting).
    writing: bool,
}

/// The enqueues waiting to be written, and whether a writer is under way.
#[derive(Default)]
pub(crate) struct GroupCommit {
    state: Mutex<State>,
}

impl std::fmt::Debug for GroupCommit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = self.lock();
        f.debug_struct("GroupCommit")
            .field("waiting", &state.waiting.len())
            .field("writing", &state.writing)
            .finish()
    }
}

impl GroupCommit {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Adds `activities` to the waiting group; returns the receiver of its ids, and whether
    /// the caller must start a writer (none is under way).
    pub(crate) fn join(&self, activities: Vec<NewActivity>) -> (oneshot::Receiver<Reply>, bool) {
        let (reply, receiver) = oneshot::channel();
        let mut state = self.lock();
        state.waiting.push(Waiting { activities, reply });
        let start = !state.writing;
        state.writing = true;
        (receiver, start)
    }

    /// The writer's hold on the waiting groups: call [`Writer::next_group`] until it gives
    /// none. If the writer is dropped before (a panic in the store, or the runtime shutting
    /// down), the callers waiting get an error rather than waiting for ever, and the next
    /// enqueue starts a writer again.
    pub(crate) fn writer(&self) -> Writer<'_> {
        Writer {
            group: self,
            armed: true,
        }
    }
}

/// The enqueues of one transaction.
pub(crate) struct Group {
    activities: Vec<NewActivity>,
    /// Each caller's reply, with the number of its deliveries.
    replies: Vec<(oneshot::Sender<Reply>, usize)>,
}

impl Group {
    /// Every caller's activities, in the order they came.
    pub(crate) fn activities(&self) -> &[NewActivity] {
        &self.activities
    }

    /// The deliveries of every caller.
    pub(crate) fn deliveries(&self) -> usize {
        self.replies.iter().map(|(_, count)| count).sum()
    }

    /// Hands each caller its ids, or the error (every caller gets it).
    pub(crate) fn finish(self, written: Result<Vec<DeliveryId>, StoreError>) {
        let expected = self.deliveries();
        let mut replies = self.replies;
        // A caller that stopped waiting is not an error: its send fails, and is ignored.
        match written {
            Ok(ids) if ids.len() == expected => {
                let mut ids = ids.into_iter();
                for (reply, count) in replies {
                    let _ = reply.send(Ok(ids.by_ref().take(count).collect()));
                }
            }
            Ok(ids) => {
                for (reply, _) in replies {
                    let _ = reply.send(Err(GroupError::Miscounted {
                        expected,
                        got: ids.len(),
                    }));
                }
            }
            Err(error) if replies.len() == 1 => {
                if let Some((reply, _)) = replies.pop() {
                    let _ = reply.send(Err(GroupError::Alone(error)));
                }
            }
            Err(error) => {
                let error = Arc::new(error);
                for (reply, _) in replies {
                    let _ = reply.send(Err(GroupError::Shared(Arc::clone(&error))));
                }
            }
        }
    }
}

/// The one writer of a [`GroupCommit`], while it writes.
pub(crate) struct Writer<'a> {
    group: &'a GroupCommit,
    armed: bool,
}

impl Writer<'_> {
    /// Takes every enqueue waiting, as one group; `None` when none is waiting, which ends the
    /// writer's turn (the next enqueue starts another).
    pub(crate) fn next_group(&mut self) -> Option<Group> {
        let mut state = self.group.lock();
        if state.waiting.is_empty() {
            state.writing = false;
            self.armed = false;
            return None;
        }
        let waiting = std::mem::take(&mut state.waiting);
        drop(state);
        let mut group = Group {
            activities: Vec::with_capacity(waiting.iter().map(|w| w.activities.len()).sum()),
            replies: Vec::with_capacity(waiting.len()),
        };
        for w in waiting {
            let count = w.activities.iter().map(|a| a.deliveries.len()).sum();
            group.activities.extend(w.activities);
            group.replies.push((w.reply, count));
        }
        Some(group)
    }
}

impl Drop for Writer<'_> {
    fn drop(&mut self) {
        if self.armed {
            let mut state = self.group.lock();
            state.writing = false;
            // Dropping their senders tells the waiting callers that nothing will come.
            state.waiting.clear();
        }
    }
}
