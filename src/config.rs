//! Typed settings, read from the environment (and `.env`) once at start-up.
//!
//! Every variable is documented on its field and in `.env.example`; an invalid value stops
//! start-up with a message naming the variable. Secrets are redacted in `Debug`.

use std::fmt;
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use thiserror::Error;

use crate::store::SqliteSync;

/// A setting that must never appear in logs or `Debug` output.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// Which assistant answers customers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AiProvider {
    /// Google Gemini over its REST API (needs `GEMINI_API_KEY`).
    Gemini,
    /// Any OpenAI-compatible chat-completions server (OpenAI, Ollama, vLLM, llama.cpp).
    OpenAi,
    /// The offline responder that answers from the markdown knowledge base.
    KnowledgeBase,
}

/// Every variable Switchboard reads (besides `RUST_LOG`); each is documented in `.env.example`.
pub const VARIABLES: &[&str] = &[
    "HOST",
    "PORT",
    "DEBUG",
    "LOG_FORMAT",
    "CORS_ORIGINS",
    "TRUST_PROXY",
    "DATABASE_URL",
    "SQLITE_SYNCHRONOUS",
    "SECRET_KEY",
    "ACCESS_TOKEN_EXPIRE_MINUTES",
    "REFRESH_TOKEN_EXPIRE_DAYS",
    "ALLOW_REGISTRATION",
    "CLIENT_TOKENS",
    "AI_PROVIDER",
    "GEMINI_API_KEY",
    "GEMINI_MODEL",
    "GEMINI_BASE_URL",
    "OPENAI_BASE_URL",
    "OPENAI_API_KEY",
    "OPENAI_MODEL",
    "KNOWLEDGE_BASE",
    "EMBEDDING_MODEL",
    "SYSTEM_PROMPT",
    "AI_TIMEOUT_SECONDS",
    "AI_HISTORY_MESSAGES",
    "AI_MAX_RETRIES",
    "AI_RETRY_BUDGET_SECONDS",
    "AI_BREAKER_THRESHOLD",
    "AI_BREAKER_COOLDOWN_SECONDS",
    "AI_FAILURE_HANDOFF",
    "AI_CALLS_PER_MINUTE",
    "AI_CALLS_PER_MINUTE_GLOBAL",
    "SESSIONS_PER_IP_PER_HOUR",
    "SOCKETS_PER_IP",
    "AI_MAX_REPLY_TOKENS",
    "AI_GROUNDING_PASSAGES",
];

/// Where the knowledge base is looked for when `KNOWLEDGE_BASE` is unset.
pub const DEFAULT_KNOWLEDGE_BASE: &str = "knowledge_base";

/// Where the sentence-embedding model is looked for when `EMBEDDING_MODEL` is unset (where
/// `scripts/fetch-model` puts it).
pub const DEFAULT_EMBEDDING_MODEL: &str = "models/all-MiniLM-L6-v2";

/// Minimum signing-key length when `DEBUG=false`; HS256 wants at least 256 bits.
pub const MIN_SECRET_KEY_BYTES: usize = 32;

