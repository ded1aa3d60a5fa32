//! Roost's integration tests: one binary (link time dominates on small machines), each test
//! starting the real server on `127.0.0.1:0` over a temporary data directory.

mod common;

mod bot_api;
mod bot_management;
mod cli;
mod client_api;
mod durability;
mod hardening;
mod koto;
mod long_polling;
mod quanta;
mod rich_messaging;
mod scale_out;
mod webhooks;
mod wwchat;
