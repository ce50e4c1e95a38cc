//! Segment files: a recording is `STEM.0.tsrec`, `STEM.1.tsrec`, ... in one directory.

use std::path::{Path, PathBuf};

use bytes::Bytes;

use super::format::EXTENSION;

/// The path of segment `segment` of the recording `stem` (a path without the `.N.tsrec`).
pub fn segment_path(stem: &Path, segment: u32) -> PathBuf {
    let mut name = stem.as_os_str().to_owned();
    name.push(format!(".{segment}.{EXTENSION}"));
    PathBuf::from(name)
}

/// The stem of a segment's path (`dir/ROOM-MS.3.tsrec` -> `dir/ROOM-MS`), or the path itself
/// when it is not named like a segment.
fn stem_of(path: &Path) -> PathBuf {
    let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
        return path.to_owned();
    };
    let Some(rest) = name.strip_suffix(&format!(".{EXTENSION}")) else {
        return path.to_owned();
    };
    match rest.rsplit_once('.') {
        Some((stem, n)) if n.parse::<u32>().is_ok() => path.with_file_name(stem),
        _ => path.to_owned(),
    }
}

/// Reads every segment of the recording that `path` names (any of its segment files, or its
/// stem), in order; a file that is not named like a segment is read as a whole recording.
pub fn load_segments(path: &Path) -> std::io::Result<Vec<(PathBuf, Bytes)>> {
    let stem = stem_of(path);
    if stem == path && path.is_file() {
        return Ok(vec![(path.to_owned(), Bytes::from(std::fs::read(path)?))]);
    }
    let mut segments = Vec::new();
    for n in 0.. {
        let segment = segment_path(&stem, n);
        match std::fs::read(&segment) {
            Ok(bytes) => segments.push((segment, Bytes::from(bytes))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && n > 0 => break,
            Err(e) => {
                return Err(std::io::Error::new(
                    e.kind(),
                    format!("{}: {e}", segment.display()),
                ));
            }
        }
    }
    Ok(segments)
}
