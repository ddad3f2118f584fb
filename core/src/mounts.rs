//! Static directories under path prefixes (the admin UI under `/admin/`). A leaf of the crate: the
//! Socket.IO [`Server`](crate::Server) records them (`mount_static`, also after it started listening) and
//! the HTTP front reads them per request, so neither layer has to know the other.

use parking_lot::RwLock;
use std::path::PathBuf;
use std::sync::Arc;

/// Directories served under path prefixes; cheap to clone, every clone is the same list.
#[derive(Debug, Clone, Default)]
pub(crate) struct Mounts(Arc<RwLock<Vec<(String, PathBuf)>>>);

impl Mounts {
    /// Serves `dir` under `prefix` (normalized to `/name/`), replacing an earlier mount of the same prefix.
    pub(crate) fn add(&self, prefix: &str, dir: PathBuf) {
        let mut prefix = prefix.trim_matches('/').to_owned();
        prefix.insert(0, '/');
        if prefix.len() > 1 {
            prefix.push('/');
        }
        let mut mounts = self.0.write();
        mounts.retain(|(p, _)| *p != prefix);
        mounts.push((prefix, dir));
    }

    /// The directory mounted at `path`'s prefix and the path below it, or a redirect for the prefix
    /// without its final `/` (relative links in the served pages need it).
    pub(crate) fn find(&self, path: &str) -> Option<Result<(PathBuf, String), String>> {
        let mounts = self.0.read();
        for (prefix, dir) in mounts.iter() {
            if let Some(rest) = path.strip_prefix(prefix.as_str()) {
                return Some(Ok((dir.clone(), rest.to_owned())));
            }
            if path == prefix.trim_end_matches('/') {
                return Some(Err(prefix.clone()));
            }
        }
        None
    }
}
