//! `migrations/sqlite` and `migrations/postgres` build the same schema: each folder is applied to
//! a fresh database, both are introspected into one neutral description (tables, columns with a
//! type family, nullability, primary keys, foreign keys, unique constraints and indexes) and the
//! descriptions must be equal. The comparison needs a PostgreSQL server (`TEST_DATABASE_URL`).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use sqlx::{PgPool, SqlitePool};
use switchboard::store::{Db, SqliteSync, Tx, TxConn};
use tempfile::TempDir;

use crate::helpers::{PostgresDatabase, postgres_server};

/// Runs `sqlx::query_as` with an optional bound argument and collects the rows.
macro_rules! rows {
    ($pool:expr, $sql:expr $(, $bind:expr)?) => {
        sqlx::query_as($sql)$(.bind($bind))?
            .fetch_all($pool)
            .await
            .unwrap_or_else(|e| panic!("{e}: {}", $sql))
    };
}

/// A schema as one line per fact, keyed by what the fact is about (`messages.content` ->
/// `text, not null`), so two descriptions can be compared and their differences listed.
/// sqlx's `_sqlx_migrations` table and SQLite's own tables are left out.
#[derive(Debug, Default, PartialEq, Eq)]
struct Schema(BTreeMap<String, String>);

impl Schema {
    /// `auto`: the database generates the value (an identity column, a SQLite rowid).
    fn column(&mut self, table: &str, name: &str, family: &str, null: bool, key: bool, auto: bool) {
        let null = if null { "null" } else { "not null" };
        let key = if key { ", primary key" } else { "" };
        let auto = if auto { ", generated" } else { "" };
        self.0.insert(
            format!("{table}.{name}"),
            format!("{family}, {null}{key}{auto}"),
        );
    }

    fn primary_key(&mut self, table: &str, columns: &[String]) {
        self.0.insert(format!("{table} primary key"), list(columns));
    }

    fn foreign_key(&mut self, table: &str, from: &[String], to: (&str, &[String]), rule: &str) {
        let key = format!("{table} foreign key {}", list(from));
        self.0.insert(
            key,
            format!("references {} {} on delete {rule}", to.0, list(to.1)),
        );
    }

    /// A UNIQUE constraint, known by its columns: the two databases name its index differently.
    fn unique(&mut self, table: &str, columns: &[String]) {
        let key = format!("{table} unique {}", list(columns));
        self.0.insert(key, "constraint".into());
    }

    /// A named index (`CREATE INDEX`) over normalised column names or expressions.
    fn index(&mut self, table: &str, name: &str, unique: bool, partial: bool, keys: &[String]) {
        let unique = if unique { "unique " } else { "" };
        let partial = if partial { " where ..." } else { "" };
        let fact = format!("{unique}{}{partial}", list(keys));
        self.0.insert(format!("{table} index {name}"), fact);
    }

    /// One line per fact on which `self` and `other` disagree, each side labelled by `names`.
    fn differences(&self, other: &Self, names: [&str; 2]) -> Vec<String> {
        let show = |fact: Option<&String>| fact.map_or("(missing)".into(), |f| format!("`{f}`"));
        let keys: BTreeSet<&String> = self.0.keys().chain(other.0.keys()).collect();
        keys.into_iter()
            .filter(|key| self.0.get(*key) != other.0.get(*key))
            .map(|key| {
                let (left, right) = (show(self.0.get(key)), show(other.0.get(key)));
                format!("  {key}: {} {left} vs {} {right}", names[0], names[1])
            })
            .collect()
    }

    /// Fails unless every kind of fact was found, so an introspection that sees nothing cannot
    /// make two empty descriptions agree.
    fn assert_complete(&self, backend: &str) {
        for kind in [".", " primary key", " foreign key ", " unique ", " index "] {
            let found = self.0.keys().any(|key| key.contains(kind));
            assert!(found, "no {kind:?} facts for {backend}: {self:#?}");
        }
    }
}

fn list(items: &[String]) -> String {
    format!("({})", items.join(", "))
}

