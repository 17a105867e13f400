//! Agent accounts, the use cases: register, log in, refresh a token pair, sign out, change the
//! password, authenticate an access token, and create an account from the command line. REST
//! handlers, the agent socket and the CLI all call these, so their rules cannot drift apart.
//!
//! Refresh tokens come in families (OAuth 2.0 security BCP): each login starts one, each refresh
//! continues it. A token presented a second time means a copy is in someone else's hands: the
//! whole family is revoked, the newest token included. Signing out revokes the family; a password
//! change revokes all of the agent's families.
//!
//! Registration is closed by default: the first account may register freely (nobody else can
//! yet), every later one needs an existing agent (`caller`), unless `ALLOW_REGISTRATION=true`.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;

use crate::auth::{TokenKind, Tokens, password, tokens};
use crate::domain::account::{NewAccount, Password};
use crate::domain::ids::AgentId;
use crate::limits::{self, Backoff};
use crate::protocol::texts;
/// An agent account as the use cases return it.
pub use crate::store::admins::AdminRecord;
use crate::store::admins::NewAdmin;
use crate::store::refresh_tokens::Presented;
use crate::store::{self, Db, Failure, StoreError};

/// Why an account action was refused or failed. Messages are safe to show.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("Username already registered")]
    UsernameTaken,
    #[error("Email already registered")]
    EmailTaken,
    #[error("Registration is closed: an existing agent's access token is required")]
    RegistrationClosed,
    #[error("Incorrect username or password")]
    BadCredentials,
    #[error("Could not validate credentials")]
    BadAccessToken,
    #[error("Invalid or expired refresh token")]
    BadRefreshToken,
    #[error("Inactive user")]
    Inactive,
    #[error("Too many failed sign-ins; try again in {retry_after} seconds")]
    Throttled { retry_after: u64 },
    #[error("Current password is incorrect")]
    WrongPassword,
    /// The new password breaks the policy: the field's message.
    #[error("{0}")]
    WeakPassword(crate::domain::Invalid),
    #[error("{}", texts::DATABASE_UNAVAILABLE)]
    Unavailable,
    #[error("internal error: {0:#}")]
    Internal(anyhow::Error),
}

impl From<StoreError> for Error {
    fn from(err: StoreError) -> Self {
        match err.failure() {
            Failure::Unavailable => Self::Unavailable,
            Failure::Internal(cause) => Self::Internal(cause),
        }
    }
}

impl From<password::HashError> for Error {
    fn from(err: password::HashError) -> Self {
        Self::Internal(err.into())
    }
}

impl From<tokens::TokenError> for Error {
    fn from(err: tokens::TokenError) -> Self {
        Self::Internal(err.into())
    }
}

/// Wrong passwords for one account from one address: five free, then 1 s, 2 s, 4 s… up to 15
/// minutes.
const ACCOUNT_FAILURES: Backoff = Backoff {
    free: 5,
    base: Duration::from_secs(1),
    cap: Duration::from_secs(15 * 60),
    window: Duration::from_secs(60 * 60),
};

/// Wrong passwords from one address, whatever the account: twenty free, then the same growth.
const ADDRESS_FAILURES: Backoff = Backoff {
    free: 20,
    ..ACCOUNT_FAILURES
};

/// A freshly issued access token and single-use refresh token.
#[derive(Debug)]
pub struct IssuedTokens {
    pub access_token: String,
    pub refresh_token: String,
}

/// The account service: the database, the token keys, and whether registration is open.
pub struct Accounts {
    db: Db,
    tokens: Tokens,
    allow_registration: bool,
}

impl Accounts {
    pub fn new(db: Db, tokens: Tokens, allow_registration: bool) -> Arc<Self> {
        Arc::new(Self {
            db,
            tokens,
            allow_registration,
        })
    }

