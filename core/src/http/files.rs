//! Static files: the browser client bundle under the engine path (as the official server serves it, with
//! its ETag and 304 answers) and an optional directory for an application's own pages.

use super::Response;
use bytes::Bytes;
use http::{header, HeaderValue, Method, Request, StatusCode};
use http_body_util::Full;
use std::path::{Component, Path, PathBuf};

/// The files of `socket.io-client`'s `dist/` directory that are served.
const CLIENT_FILES: &[&str] = &[
    "socket.io.js",
    "socket.io.js.map",
    "socket.io.min.js",
    "socket.io.min.js.map",
    "socket.io.esm.min.js",
    "socket.io.esm.min.js.map",
];

/// The browser client bundle, read once from a `socket.io-client/dist` directory.
#[derive(Debug)]
pub struct ClientBundle {
    files: Vec<(&'static str, Bytes)>,
    etag: HeaderValue,
}

impl ClientBundle {
    /// Loads the bundle from `dir` (the `dist` directory of the `socket.io-client` npm package). The ETag
    /// is the package's version, read from `dir/../package.json`, as the official server uses.
    pub fn load(dir: impl AsRef<Path>) -> std::io::Result<ClientBundle> {
        let dir = dir.as_ref();
        let mut files = Vec::with_capacity(CLIENT_FILES.len());
        for name in CLIENT_FILES {
            let data = std::fs::read(dir.join(name))?;
            files.push((*name, Bytes::from(data)));
        }
        let version = std::fs::read_to_string(dir.join("../package.json"))
            .ok()
            .and_then(|text| serde_json::from_str::<serde_json::Value>(&text).ok())
            .and_then(|json| json.get("version")?.as_str().map(str::to_owned))
            .unwrap_or_else(|| {
                // No package.json: any stable fingerprint of the content will do.
                use std::hash::{Hash, Hasher};
                let mut hasher = std::collections::hash_map::DefaultHasher::new();
                files.iter().for_each(|(_, data)| data.hash(&mut hasher));
                format!("{:016x}", hasher.finish())
            });
        let etag = HeaderValue::from_str(&format!("\"{version}\""))
            .unwrap_or_else(|_| HeaderValue::from_static("\"ferrio\""));
        Ok(ClientBundle { files, etag })
    }

    /// Answers a request for `name` (the path after the engine path), or `None` if it is not a bundle file.
    pub(crate) fn serve<B>(&self, name: &str, req: &Request<B>) -> Option<Response> {
        let (name, data) = self.files.iter().find(|(n, _)| *n == name)?;
        if let Some(tag) = req.headers().get(header::IF_NONE_MATCH) {
            let weak = format!("W/{}", self.etag.to_str().unwrap_or(""));
            if tag == self.etag || tag.as_bytes() == weak.as_bytes() {
                let mut response = http::Response::new(Full::new(Bytes::new()));
                *response.status_mut() = StatusCode::NOT_MODIFIED;
                response
                    .headers_mut()
                    .insert(header::ETAG, self.etag.clone());
                return Some(response);
            }
        }
        let content_type = if name.ends_with(".map") {
            "application/json; charset=utf-8"
        } else {
            "application/javascript; charset=utf-8"
        };
        let body = if req.method() == Method::HEAD {
            Bytes::new()
        } else {
            data.clone()
        };
        let mut response = http::Response::new(Full::new(body));
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
        headers.insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static("public, max-age=0"),
        );
        headers.insert(header::ETAG, self.etag.clone());
        Some(response)
    }
}

/// A directory of an application's own static files (`/` serves `index.html`).
#[derive(Debug, Clone)]
pub struct StaticDir {
    root: PathBuf,
}

impl StaticDir {
    /// Serves files below `root`.
    pub fn new(root: impl Into<PathBuf>) -> StaticDir {
        StaticDir { root: root.into() }
    }

    /// Answers a GET or HEAD for `path`, or `None` when there is no such file.
    pub(crate) async fn serve(&self, path: &str, method: &Method) -> Option<Response> {
        if method != Method::GET && method != Method::HEAD {
            return None;
        }
        let relative = path.trim_start_matches('/');
        let relative = if relative.is_empty() || relative.ends_with('/') {
            format!("{relative}index.html")
        } else {
            relative.to_owned()
        };
        // Only plain names: no `..`, no absolute paths, nothing that leaves the root.
        let candidate = Path::new(&relative);
        if !candidate
            .components()
            .all(|c| matches!(c, Component::Normal(_)))
        {
            return None;
        }
        let data = tokio::fs::read(self.root.join(candidate)).await.ok()?;
        let content_type = match candidate.extension().and_then(|e| e.to_str()) {
            Some("html") => "text/html; charset=utf-8",
            Some("js" | "mjs") => "application/javascript; charset=utf-8",
            Some("css") => "text/css; charset=utf-8",
            Some("json" | "map") => "application/json; charset=utf-8",
            Some("svg") => "image/svg+xml",
            Some("png") => "image/png",
            Some("ico") => "image/x-icon",
            _ => "application/octet-stream",
        };
        let body = if method == Method::HEAD {
            Bytes::new()
        } else {
            Bytes::from(data)
        };
        let mut response = http::Response::new(Full::new(body));
        response
            .headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
        Some(response)
    }
}
