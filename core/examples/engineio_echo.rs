//! A raw Engine.IO echo server on the Engine.IO layer alone (no Socket.IO), as the `engine.io` package
//! is used in Node: every text or binary message is sent back to its session.

use ferrio::engineio::{CloseReason, Engine, EngineConfig, EngineHandler, Message, Session};
use std::sync::Arc;

/// Sends every message back to the session it came from.
pub struct Echo;

impl EngineHandler for Echo {
    type Data = ();

    fn on_open(&self, session: &Arc<Session<Self>>) {
        eprintln!("open {}", session.sid());
    }

    fn on_message(&self, session: &Arc<Session<Self>>, message: Message<'_>) {
        let _ = match message {
            Message::Text(text) => session.send_text(text),
            Message::Binary(data) => session.send_binary(data),
        };
    }

    fn on_close(&self, session: &Arc<Session<Self>>, reason: CloseReason) {
        eprintln!("close {} ({reason})", session.sid());
    }
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let port: u16 = std::env::args()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    let engine = Engine::new(EngineConfig::default(), Echo)?;
    let listener = ferrio::http::listen(engine, ("127.0.0.1", port)).await?;
    println!("LISTENING {}", listener.local_addr().port());
    tokio::signal::ctrl_c().await?;
    listener.shutdown(std::time::Duration::from_secs(1)).await;
    Ok(())
}
