//! Typed slots for what a host answers later: a middleware's verdict, and values a language without
//! Rust handles (JavaScript) keeps by number until it answers.

use ferrio::socketio::ConnectError;
use ferrio::Sid;
use parking_lot::Mutex;
use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::sync::oneshot;

/// The refusal a socket gets when its middleware's verdict can no longer come (the host dropped it, or
/// the server closed while the middleware ran).
pub const CLOSING_MESSAGE: &str = "the server is closing";

/// The answer a socket waiting for a host middleware gets: consumed once, from any thread. Dropped
/// unanswered, it refuses the socket with [`CLOSING_MESSAGE`].
#[derive(Debug)]
pub struct Verdict(oneshot::Sender<Result<(), ConnectError>>);

impl Verdict {
    /// A verdict and the future that resolves to it (what the core's middleware awaits).
    pub fn new() -> (
        Verdict,
        impl Future<Output = Result<(), ConnectError>> + Send + 'static,
    ) {
        let (tx, rx) = oneshot::channel();
        let outcome = async move {
            rx.await
                .unwrap_or_else(|_| Err(ConnectError::new(CLOSING_MESSAGE)))
        };
        (Verdict(tx), outcome)
    }

    /// Lets the socket in (or on to the next middleware).
    pub fn accept(self) {
        self.answer(Ok(()));
    }

    /// Refuses the socket: the client gets a CONNECT_ERROR with this message and data.
    pub fn refuse(self, error: ConnectError) {
        self.answer(Err(error));
    }

    /// Accepts or refuses.
    pub fn answer(self, verdict: Result<(), ConnectError>) {
        // The socket may have left meanwhile: nobody waits any more, which is fine.
        let _ = self.0.send(verdict);
    }
}

/// Values kept under numeric tokens until the host answers them (once), each maybe owned by a socket so
/// that a socket that leaves takes its unanswered values with it.
#[derive(Debug)]
pub struct Tokens<V> {
    kept: Mutex<HashMap<u64, (Option<Sid>, V)>>,
    next: AtomicU64,
}

impl<V> Default for Tokens<V> {
    fn default() -> Self {
        Tokens {
            kept: Mutex::new(HashMap::new()),
            next: AtomicU64::new(0),
        }
    }
}

impl<V> Tokens<V> {
    /// Keeps `value` and returns its token. Tokens are never reused (53 bits last centuries at any rate
    /// a server reaches, so they survive a trip through a JavaScript number).
    pub fn keep(&self, owner: Option<Sid>, value: V) -> u64 {
        let token = self.next.fetch_add(1, Ordering::Relaxed);
        self.kept.lock().insert(token, (owner, value));
        token
    }

    /// The value of a token, once.
    pub fn take(&self, token: u64) -> Option<V> {
        self.kept.lock().remove(&token).map(|(_, value)| value)
    }

    /// Drops the values `owner` still has (the socket left).
    pub fn forget(&self, owner: Sid) {
        let mut kept = self.kept.lock();
        if !kept.is_empty() {
            kept.retain(|_, (kept_for, _)| *kept_for != Some(owner));
        }
    }

    /// Every value still kept (the server closes).
    pub fn drain(&self) -> Vec<V> {
        self.kept
            .lock()
            .drain()
            .map(|(_, (_, value))| value)
            .collect()
    }

    /// How many values are kept.
    pub fn len(&self) -> usize {
        self.kept.lock().len()
    }

    /// Whether none is kept.
    pub fn is_empty(&self) -> bool {
        self.kept.lock().is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_dropped_verdict_refuses_with_the_closing_message() {
        let (verdict, outcome) = Verdict::new();
        drop(verdict);
        assert_eq!(outcome.await.unwrap_err().message, CLOSING_MESSAGE);
        let (verdict, outcome) = Verdict::new();
        verdict.refuse(ConnectError::new("not allowed"));
        assert_eq!(outcome.await.unwrap_err().message, "not allowed");
        let (verdict, outcome) = Verdict::new();
        verdict.accept();
        assert!(outcome.await.is_ok());
    }

    #[test]
    fn tokens_are_taken_once_and_forgotten_with_their_owner() {
        let tokens = Tokens::default();
        let (a, b) = (Sid::generate(), Sid::generate());
        let ta = tokens.keep(Some(a), "a");
        let tb = tokens.keep(Some(b), "b");
        let tn = tokens.keep(None, "server");
        assert_ne!(ta, tb);
        tokens.forget(a);
        assert_eq!(tokens.take(ta), None);
        assert_eq!(tokens.take(tb), Some("b"));
        assert_eq!(tokens.take(tb), None);
        assert_eq!(tokens.len(), 1);
        assert_eq!(tokens.drain(), vec!["server"]);
        assert!(tokens.is_empty());
        let _ = tn;
    }
}
