//! Running a 30-statement route on a parsed INVITE allocates nothing once the worker is warm
//! (issue 4, item 6): message pseudo-variable reads, `$var` reads and writes, two transformations
//! and a regex match. A counting global allocator counts this thread's allocations during the run.

mod common;

use std::sync::Arc;

use common::alloc::{Counting, allocations};

use bytes::{BufMut, BytesMut};
use osips::runtime::handler::run_route;
use osips::runtime::msgctx::SipCtx;
use osips::runtime::{Runtime, Shared};
use osips::script::ast::RouteKind;
use osips::sip::Msg;
use osips::transport::ReceiveInfo;

#[global_allocator]
static ALLOC: Counting = Counting;

const SCRIPT: &str = include_str!("fixtures/script/run_30.cfg");

include!("fixtures/script/run_30_message.rs");

#[test]
fn the_route_allocates_nothing_on_a_warm_worker() {
    let rt = Runtime::load_str("run_30.cfg", SCRIPT).unwrap_or_else(|e| panic!("{e}"));
    let script = rt.script;
    let shared = Arc::new(Shared::new(rt.script, rt.settings, 0));
    let main = script.route_index(RouteKind::Request, None).unwrap();
    // Warm-up: the worker's interpreter and `$var` table, the regex engine's cache.
    for _ in 0..3 {
        let mut sc = SipCtx::new(invite(), receive_info(), shared.clone());
        run_route(script, &mut sc, main);
    }
    let mut sc = SipCtx::new(invite(), receive_info(), shared.clone());
    let (out, count) = allocations(|| run_route(script, &mut sc, main));
    assert_eq!(out.rc, 0, "the route ends with exit");
    assert_eq!(count, 0, "running the route allocated {count} times");
}

#[test]
fn the_route_reads_what_it_should() {
    // The same run, checked for its results (so the test above cannot pass on a route that
    // stopped early).
    let text = SCRIPT.replace(
        "\texit;\n}",
        "\tcache_store(\"local\", \"r\", \"$var(user)|$var(fuser)|$var(transport)|$var(local)|$var(ok)|$var(kind)|$var(tenant)|$var(src)|$var(d)\");\n\texit;\n}",
    );
    let rt = Runtime::load_str("run_30.cfg", &text).unwrap_or_else(|e| panic!("{e}"));
    let script = rt.script;
    let shared = Arc::new(Shared::new(rt.script, rt.settings, 0));
    let main = script.route_index(RouteKind::Request, None).unwrap();
    let mut sc = SipCtx::new(invite(), receive_info(), shared.clone());
    run_route(script, &mut sc, main);
    assert_eq!(
        shared.cache.fetch("local", "r").unwrap().as_deref(),
        Some(
            "alice|bob.the.caller.with.a.long.name|udp|1|1|1|acme-42-with-a-tenant-name-longer-than-inline|127.0.0.9|8"
        )
    );
}

#[test]
fn the_counter_sees_allocations() {
    // Guards the first test against a counter that never counts: a string longer than the
    // inline size is built by the script (concatenation), which allocates.
    let text = "route { $var(x) = $ci + \"-and-a-suffix-long-enough-to-spill\"; exit; }";
    let rt = Runtime::load_str("t.cfg", text).unwrap_or_else(|e| panic!("{e}"));
    let script = rt.script;
    let shared = Arc::new(Shared::new(rt.script, rt.settings, 0));
    let main = script.route_index(RouteKind::Request, None).unwrap();
    let mut sc = SipCtx::new(invite(), receive_info(), shared.clone());
    run_route(script, &mut sc, main);
    let mut sc = SipCtx::new(invite(), receive_info(), shared);
    let (_, count) = allocations(|| run_route(script, &mut sc, main));
    assert!(count > 0);
}
