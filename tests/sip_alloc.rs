//! Proves the parse path allocates nothing: a counting global allocator wraps the system one and
//! counts allocations made by this thread while parsing the 895-byte INVITE and reading the
//! headers a proxy needs on every request.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use bytes::Bytes;
use osips::sip::{Contact, Msg};

struct Counting;

thread_local! {
    static COUNTING: Cell<bool> = const { Cell::new(false) };
    static COUNT: Cell<usize> = const { Cell::new(0) };
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if COUNTING.with(Cell::get) {
            COUNT.with(|c| c.set(c.get() + 1));
        }
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if COUNTING.with(Cell::get) {
            COUNT.with(|c| c.set(c.get() + 1));
        }
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

fn allocations<R>(f: impl FnOnce() -> R) -> (R, usize) {
    COUNT.with(|c| c.set(0));
    COUNTING.with(|c| c.set(true));
    let r = f();
    COUNTING.with(|c| c.set(false));
    (r, COUNT.with(Cell::get))
}

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
