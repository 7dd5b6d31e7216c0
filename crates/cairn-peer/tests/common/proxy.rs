//! A TCP relay in front of an orderer, for fault injection: TLS passes
//! through it untouched, and it can be frozen (bytes stop flowing, the
//! connections stay open), which is what an orderer that is alive but
//! stalled looks like to a peer.

use std::sync::Arc;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::runtime::Runtime;
use tokio::sync::watch;

/// A running relay.
pub struct Proxy {
    /// The port it listens on (127.0.0.1).
    pub port: u16,
    frozen: Arc<watch::Sender<bool>>,
}

impl Proxy {
    /// Relays 127.0.0.1:`port` (chosen now) to 127.0.0.1:`target`, on `rt`.
    pub fn start(rt: &Runtime, target: u16) -> Proxy {
        let listener = rt
            .block_on(TcpListener::bind("127.0.0.1:0"))
            .expect("bind the relay");
        let port = listener.local_addr().expect("relay address").port();
        let frozen = Arc::new(watch::channel(false).0);
        let state = frozen.clone();
        rt.spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let frozen = state.subscribe();
                tokio::spawn(async move {
                    // A dead orderer: the client sees its connection closed.
                    let Ok(upstream) = TcpStream::connect(("127.0.0.1", target)).await else {
                        return;
                    };
                    let (cr, cw) = client.into_split();
                    let (ur, uw) = upstream.into_split();
                    tokio::join!(pipe(cr, uw, frozen.clone()), pipe(ur, cw, frozen));
                });
            }
        });
        Proxy { port, frozen }
    }

    /// Stops (or resumes) every byte through the relay.
    pub fn freeze(&self, on: bool) {
        self.frozen.send_replace(on);
    }
}

async fn pipe(mut from: OwnedReadHalf, mut to: OwnedWriteHalf, mut frozen: watch::Receiver<bool>) {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        while *frozen.borrow_and_update() {
            if frozen.changed().await.is_err() {
                return;
            }
        }
        if to.write_all(&buf[..n]).await.is_err() {
            break;
        }
    }
    let _ = to.shutdown().await;
}
