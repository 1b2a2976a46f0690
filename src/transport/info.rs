//! What the transport tells the handler about a received message, and where a message is sent.

use std::net::SocketAddr;

use super::socket::Proto;

/// Identifies a stream connection (TCP, TLS, WS, WSS) for its whole life; never reused.
pub type ConnId = u64;

/// Index of a listening socket in [`super::Transport::sockets`].
pub type SocketId = usize;

/// Where a message came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReceiveInfo {
    pub proto: Proto,
    /// The peer's address (source IP and port of the datagram or connection).
    pub src: SocketAddr,
    /// Our address the message arrived on.
    pub local: SocketAddr,
    /// The listening socket the message arrived on (for an outbound connection: the one it was opened from).
    pub socket: SocketId,
    /// The connection, on stream transports.
    pub conn: Option<ConnId>,
    /// Answer to the source port as if the top Via had `;rport` (the script's `force_rport()`).
    pub force_rport: bool,
}

impl ReceiveInfo {
    /// A datagram from `src` received on `local` (listening socket `socket`).
    pub fn udp(src: SocketAddr, local: SocketAddr, socket: SocketId) -> ReceiveInfo {
        ReceiveInfo {
            proto: Proto::Udp,
            src,
            local,
            socket,
            conn: None,
            force_rport: false,
        }
    }
}

/// Where to send a message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Destination {
    pub proto: Proto,
    pub addr: SocketAddr,
    /// Send on this connection when it is still open (stream transports).
    pub conn: Option<ConnId>,
    /// Send from this listening socket instead of the one picked by protocol and address family.
    pub socket: Option<SocketId>,
}

impl Destination {
    pub fn new(proto: Proto, addr: SocketAddr) -> Self {
        Destination {
            proto,
            addr,
            conn: None,
            socket: None,
        }
    }

    /// Back to the peer a message came from, on the same socket or connection.
    pub fn reply_to(info: &ReceiveInfo) -> Self {
        Destination {
            proto: info.proto,
            addr: info.src,
            conn: info.conn,
            socket: Some(info.socket),
        }
    }
}
