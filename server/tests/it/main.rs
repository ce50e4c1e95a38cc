//! Integration tests of the Tickstorm server: real sockets on 127.0.0.1, real clients (the
//! project's Rust Socket.IO client, the official JavaScript `socket.io-client`, our own browser
//! client in headless Chromium).

mod admin;
mod auth;
mod bad_input;
mod browser;
mod chaos;
mod cluster;
mod cors;
mod deltas;
mod engineio;
mod faults;
mod game;
mod games;
mod http;
mod http_api;
mod js_client;
mod js_deltas;
mod layering;
mod leaks;
mod lifecycle;
mod limits;
mod nginx;
mod procs;
mod recording;
mod replay_viewer;
mod shutdown;
mod slow_consumer;
mod slowloris;
mod social;
mod support;
