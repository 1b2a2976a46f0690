//! One DNS question to the configured servers over std sockets: UDP with retries, TCP when the
//! answer comes back truncated. Workers call it synchronously, as OpenSIPS's resolver does.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::time::{Duration, Instant};

use hickory_proto::op::{Message, Query, ResponseCode};
use hickory_proto::rr::{Name, RData, Record, RecordType};

use super::conf::DnsConfig;

/// Why a question got no usable answer.
#[derive(Debug, Clone, thiserror::Error, PartialEq)]
pub enum QueryError {
    #[error("`{0}` is not a DNS name")]
    BadName(String),
    #[error("no DNS server answered for {name} {rtype} ({tried} servers tried)")]
    NoAnswer {
        name: String,
        rtype: RecordType,
        tried: usize,
    },
    #[error("DNS server {server} answered {code} for {name} {rtype}")]
    Failed {
        server: SocketAddr,
        name: String,
        rtype: RecordType,
        code: String,
    },
}

/// The records of an answer, or that the name has none (NXDOMAIN / NODATA) for `ttl` seconds.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    pub records: Vec<Record>,
    /// Seconds the answer may be kept: the smallest record TTL, or the SOA minimum for a negative one.
    pub ttl: u32,
}

/// Sends `name` / `rtype` to each server in turn, `cfg.attempts` rounds.
pub fn query(cfg: &DnsConfig, name: &str, rtype: RecordType) -> Result<Answer, QueryError> {
    let qname = Name::from_ascii(name)
        .map(|mut n| {
            n.set_fqdn(true);
            n
        })
        .map_err(|_| QueryError::BadName(name.to_string()))?;
    let mut msg = Message::query();
    msg.metadata.recursion_desired = true;
    msg.add_query(Query::query(qname.clone(), rtype));
    let id = msg.metadata.id;
    let wire = msg
        .to_vec()
        .map_err(|_| QueryError::BadName(name.to_string()))?;
    for _ in 0..cfg.attempts.max(1) {
        for server in &cfg.servers {
            let Some(reply) = ask_udp(*server, &wire, id, cfg.timeout) else {
                continue;
            };
            let reply = if reply.metadata.truncation {
                match ask_tcp(*server, &wire, id, cfg.timeout) {
                    Some(r) => r,
                    None => continue,
                }
            } else {
                reply
            };
            return answer_of(reply, &qname, rtype, *server);
        }
    }
    Err(QueryError::NoAnswer {
        name: name.to_string(),
        rtype,
        tried: cfg.servers.len(),
    })
}

fn answer_of(
    reply: Message,
    qname: &Name,
    rtype: RecordType,
    server: SocketAddr,
) -> Result<Answer, QueryError> {
    let code = reply.metadata.response_code;
    if code != ResponseCode::NoError && code != ResponseCode::NXDomain {
        return Err(QueryError::Failed {
            server,
            name: qname.to_ascii(),
            rtype,
            code: code.to_string(),
        });
    }
    let records: Vec<Record> = reply
        .answers
        .into_iter()
        .filter(|r| r.record_type() == rtype)
        .collect();
    let ttl = match records.iter().map(|r| r.ttl).min() {
        Some(t) => t,
        None => reply
            .authorities
            .iter()
            .find_map(|r| match &r.data {
                RData::SOA(soa) => Some(soa.minimum.min(r.ttl)),
                _ => None,
            })
            .unwrap_or(0),
    };
    Ok(Answer { records, ttl })
}

fn matches(reply: &Message, id: u16) -> bool {
    reply.metadata.id == id
        && reply.metadata.message_type == hickory_proto::op::MessageType::Response
}

