//! Integration tests: the client against a real in-process socketioxide server, once per parser
//! and transport.
//!
//! One test binary (see ARCHITECTURE.md) with a module per concern: `server` builds the server,
//! `exchange` covers connect, acks, binary data and byte counters, `lifecycle` covers heartbeat and
//! closing, `session` the same for [`Session`](tickstorm_bot_client::Session), `swarm` the bots.

mod exchange;
mod lifecycle;
mod server;
mod session;
mod swarm;

/// Expands each listed `async fn name(setup: Setup)` into one `#[tokio::test]` per parser and
/// transport (module `<parser>_<transport>`), so every check runs over the whole matrix.
#[macro_export]
macro_rules! for_each_setup {
    ($($name:ident),* $(,)?) => {
        $crate::for_each_setup!(@module common_websocket, Common, WebSocket; $($name),*);
        $crate::for_each_setup!(@module common_polling, Common, Polling; $($name),*);
        $crate::for_each_setup!(@module msgpack_websocket, MsgPack, WebSocket; $($name),*);
        $crate::for_each_setup!(@module msgpack_polling, MsgPack, Polling; $($name),*);
    };
    (@module $module:ident, $parser:ident, $transport:ident; $($name:ident),*) => {
        mod $module {
            $(
                #[tokio::test]
                async fn $name() {
                    super::$name($crate::server::Setup {
                        parser: tickstorm_bot_client::ParserKind::$parser,
                        transport: tickstorm_bot_client::TransportKind::$transport,
                    })
                    .await
                }
            )*
        }
    };
}
