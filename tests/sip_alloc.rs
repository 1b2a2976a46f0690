//! Proves the parse path allocates nothing: a counting global allocator wraps the system one and
//! counts allocations made by this thread while parsing the 895-byte INVITE and reading the
//! headers a proxy needs on every request.

mod common;

use common::alloc::{Counting, allocations};

use bytes::Bytes;
use osips::sip::{Contact, Msg};

#[global_allocator]
static ALLOC: Counting = Counting;

const INVITE: &[u8] = include_bytes!("fixtures/sip/invite_895.sip");

#[test]
fn parsing_and_reading_core_headers_allocates_nothing() {
    assert_eq!(INVITE.len(), 895);
    let buf = Bytes::from_static(INVITE);
    let (n, count) = allocations(|| {
        let m = Msg::parse(buf.clone()).unwrap();
        let mut n = m.method_bytes().len() + m.ruri().len();
        let v = m.via1().unwrap();
        n += v.branch().unwrap().len() + v.host.len();
        n += m.from().unwrap().tag().unwrap().len();
        n += m.to().unwrap().uri.host.len();
        n += m.call_id().len() + m.cseq().num as usize;
        let Some(Ok(Contact::Addr(c))) = m.contact() else {
            panic!("no contact")
        };
        n += c.uri.host.len();
        n += m.max_forwards().unwrap() as usize + m.body().len();
        n
    });
    assert!(n > 0);
    assert_eq!(count, 0, "the parse path allocated {count} times");
}

#[test]
fn the_counter_sees_allocations() {
    // Guards the test above against a counter that never counts.
    let (_, count) = allocations(|| {
        let mut m = Msg::parse(Bytes::from_static(INVITE)).unwrap();
        m.add_record_route(b"<sip:127.0.0.1;lr>").unwrap();
        m.serialise()
    });
    assert!(
        count >= 2,
        "expected the edit and the output buffer to allocate, saw {count}"
    );
}
