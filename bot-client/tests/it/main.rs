//! Integration tests: the client against a real in-process socketioxide server, once per parser.
//!
//! One test binary (see ARCHITECTURE.md) with a module per concern: `server` builds the server,
//! `exchange` covers connect, acks and binary data, `lifecycle` covers heartbeat and closing.

mod exchange;
mod lifecycle;
mod server;

/// Expands each listed `async fn name(parser: ParserKind)` into one `#[tokio::test]` per parser.
#[macro_export]
macro_rules! for_both_parsers {
    ($($name:ident),* $(,)?) => {
        mod common_parser {
            $(
                #[tokio::test]
                async fn $name() {
                    super::$name(tickstorm_bot_client::ParserKind::Common).await
                }
            )*
        }
        mod msgpack_parser {
            $(
                #[tokio::test]
                async fn $name() {
                    super::$name(tickstorm_bot_client::ParserKind::MsgPack).await
                }
            )*
        }
    };
}