    /// Creates an account and logs it in. Without a `caller` (an agent) and without
    /// `ALLOW_REGISTRATION`, only the very first account may be created.
    pub async fn register(
        &self,
        caller: Option<&AdminRecord>,
        account: &NewAccount,
    ) -> Result<IssuedTokens, Error> {
        let open = caller.is_some() || self.allow_registration;
        // Checked before anything else, so a stranger learns nothing about existing accounts.
        if !open && store::admins::any_exists(&self.db).await? {
            return Err(Error::RegistrationClosed);
        }
        let admin = create(&self.db, account, !open).await?;
        tracing::info!(admin_id = %admin.id, by = ?caller.map(|c| c.id), "agent registered");
        self.issue(admin.id, None).await
    }

    /// Logs in with username and password, from client `address`. Failures are throttled per
    /// account and address (so an attacker elsewhere cannot lock the agent out) and per address
    /// (so one address cannot try many accounts); past the free attempts each failure doubles
    /// the wait, and a throttled attempt is refused before the password is even checked.
    pub async fn login(
        &self,
        username: &str,
        password_text: String,
        address: IpAddr,
    ) -> Result<IssuedTokens, Error> {
        let now = Utc::now();
        // The throttling key (stored, so without control characters: PostgreSQL refuses NUL).
        let account: String = username
            .to_lowercase()
            .chars()
            .filter(|c| !c.is_control())
            .take(100)
            .collect();
        let pair_key = format!("login:{address}:{account}");
        let address_key = format!("login-address:{address}");
        let keys = [pair_key.as_str(), address_key.as_str()];
        if let Some(retry_after) = limits::blocked(&self.db, &keys, now).await? {
            tracing::warn!(username = %account, %address, retry_after, "login throttled");
            return Err(Error::Throttled { retry_after });
        }
        // A name with control characters cannot exist (registration refuses them, and
        // PostgreSQL cannot take a NUL in a query): it is an unknown account, answered alike.
        let admin = match crate::domain::check_text(username) {
            Ok(()) => store::admins::find_by_username(&self.db, username).await?,
            Err(_) => None,
        };
        let stored = admin.as_ref().map(|a| a.password_hash.clone());
        let valid = password::verify(password_text, stored).await?;
        let admin = match admin {
            Some(admin) if valid => admin,
            _ => {
                let failures = limits::fail(&self.db, &pair_key, &ACCOUNT_FAILURES, now).await?;
                let from_address =
                    limits::fail(&self.db, &address_key, &ADDRESS_FAILURES, now).await?;
                tracing::warn!(username = %account, %address, failures, from_address, "login failed");
                return Err(Error::BadCredentials);
            }
        };
        if !admin.is_active {
            return Err(Error::Inactive);
        }
        limits::clear(&self.db, &pair_key).await?;
        tracing::info!(admin_id = %admin.id, "agent logged in");
        self.issue(admin.id, None).await
    }

    /// Exchanges a refresh token for a new pair in the same family; the old refresh token stops
    /// working. A token used before revokes its family.
    pub async fn refresh(&self, refresh_token: &str) -> Result<IssuedTokens, Error> {
        let token = refresh_token.trim();
        let admin_id = self
            .tokens
            .verify(token, TokenKind::Refresh)
            .map_err(|_| Error::BadRefreshToken)?;
        let presented =
            store::refresh_tokens::present(&self.db, &tokens::fingerprint(token), Utc::now())
                .await?;
        let family = match presented {
            Presented::Fresh { admin, family } if admin == admin_id => family,
            Presented::Reused { admin, family } => {
                let revoked = store::refresh_tokens::revoke_family(&self.db, &family).await?;
                tracing::warn!(admin_id = %admin, revoked, "a used refresh token was presented again: its family is revoked");
                return Err(Error::BadRefreshToken);
            }
            Presented::Fresh { .. } | Presented::Unknown => return Err(Error::BadRefreshToken),
        };
        let admin = store::admins::find_by_id(&self.db, admin_id)
            .await?
            .ok_or(Error::BadRefreshToken)?;
        if !admin.is_active {
            return Err(Error::Inactive);
        }
        self.issue(admin.id, Some(family)).await
    }