/// All of Switchboard's settings.
#[derive(Debug, Clone)]
pub struct Settings {
    /// `HOST`: address to listen on. Default `127.0.0.1`.
    pub host: IpAddr,
    /// `PORT`: TCP port to listen on; `0` picks a free one. Default `8000`.
    pub port: u16,
    /// `DATABASE_URL`: `sqlite://path` (default `sqlite://chatbot.db`) or `postgres://…`.
    pub database_url: Secret,
    /// `SQLITE_SYNCHRONOUS`: `full` (default: every commit, a batch of writes, is synced to
    /// disk, so an acknowledged message survives a power loss) or `normal` (synced at
    /// checkpoints only: faster on slow disks; a power loss may lose the last commits).
    pub sqlite_sync: SqliteSync,
    /// `SECRET_KEY`: HS256 signing key for access and refresh tokens. Required, at least 32
    /// bytes, when `DEBUG=false`; otherwise a random key is generated for this process.
    pub secret_key: Secret,
    /// True when `secret_key` was generated because `SECRET_KEY` was unset.
    pub secret_key_generated: bool,
    /// `ACCESS_TOKEN_EXPIRE_MINUTES`: access-token lifetime. Default 30.
    pub access_token_ttl: Duration,
    /// `REFRESH_TOKEN_EXPIRE_DAYS`: refresh-token lifetime. Default 7.
    pub refresh_token_ttl: Duration,
    /// `CORS_ORIGINS`: comma-separated origins allowed to call the API from a browser, or `*`
    /// for any. Default: none (same origin only).
    pub cors_origins: Vec<String>,
    /// `TRUST_PROXY`: the server runs behind a reverse proxy that sets `X-Forwarded-Proto` (and
    /// `X-Forwarded-For`); believe those headers. Default `false`: a client could forge them.
    pub trust_proxy: bool,
    /// `DEBUG`: development mode (a missing `SECRET_KEY` is generated). Default `true`.
    pub debug: bool,
    /// `ALLOW_REGISTRATION`: **weakens security** — lets anyone register an agent account.
    /// Default `false`: only the first account is open; later ones need an agent's token.
    pub allow_registration: bool,
    /// `CLIENT_TOKENS`: `required` makes reading a session's state or history, and opening its
    /// customer socket, need the `client_token` returned when the session was opened (or an
    /// agent's access token). Default `optional`: knowing the session id suffices, as in the
    /// reference.
    pub client_tokens_required: bool,
    /// `LOG_FORMAT`: `text` (default) or `json`.
    pub log_json: bool,
    /// `AI_PROVIDER`: `gemini`, `openai` or `knowledge_base`. Default: `gemini` when
    /// `GEMINI_API_KEY` is set, else `knowledge_base`.
    pub ai_provider: AiProvider,
    /// `GEMINI_API_KEY`: Google AI Studio key.
    pub gemini_api_key: Option<Secret>,
    /// `GEMINI_MODEL`: default `gemini-3.5-flash-lite`.
    pub gemini_model: String,
    /// `GEMINI_BASE_URL`: default `https://generativelanguage.googleapis.com`.
    pub gemini_base_url: String,
    /// `OPENAI_BASE_URL`: default `https://api.openai.com/v1`.
    pub openai_base_url: String,
    /// `OPENAI_API_KEY`: optional (local servers such as Ollama need none).
    pub openai_api_key: Option<Secret>,
    /// `OPENAI_MODEL`: default `gpt-4o-mini`.
    pub openai_model: String,
    /// `KNOWLEDGE_BASE`: markdown file or folder the assistant answers from.
    /// Default `knowledge_base/` (a sample shipped with Switchboard).
    pub knowledge_base: PathBuf,
    /// `EMBEDDING_MODEL`: folder of the sentence-embedding model for semantic retrieval, or
    /// `off`. Default `models/all-MiniLM-L6-v2`, used when present (`scripts/fetch-model`);
    /// a folder named explicitly must exist.
    pub embedding_model: Option<PathBuf>,
    /// `SYSTEM_PROMPT`: instructions sent to the model on every call; a built-in default
    /// when unset.
    pub system_prompt: Option<String>,
    /// `AI_TIMEOUT_SECONDS`: limit for one assistant call. Default 20.
    pub ai_timeout: Duration,
    /// `AI_HISTORY_MESSAGES`: how many recent messages the assistant sees. Default 20.
    pub ai_history_messages: usize,
    /// `AI_MAX_RETRIES`: retries of a call answered 429/500/503/504 or not reached. Default 2.
    pub ai_max_retries: u32,
    /// `AI_RETRY_BUDGET_SECONDS`: no retry starts later than this after the first try.
    /// Default 30.
    pub ai_retry_budget: Duration,
    /// `AI_BREAKER_THRESHOLD`: consecutive failed calls that open the circuit breaker, after
    /// which calls fail fast. Default 5.
    pub ai_breaker_threshold: u32,
    /// `AI_BREAKER_COOLDOWN_SECONDS`: how long the breaker stays open before one probe call.
    /// Default 30.
    pub ai_breaker_cooldown: Duration,
    /// `AI_FAILURE_HANDOFF`: queue the session for a human when the assistant failed twice in
    /// a row. Default true.
    pub ai_failure_handoff: bool,
    /// `AI_CALLS_PER_MINUTE`: assistant replies one session may ask for per minute. Default 10.
    pub ai_calls_per_minute: u32,
    /// `AI_CALLS_PER_MINUTE_GLOBAL`: assistant replies per minute for all conversations together,
    /// on all instances (a cost ceiling). Default 600.
    pub ai_calls_per_minute_global: u32,
    /// `SESSIONS_PER_IP_PER_HOUR`: sessions one client address may open per hour. Default 100.
    pub sessions_per_ip_per_hour: u32,
    /// `SOCKETS_PER_IP`: sockets one client address may hold open on one instance. Default 50.
    pub sockets_per_ip: u32,
    /// `AI_MAX_REPLY_TOKENS`: cap on the length of one reply, in tokens. Default 1024.
    pub ai_max_reply_tokens: u32,
    /// `AI_GROUNDING_PASSAGES`: knowledge-base passages given to an LLM per reply. Default 3.
    pub ai_grounding_passages: usize,
}