/// Lower case without whitespace or identifier quotes, so `lower( "Username" )` and PostgreSQL's
/// `lower(username)` read the same.
fn normalise(sql: &str) -> String {
    sql.chars()
        .filter(|c| !c.is_whitespace() && *c != '"')
        .flat_map(char::to_lowercase)
        .collect()
}

/// The key terms of a `CREATE INDEX` statement, normalised: `ON t (lower(a), b) WHERE ...` ->
/// `["lower(a)", "b"]`. SQLite reports expression terms without text, so they are read here.
fn index_terms(sql: &str) -> Vec<String> {
    let sql = normalise(sql);
    let start = sql.find('(').expect("an index has a column list") + 1;
    let (mut depth, mut terms, mut term) = (0, Vec::new(), String::new());
    for c in sql[start..].chars() {
        match c {
            ')' if depth == 0 => break,
            ',' if depth == 0 => {
                terms.push(std::mem::take(&mut term));
                continue;
            }
            '(' => depth += 1,
            ')' => depth -= 1,
            _ => {}
        }
        term.push(c);
    }
    terms.push(term);
    terms
}

/// The type family of a SQLite column. SQLite has no timestamp, UUID or boolean types, so the
/// migrations follow conventions (see their header comment), and the family is read from them:
/// INTEGER with `CHECK (col IN (0, 1))` is a boolean, TEXT named `*_at` is an RFC 3339
/// timestamp, and a BLOB is a 16-byte UUID (the only BLOBs in the schema). A column that breaks
/// a convention gets another family than its PostgreSQL twin and shows up as a difference.
fn sqlite_family(column: &str, declared: &str, table_sql: &str) -> String {
    let base = declared.split('(').next().unwrap_or("").trim();
    let base = base.to_ascii_lowercase();
    let family = match base.as_str() {
        "integer" | "int" | "bigint" | "smallint" => {
            let boolean = table_sql.contains(&format!("check({column}in(0,1))"));
            if boolean { "boolean" } else { "integer" }
        }
        "text" | "varchar" if column.ends_with("_at") => "timestamp",
        "text" | "varchar" => "text",
        "blob" => "uuid",
        _ => &base,
    };
    family.into()
}

/// The type family of a PostgreSQL column (`information_schema.columns.data_type`).
fn postgres_family(data_type: &str) -> &str {
    match data_type {
        "smallint" | "integer" | "bigint" => "integer",
        "text" | "character varying" => "text",
        "timestamp with time zone" => "timestamp",
        other => other, // uuid, boolean, or a type the SQLite rules have no family for
    }
}

