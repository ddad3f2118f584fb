//! The floor: a bare tokio-tungstenite server with no Socket.IO engine at all — just enough of the
//! Engine.IO/Socket.IO handshake for the load generator, then `echo` answered to the sender and `bcast`
//! written to every connection (one task per connection, an unbounded channel each). It measures what
//! the kernel and the WebSocket library cost on this machine, the part no engine can remove.

use futures_util::{SinkExt, StreamExt};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};

type Peers = Arc<Mutex<HashMap<u64, mpsc::UnboundedSender<Utf8Bytes>>>>;

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::io::Result<()> {
    let port: u16 = std::env::args()
        .skip_while(|a| a != "--port")
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    let listener = TcpListener::bind(("127.0.0.1", port)).await?;
    println!("LISTENING {}", listener.local_addr()?.port());
    let peers: Peers = Arc::default();
    let ids = Arc::new(AtomicU64::new(0));
    loop {
        let (stream, _) = listener.accept().await?;
        let _ = stream.set_nodelay(true);
        let peers = peers.clone();
        let id = ids.fetch_add(1, Ordering::Relaxed);
        tokio::spawn(async move {
            let Ok(mut ws) = tokio_tungstenite::accept_async(stream).await else {
                return;
            };
            let open = "0{\"sid\":\"floorfloorfloorfloor\",\"upgrades\":[],\"pingInterval\":25000,\"pingTimeout\":20000,\"maxPayload\":1000000}";
            if ws.send(Message::text(open)).await.is_err() {
                return;
            }
            let (tx, mut rx) = mpsc::unbounded_channel::<Utf8Bytes>();
            peers.lock().unwrap().insert(id, tx);
            loop {
                tokio::select! {
                    out = rx.recv() => {
                        let Some(text) = out else { break };
                        if ws.send(Message::Text(text)).await.is_err() { break; }
                    }
                    incoming = ws.next() => {
                        let Some(Ok(Message::Text(text))) = incoming else { break };
                        let s = text.as_str();
                        if s == "40" {
                            let _ = ws.send(Message::text("40{\"sid\":\"floorfloorfloorfloor\"}")).await;
                        } else if s.starts_with("42[\"echo\"") {
                            let _ = ws.send(Message::Text(text)).await;
                        } else if s.starts_with("42[\"bcast\"") {
                            for peer in peers.lock().unwrap().values() {
                                let _ = peer.send(text.clone());
                            }
                        }
                    }
                }
            }
            peers.lock().unwrap().remove(&id);
        });
    }
}
