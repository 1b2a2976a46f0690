//! Compile time of a 2,000-line script (target: ≤ 50 ms), from text to the compiled `Script`.

use criterion::{Criterion, criterion_group, criterion_main};
use osips::script::{Registry, check_str};
use std::fmt::Write as _;
use std::hint::black_box;

/// A core-only script of about `lines` lines: routes with conditions, switches, loops, assignments,
/// transformations, regex matches and xlog format strings.
fn script(lines: usize) -> String {
    let mut s =
        String::from("log_level = 3\nxlog_level = 3\nsocket = udp:127.0.0.1:5060\n\nroute {\n");
    let routes = lines / 25;
    for i in 0..routes {
        let _ = writeln!(s, "\tif ($var(n) == {i}) route(r{i}, \"arg{i}\", {i});");
    }
    s.push_str("\texit;\n}\n\n");
    for i in 0..routes {
        let _ = write!(
            s,
            r#"route[r{i}] {{
	$var(user) = $(ru{{uri.user}});
	$var(len) = $(var(user){{s.len}});
	if ($var(user) =~ "^\+?[0-9]{{3,}}$" && $var(len) > {i}) {{
		xlog("L_INFO", "route {i}: $var(user) has $var(len) digits from $si:$sp\n");
		$avp(hits) = $var(len) + {i} * 2;
	}} else if ($param(1) == "arg{i}") {{
		$var(x) = $(param(1){{s.substr,1,0}}{{s.toupper}});
	}}
	switch ($rm) {{
	case "INVITE":
		$var(kind) = "call";
		break;
	case "MESSAGE":
		$var(kind) = "im";
		break;
	default:
		$var(kind) = null;
	}}
	$var(i) = 0;
	while ($var(i) < 3) {{
		$var(i) = $var(i) + 1;
	}}
	if ($si == 10.0.0.0/8 || $(hdr(X-Tenant){{param.value,id}}) == "t{i}")
		return(1);
	return(-1);
}}

"#
        );
    }
    s
}

fn bench(c: &mut Criterion) {
    let text = script(2000);
    assert!(
        text.lines().count() >= 2000,
        "{} lines",
        text.lines().count()
    );
    let reg = Registry::builtin();
    let checked = check_str("bench.cfg", &text, &reg);
    assert!(!checked.has_errors(), "{}", checked.render());
    c.bench_function("compile 2000-line script", |b| {
        b.iter(|| {
            let c = check_str("bench.cfg", black_box(&text), &reg);
            black_box(c.script.is_some())
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
