//! The table of open stream connections, found by id or by peer address (including RFC 5923 aliases).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use parking_lot::RwLock;
use tokio::sync::mpsc::UnboundedSender;

use super::info::{ConnId, SocketId};
use super::socket::Proto;

/// One open (or opening) stream connection; messages queued on `tx` are written in order.
#[derive(Debug)]
pub struct Conn {
    pub id: ConnId,
    pub proto: Proto,
    pub peer: SocketAddr,
    pub socket: SocketId,
    tx: UnboundedSender<Bytes>,
}

impl Conn {
    /// Queues `data` for writing; false when the connection has closed.
    pub fn send(&self, data: Bytes) -> bool {
        self.tx.send(data).is_ok()
    }
}

/// Open connections by id and by `(proto, peer address)`.
#[derive(Default)]
pub struct ConnTable {
    by_id: RwLock<HashMap<ConnId, Arc<Conn>>>,
    by_addr: RwLock<HashMap<(Proto, SocketAddr), ConnId>>,
    next_id: AtomicU64,
}

impl ConnTable {
    /// Registers a new connection to `peer`, reachable by id and by address.
    pub fn insert(
        &self,
        proto: Proto,
        peer: SocketAddr,
        socket: SocketId,
        tx: UnboundedSender<Bytes>,
    ) -> Arc<Conn> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed) + 1;
        let conn = Arc::new(Conn {
            id,
            proto,
            peer,
            socket,
            tx,
        });
        self.by_id.write().insert(id, conn.clone());
        self.by_addr.write().insert((proto, peer), id);
        conn
    }

    pub fn get(&self, id: ConnId) -> Option<Arc<Conn>> {
        self.by_id.read().get(&id).cloned()
    }

    /// The connection to `addr` over `proto`, by peer address or alias.
    pub fn find(&self, proto: Proto, addr: SocketAddr) -> Option<Arc<Conn>> {
        let id = *self.by_addr.read().get(&(proto, addr))?;
        self.get(id)
    }

    /// Makes `addr` reach connection `id` too (RFC 5923 `alias`: the peer's Via sent-by).
    pub fn add_alias(&self, id: ConnId, addr: SocketAddr) -> bool {
        let Some(conn) = self.get(id) else {
            return false;
        };
        self.by_addr.write().insert((conn.proto, addr), id);
        true
    }

    /// Forgets a closed connection and every address that led to it.
    pub fn remove(&self, id: ConnId) {
        if self.by_id.write().remove(&id).is_some() {
            self.by_addr.write().retain(|_, v| *v != id);
        }
    }

    pub fn len(&self) -> usize {
        self.by_id.read().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn find_by_id_address_and_alias() {
        let t = ConnTable::default();
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let peer: SocketAddr = "127.0.0.1:40000".parse().unwrap();
        let c = t.insert(Proto::Tcp, peer, 0, tx);
        assert_eq!(t.get(c.id).unwrap().peer, peer);
        assert_eq!(t.find(Proto::Tcp, peer).unwrap().id, c.id);
        assert!(t.find(Proto::Tls, peer).is_none());
        let alias: SocketAddr = "127.0.0.1:5060".parse().unwrap();
        assert!(t.add_alias(c.id, alias));
        assert_eq!(t.find(Proto::Tcp, alias).unwrap().id, c.id);
        assert!(c.send(Bytes::from_static(b"x")));
        assert_eq!(rx.try_recv().unwrap(), Bytes::from_static(b"x"));
        t.remove(c.id);
        assert!(t.find(Proto::Tcp, alias).is_none());
        assert!(t.get(c.id).is_none());
        assert!(t.is_empty());
        assert!(!t.add_alias(c.id, alias));
    }

    #[test]
    fn ids_are_never_reused() {
        let t = ConnTable::default();
        let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
        let peer: SocketAddr = "[::1]:40000".parse().unwrap();
        let a = t.insert(Proto::Ws, peer, 0, tx.clone());
        t.remove(a.id);
        let b = t.insert(Proto::Ws, peer, 0, tx);
        assert_ne!(a.id, b.id);
    }
}
