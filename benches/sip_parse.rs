//! Parser and serialiser benchmarks (issue 3 item 7).
//!
//! `parse_invite_read_core`: parse the 895-byte INVITE with SDP in tests/fixtures/sip and read the
//! first line, top Via (branch), From (tag), To, Call-ID, CSeq and Contact.
//! `serialise_three_edits`: record three edits (add Via, add Record-Route, rewrite the
//! Request-URI) on a parsed message and serialise it with Content-Length fixed.
//! Run: `cargo bench --bench sip_parse`. Instruction counts: see `main`.

use std::hint::black_box;

use bytes::Bytes;
use criterion::{Criterion, Throughput, criterion_group};
use osips::sip::{Contact, Msg};

const INVITE: &[u8] = include_bytes!("../tests/fixtures/sip/invite_895.sip");

fn read_core(m: &Msg) -> usize {
    let mut n = m.method_bytes().len() + m.ruri().len();
    if let Ok(v) = m.via1() {
        n += v.branch().map_or(0, <[u8]>::len);
    }
    if let Ok(f) = m.from() {
        n += f.tag().map_or(0, <[u8]>::len);
    }
    if let Ok(t) = m.to() {
        n += t.uri.host.len();
    }
    n += m.call_id().len();
    n += m.cseq().num as usize;
    if let Some(Ok(Contact::Addr(c))) = m.contact() {
        n += c.uri.host.len();
    }
    n
}

fn parse(c: &mut Criterion) {
    let buf = Bytes::from_static(INVITE);
    let mut g = c.benchmark_group("sip");
    g.throughput(Throughput::Elements(1));
    g.bench_function("parse_invite_read_core", |b| {
        b.iter(|| {
            let m = Msg::parse(black_box(buf.clone())).expect("valid INVITE");
            black_box(read_core(&m))
        })
    });
    g.bench_function("parse_only", |b| {
        b.iter(|| {
            black_box(
                Msg::parse(black_box(buf.clone()))
                    .expect("valid INVITE")
                    .header_count(),
            )
        })
    });
    let parsed = Msg::parse(buf.clone()).expect("valid INVITE");
    let mut out = Vec::with_capacity(2048);
    g.bench_function("serialise_three_edits", |b| {
        b.iter(|| {
            let mut m = black_box(&parsed).clone();
            m.add_via(b"SIP/2.0/UDP 127.0.0.9:5060;branch=z9hG4bKosips.0")
                .unwrap();
            m.add_record_route(b"<sip:127.0.0.9;lr>").unwrap();
            m.set_ruri(b"sip:bob@127.0.0.20:5070").unwrap();
            out.clear();
            m.serialise_into(&mut out);
            black_box(out.len())
        })
    });
    g.finish();
}

criterion_group!(benches, parse);

/// `OSIPS_PARSE_LOOP=N` runs `parse_invite_read_core` N times and exits, for counting instructions
/// under `valgrind --tool=callgrind` (this VM has no hardware counters): run it with N=0 and
/// N=10000 and divide the difference by 10000. With `OSIPS_PARSE_ONLY=1` the loop is
/// `parse_only`.
fn main() {
    if let Some(n) = std::env::var("OSIPS_PARSE_LOOP")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
    {
        let parse_only = std::env::var_os("OSIPS_PARSE_ONLY").is_some();
        let buf = Bytes::from_static(INVITE);
        let mut total = 0;
        for _ in 0..n {
            let m = Msg::parse(black_box(buf.clone())).expect("valid INVITE");
            total += if parse_only {
                black_box(m.header_count())
            } else {
                black_box(read_core(&m))
            };
        }
        black_box(total);
        return;
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
