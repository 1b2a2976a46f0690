//! Running a 30-statement route with variable reads, two transformations and a regex match, with no
//! SIP message (value-level work only). The per-message target of the full runtime is ≤ 1 µs.

use criterion::{Criterion, criterion_group, criterion_main};
use osips::script::exec::Interpreter;
use osips::script::vars::{AvpStore, SharedVars, VarStore};
use osips::script::{Registry, RunCtx, ast::RouteKind, check_str};
use std::hint::black_box;

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

fn bench(c: &mut Criterion) {
    let checked = check_str("run.cfg", SCRIPT, &Registry::builtin());
    assert!(!checked.has_errors(), "{}", checked.render());
    let script = checked.script.unwrap();
    let mut vars = VarStore::default();
    let mut avps = AvpStore::default();
    let shv = SharedVars::default();
    let mut interp = Interpreter::new(&script);
    c.bench_function("run 30-statement route (no message)", |b| {
        b.iter(|| {
            let mut ctx = RunCtx {
                route: RouteKind::Request,
                vars: &mut vars,
                avps: &mut avps,
                shv: &shv,
                msg: None,
                params: Vec::new(),
                returns: Vec::new(),
                last_rc: 1,
            };
            black_box(interp.run_main(&mut ctx))
        })
    });
    assert_eq!(vars.get("ok"), osips::script::Value::Int(1));
}

criterion_group!(benches, bench);
criterion_main!(benches);
