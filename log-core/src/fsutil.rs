//! Small filesystem primitives with crash-safe semantics.

use std::fs::File;
use std::io::Write;
use std::path::Path;

use crate::error::{IoContext, Result};

/// Makes a directory's entries (created, renamed, removed files) durable.
pub fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .context(|| format!("sync directory {}", dir.display()))
}

/// Replaces `path` atomically: write a temp file, fsync it, rename, fsync
/// the directory. A crash leaves either the old or the new content.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = path.with_extension("tmp");
    let mut file = File::create(&tmp).context(|| format!("create {}", tmp.display()))?;
    file.write_all(bytes)
        .context(|| format!("write {}", tmp.display()))?;
    file.sync_all()
        .context(|| format!("sync {}", tmp.display()))?;
    std::fs::rename(&tmp, path)
        .context(|| format!("rename {} to {}", tmp.display(), path.display()))?;
    sync_dir(path.parent().unwrap_or(Path::new(".")))
}