/// Describes a migrated SQLite database with its `pragma_*` table functions.
async fn describe_sqlite(pool: &SqlitePool) -> Schema {
    let mut schema = Schema::default();
    let tables: Vec<(String, String)> = rows!(
        pool,
        r"SELECT name, sql FROM sqlite_master WHERE type = 'table'
          AND name NOT LIKE 'sqlite\_%' ESCAPE '\' AND name <> '_sqlx_migrations'"
    );
    for (table, sql) in &tables {
        let sql = normalise(sql);
        let columns: Vec<(String, String, bool, i64)> = rows!(
            pool,
            r#"SELECT name, type, "notnull", pk FROM pragma_table_info($1) ORDER BY pk"#,
            table
        );
        let key_len = columns.iter().filter(|c| c.3 > 0).count();
        let mut key = Vec::new();
        for (name, declared, not_null, pk) in columns {
            // A lone INTEGER PRIMARY KEY is the rowid: never NULL, assigned by SQLite and, with
            // AUTOINCREMENT, never reused, which is what an identity column is in PostgreSQL.
            let rowid = pk > 0 && key_len == 1 && declared.eq_ignore_ascii_case("integer");
            let (null, generated) = (!not_null && !rowid, rowid && sql.contains("autoincrement"));
            let family = sqlite_family(&normalise(&name), &declared, &sql);
            schema.column(table, &name, &family, null, pk > 0, generated);
            if pk > 0 {
                key.push(name);
            }
        }
        if !key.is_empty() {
            schema.primary_key(table, &key);
        }

        // `REFERENCES t` without columns leaves `to` NULL: it means t's primary key.
        let rows: Vec<(i64, String, String, String, String)> = rows!(
            pool,
            r#"SELECT id, "table", "from", coalesce("to", (SELECT name FROM
                   pragma_table_info("table") WHERE pk = seq + 1)), on_delete
               FROM pragma_foreign_key_list($1) ORDER BY id, seq"#,
            table
        );
        let mut keys: BTreeMap<i64, (String, Vec<String>, Vec<String>, String)> = BTreeMap::new();
        for (id, target, from, to, on_delete) in rows {
            let key = keys
                .entry(id)
                .or_insert((target, vec![], vec![], on_delete));
            key.1.push(from);
            key.2.push(to);
        }
        for (target, from, to, on_delete) in keys.into_values() {
            schema.foreign_key(table, &from, (&target, &to), &on_delete);
        }

        let indexes: Vec<(String, bool, String, bool, Option<String>)> = rows!(
            pool,
            r#"SELECT i.name, i."unique", i.origin, i.partial, m.sql FROM pragma_index_list($1) i
               LEFT JOIN sqlite_master m ON m.type = 'index' AND m.name = i.name"#,
            table
        );
        for (name, unique, origin, partial, sql) in indexes {
            if origin == "pk" {
                continue; // described as the primary key
            }
            // Expression terms have cid -2 and no name; their text comes from the statement.
            let terms = sql.as_deref().map(index_terms).unwrap_or_default();
            let columns: Vec<(Option<String>,)> = rows!(
                pool,
                "SELECT name FROM pragma_index_xinfo($1) WHERE key = 1 ORDER BY seqno",
                &name
            );
            let keys: Vec<String> = (columns.into_iter().enumerate())
                .map(|(i, (column,))| column.map_or_else(|| terms[i].clone(), |c| normalise(&c)))
                .collect();
            match origin.as_str() {
                "u" => schema.unique(table, &keys),
                _ => schema.index(table, &name, unique, partial, &keys),
            }
        }
    }
    schema
}

/// A PostgreSQL constraint: table, kind (`p`, `u`, `f`), columns, and for a foreign key the
/// referenced table and columns and the `confdeltype` code.
type Constraint = (String, String, Vec<String>, String, Vec<String>, String);

/// Describes a migrated PostgreSQL database (its current schema) from the system catalogs.
async fn describe_postgres(pool: &PgPool) -> Schema {
    let mut schema = Schema::default();
    let constraints: Vec<Constraint> = rows!(
        pool,
        "SELECT t.relname::text, c.contype::text,
                ARRAY(SELECT a.attname::text FROM unnest(c.conkey) WITH ORDINALITY AS k(n, pos)
                      JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.n
                      ORDER BY k.pos),
                coalesce(f.relname::text, ''),
                ARRAY(SELECT a.attname::text FROM unnest(c.confkey) WITH ORDINALITY AS k(n, pos)
                      JOIN pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = k.n
                      ORDER BY k.pos),
                c.confdeltype::text
         FROM pg_constraint c
         JOIN pg_class t ON t.oid = c.conrelid
         LEFT JOIN pg_class f ON f.oid = c.confrelid
         WHERE t.relnamespace = current_schema()::regnamespace
           AND t.relname <> '_sqlx_migrations' AND c.contype IN ('p', 'u', 'f')"
    );
    let mut primary_keys: HashMap<String, Vec<String>> = HashMap::new();
    for (table, kind, columns, target, to, on_delete) in constraints {
        let action = match on_delete.as_str() {
            "c" => "CASCADE",
            "n" => "SET NULL",
            "d" => "SET DEFAULT",
            "r" => "RESTRICT",
            _ => "NO ACTION",
        };
        match kind.as_str() {
            "p" => schema.primary_key(&table, &columns),
            "u" => schema.unique(&table, &columns),
            _ => schema.foreign_key(&table, &columns, (&target, &to), action),
        }
        if kind == "p" {
            primary_keys.insert(table, columns);
        }
    }
    let columns: Vec<(String, String, String, bool, bool)> = rows!(
        pool,
        "SELECT table_name::text, column_name::text, data_type::text, is_nullable = 'YES',
                is_identity = 'YES' OR coalesce(column_default LIKE 'nextval(%', false)
         FROM information_schema.columns
         WHERE table_schema = current_schema() AND table_name <> '_sqlx_migrations'"
    );
    for (table, column, data_type, null, generated) in columns {
        let key = primary_keys
            .get(&table)
            .is_some_and(|k| k.contains(&column));
        let family = postgres_family(&data_type);
        schema.column(&table, &column, family, null, key, generated);
    }
    // Indexes other than those behind PRIMARY KEY and UNIQUE constraints, which are above.
    let indexes: Vec<(String, String, bool, bool, Vec<String>)> = rows!(
        pool,
        "SELECT t.relname::text, i.relname::text, x.indisunique, x.indpred IS NOT NULL,
                ARRAY(SELECT pg_get_indexdef(x.indexrelid, k, true)
                      FROM generate_series(1, x.indnkeyatts) AS k ORDER BY k)
         FROM pg_index x
         JOIN pg_class i ON i.oid = x.indexrelid
         JOIN pg_class t ON t.oid = x.indrelid
         WHERE t.relnamespace = current_schema()::regnamespace
           AND t.relname <> '_sqlx_migrations' AND NOT x.indisprimary
           AND NOT EXISTS (SELECT 1 FROM pg_constraint c
                           WHERE c.conindid = x.indexrelid AND c.contype = 'u')"
    );
    for (table, name, unique, partial, keys) in indexes {
        let keys: Vec<String> = keys.iter().map(|k| normalise(k)).collect();
        schema.index(&table, &name, unique, partial, &keys);
    }
    schema
}

