//! Running a 30-statement route per message (target ≤ 1 µs):
//! - on a parsed INVITE, as the runtime does (`runtime::handler::run_route` on a `SipCtx`): message
//!   pseudo-variables ($ru, $rU, $fu, $ft, $ci, $hdr, $si, $rm), `$var`s, two transformations and a
//!   regex match (`tests/fixtures/script/run_30.cfg`; tests/script_alloc.rs checks it allocates
//!   nothing);
//! - with no SIP message (value-level work only: `$var`s, arithmetic, `{s.len}`, `{s.substr}`, `=~`).

use criterion::{BatchSize, Criterion, criterion_group};
use osips::script::exec::Interpreter;
use osips::script::vars::{AvpStore, SharedVars, VarStore};
use osips::script::{Registry, RunCtx, ast::RouteKind, check_str};
use std::hint::black_box;
use std::sync::Arc;

use bytes::{BufMut, BytesMut};
use osips::runtime::handler::run_route;
use osips::runtime::msgctx::SipCtx;
use osips::runtime::{Runtime, Shared};
use osips::sip::Msg;
use osips::transport::ReceiveInfo;

const MSG_SCRIPT: &str = include_str!("../tests/fixtures/script/run_30.cfg");

include!("../tests/fixtures/script/run_30_message.rs");

fn bench_message(c: &mut Criterion) {
    let rt = Runtime::load_str("run_30.cfg", MSG_SCRIPT).unwrap_or_else(|e| panic!("{e}"));
    let script = rt.script;
    let shared = Arc::new(Shared::new(rt.script, rt.settings, 0));
    let main = script.route_index(RouteKind::Request, None).unwrap();
    let info = receive_info();
    let msg = invite();
    let mut sc = SipCtx::new(msg.clone(), info.clone(), shared.clone());
    assert_eq!(
        run_route(script, &mut sc, main).rc,
        0,
        "the route ends with exit"
    );
    // A fresh SipCtx per run, as the runtime makes one per message (so the R-URI, From and To are
    // parsed in every run); building it (a Msg clone) is outside the measurement.
    c.bench_function("run 30-statement route on an INVITE", |b| {
        b.iter_batched_ref(
            || SipCtx::new(msg.clone(), info.clone(), shared.clone()),
            |sc| black_box(run_route(script, sc, main)),
            BatchSize::SmallInput,
        )
    });
}

const SCRIPT: &str = r#"
route {
	$var(user) = "+15551234567";
	$var(domain) = "example.com";
	$var(a) = 1;
	$var(b) = 2;
	$var(c) = $var(a) + $var(b);
	$var(len) = $(var(user){s.len});
	$var(tail) = $(var(user){s.substr,-4,0});
	if ($var(user) =~ "^\+1[0-9]{10}$") {
		$var(kind) = "nanp";
	}
	if ($var(domain) == "EXAMPLE.COM") {
		$var(local) = 1;
	}
	switch ($var(kind)) {
	case "nanp":
		$var(route) = 1;
		break;
	default:
		$var(route) = 0;
	}
	$var(d) = $var(c) * 3;
	$var(e) = $var(d) - 1;
	$var(f) = $var(e) | 8;
	$var(g) = $var(len) + $var(f);
	if ($var(g) > 10 && $var(local) == 1) {
		$var(ok) = 1;
	}
	$var(h) = $var(a);
	$var(i) = $var(b);
	$var(j) = $var(c);
	$var(k) = $var(d);
	$var(l) = $var(e);
	$var(m) = $var(f);
	$var(n) = $var(g);
	$var(o) = $var(h) + $var(i);
	exit;
}
"#;

fn bench_no_message(c: &mut Criterion) {
    let checked = check_str("run.cfg", SCRIPT, &Registry::builtin());
    assert!(!checked.has_errors(), "{}", checked.render());
    let script = checked.script.unwrap();
    let mut vars = VarStore::default();
    let mut avps = AvpStore::default();
    let shv = SharedVars::default();
    let mut interp = Interpreter::new(&script);
    let mut run = |vars: &mut VarStore| {
        let mut ctx = RunCtx {
            route: RouteKind::Request,
            vars,
            avps: &mut avps,
            shv: &shv,
            msg: None,
            params: Vec::new(),
            returns: Vec::new(),
            last_rc: 1,
            err: None,
        };
        interp.run_main(&mut ctx)
    };
    // The route runs to its end (checked once, outside the measurement).
    run(&mut vars);
    assert_eq!(vars.get("ok"), osips::script::Value::Int(1));
    c.bench_function("run 30-statement route (no message)", |b| {
        b.iter(|| black_box(run(&mut vars)))
    });
}

criterion_group!(benches, bench_message, bench_no_message);

/// `OSIPS_SCRIPT_LOOP=N` runs the message route N times (a fresh `SipCtx` each time, as in the
/// benchmark) and exits, for counting instructions under `valgrind --tool=callgrind` (this VM has
/// no hardware counters). Count only the route with
/// `--toggle-collect='osips::runtime::handler::run_route*'` and divide by N.
fn main() {
    if let Some(n) = std::env::var("OSIPS_SCRIPT_LOOP")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
    {
        let rt = Runtime::load_str("run_30.cfg", MSG_SCRIPT).unwrap_or_else(|e| panic!("{e}"));
        let script = rt.script;
        let shared = Arc::new(Shared::new(rt.script, rt.settings, 0));
        let main = script.route_index(RouteKind::Request, None).unwrap();
        let msg = invite();
        for _ in 0..n {
            let mut sc = SipCtx::new(msg.clone(), receive_info(), shared.clone());
            black_box(run_route(script, black_box(&mut sc), main));
        }
        return;
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
