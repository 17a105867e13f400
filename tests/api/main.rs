//! The integration suite: every test starts the real server on 127.0.0.1:0 with its own
//! database and talks to it over HTTP.

mod admin;
mod assistant;
mod auth;
mod cli;
mod cluster;
mod docs;
mod fake_ai;
mod health;
mod helpers;
mod language;
mod outage;
mod pages;
mod realtime;
mod schema;
mod security;
mod sessions;
mod socket_input;
mod ws;