    /// Signs out: revokes the refresh token's family, so neither it nor any token refreshed from
    /// the same login works again. The agent's other sign-ins are untouched.
    pub async fn sign_out(&self, refresh_token: &str) -> Result<(), Error> {
        let token = refresh_token.trim();
        self.tokens
            .verify(token, TokenKind::Refresh)
            .map_err(|_| Error::BadRefreshToken)?;
        let family = store::refresh_tokens::family_of(&self.db, &tokens::fingerprint(token))
            .await?
            .ok_or(Error::BadRefreshToken)?;
        store::refresh_tokens::revoke_family(&self.db, &family).await?;
        tracing::info!("agent signed out");
        Ok(())
    }

    /// Changes `agent`'s password after checking the current one; every refresh token of the
    /// agent stops working, and a new pair (a new family) keeps this sign-in going.
    pub async fn change_password(
        &self,
        agent: &AdminRecord,
        current: String,
        new: &str,
    ) -> Result<IssuedTokens, Error> {
        let new =
            Password::parse(new, &agent.username, &agent.email).map_err(Error::WeakPassword)?;
        if !password::verify(current, Some(agent.password_hash.clone())).await? {
            return Err(Error::WrongPassword);
        }
        let hash = password::hash(new.expose().to_owned()).await?;
        store::admins::set_password(&self.db, agent.id, &hash).await?;
        let revoked = store::refresh_tokens::revoke_all(&self.db, agent.id).await?;
        tracing::info!(admin_id = %agent.id, revoked, "password changed; every refresh token revoked");
        self.issue(agent.id, None).await
    }

    /// The active agent an access token was issued to: the token must verify as an access token
    /// and its account must still exist and be active.
    pub async fn authenticate(&self, access_token: &str) -> Result<AdminRecord, Error> {
        let admin_id = self
            .tokens
            .verify(access_token, TokenKind::Access)
            .map_err(|_| Error::BadAccessToken)?;
        let admin = store::admins::find_by_id(&self.db, admin_id)
            .await?
            .ok_or(Error::BadAccessToken)?;
        if !admin.is_active {
            return Err(Error::Inactive);
        }
        Ok(admin)
    }

    /// Issues a token pair for `admin` and records the refresh token in `family` (a new family
    /// when `None`: a new sign-in).
    async fn issue(&self, admin: AgentId, family: Option<String>) -> Result<IssuedTokens, Error> {
        let now = Utc::now();
        let family = family.unwrap_or_else(|| uuid::Uuid::new_v4().simple().to_string());
        let pair = self.tokens.issue_pair(admin, now)?;
        store::refresh_tokens::insert(
            &self.db,
            admin,
            &tokens::fingerprint(&pair.refresh_token),
            &family,
            pair.refresh_expires_at,
            now,
        )
        .await?;
        Ok(IssuedTokens {
            access_token: pair.access_token,
            refresh_token: pair.refresh_token,
        })
    }
}

/// Stores a new account: refuses a taken username or email, hashes the password. With
/// `only_if_first`, it is created only if no account exists yet — atomically, so two strangers
/// racing cannot both become the first ([`Error::RegistrationClosed`] for the loser).
pub async fn create(
    db: &Db,
    account: &NewAccount,
    only_if_first: bool,
) -> Result<AdminRecord, Error> {
    let (username, email) = (account.username.as_str(), account.email.as_str());
    let (username_taken, email_taken) = store::admins::taken(db, username, email).await?;
    if username_taken {
        return Err(Error::UsernameTaken);
    }
    if email_taken {
        return Err(Error::EmailTaken);
    }
    let password_hash = password::hash(account.password.expose().to_owned()).await?;
    let new = NewAdmin {
        username,
        email,
        password_hash: &password_hash,
        full_name: account.full_name.as_deref(),
        created_at: Utc::now(),
    };
    let inserted = if only_if_first {
        store::admins::insert_first(db, &new).await
    } else {
        store::admins::insert(db, &new).await.map(Some)
    };
    match inserted {
        Ok(Some(admin)) => Ok(admin),
        Ok(None) => Err(Error::RegistrationClosed),
        // A concurrent registration took the name between the check and the insert.
        Err(StoreError::Duplicate(index)) if index.contains("email") => Err(Error::EmailTaken),
        Err(StoreError::Duplicate(_)) => Err(Error::UsernameTaken),
        Err(other) => Err(other.into()),
    }
}
