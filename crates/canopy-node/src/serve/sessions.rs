//! The legacy (2025-*) sessions the HTTP face keeps, counted: [`Booked`] wraps rmcp's
//! [`LocalSessionManager`] and records in a [`SessionBook`] which client opened each
//! session, so that there are never more than the limits allow, in total and per client.
//! A session closes when its client deletes it, when it has been idle for the idle timeout
//! (rmcp's `keep_alive`), or when the server stops; each way frees its place in the book.
//!
//! The middleware ([`limits::enforce`](super::limits::enforce)) asks the book first, to
//! refuse with a clear status; the book refuses again when rmcp creates the session, so two
//! `initialize` requests racing for the last place cannot both have it.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, PoisonError},
};

use axum::http::StatusCode;
use futures::Stream;
use rmcp::{
    model::{ClientJsonRpcMessage, ServerJsonRpcMessage},
    transport::streamable_http_server::session::{
        ServerSseMessage, SessionId, SessionManager,
        local::{LocalSessionManager, LocalSessionManagerError},
    },
};

use super::limits::{HttpLimits, Refusal};

tokio::task_local! {
    /// The client of the `initialize` request being served (set by the middleware).
    static OPENING: Arc<str>;
}

/// Runs `serving` (an `initialize` that opens a session) as `client`'s.
pub(super) async fn opening_for<F: Future>(client: Arc<str>, serving: F) -> F::Output {
    OPENING.scope(client, serving).await
}

/// The open sessions, by client.
#[derive(Debug)]
pub(super) struct SessionBook {
    max_total: usize,
    max_per_client: usize,
    open: Mutex<Open>,
}

#[derive(Debug, Default)]
struct Open {
    owner: HashMap<SessionId, Arc<str>>,
    per_client: HashMap<Arc<str>, usize>,
}

