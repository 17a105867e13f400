//! Queries on `admin_users`: the agent accounts.

use chrono::{DateTime, Utc};

use super::{Db, StoreError};
use crate::domain::ids::AgentId;

/// An agent account as stored.
#[derive(Clone, sqlx::FromRow)]
pub struct AdminRecord {
    pub id: AgentId,
    pub username: String,
    pub email: String,
    pub password_hash: String,
    pub full_name: Option<String>,
    pub is_active: bool,
    pub created_at: DateTime<Utc>,
}

impl std::fmt::Debug for AdminRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdminRecord")
            .field("id", &self.id)
            .field("username", &self.username)
            .field("is_active", &self.is_active)
            .finish_non_exhaustive()
    }
}

/// The fields of a new account; the password is already hashed.
pub struct NewAdmin<'a> {
    pub username: &'a str,
    pub email: &'a str,
    pub password_hash: &'a str,
    pub full_name: Option<&'a str>,
    pub created_at: DateTime<Utc>,
}

const COLUMNS: &str = "id, username, email, password_hash, full_name, is_active, created_at";

/// Inserts an account. A taken username or email is [`StoreError::Duplicate`].
pub async fn insert(db: &Db, admin: &NewAdmin<'_>) -> Result<AdminRecord, StoreError> {
    let sql = sqlx::AssertSqlSafe(format!(
        "INSERT INTO admin_users (username, email, password_hash, full_name, is_active, created_at) \
         VALUES ($1, $2, $3, $4, TRUE, $5) RETURNING {COLUMNS}"
    ));
    Ok(with_write!(db, conn => {
        sqlx::query_as::<_, AdminRecord>(sql)
            .bind(admin.username)
            .bind(admin.email)
            .bind(admin.password_hash)
            .bind(admin.full_name)
            .bind(admin.created_at)
            .fetch_one(conn)
            .await
    })?)
}

/// Inserts the very first account, atomically: `None` if any account exists already, even
/// one created a moment ago by a concurrent request.
pub async fn insert_first(
    db: &Db,
    admin: &NewAdmin<'_>,
) -> Result<Option<AdminRecord>, StoreError> {
    let sql = sqlx::AssertSqlSafe(format!(
        "INSERT INTO admin_users (username, email, password_hash, full_name, is_active, created_at) \
         SELECT $1, $2, $3, $4, TRUE, $5 WHERE NOT EXISTS (SELECT 1 FROM admin_users) \
         RETURNING {COLUMNS}"
    ));
    let mut tx = db.begin().await?;
    let record = with_tx!(&mut tx, conn => {
        if matches!(db, Db::Postgres(_)) {
            // Under READ COMMITTED two transactions could both see an empty table; the lock
            // serialises them. SQLite already serialises writers.
            sqlx::query("LOCK TABLE admin_users IN SHARE ROW EXCLUSIVE MODE")
                .execute(&mut *conn)
                .await?;
        }
        let record = sqlx::query_as::<_, AdminRecord>(sql)
            .bind(admin.username)
            .bind(admin.email)
            .bind(admin.password_hash)
            .bind(admin.full_name)
            .bind(admin.created_at)
            .fetch_optional(&mut *conn)
            .await?;
        Ok::<_, StoreError>(record)
    })?;
    tx.commit().await?;
    Ok(record)
}

/// Whether any account exists.
pub async fn any_exists(db: &Db) -> Result<bool, StoreError> {
    Ok(with_pool!(db, pool => {
        sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM (SELECT 1 FROM admin_users LIMIT 1) AS one")
            .fetch_one(pool)
            .await
    })? > 0)
}

/// Looks an account up by username, ignoring case.
pub async fn find_by_username(db: &Db, username: &str) -> Result<Option<AdminRecord>, StoreError> {
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM admin_users WHERE lower(username) = lower($1)"
    ));
    Ok(with_pool!(db, pool => {
        sqlx::query_as::<_, AdminRecord>(sql).bind(username).fetch_optional(pool).await
    })?)
}

pub async fn find_by_id(db: &Db, id: AgentId) -> Result<Option<AdminRecord>, StoreError> {
    let sql = sqlx::AssertSqlSafe(format!("SELECT {COLUMNS} FROM admin_users WHERE id = $1"));
    Ok(with_pool!(db, pool => {
        sqlx::query_as::<_, AdminRecord>(sql).bind(id).fetch_optional(pool).await
    })?)
}

/// Which of `username` and `email` are already taken (ignoring case).
pub async fn taken(db: &Db, username: &str, email: &str) -> Result<(bool, bool), StoreError> {
    let (user, mail): (i64, i64) = with_pool!(db, pool => {
        sqlx::query_as(
            "SELECT \
               (SELECT COUNT(*) FROM admin_users WHERE lower(username) = lower($1)), \
               (SELECT COUNT(*) FROM admin_users WHERE lower(email) = lower($2))",
        )
        .bind(username)
        .bind(email)
        .fetch_one(pool)
        .await
    })?;
    Ok((user > 0, mail > 0))
}

/// Activates or deactivates an account; a deactivated agent can neither log in nor use tokens
/// issued before.
pub async fn set_active(db: &Db, id: AgentId, active: bool) -> Result<bool, StoreError> {
    let updated = with_write!(db, conn => {
        sqlx::query("UPDATE admin_users SET is_active = $1 WHERE id = $2")
            .bind(active)
            .bind(id)
            .execute(conn)
            .await
            .map(|done| done.rows_affected())
    })?;
    Ok(updated == 1)
}

/// Replaces an account's password hash.
pub async fn set_password(db: &Db, id: AgentId, password_hash: &str) -> Result<bool, StoreError> {
    let updated = with_write!(db, conn => {
        sqlx::query("UPDATE admin_users SET password_hash = $1 WHERE id = $2")
            .bind(password_hash)
            .bind(id)
            .execute(conn)
            .await
            .map(|done| done.rows_affected())
    })?;
    Ok(updated == 1)
}
