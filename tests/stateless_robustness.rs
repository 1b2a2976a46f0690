//! No input makes the core panic: mutated real requests and responses, and random bytes, go
//! through the whole receive path (parse, 4xx replies, forwarding, response routing) over UDP and
//! a stream connection id.

use std::net::UdpSocket;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use bytes::Bytes;
use osips::core::{Action, Core};
use osips::transport::{Destination, Proto, ReceiveInfo, SocketDef, Transport, TransportConfig};
use proptest::prelude::*;

const INVITE: &str = "INVITE sip:bob@127.0.0.1:5060;transport=udp SIP/2.0\r\n\
    Via: SIP/2.0/UDP 127.0.0.1:5070;rport;branch=z9hG4bK776asdhds, SIP/2.0/TCP [::1]:5071;alias;branch=z9hG4bKx\r\n\
    Max-Forwards: 70\r\nTo: Bob <sip:bob@127.0.0.1>\r\nFrom: Alice <sip:alice@127.0.0.1>;tag=1928301774\r\n\
    Call-ID: a84b4c76e66710@127.0.0.1\r\nCSeq: 314159 INVITE\r\nContact: <sip:alice@127.0.0.1:5070>\r\n\
    Route: <sip:127.0.0.1;lr>\r\nProxy-Require: foo\r\nContent-Type: application/sdp\r\nContent-Length: 4\r\n\r\nv=0\n";

fn response(our_port: u16) -> String {
    format!(
        "SIP/2.0 180 Ringing\r\nVia: SIP/2.0/UDP 127.0.0.1:{our_port};branch=z9hG4bKsl0123456789abcdef.01234567\r\n\
         v: SIP/2.0/UDP 127.0.0.1:5070;received=127.0.0.1;rport=5070;branch=z9hG4bK776asdhds\r\n\
         To: Bob <sip:bob@127.0.0.1>;tag=a6c85cf\r\nFrom: Alice <sip:alice@127.0.0.1>;tag=1928301774\r\n\
         Call-ID: a84b4c76e66710@127.0.0.1\r\nCSeq: 314159 INVITE\r\nContent-Length: 0\r\n\r\n"
    )
}

struct Rig {
    core: Arc<Core>,
    sink: UdpSocket,
    udp: ReceiveInfo,
    stream: ReceiveInfo,
}

fn rig() -> Rig {
    let sink = UdpSocket::bind("127.0.0.1:0").unwrap();
    sink.set_nonblocking(true).unwrap();
    let to = Destination::new(Proto::Udp, sink.local_addr().unwrap());
    let cfg = TransportConfig {
        sockets: vec!["udp:127.0.0.1:0".parse::<SocketDef>().unwrap()],
        udp_workers: 1,
        ..TransportConfig::default()
    };
    // The core is driven directly (not started): only its sends use the socket.
    let t = Transport::bind(cfg).unwrap();
    let local = t.sockets()[0].def.addr;
    let core = Core::new(
        t,
        Box::new(move |_: &mut osips::sip::Msg, _: &ReceiveInfo| Action::Forward(to.clone())),
    );
    let src = sink.local_addr().unwrap();
    let udp = ReceiveInfo {
        proto: Proto::Udp,
        src,
        local,
        socket: 0,
        conn: None,
        force_rport: false,
    };
    let stream = ReceiveInfo {
        proto: Proto::Tcp,
        conn: Some(42),
        force_rport: false,
        ..udp.clone()
    };
    Rig {
        core,
        sink,
        udp,
        stream,
    }
}

fn drain(s: &UdpSocket) {
    let mut buf = [0u8; 65536];
    while s.recv_from(&mut buf).is_ok() {}
}

fn mutate(base: &[u8], edits: &[(usize, u8, u8)], cut: usize) -> Vec<u8> {
    let mut m = base.to_vec();
    for &(pos, op, byte) in edits {
        if m.is_empty() {
            break;
        }
        let at = pos % m.len();
        match op % 4 {
            0 => m[at] = byte,
            1 => m.insert(at, byte),
            2 => {
                m.remove(at);
            }
            _ => m.insert(
                at,
                [b',', b';', b'\r', b'\n', b':', b' ', b'<', b'"'][byte as usize % 8],
            ),
        }
    }
    m.truncate(m.len().saturating_sub(cut));
    m
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn mutated_messages_never_panic(
        edits in proptest::collection::vec((any::<usize>(), any::<u8>(), any::<u8>()), 0..12),
        cut in 0usize..40,
        which in 0u8..3,
    ) {
        let r = rig();
        let base = match which {
            0 => INVITE.to_string(),
            1 => response(r.udp.local.port()),
            _ => INVITE.replace("INVITE sip", "ACK sip").replace("314159 INVITE", "314159 ACK"),
        };
        let m = Bytes::from(mutate(base.as_bytes(), &edits, cut));
        r.core.receive(m.clone(), &r.udp);
        r.core.receive(m, &r.stream);
        drain(&r.sink);
    }

    #[test]
    fn random_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..600)) {
        let r = rig();
        r.core.receive(Bytes::from(data), &r.udp);
        drain(&r.sink);
    }
}

#[test]
fn the_unmutated_messages_go_through() {
    let r = rig();
    r.core.receive(Bytes::from(INVITE), &r.udp);
    r.core
        .receive(Bytes::from(response(r.udp.local.port())), &r.udp);
    let s = r.core.stats();
    assert_eq!(s.forwarded_requests.load(Ordering::Relaxed), 1);
    assert_eq!(s.forwarded_responses.load(Ordering::Relaxed), 1);
    assert_eq!(s.malformed.load(Ordering::Relaxed), 0);
}
