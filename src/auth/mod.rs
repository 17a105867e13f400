//! Agent authentication: argon2id password hashing, JWT access and refresh tokens, and the
//! [`AuthAdmin`] extractor that makes a handler authenticated by its signature.

pub mod extractor;
pub mod password;
pub mod tokens;

pub use extractor::{AuthAdmin, MaybeAuthAdmin};
pub use tokens::{TokenKind, TokenPair, Tokens};
