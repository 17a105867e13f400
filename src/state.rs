//! What every handler and socket shares: the settings, the conversation service, the account
//! service, and the shutdown signal. The adapters (routes, sockets) take it; the core never does.

use std::sync::Arc;

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::accounts::Accounts;
use crate::auth::Tokens;
use crate::chat::Chat;
use crate::config::Settings;
use crate::security::SocketSlots;
use crate::store::Db;

/// Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub settings: Arc<Settings>,
    /// The conversation use cases.
    pub chat: Chat,
    /// The account use cases.
    pub accounts: Arc<Accounts>,
    /// Sockets open per client address on this instance.
    pub socket_slots: Arc<SocketSlots>,
    /// Cancelled at shutdown: every socket sends Close (1001) and stops.
    pub shutdown: CancellationToken,
    /// Socket and assistant tasks, awaited at shutdown.
    pub tasks: TaskTracker,
}

impl AppState {
    /// Builds the services on `db` and starts this node's event delivery.
    pub fn build(settings: Settings, db: Db) -> anyhow::Result<Self> {
        let tokens = Tokens::new(
            &settings.secret_key,
            settings.access_token_ttl,
            settings.refresh_token_ttl,
        );
        let shutdown = CancellationToken::new();
        let tasks = TaskTracker::new();
        let chat = Chat::start(&settings, db.clone(), tasks.clone(), shutdown.clone())?;
        tokio::spawn(crate::limits::prune_periodically(
            db.clone(),
            shutdown.clone(),
        ));
        // The language and hand-off models train in a fraction of a second: before the first
        // customer message rather than during it.
        tokio::task::spawn_blocking(|| {
            crate::domain::language::warm_up();
            crate::domain::handoff::warm_up();
        });
        let accounts = Accounts::new(db, tokens, settings.allow_registration);
        Ok(Self {
            settings: Arc::new(settings),
            chat,
            accounts,
            socket_slots: Arc::default(),
            shutdown,
            tasks,
        })
    }
}