/// Connects to `url` and applies this backend's migrations, as the server does at start-up.
async fn migrated(url: &str) -> Db {
    let db = Db::connect(url, SqliteSync::Normal).await.expect("connect");
    db.migrate().await.expect("migrations apply");
    db
}

/// Describes the database and closes it.
async fn describe(db: Db) -> Schema {
    let schema = match &db {
        Db::Sqlite(sqlite) => describe_sqlite(&sqlite.read).await,
        Db::Postgres(pool) => describe_postgres(pool).await,
    };
    db.close().await;
    schema
}

fn sqlite_url(dir: &TempDir, file: &str) -> String {
    format!("sqlite://{}", dir.path().join(file).display())
}

#[tokio::test]
async fn both_migration_folders_build_the_same_schema() {
    let Some(server) = postgres_server() else {
        eprintln!("SKIPPED both_migration_folders_build_the_same_schema: needs PostgreSQL");
        return;
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let sqlite = describe(migrated(&sqlite_url(&dir, "schema.db")).await).await;
    let database = PostgresDatabase::create(&server).await;
    let postgres = describe(migrated(&database.url()).await).await;
    sqlite.assert_complete("SQLite");
    postgres.assert_complete("PostgreSQL");
    let differences = sqlite.differences(&postgres, ["SQLite", "PostgreSQL"]);
    assert!(
        differences.is_empty(),
        "migrations/sqlite and migrations/postgres build different schemas:\n{}",
        differences.join("\n")
    );
    eprintln!("schema: {} facts agree", sqlite.0.len());
}

/// The comparison can fail: one added column is the one difference reported.
#[tokio::test]
async fn the_comparison_notices_an_extra_column() {
    let dir = tempfile::tempdir().expect("temp dir");
    let original = describe(migrated(&sqlite_url(&dir, "original.db")).await).await;
    original.assert_complete("SQLite");
    let changed = migrated(&sqlite_url(&dir, "changed.db")).await;
    let Ok(Tx {
        conn: TxConn::Sqlite(mut tx),
        ..
    }) = changed.begin().await
    else {
        panic!("a sqlite:// URL opens SQLite")
    };
    sqlx::query("ALTER TABLE messages ADD COLUMN extra TEXT")
        .execute(&mut *tx)
        .await
        .expect("alter table");
    tx.commit(None).await.expect("commit");
    let changed = describe(changed).await;
    assert_eq!(
        original.differences(&changed, ["original", "changed"]),
        ["  messages.extra: original (missing) vs changed `text, null`"],
        "the extra column is the only difference"
    );
}
