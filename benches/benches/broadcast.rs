//! `net/broadcast/N`: the cost, on the server, of one snapshot fan-out through socketioxide to a
//! room of N real WebSocket clients on loopback: `io.of("/game").to(room).emit("snapshot", &bytes)`,
//! which frames the packet once and queues it on every member's connection. The clients (our
//! Rust client) read everything in the background so queues never fill; the time measured is the
//! server-side emit call, not the kernel's `sendto` that the writer tasks do afterwards.

use std::time::Duration;

use bytes::Bytes;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use serde_json::json;
use socketioxide::SocketIo;
use socketioxide::extract::SocketRef;
use tickstorm_bot_client::{Client, ClientConfig};

const ROOM: &str = "bench-room";

async fn start_server() -> (SocketIo, String) {
    let (layer, io) = SocketIo::builder().max_buffer_size(4096).build_layer();
    io.ns("/game", async |socket: SocketRef| socket.join(ROOM));
    let app = axum::Router::new().layer(layer);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind loopback");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(async move { axum::serve(listener, app).await });
    (io, url)
}

fn broadcast(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let (io, url) = runtime.block_on(start_server());
    let snapshot = Bytes::from(vec![0x95u8; 660]); // the size of an 8-player snapshot
    let mut group = c.benchmark_group("net/broadcast");
    let mut clients = Vec::new();
    for n in [8usize, 64, 512] {
        runtime.block_on(async {
            while clients.len() < n {
                let config =
                    ClientConfig::new(url.clone(), "/game").with_auth(json!({ "name": "b" }));
                let (client, mut events) = Client::connect(config).await.expect("connect");
                // Drain events so the client's socket keeps reading.
                tokio::spawn(async move { while events.recv().await.is_some() {} });
                clients.push(client);
            }
            // Wait until every client is in the room.
            while io
                .of("/game")
                .map(|ns| ns.to(ROOM).sockets().len())
                .unwrap_or(0)
                < n
            {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        });
        let namespace = io.of("/game").expect("namespace");
        group.throughput(Throughput::Elements(n as u64));
        group.bench_function(BenchmarkId::from_parameter(n), |b| {
            b.iter(|| {
                runtime
                    .block_on(namespace.clone().to(ROOM).emit("snapshot", &snapshot))
                    .is_ok()
            })
        });
    }
    group.finish();
    runtime.block_on(async {
        for client in &clients {
            client.close().await;
        }
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default().measurement_time(Duration::from_secs(3));
    targets = broadcast
}
criterion_main!(benches);
