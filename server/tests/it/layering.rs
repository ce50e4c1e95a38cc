//! The layers depend one way: network edge (`net`) -> `cluster` -> `room` -> simulation
//! (`tickstorm-sim`). A source file that names a layer above its own fails here, with the line.

use std::path::{Path, PathBuf};

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).expect("readable source dir") {
            let path = entry.expect("dir entry").path();
            if path.is_dir() {
                pending.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                files.push(path);
            }
        }
    }
    files
}

/// Every `(file, line number, line)` under `dir` that mentions one of `forbidden`.
fn offenders(dir: &Path, forbidden: &[&str]) -> Vec<String> {
    let files = rust_files(dir);
    assert!(!files.is_empty(), "no sources under {}", dir.display());
    let mut found = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).expect("readable source");
        for (n, line) in text.lines().enumerate() {
            if forbidden.iter().any(|f| line.contains(f)) {
                found.push(format!("{}:{}: {}", file.display(), n + 1, line.trim()));
            }
        }
    }
    found
}

fn server_src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

#[test]
fn rooms_name_neither_the_network_nor_the_cluster() {
    let found = offenders(
        &server_src().join("room"),
        &[
            "crate::net",
            "crate::cluster",
            "super::super::net",
            "socketioxide::SocketIo",
        ],
    );
    assert!(
        found.is_empty(),
        "room/ reaches up a layer:\n{}",
        found.join("\n")
    );
}

#[test]
fn the_cluster_does_not_name_the_network_edge() {
    let found = offenders(&server_src().join("cluster"), &["crate::net"]);
    assert!(
        found.is_empty(),
        "cluster/ reaches up a layer:\n{}",
        found.join("\n")
    );
}

#[test]
fn the_simulation_knows_no_server_network_or_clock() {
    let sim = Path::new(env!("CARGO_MANIFEST_DIR")).join("../sim");
    let found = offenders(
        &sim.join("src"),
        &[
            "tickstorm_server",
            "socketioxide",
            "tokio",
            "SystemTime",
            "Instant::now",
            "thread_rng",
        ],
    );
    assert!(
        found.is_empty(),
        "the simulation reaches out:\n{}",
        found.join("\n")
    );
    let manifest = std::fs::read_to_string(sim.join("Cargo.toml")).expect("sim manifest");
    for dependency in ["tickstorm-server", "socketioxide", "tokio"] {
        assert!(
            !manifest.contains(dependency),
            "tickstorm-sim must not depend on {dependency}"
        );
    }
}

#[test]
fn the_check_would_catch_an_offender() {
    // The scan itself: a directory with a file that names the network is reported.
    let dir = std::env::temp_dir().join(format!("tickstorm-layering-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    std::fs::write(dir.join("bad.rs"), "use crate::net::Io;\n").expect("write");
    let found = offenders(&dir, &["crate::net"]);
    std::fs::remove_dir_all(&dir).ok();
    assert_eq!(found.len(), 1, "{found:?}");
}
