//! Tickstorm server library.
pub mod config;
pub mod sim;