/// A setting that could not be used, naming the variable.
#[derive(Debug, Error, PartialEq, Eq)]
#[error("invalid configuration: {var}: {reason}")]
pub struct ConfigError {
    pub var: &'static str,
    pub reason: String,
}

fn invalid(var: &'static str, reason: impl Into<String>) -> ConfigError {
    ConfigError {
        var,
        reason: reason.into(),
    }
}

impl Settings {
    /// Reads the process environment (after `.env` has been loaded by the caller).
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads settings through `lookup`, so tests can pass a map instead of the environment.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |name: &str| {
            lookup(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };

        let debug = parse_bool("DEBUG", get("DEBUG"), true)?;
        let (secret_key, secret_key_generated) = match get("SECRET_KEY") {
            Some(key) if key.len() >= MIN_SECRET_KEY_BYTES => (Secret::new(key), false),
            Some(_) if !debug => {
                return Err(invalid(
                    "SECRET_KEY",
                    format!("must be at least {MIN_SECRET_KEY_BYTES} bytes when DEBUG=false"),
                ));
            }
            Some(key) => (Secret::new(key), false),
            None if !debug => {
                return Err(invalid(
                    "SECRET_KEY",
                    "is required when DEBUG=false (use at least 32 random bytes, e.g. `openssl rand -hex 32`)",
                ));
            }
            None => (Secret::new(random_key()), true),
        };

        let gemini_api_key = get("GEMINI_API_KEY").map(Secret::new);
        let ai_provider = match get("AI_PROVIDER").as_deref() {
            None if gemini_api_key.is_some() => AiProvider::Gemini,
            None => AiProvider::KnowledgeBase,
            Some("gemini") => AiProvider::Gemini,
            Some("openai") => AiProvider::OpenAi,
            Some("knowledge_base") => AiProvider::KnowledgeBase,
            Some(other) => {
                return Err(invalid(
                    "AI_PROVIDER",
                    format!("`{other}` is not one of gemini, openai, knowledge_base"),
                ));
            }
        };
        if ai_provider == AiProvider::Gemini && gemini_api_key.is_none() {
            return Err(invalid(
                "GEMINI_API_KEY",
                "is required when AI_PROVIDER=gemini",
            ));
        }
        // OpenAI itself always needs a key; local servers (Ollama, vLLM, llama.cpp) need none.
        if ai_provider == AiProvider::OpenAi
            && get("OPENAI_API_KEY").is_none()
            && get("OPENAI_BASE_URL").is_none_or(|url| url.contains("api.openai.com"))
        {
            return Err(invalid(
                "OPENAI_API_KEY",
                "is required for api.openai.com (set OPENAI_BASE_URL for a local server such as Ollama)",
            ));
        }

        let database_url = get("DATABASE_URL").unwrap_or_else(|| "sqlite://chatbot.db".into());
        if !["sqlite:", "postgres://", "postgresql://"]
            .iter()
            .any(|scheme| database_url.starts_with(scheme))
        {
            return Err(invalid(
                "DATABASE_URL",
                "must start with sqlite:, postgres:// or postgresql://",
            ));
        }

        let access_minutes: u64 = parse_number(
            "ACCESS_TOKEN_EXPIRE_MINUTES",
            get("ACCESS_TOKEN_EXPIRE_MINUTES"),
            30,
            1..=1440,
        )?;
        let refresh_days: u64 = parse_number(
            "REFRESH_TOKEN_EXPIRE_DAYS",
            get("REFRESH_TOKEN_EXPIRE_DAYS"),
            7,
            1..=365,
        )?;

        let sqlite_sync = match get("SQLITE_SYNCHRONOUS").as_deref() {
            None | Some("full") => SqliteSync::Full,
            Some("normal") => SqliteSync::Normal,
            Some(other) => {
                return Err(invalid(
                    "SQLITE_SYNCHRONOUS",
                    format!("`{other}` is not one of full, normal"),
                ));
            }
        };
        let client_tokens_required = match get("CLIENT_TOKENS").as_deref() {
            None | Some("optional") => false,
            Some("required") => true,
            Some(other) => {
                return Err(invalid(
                    "CLIENT_TOKENS",
                    format!("`{other}` is not one of optional, required"),
                ));
            }
        };
        let log_json = match get("LOG_FORMAT").as_deref() {
            None | Some("text") => false,
            Some("json") => true,
            Some(other) => {
                return Err(invalid(
                    "LOG_FORMAT",
                    format!("`{other}` is not one of text, json"),
                ));
            }
        };

        Ok(Self {
            host: match get("HOST") {
                None => IpAddr::from([127, 0, 0, 1]),
                Some(raw) => raw
                    .parse()
                    .map_err(|_| invalid("HOST", format!("`{raw}` is not an IP address")))?,
            },
            port: parse_number("PORT", get("PORT"), 8000, 0..=65535)?,
            database_url: Secret::new(database_url),
            sqlite_sync,
            secret_key,
            secret_key_generated,
            access_token_ttl: Duration::from_secs(access_minutes * 60),
            refresh_token_ttl: Duration::from_secs(refresh_days * 86_400),
            cors_origins: parse_origins(get("CORS_ORIGINS"))?,
            debug,
            allow_registration: parse_bool("ALLOW_REGISTRATION", get("ALLOW_REGISTRATION"), false)?,
            client_tokens_required,
            trust_proxy: parse_bool("TRUST_PROXY", get("TRUST_PROXY"), false)?,
            log_json,
            ai_provider,
            gemini_api_key,
            gemini_model: get("GEMINI_MODEL").unwrap_or_else(|| "gemini-3.5-flash-lite".into()),
            gemini_base_url: parse_url(
                "GEMINI_BASE_URL",
                get("GEMINI_BASE_URL"),
                "https://generativelanguage.googleapis.com",
            )?,
            openai_base_url: parse_url(
                "OPENAI_BASE_URL",
                get("OPENAI_BASE_URL"),
                "https://api.openai.com/v1",
            )?,
            openai_api_key: get("OPENAI_API_KEY").map(Secret::new),
            openai_model: get("OPENAI_MODEL").unwrap_or_else(|| "gpt-4o-mini".into()),
            knowledge_base: get("KNOWLEDGE_BASE")
                .map_or_else(|| PathBuf::from("knowledge_base"), PathBuf::from),
            embedding_model: match get("EMBEDDING_MODEL").as_deref() {
                Some("off") => None,
                Some(path) => Some(PathBuf::from(path)),
                None => Some(PathBuf::from(DEFAULT_EMBEDDING_MODEL)),
            },
            system_prompt: lookup("SYSTEM_PROMPT").filter(|p| !p.trim().is_empty()),
            ai_timeout: Duration::from_secs(parse_number(
                "AI_TIMEOUT_SECONDS",
                get("AI_TIMEOUT_SECONDS"),
                20,
                1..=600,
            )?),
            ai_history_messages: parse_number(
                "AI_HISTORY_MESSAGES",
                get("AI_HISTORY_MESSAGES"),
                20,
                1..=200,
            )?,
            ai_max_retries: parse_number("AI_MAX_RETRIES", get("AI_MAX_RETRIES"), 2, 0..=10)?,
            ai_retry_budget: Duration::from_secs(parse_number(
                "AI_RETRY_BUDGET_SECONDS",
                get("AI_RETRY_BUDGET_SECONDS"),
                30,
                0..=600,
            )?),
            ai_breaker_threshold: parse_number(
                "AI_BREAKER_THRESHOLD",
                get("AI_BREAKER_THRESHOLD"),
                5,
                1..=1000,
            )?,
            ai_breaker_cooldown: Duration::from_secs(parse_number(
                "AI_BREAKER_COOLDOWN_SECONDS",
                get("AI_BREAKER_COOLDOWN_SECONDS"),
                30,
                1..=3600,
            )?),
            ai_failure_handoff: parse_bool("AI_FAILURE_HANDOFF", get("AI_FAILURE_HANDOFF"), true)?,
            ai_calls_per_minute: parse_number(
                "AI_CALLS_PER_MINUTE",
                get("AI_CALLS_PER_MINUTE"),
                10,
                1..=10_000,
            )?,
            ai_calls_per_minute_global: parse_number(
                "AI_CALLS_PER_MINUTE_GLOBAL",
                get("AI_CALLS_PER_MINUTE_GLOBAL"),
                600,
                1..=1_000_000,
            )?,
            sessions_per_ip_per_hour: parse_number(
                "SESSIONS_PER_IP_PER_HOUR",
                get("SESSIONS_PER_IP_PER_HOUR"),
                100,
                1..=1_000_000,
            )?,
            sockets_per_ip: parse_number("SOCKETS_PER_IP", get("SOCKETS_PER_IP"), 50, 1..=100_000)?,
            ai_max_reply_tokens: parse_number(
                "AI_MAX_REPLY_TOKENS",
                get("AI_MAX_REPLY_TOKENS"),
                1024,
                16..=65_536,
            )?,
            ai_grounding_passages: parse_number(
                "AI_GROUNDING_PASSAGES",
                get("AI_GROUNDING_PASSAGES"),
                3,
                0..=20,
            )?,
        })
    }