impl SessionBook {
    pub(super) fn new(limits: &HttpLimits) -> Self {
        Self {
            max_total: limits.sessions(),
            max_per_client: limits.sessions_per_client(),
            open: Mutex::new(Open::default()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Open> {
        self.open.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// How many sessions are open.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.lock().owner.len()
    }

    /// Whether `client` may open one more session; the refusal says which limit it met.
    pub(super) fn may_open(&self, client: &Arc<str>) -> Result<(), Refusal> {
        let open = self.lock();
        Self::check(&open, self.max_total, self.max_per_client, client)
    }

    fn check(
        open: &Open,
        max_total: usize,
        max_per_client: usize,
        client: &Arc<str>,
    ) -> Result<(), Refusal> {
        if open.owner.len() >= max_total {
            return Err(Refusal::new(
                StatusCode::SERVICE_UNAVAILABLE,
                -32000,
                format!(
                    "the server has {max_total} sessions open, its limit; retry later (or \
                     use the 2026-07-28 revision, which needs no session)"
                ),
                Some(5),
            ));
        }
        if open.per_client.get(client).copied().unwrap_or(0) >= max_per_client {
            return Err(Refusal::new(
                StatusCode::TOO_MANY_REQUESTS,
                -32000,
                format!(
                    "this client has {max_per_client} sessions open, its limit: close one \
                     (HTTP DELETE with its Mcp-Session-Id) before opening another"
                ),
                Some(5),
            ));
        }
        Ok(())
    }

    /// Records `id` as `client`'s, if the limits allow it.
    fn open(&self, id: &SessionId, client: Arc<str>) -> Result<(), BookError> {
        let mut open = self.lock();
        if Self::check(&open, self.max_total, self.max_per_client, &client).is_err() {
            return Err(BookError::Full);
        }
        *open.per_client.entry(client.clone()).or_default() += 1;
        open.owner.insert(id.clone(), client);
        Ok(())
    }

    /// Frees `id`'s place.
    fn close(&self, id: &SessionId) {
        let mut open = self.lock();
        if let Some(client) = open.owner.remove(id)
            && let Some(count) = open.per_client.get_mut(&client)
        {
            *count = count.saturating_sub(1);
            if *count == 0 {
                open.per_client.remove(&client);
            }
        }
    }
}

/// Why a session could not be made.
#[derive(Debug, thiserror::Error)]
pub(super) enum BookError {
    /// The limits were met between the middleware's check and the session's creation.
    #[error("the session limit was reached")]
    Full,
    /// rmcp's own error.
    #[error(transparent)]
    Local(#[from] LocalSessionManagerError),
}

/// rmcp's local session manager, with every session in the [`SessionBook`].
pub(super) struct Booked {
    inner: LocalSessionManager,
    book: Arc<SessionBook>,
}

impl Booked {
    pub(super) fn new(limits: &HttpLimits, book: Arc<SessionBook>) -> Self {
        let mut inner = LocalSessionManager::default();
        inner.session_config.keep_alive = Some(limits.session_idle());
        Self { inner, book }
    }
}

impl SessionManager for Booked {
    type Error = BookError;
    type Transport = <LocalSessionManager as SessionManager>::Transport;

    async fn create_session(&self) -> Result<(SessionId, Self::Transport), Self::Error> {
        let client = OPENING
            .try_with(Clone::clone)
            .unwrap_or_else(|_| Arc::from("unknown"));
        let (id, transport) = self.inner.create_session().await?;
        if let Err(full) = self.book.open(&id, client) {
            // The worker ends when its transport is dropped; remove its handle too.
            drop(transport);
            self.inner.close_session(&id).await?;
            return Err(full);
        }
        Ok((id, transport))
    }

    async fn initialize_session(
        &self,
        id: &SessionId,
        message: ClientJsonRpcMessage,
    ) -> Result<ServerJsonRpcMessage, Self::Error> {
        Ok(self.inner.initialize_session(id, message).await?)
    }

    async fn has_session(&self, id: &SessionId) -> Result<bool, Self::Error> {
        Ok(self.inner.has_session(id).await?)
    }

    async fn close_session(&self, id: &SessionId) -> Result<(), Self::Error> {
        self.book.close(id);
        Ok(self.inner.close_session(id).await?)
    }

    async fn create_stream(
        &self,
        id: &SessionId,
        message: ClientJsonRpcMessage,
    ) -> Result<impl Stream<Item = ServerSseMessage> + Send + Sync + 'static, Self::Error> {
        Ok(self.inner.create_stream(id, message).await?)
    }

    async fn accept_message(
        &self,
        id: &SessionId,
        message: ClientJsonRpcMessage,
    ) -> Result<(), Self::Error> {
        Ok(self.inner.accept_message(id, message).await?)
    }

    async fn create_standalone_stream(
        &self,
        id: &SessionId,
    ) -> Result<impl Stream<Item = ServerSseMessage> + Send + Sync + 'static, Self::Error> {
        Ok(self.inner.create_standalone_stream(id).await?)
    }

    async fn resume(
        &self,
        id: &SessionId,
        last_event_id: String,
    ) -> Result<impl Stream<Item = ServerSseMessage> + Send + Sync + 'static, Self::Error> {
        Ok(self.inner.resume(id, last_event_id).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_book_counts_per_client_and_in_total_and_frees_on_close() {
        let limits = HttpLimits::default()
            .max_sessions(3)
            .max_sessions_per_client(2);
        let book = SessionBook::new(&limits);
        let (alice, bob): (Arc<str>, Arc<str>) = ("alice".into(), "bob".into());
        let ids: Vec<SessionId> = (0..4).map(|i| Arc::from(format!("s{i}"))).collect();
        book.open(&ids[0], alice.clone()).expect("first");
        book.open(&ids[1], alice.clone()).expect("second");
        assert_eq!(
            book.may_open(&alice).expect_err("a third for alice").status,
            StatusCode::TOO_MANY_REQUESTS
        );
        assert!(matches!(
            book.open(&ids[2], alice.clone()),
            Err(BookError::Full)
        ));
        book.open(&ids[2], bob.clone()).expect("bob's first");
        assert_eq!(
            book.may_open(&bob).expect_err("the server is full").status,
            StatusCode::SERVICE_UNAVAILABLE
        );
        book.close(&ids[0]);
        book.close(&ids[0]);
        assert_eq!(book.len(), 2);
        book.may_open(&alice).expect("alice has room again");
    }
}