fn ask_udp(server: SocketAddr, wire: &[u8], id: u16, timeout: Duration) -> Option<Message> {
    let local: SocketAddr = if server.is_ipv4() {
        ([0, 0, 0, 0], 0).into()
    } else {
        (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
    };
    let sock = UdpSocket::bind(local).ok()?;
    sock.connect(server).ok()?;
    sock.send(wire).ok()?;
    let deadline = Instant::now() + timeout;
    let mut buf = vec![0u8; 4096];
    loop {
        let left = deadline.checked_duration_since(Instant::now())?;
        sock.set_read_timeout(Some(left.max(Duration::from_millis(1))))
            .ok()?;
        // A refused port (ICMP) fails at once: the next server is tried.
        let n = sock.recv(&mut buf).ok()?;
        if let Ok(m) = Message::from_vec(&buf[..n])
            && matches(&m, id)
        {
            return Some(m);
        }
    }
}

fn ask_tcp(server: SocketAddr, wire: &[u8], id: u16, timeout: Duration) -> Option<Message> {
    let mut s = TcpStream::connect_timeout(&server, timeout).ok()?;
    s.set_read_timeout(Some(timeout)).ok()?;
    s.set_write_timeout(Some(timeout)).ok()?;
    let len = u16::try_from(wire.len()).ok()?.to_be_bytes();
    s.write_all(&[&len[..], wire].concat()).ok()?;
    let mut len = [0u8; 2];
    s.read_exact(&mut len).ok()?;
    let mut buf = vec![0u8; u16::from_be_bytes(len) as usize];
    s.read_exact(&mut buf).ok()?;
    Message::from_vec(&buf).ok().filter(|m| matches(m, id))
}

#[cfg(test)]
mod tests {
    use super::*;
    use hickory_proto::op::{MessageType, OpCode};
    use hickory_proto::rr::rdata::{A, SOA};

    fn serve_once(reply: impl FnOnce(Message) -> Message + Send + 'static) -> SocketAddr {
        let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
        let addr = sock.local_addr().unwrap();
        std::thread::spawn(move || {
            let mut buf = [0u8; 1500];
            let (n, from) = sock.recv_from(&mut buf).unwrap();
            let q = Message::from_vec(&buf[..n]).unwrap();
            let r = reply(q);
            sock.send_to(&r.to_vec().unwrap(), from).unwrap();
        });
        addr
    }

    fn cfg(server: SocketAddr) -> DnsConfig {
        DnsConfig {
            servers: vec![server],
            timeout: Duration::from_secs(2),
            attempts: 1,
            ..DnsConfig::default()
        }
    }

    #[test]
    fn answer_records_and_smallest_ttl() {
        let server = serve_once(|q| {
            let mut r = Message::new(q.metadata.id, MessageType::Response, OpCode::Query);
            let name = q.queries[0].name.clone();
            r.add_query(q.queries[0].clone());
            r.add_answer(Record::from_rdata(
                name.clone(),
                300,
                RData::A(A::new(127, 0, 0, 7)),
            ));
            r.add_answer(Record::from_rdata(name, 60, RData::A(A::new(127, 0, 0, 8))));
            r
        });
        let a = query(&cfg(server), "host.example.test", RecordType::A).unwrap();
        assert_eq!(a.records.len(), 2);
        assert_eq!(a.ttl, 60);
    }

    #[test]
    fn nxdomain_is_negative_with_soa_minimum() {
        let server = serve_once(|q| {
            let mut r = Message::error_msg(q.metadata.id, OpCode::Query, ResponseCode::NXDomain);
            r.add_authority(Record::from_rdata(
                Name::from_ascii("example.test.").unwrap(),
                3600,
                RData::SOA(SOA::new(
                    Name::from_ascii("ns.example.test.").unwrap(),
                    Name::from_ascii("root.example.test.").unwrap(),
                    1,
                    1,
                    1,
                    1,
                    7,
                )),
            ));
            r
        });
        let a = query(&cfg(server), "none.example.test", RecordType::SRV).unwrap();
        assert!(a.records.is_empty());
        assert_eq!(a.ttl, 7);
    }

    #[test]
    fn servfail_and_silence_are_errors() {
        let server = serve_once(|q| {
            Message::error_msg(q.metadata.id, OpCode::Query, ResponseCode::ServFail)
        });
        assert!(matches!(
            query(&cfg(server), "x.example.test", RecordType::A),
            Err(QueryError::Failed { .. })
        ));
        let silent = UdpSocket::bind("127.0.0.1:0").unwrap();
        let mut c = cfg(silent.local_addr().unwrap());
        c.timeout = Duration::from_millis(100);
        assert!(matches!(
            query(&c, "x.example.test", RecordType::A),
            Err(QueryError::NoAnswer { tried: 1, .. })
        ));
        assert!(matches!(
            query(&c, "bad..name", RecordType::A),
            Err(QueryError::BadName(_))
        ));
    }
}
