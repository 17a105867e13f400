//! Switchboard: a customer-chat backend where an AI assistant answers first and hands the
//! conversation to a human agent when asked or when it cannot help.
//!
//! The binary (`src/main.rs`) only parses the command line; everything lives here so the
//! integration tests can build and serve the real application.

#[macro_use]
pub mod store;

pub mod accounts;
pub mod admin_cli;
pub mod ai;
pub mod app;
pub mod auth;
pub mod chat;
pub mod config;
pub mod domain;
pub mod error;
pub mod kb_cli;
pub mod knowledge;
pub mod limits;
pub mod protocol;
pub mod realtime;
pub mod routes;
pub mod security;
pub mod state;
pub mod telemetry;
pub mod ws;