    /// Whether the database is PostgreSQL (else SQLite).
    pub fn uses_postgres(&self) -> bool {
        self.database_url.expose().starts_with("postgres")
    }
}

fn parse_bool(var: &'static str, raw: Option<String>, default: bool) -> Result<bool, ConfigError> {
    match raw.map(|v| v.to_ascii_lowercase()).as_deref() {
        None => Ok(default),
        Some("1" | "true" | "yes" | "on") => Ok(true),
        Some("0" | "false" | "no" | "off") => Ok(false),
        Some(other) => Err(invalid(var, format!("`{other}` is not true or false"))),
    }
}

fn parse_number<T>(
    var: &'static str,
    raw: Option<String>,
    default: T,
    range: std::ops::RangeInclusive<T>,
) -> Result<T, ConfigError>
where
    T: std::str::FromStr + PartialOrd + fmt::Display + Copy,
{
    let Some(raw) = raw else { return Ok(default) };
    match raw.parse::<T>() {
        Ok(n) if range.contains(&n) => Ok(n),
        _ => Err(invalid(
            var,
            format!(
                "`{raw}` is not a whole number from {} to {}",
                range.start(),
                range.end()
            ),
        )),
    }
}

fn parse_url(var: &'static str, raw: Option<String>, default: &str) -> Result<String, ConfigError> {
    let url = raw.unwrap_or_else(|| default.to_owned());
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        return Err(invalid(var, format!("`{url}` is not an http(s) URL")));
    }
    Ok(url.trim_end_matches('/').to_owned())
}

