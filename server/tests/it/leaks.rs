//! Nothing outlives its purpose: 10,000 connect / join / leave-or-drop cycles (some rejoining on
//! a new connection first) end with zero rooms, seats, held seats, connections and admission
//! slots in the server's own counters.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use serde_json::{Value, json};
use tickstorm_shared::protocol::{JoinAck, events};

use crate::support::{TestClient, TestServer};

const CYCLES: usize = 10_000;
const WORKERS: usize = 16;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_cycles_leave_nothing_behind() {
    let server = TestServer::start(|c| {
        // Long enough for case 1's reconnect, handshake and rejoin on a loaded machine (300 ms
        // was missed under the full suite's load: `rejoin_expired`), short enough that held
        // seats expire within the drain bound below.
        c.rejoin_grace = Duration::from_secs(2);
        c.room_idle_timeout = Duration::from_millis(300);
        // One process plays every client here; the per-client limits are not under test.
        c.request_rate = 10_000.0;
    })
    .await;
    let url = Arc::new(server.url.clone());
    let next = Arc::new(AtomicUsize::new(0));
    let rejoined = Arc::new(AtomicUsize::new(0));
    let workers: Vec<_> = (0..WORKERS)
        .map(|w| {
            let (url, next, rejoined) = (url.clone(), next.clone(), rejoined.clone());
            tokio::spawn(async move {
                loop {
                    let n = next.fetch_add(1, Ordering::Relaxed);
                    if n >= CYCLES {
                        break;
                    }
                    let player = TestClient::connect(&url, &format!("w{w}c{n}")).await;
                    let join = player.quick_join().await;
                    match n % 4 {
                        // Leave, then hang up.
                        0 => {
                            let ack: Value = player.ack(events::ROOM_LEAVE, json!({})).await;
                            assert_eq!(ack["ok"], true, "{ack}");
                            player.client.close().await;
                        }
                        // Take the seat back on a new connection, then leave.
                        1 => {
                            player.client.close().await;
                            let again = TestClient::connect(&url, &format!("w{w}c{n}b")).await;
                            let ack: JoinAck = again
                                .ack(events::ROOM_REJOIN, json!({"token": join.rejoin_token}))
                                .await;
                            assert_eq!(ack.player_id, join.player_id);
                            rejoined.fetch_add(1, Ordering::Relaxed);
                            let _: Value = again.ack(events::ROOM_LEAVE, json!({})).await;
                            again.client.close().await;
                        }
                        // Hang up without a word (the seat is held, then expires).
                        2 => player.client.close().await,
                        // Drop the client without closing at all.
                        _ => drop(player),
                    }
                }
            })
        })
        .collect();
    for worker in workers {
        worker.await.expect("worker finished");
    }
    assert_eq!(rejoined.load(Ordering::Relaxed), CYCLES / 4);
    server.assert_drained(Duration::from_secs(20)).await;
    server.stop().await.expect("clean shutdown");
}
