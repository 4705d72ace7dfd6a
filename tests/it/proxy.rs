//! A TCP proxy in front of ClickHouse that breaks the first connections on purpose: what a
//! server dying mid-insert looks like to errwatch.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Where a broken connection breaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cut {
    /// After the request started arriving, before any of it reached the server: nothing stored.
    BeforeForwarding,
    /// After the server answered, before the answer reaches the client: the insert is stored,
    /// but the client cannot know.
    AfterServerAnswered,
}

pub struct Proxy {
    address: std::net::SocketAddr,
    cut: Arc<AtomicU32>,
    task: tokio::task::JoinHandle<()>,
}

/// A proxy that can be switched off (every connection refused, open ones cut) and on again:
/// a ClickHouse outage as the client sees it.
pub struct Switch {
    address: std::net::SocketAddr,
    down: tokio::sync::watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl Switch {
    pub async fn start(upstream: &str) -> Switch {
        let upstream = upstream.trim_start_matches("http://").trim_end_matches('/').to_owned();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let (down, watch) = tokio::sync::watch::channel(false);
        let task = tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                if *watch.borrow() {
                    continue;
                }
                let upstream = upstream.clone();
                let mut watch = watch.clone();
                tokio::spawn(async move {
                    let Ok(mut server) = TcpStream::connect(&upstream).await else { return };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                        _ = watch.wait_for(|down| *down) => {}
                    }
                });
            }
        });
        Switch { address, down, task }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.address)
    }

    pub fn set_down(&self, down: bool) {
        self.down.send_replace(down);
    }
}

impl Drop for Switch {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Proxy {
    /// Forwards to `upstream` (an http:// URL); the first `broken` connections are cut.
    pub async fn start(upstream: &str, cut: Cut, broken: u32) -> Proxy {
        let upstream = upstream.trim_start_matches("http://").trim_end_matches('/').to_owned();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let cut_count = Arc::new(AtomicU32::new(0));
        let counter = cut_count.clone();
        let task = tokio::spawn(async move {
            let mut accepted = 0u32;
            while let Ok((client, _)) = listener.accept().await {
                accepted += 1;
                let breaks = accepted <= broken;
                let upstream = upstream.clone();
                let counter = counter.clone();
                tokio::spawn(async move {
                    if breaks {
                        counter.fetch_add(1, Ordering::SeqCst);
                        break_connection(client, &upstream, cut).await;
                    } else if let Ok(server) = TcpStream::connect(&upstream).await {
                        let (mut client, mut server) = (client, server);
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
            }
        });
        Proxy { address, cut: cut_count, task }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.address)
    }

    pub fn cut_connections(&self) -> u32 {
        self.cut.load(Ordering::SeqCst)
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn break_connection(mut client: TcpStream, upstream: &str, cut: Cut) {
    match cut {
        Cut::BeforeForwarding => {
            let mut buffer = [0u8; 1024];
            let _ = client.read(&mut buffer).await;
        }
        Cut::AfterServerAnswered => {
            let Ok(mut server) = TcpStream::connect(upstream).await else { return };
            let (mut client_read, _client_write) = client.split();
            let (mut server_read, mut server_write) = server.split();
            // Forward the whole request; wait for the first bytes of the answer, then hang up
            // on the client without passing them on.
            let forward = async {
                let mut buffer = vec![0u8; 64 * 1024];
                loop {
                    match client_read.read(&mut buffer).await {
                        Ok(0) | Err(_) => break,
                        Ok(read) => {
                            if server_write.write_all(&buffer[..read]).await.is_err() {
                                break;
                            }
                        }
                    }
                }
            };
            let answered = async {
                let mut first = [0u8; 1];
                let _ = server_read.read(&mut first).await;
            };
            tokio::select! {
                () = forward => {}
                () = answered => {}
            }
        }
    }
}
