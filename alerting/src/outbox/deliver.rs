//! How the outbox makes one attempt: the [`Deliver`] trait, and
//! [`HttpDeliver`], the production implementation over the receivers'
//! HTTP code in [`crate::notify`]. The call into `notify` lives here and
//! nowhere else, so a change to its signature touches one function.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use crate::model::Notification;
use crate::notify::{self, Integration, Outcome};

/// A boxed, sendable future borrowing for `'a`.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Sends a notification to an integration once.
pub trait Deliver: Send + Sync + 'static {
    /// One attempt at `now_ms`; `None` when there is nothing to send
    /// (the integration does not want what the notification carries).
    /// Every attempt of a notification passes the same `notification`,
    /// so the receiver sees the same id and body each time.
    fn deliver<'a>(
        &'a self,
        integration: &'a Integration,
        notification: &'a Notification,
        now_ms: i64,
    ) -> BoxFuture<'a, Option<Outcome>>;
}

/// Delivers over HTTP with one shared client (connection pooling).
#[derive(Debug, Clone)]
pub struct HttpDeliver {
    client: reqwest::Client,
}

impl HttpDeliver {
    /// A client whose requests time out after `timeout` unless the
    /// integration sets its own.
    pub fn new(timeout: Duration) -> HttpDeliver {
        HttpDeliver {
            client: notify::client(timeout),
        }
    }

    /// Uses an existing client.
    pub fn with_client(client: reqwest::Client) -> HttpDeliver {
        HttpDeliver { client }
    }
}

impl Deliver for HttpDeliver {
    fn deliver<'a>(
        &'a self,
        integration: &'a Integration,
        notification: &'a Notification,
        now_ms: i64,
    ) -> BoxFuture<'a, Option<Outcome>> {
        Box::pin(notify::send(
            &self.client,
            integration,
            notification,
            now_ms,
        ))
    }
}