fn parse_origins(raw: Option<String>) -> Result<Vec<String>, ConfigError> {
    let Some(raw) = raw else {
        return Ok(Vec::new());
    };
    let origins: Vec<String> = raw
        .split(',')
        .map(|o| o.trim().trim_end_matches('/').to_owned())
        .filter(|o| !o.is_empty())
        .collect();
    for origin in &origins {
        let valid = origin == "*"
            || ((origin.starts_with("http://") || origin.starts_with("https://"))
                && origin.parse::<axum::http::HeaderValue>().is_ok()
                && origin.matches('/').count() == 2);
        if !valid {
            return Err(invalid(
                "CORS_ORIGINS",
                format!("`{origin}` is not an origin like https://shop.example.com or *"),
            ));
        }
    }
    Ok(origins)
}

fn random_key() -> String {
    use rand::RngCore;
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn settings(vars: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Settings::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn defaults_need_no_configuration() {
        let s = settings(&[]).unwrap();
        assert_eq!(s.host.to_string(), "127.0.0.1");
        assert_eq!(s.port, 8000);
        assert_eq!(s.database_url.expose(), "sqlite://chatbot.db");
        assert!(s.secret_key_generated);
        assert_eq!(s.secret_key.expose().len(), 64);
        assert_eq!(s.access_token_ttl, Duration::from_secs(30 * 60));
        assert_eq!(s.refresh_token_ttl, Duration::from_secs(7 * 86_400));
        assert!(s.debug);
        assert!(!s.allow_registration);
        assert!(s.cors_origins.is_empty());
        assert_eq!(s.ai_provider, AiProvider::KnowledgeBase);
        assert_eq!(s.gemini_model, "gemini-3.5-flash-lite");
        assert!(!s.uses_postgres());
    }

    #[test]
    fn production_requires_a_long_secret_key() {
        let err = settings(&[("DEBUG", "false")]).unwrap_err();
        assert_eq!(err.var, "SECRET_KEY");
        let err = settings(&[("DEBUG", "false"), ("SECRET_KEY", "short")]).unwrap_err();
        assert_eq!(err.var, "SECRET_KEY");
        let key = "k".repeat(32);
        let s = settings(&[("DEBUG", "false"), ("SECRET_KEY", &key)]).unwrap();
        assert!(!s.secret_key_generated);
    }

    #[test]
    fn invalid_values_name_their_variable() {
        for (var, value) in [
            ("PORT", "eighty"),
            ("PORT", "70000"),
            ("HOST", "my host"),
            ("DEBUG", "maybe"),
            ("ALLOW_REGISTRATION", "sure"),
            ("ACCESS_TOKEN_EXPIRE_MINUTES", "0"),
            ("REFRESH_TOKEN_EXPIRE_DAYS", "-1"),
            ("DATABASE_URL", "mysql://x"),
            ("CORS_ORIGINS", "not an origin"),
            ("AI_PROVIDER", "skynet"),
            ("GEMINI_BASE_URL", "ftp://x"),
            ("LOG_FORMAT", "xml"),
            ("AI_MAX_RETRIES", "11"),
            ("AI_CALLS_PER_MINUTE", "0"),
            ("AI_FAILURE_HANDOFF", "perhaps"),
            ("AI_MAX_REPLY_TOKENS", "lots"),
        ] {
            let err = settings(&[(var, value)]).unwrap_err();
            assert_eq!(err.var, var, "{var}={value}");
            assert!(err.to_string().contains(var));
        }
    }

    #[test]
    fn openai_needs_a_key_only_for_openai_itself() {
        let missing = settings(&[("AI_PROVIDER", "openai")]).unwrap_err();
        assert_eq!(missing.var, "OPENAI_API_KEY");
        let ollama = settings(&[
            ("AI_PROVIDER", "openai"),
            ("OPENAI_BASE_URL", "http://127.0.0.1:11434/v1"),
        ])
        .unwrap();
        assert_eq!(ollama.ai_provider, AiProvider::OpenAi);
        assert!(ollama.openai_api_key.is_none());
        let s = settings(&[("AI_PROVIDER", "openai"), ("OPENAI_API_KEY", "sk-x")]).unwrap();
        assert_eq!(s.openai_base_url, "https://api.openai.com/v1");
        assert_eq!(s.ai_max_retries, 2);
        assert!(s.ai_failure_handoff);
    }

    #[test]
    fn gemini_is_chosen_when_its_key_is_set() {
        let s = settings(&[("GEMINI_API_KEY", "abc")]).unwrap();
        assert_eq!(s.ai_provider, AiProvider::Gemini);
        let s = settings(&[("GEMINI_API_KEY", "abc"), ("AI_PROVIDER", "knowledge_base")]).unwrap();
        assert_eq!(s.ai_provider, AiProvider::KnowledgeBase);
        assert_eq!(
            settings(&[("AI_PROVIDER", "gemini")]).unwrap_err().var,
            "GEMINI_API_KEY"
        );
    }

    #[test]
    fn cors_origins_are_parsed() {
        let s = settings(&[(
            "CORS_ORIGINS",
            "https://a.example.com, http://localhost:3000/",
        )])
        .unwrap();
        assert_eq!(
            s.cors_origins,
            ["https://a.example.com", "http://localhost:3000"]
        );
        assert_eq!(
            settings(&[("CORS_ORIGINS", "*")]).unwrap().cors_origins,
            ["*"]
        );
    }

    #[test]
    fn env_example_documents_every_variable_and_parses() {
        let text = include_str!("../.env.example");
        let mut map = HashMap::new();
        for line in text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
        {
            let (key, value) = line.split_once('=').expect("KEY=value");
            map.insert(key.to_owned(), value.to_owned());
        }
        for var in VARIABLES {
            assert!(map.contains_key(*var), ".env.example lacks {var}");
        }
        assert_eq!(
            map.len(),
            VARIABLES.len(),
            "every .env.example entry is a known variable"
        );
        Settings::from_lookup(|k| map.get(k).cloned()).expect(".env.example is valid as it stands");
    }

    #[test]
    fn secrets_are_redacted_in_debug() {
        let s = settings(&[
            ("SECRET_KEY", "super-secret-signing-key-0123456789"),
            ("GEMINI_API_KEY", "gem-key"),
        ])
        .unwrap();
        let shown = format!("{s:?}");
        assert!(!shown.contains("super-secret"));
        assert!(!shown.contains("gem-key"));
    }
}
