//! `switchboard create-admin`: create an agent account from the command line, with the same
//! rules as registration over HTTP.

use anyhow::{Context, bail};
use chrono::Utc;

use crate::auth::password;
use crate::config::Settings;
use crate::domain::account::{Password, Username, parse_full_name};
use crate::domain::client_info::Email;
use crate::store::admins::{AdminRecord, NewAdmin};
use crate::store::{self, Db, StoreError};

/// Validates the fields, refuses a weak password or a taken name, and stores the account.
pub async fn create_admin(
    settings: &Settings,
    username: &str,
    email: &str,
    password_text: &str,
    full_name: Option<&str>,
) -> anyhow::Result<AdminRecord> {
    let username = Username::parse(username).context("invalid --username")?;
    let email = Email::parse(email).context("invalid --email")?;
    let full_name =
        parse_full_name(full_name.unwrap_or_default()).context("invalid --full-name")?;
    let password = Password::parse(password_text, username.as_str(), email.as_str())
        .context("refusing a weak password")?;

    let db = Db::connect(settings.database_url.expose()).await?;
    db.migrate().await?;
    let (username_taken, email_taken) =
        store::admins::taken(&db, username.as_str(), email.as_str()).await?;
    if username_taken {
        bail!("username {} is already registered", username.as_str());
    }
    if email_taken {
        bail!("email {} is already registered", email.as_str());
    }
    let hash = password::hash(password.expose().to_owned()).await?;
    let result = store::admins::insert(
        &db,
        &NewAdmin {
            username: username.as_str(),
            email: email.as_str(),
            password_hash: &hash,
            full_name: full_name.as_deref(),
            created_at: Utc::now(),
        },
    )
    .await;
    db.close().await;
    match result {
        Ok(admin) => Ok(admin),
        Err(StoreError::Duplicate(_)) => bail!("username or email is already registered"),
        Err(other) => Err(other.into()),
    }
}
