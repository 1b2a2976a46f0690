//! tm against plain UDP sockets, in process: Timer E / F with the local 408, 100 Trying, the
//! hop-by-hop ACK of a non-2xx, Timer G until the ACK and absorbed retransmissions.

use std::net::UdpSocket;
use std::time::{Duration, Instant};

use crate::runtime::{Running, Runtime};

fn start(peer: u16, extra: &str) -> (Running, u16) {
    let script = format!(
        "socket = udp:127.0.0.1:0\nudp_workers = 1\nloadmodule \"tm.so\"\n\
         modparam(\"tm\", \"T1_timer\", 100)\nmodparam(\"tm\", \"T2_timer\", 400)\n{extra}\n\
         route {{ $du = \"sip:127.0.0.1:{peer}\"; t_relay(); }}\n"
    );
    let running = Runtime::load_str("tm.cfg", &script)
        .unwrap_or_else(|e| panic!("{e}"))
        .start()
        .unwrap();
    let port = running.sockets()[0].addr.port();
    (running, port)
}

fn sock() -> UdpSocket {
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s
}

fn recv(s: &UdpSocket) -> String {
    let mut buf = [0u8; 8192];
    let n = s.recv(&mut buf).expect("a message");
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

fn request(method: &str, client: &UdpSocket, call: &str) -> String {
    let me = client.local_addr().unwrap();
    format!(
        "{method} sip:bob@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP {me};branch=z9hG4bK{call}\r\n\
         From: <sip:a@127.0.0.1>;tag=f{call}\r\nTo: <sip:bob@127.0.0.1>\r\nCall-ID: {call}\r\n\
         CSeq: 1 {method}\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
    )
}

/// A reply from the peer to the request it received (its Vias copied).
fn answer(req: &str, status: &str) -> String {
    let mut out = format!("SIP/2.0 {status}\r\n");
    for l in req.split("\r\n").skip(1).take_while(|l| !l.is_empty()) {
        let name = l.split(':').next().unwrap_or("").to_ascii_lowercase();
        match name.as_str() {
            "via" | "from" | "call-id" | "cseq" => out.push_str(&format!("{l}\r\n")),
            "to" => out.push_str(&format!("{l};tag=peer\r\n")),
            _ => {}
        }
    }
    out + "Content-Length: 0\r\n\r\n"
}

fn first_line(m: &str) -> &str {
    m.split("\r\n").next().unwrap_or("")
}

fn top_branch(m: &str) -> String {
    let via = m.split("\r\n").find(|l| l.starts_with("Via:")).unwrap();
    via.split("branch=")
        .nth(1)
        .unwrap()
        .split([';', ','])
        .next()
        .unwrap()
        .to_string()
}

#[test]
fn silent_next_hop_gets_retransmissions_then_the_caller_a_local_408() {
    let peer = sock();
    let client = sock();
    let (running, port) = start(
        peer.local_addr().unwrap().port(),
        "modparam(\"tm\", \"fr_timeout\", 1)",
    );
    let req = request("OPTIONS", &client, "e1");
    client.send_to(req.as_bytes(), ("127.0.0.1", port)).unwrap();
    let start = Instant::now();
    let first = recv(&peer);
    let branch = top_branch(&first);
    assert!(branch.starts_with("z9hG4bKtm"), "{first}");
    // Timer E: 100, 200, 400, 400 ms... until Timer F (1 s).
    let mut copies = 1;
    peer.set_read_timeout(Some(Duration::from_millis(1500)))
        .unwrap();
    while let Ok(n) = {
        let mut buf = [0u8; 8192];
        peer.recv(&mut buf)
            .map(|n| String::from_utf8_lossy(&buf[..n]).into_owned())
    } {
        assert_eq!(
            top_branch(&n),
            branch,
            "a retransmission of the same branch"
        );
        copies += 1;
    }
    assert!((3..=6).contains(&copies), "{copies} copies");
    let reply = recv(&client);
    assert!(reply.starts_with("SIP/2.0 408 "), "{reply}");
    assert!(start.elapsed() >= Duration::from_secs(1));
    running.shutdown();
}

#[test]
fn non_2xx_is_acked_hop_by_hop_and_retransmitted_until_the_callers_ack() {
    let peer = sock();
    let client = sock();
    let (running, port) = start(peer.local_addr().unwrap().port(), "");
    let req = request("INVITE", &client, "g1");
    client.send_to(req.as_bytes(), ("127.0.0.1", port)).unwrap();
    assert!(recv(&client).starts_with("SIP/2.0 100 Trying"));
    let fwd = recv(&peer);
    assert!(fwd.starts_with("INVITE "));
    // A retransmission from the caller: absorbed, the 100 is sent again.
    client.send_to(req.as_bytes(), ("127.0.0.1", port)).unwrap();
    assert!(recv(&client).starts_with("SIP/2.0 100 Trying"));
    peer.send_to(
        answer(&fwd, "486 Busy Here").as_bytes(),
        ("127.0.0.1", port),
    )
    .unwrap();
    // osips ACKs the 486 itself, with the branch of its INVITE.
    let ack = loop {
        let m = recv(&peer);
        if m.starts_with("ACK ") {
            break m;
        }
        assert!(m.starts_with("INVITE "), "{m}");
    };
    assert_eq!(top_branch(&ack), top_branch(&fwd));
    assert!(ack.contains("To: <sip:bob@127.0.0.1>;tag=peer"), "{ack}");
    // Timer G: the 486 again until the caller's ACK.
    let busy = recv(&client);
    assert_eq!(first_line(&busy), "SIP/2.0 486 Busy Here");
    let again = recv(&client);
    assert_eq!(again, busy, "retransmitted as is");
    let to = busy.split("\r\n").find(|l| l.starts_with("To:")).unwrap();
    let caller_ack = request("ACK", &client, "g1").replace("To: <sip:bob@127.0.0.1>", to);
    client
        .send_to(caller_ack.as_bytes(), ("127.0.0.1", port))
        .unwrap();
    // Absorbed: nothing reaches the peer, and the retransmissions stop.
    peer.set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let mut buf = [0u8; 8192];
    if let Ok(n) = peer.recv(&mut buf) {
        let m = String::from_utf8_lossy(&buf[..n]);
        assert!(!m.starts_with("ACK "), "the caller's ACK went on: {m}");
    }
    // What was on its way before the ACK arrived may still come; after that, silence (Timer G
    // would resend every 400 ms).
    std::thread::sleep(Duration::from_millis(150));
    client.set_nonblocking(true).unwrap();
    while client.recv(&mut buf).is_ok() {}
    client.set_nonblocking(false).unwrap();
    client
        .set_read_timeout(Some(Duration::from_millis(900)))
        .unwrap();
    assert!(client.recv(&mut buf).is_err(), "no more 486 after the ACK");
    running.shutdown();
}

#[test]
fn local_route_edits_t_new_request_and_its_drop_keeps_another_from_going_out() {
    let peer = sock();
    let client = sock();
    let peer_port = peer.local_addr().unwrap().port();
    let script = format!(
        "socket = udp:127.0.0.1:0\nudp_workers = 1\nloadmodule \"tm.so\"\n\
         loadmodule \"sipmsgops.so\"\n\
         route {{\n\
           t_new_request(\"NOTIFY\", \"sip:x@127.0.0.1:{peer_port}\", \"sip:a@h\", \"sip:b@h\");\n\
           t_new_request(\"MESSAGE\", \"sip:x@127.0.0.1:9\", \"A sip:a@h\", \"sip:b@h\", \
             \"text/plain hi\", \"$rU\");\n\
           exit;\n\
         }}\n\
         local_route {{\n\
           if (is_method(\"NOTIFY\")) drop();\n\
           append_hf(\"X-Ctx: $avp(uac_ctx)\\r\\n\");\n\
           $du = \"sip:127.0.0.1:{peer_port}\";\n\
         }}\n"
    );
    let running = Runtime::load_str("local.cfg", &script)
        .unwrap_or_else(|e| panic!("{e}"))
        .start()
        .unwrap();
    let port = running.sockets()[0].addr.port();
    let req = request("OPTIONS", &client, "l1").replace("sip:bob@", "sip:ctx7@");
    client.send_to(req.as_bytes(), ("127.0.0.1", port)).unwrap();
    let msg = recv(&peer);
    assert!(
        first_line(&msg).starts_with("MESSAGE sip:x@127.0.0.1:9 "),
        "{msg}"
    );
    assert!(msg.contains("X-Ctx: ctx7\r\n"), "{msg}");
    assert!(msg.contains("From: A <sip:a@h>;tag="), "{msg}");
    assert!(msg.ends_with("\r\n\r\nhi"), "{msg}");
    assert!(top_branch(&msg).starts_with("z9hG4bKtm"), "{msg}");
    peer.send_to(answer(&msg, "200 OK").as_bytes(), ("127.0.0.1", port))
        .unwrap();
    peer.set_read_timeout(Some(Duration::from_millis(400)))
        .unwrap();
    let mut buf = [0u8; 8192];
    while let Ok(n) = peer.recv(&mut buf) {
        let m = String::from_utf8_lossy(&buf[..n]);
        assert!(m.starts_with("MESSAGE "), "only the MESSAGE goes out: {m}");
    }
    running.shutdown();
}

#[test]
fn t_new_request_in_local_route_stops_nesting() {
    let peer = sock();
    let client = sock();
    let peer_port = peer.local_addr().unwrap().port();
    let script = format!(
        "socket = udp:127.0.0.1:0\nudp_workers = 1\nloadmodule \"tm.so\"\n\
         route {{ t_new_request(\"OPTIONS\", \"sip:x@127.0.0.1:{peer_port}\", \"sip:a@h\", \"sip:b@h\"); exit; }}\n\
         local_route {{ t_new_request(\"OPTIONS\", \"sip:x@127.0.0.1:{peer_port}\", \"sip:a@h\", \"sip:b@h\"); }}\n"
    );
    let running = Runtime::load_str("nest.cfg", &script)
        .unwrap_or_else(|e| panic!("{e}"))
        .start()
        .unwrap();
    let port = running.sockets()[0].addr.port();
    let req = request("MESSAGE", &client, "n1");
    client.send_to(req.as_bytes(), ("127.0.0.1", port)).unwrap();
    peer.set_read_timeout(Some(Duration::from_millis(400)))
        .unwrap();
    let mut calls = std::collections::HashSet::new();
    let mut buf = [0u8; 8192];
    while let Ok(n) = peer.recv(&mut buf) {
        let m = String::from_utf8_lossy(&buf[..n]).into_owned();
        let cid = m
            .split("\r\n")
            .find(|l| l.starts_with("Call-ID:"))
            .unwrap()
            .to_string();
        calls.insert(cid);
    }
    assert_eq!(calls.len(), super::local::MAX_NESTING as usize);
    running.shutdown();
}
