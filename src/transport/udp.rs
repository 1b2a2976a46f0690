//! UDP: worker threads blocking on their own `SO_REUSEPORT` socket (or one shared socket).

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use bytes::BytesMut;
use socket2::{Domain, SockAddr, Socket, Type};

use super::info::ReceiveInfo;
use super::socket::Proto;
use super::{Handler, Transport};

/// Room kept free for one datagram; a larger one is truncated by the kernel and dropped below.
const MAX_DATAGRAM: usize = 65536;
/// Receive buffers are carved from blocks of this size so most messages cost no allocation.
const BLOCK: usize = 4 * MAX_DATAGRAM;
/// How often a blocked worker wakes to notice a shutdown.
const STOP_CHECK: Duration = Duration::from_millis(250);

/// Binds `n` sockets to `addr` (sharing the port picked for the first when `addr` has port 0).
pub(super) fn bind(addr: SocketAddr, n: usize, reuseport: bool) -> io::Result<Vec<Arc<Socket>>> {
    let mut socks: Vec<Arc<Socket>> = Vec::with_capacity(n);
    let mut addr = addr;
    for _ in 0..n.max(1) {
        let s = Socket::new(Domain::for_address(addr), Type::DGRAM, None)?;
        if addr.is_ipv6() {
            s.set_only_v6(true)?;
        }
        if reuseport {
            s.set_reuse_port(true)?;
        }
        // Best effort: the kernel caps it at net.core.rmem_max.
        let _ = s.set_recv_buffer_size(4 << 20);
        s.set_read_timeout(Some(STOP_CHECK))?;
        s.bind(&addr.into())?;
        if let Some(bound) = s.local_addr()?.as_socket() {
            addr = bound;
        }
        socks.push(Arc::new(s));
    }
    Ok(socks)
}

pub(super) fn send(sock: &Socket, to: SocketAddr, data: &[u8]) -> io::Result<()> {
    sock.send_to(data, &SockAddr::from(to)).map(|_| ())
}

pub(super) fn spawn_worker(
    transport: Arc<Transport>,
    handler: Arc<dyn Handler>,
    socket_id: usize,
    worker: usize,
    sock: Arc<Socket>,
) -> JoinHandle<()> {
    std::thread::Builder::new()
        .name(format!("osips-udp-{socket_id}-{worker}"))
        .spawn(move || receive_loop(&transport, &*handler, socket_id, &sock))
        .expect("spawn UDP worker")
}

fn receive_loop(transport: &Transport, handler: &dyn Handler, socket_id: usize, sock: &Socket) {
    let local = transport.listeners[socket_id].def.addr;
    let mut buf = BytesMut::with_capacity(BLOCK);
    while !transport.stopping() {
        if buf.capacity() < MAX_DATAGRAM {
            buf.reserve(BLOCK);
        }
        let (n, from) = match sock.recv_from(buf.spare_capacity_mut()) {
            Ok(r) => r,
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                continue;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => {
                // ICMP errors from earlier sends surface here on Linux; they do not stop the worker.
                tracing::debug!("udp recv on {local}: {e}");
                continue;
            }
        };
        let Some(src) = from.as_socket() else {
            continue;
        };
        // Oversized messages still go to the handler, whose parser answers them 513.
        if n == 0 || n >= MAX_DATAGRAM {
            continue;
        }
        // SAFETY: recv_from initialised the first `n` bytes of the spare capacity.
        unsafe { buf.set_len(n) };
        let data = buf.split().freeze();
        if is_keepalive(&data) {
            continue;
        }
        let info = ReceiveInfo {
            proto: Proto::Udp,
            src,
            local,
            socket: socket_id,
            conn: None,
            force_rport: false,
        };
        handler.on_message(data, &info);
    }
}

/// CRLF keep-alives and padding sent by clients over UDP carry no message.
fn is_keepalive(data: &[u8]) -> bool {
    data.iter()
        .all(|&b| matches!(b, b'\r' | b'\n' | b' ' | b'\0'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binds_reuseport_sockets_on_one_port() {
        let socks = bind("127.0.0.1:0".parse().unwrap(), 3, true).unwrap();
        let ports: Vec<u16> = socks
            .iter()
            .map(|s| s.local_addr().unwrap().as_socket().unwrap().port())
            .collect();
        assert_eq!(ports.len(), 3);
        assert!(ports.iter().all(|&p| p == ports[0] && p != 0));
    }

    #[test]
    fn binds_ipv6_loopback() {
        let socks = bind("[::1]:0".parse().unwrap(), 1, false).unwrap();
        assert!(
            socks[0]
                .local_addr()
                .unwrap()
                .as_socket()
                .unwrap()
                .is_ipv6()
        );
    }

    #[test]
    fn keepalives_are_recognised() {
        assert!(is_keepalive(b"\r\n\r\n"));
        assert!(is_keepalive(b"\0\0\0\0"));
        assert!(!is_keepalive(b"OPTIONS sip:a SIP/2.0\r\n\r\n"));
    }
}
