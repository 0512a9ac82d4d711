//! The session's front door: a loopback address that stays the same while the service
//! behind it is killed and restarted (each start gets a fresh port), so the curl lines
//! a candidate pasted keep working after a crash scenario.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// A TCP forwarder on `127.0.0.1:0` to the service's current address.
pub struct Front {
    addr: SocketAddr,
    target: Arc<Mutex<SocketAddr>>,
    task: JoinHandle<()>,
}

impl Front {
    /// Starts forwarding every connection to `target`.
    pub async fn start(target: SocketAddr) -> std::io::Result<Front> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let target = Arc::new(Mutex::new(target));
        let current = Arc::clone(&target);
        let task = tokio::spawn(async move {
            while let Ok((inbound, _)) = listener.accept().await {
                let to = *current.lock().unwrap_or_else(PoisonError::into_inner);
                tokio::spawn(forward(inbound, to));
            }
        });
        Ok(Front { addr, target, task })
    }

    /// `http://127.0.0.1:PORT`: the service's address for the whole session.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Points new connections at a restarted service. Connections to the old one end
    /// with it, as a client's would in production.
    pub fn retarget(&self, to: SocketAddr) {
        *self.target.lock().unwrap_or_else(PoisonError::into_inner) = to;
    }
}

impl Drop for Front {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn forward(mut inbound: TcpStream, to: SocketAddr) {
    // A service that is down refuses the connection; dropping `inbound` tells the client.
    if let Ok(mut outbound) = TcpStream::connect(to).await {
        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    async fn echo_once(reply: &'static [u8]) -> SocketAddr {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            let mut buf = [0u8; 4];
            s.read_exact(&mut buf).await.unwrap();
            s.write_all(reply).await.unwrap();
        });
        addr
    }

    #[tokio::test]
    async fn forwards_to_whichever_service_is_current() {
        let first = echo_once(b"one").await;
        let front = Front::start(first).await.unwrap();
        let ask = |front: &Front| {
            let addr = front.addr;
            async move {
                let mut s = TcpStream::connect(addr).await.unwrap();
                s.write_all(b"ping").await.unwrap();
                let mut out = Vec::new();
                s.read_to_end(&mut out).await.unwrap();
                out
            }
        };
        assert_eq!(ask(&front).await, b"one");
        front.retarget(echo_once(b"two").await);
        assert_eq!(ask(&front).await, b"two");
    }
}
