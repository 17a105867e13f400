//! `switchboard create-admin`: create an agent account from the command line, with the same
//! rules as registration over HTTP (the account use case in `accounts::create`).

use anyhow::{Context, bail};

use crate::accounts::{self, AdminRecord, Error};
use crate::config::Settings;
use crate::domain::account::{NewAccount, Password, Username, parse_full_name};
use crate::domain::client_info::Email;
use crate::store::Db;

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
    let account = NewAccount {
        username,
        email,
        password,
        full_name,
    };

    let db = Db::connect(settings.database_url.expose(), settings.sqlite_sync).await?;
    db.migrate().await?;
    let result = accounts::create(&db, &account, false).await;
    db.close().await;
    match result {
        Ok(admin) => Ok(admin),
        Err(Error::UsernameTaken) => bail!(
            "username {} is already registered",
            account.username.as_str()
        ),
        Err(Error::EmailTaken) => bail!("email {} is already registered", account.email.as_str()),
        Err(other) => Err(other.into()),
    }
}
