//! Parser tests: one per statement form, plus the syntax errors and legacy rewrites.

use crate::script::ast::*;
use crate::script::parse_str;

fn parse_ok(text: &str) -> Config {
    let (cfg, diags, sm) = parse_str("t.cfg", text);
    let errors: Vec<String> = diags
        .iter()
        .filter(|d| d.is_error())
        .map(|d| d.render(&sm))
        .collect();
    assert!(errors.is_empty(), "{}", errors.join("\n"));
    cfg
}

fn body(text: &str) -> Vec<Stmt> {
    let cfg = parse_ok(&format!("route {{\n{text}\n}}"));
    match cfg.items.into_iter().next() {
        Some(Item::Route(r)) => r.body,
        other => panic!("{other:?}"),
    }
}

fn one(text: &str) -> StmtKind {
    let mut b = body(text);
    assert_eq!(b.len(), 1, "{b:?}");
    b.remove(0).kind
}

fn errors(text: &str) -> Vec<String> {
    let (_, diags, _) = parse_str("t.cfg", text);
    diags
        .iter()
        .filter(|d| d.is_error())
        .map(|d| d.message.clone())
        .collect()
}

fn warnings(text: &str) -> Vec<String> {
    let (_, diags, _) = parse_str("t.cfg", text);
    diags
        .iter()
        .filter(|d| !d.is_error())
        .map(|d| d.message.clone())
        .collect()
}

#[test]
fn globals_loadmodule_modparam() {
    let cfg = parse_ok(
        "log_level=-1\nudp_workers=4\nsocket=udp:127.0.0.1:5060 as 1.2.3.4\nsyslog_facility=LOG_LOCAL0\n\
         mpath=\"/usr/lib/opensips/modules/\"\nloadmodule \"tm.so\"\nloadmodule \"sl\"\n\
         modparam(\"auth_db|usrloc\", \"db_url\", \"mysql://\" \"x\")\nmodparam(\"tm\", \"fr_timeout\", -5)\n",
    );
    let items = &cfg.items;
    assert!(matches!(&items[0], Item::Global(g) if g.value.node == GlobalValue::Int(-1)));
    assert!(
        matches!(&items[2], Item::Global(g) if g.value.node == GlobalValue::Raw("udp:127.0.0.1:5060 as 1.2.3.4".into()))
    );
    assert!(
        matches!(&items[3], Item::Global(g) if g.value.node == GlobalValue::Ident("LOG_LOCAL0".into()))
    );
    assert!(matches!(&items[5], Item::LoadModule(m) if m.node == "tm.so"));
    assert!(
        matches!(&items[7], Item::ModParam(m) if m.module.node == "auth_db|usrloc" && m.value.node == ModParamValue::Str("mysql://x".into()))
    );
    assert!(matches!(&items[8], Item::ModParam(m) if m.value.node == ModParamValue::Int(-5)));
}

#[test]
fn multi_line_and_dashed_globals() {
    let cfg = parse_ok(
        "dst_blacklist = gw:{\n  (udp, 10.0.0.1, 5060, \"\"),\n  (tcp, 10.0.0.2, 5060, \"\")\n}\n\
         mem-group = \"tm\": \"tm\" \"dialog\"\nlog_level = 1\n",
    );
    assert_eq!(cfg.items.len(), 3);
    assert!(
        matches!(&cfg.items[0], Item::Global(g) if g.name.node == "dst_blacklist"
        && matches!(&g.value.node, GlobalValue::Raw(r) if r.ends_with('}')))
    );
    assert!(matches!(&cfg.items[1], Item::Global(g) if g.name.node == "mem-group"));
    assert!(matches!(&cfg.items[2], Item::Global(g) if g.value.node == GlobalValue::Int(1)));
}

#[test]
fn every_route_type() {
    let cfg = parse_ok(
        "route { }\nroute[0] { }\nroute[relay] { }\nfailure_route[f] { }\nonreply_route { }\nonreply_route[r] { }\n\
         branch_route[b] { }\nerror_route { }\nlocal_route { }\nstartup_route { }\ntimer_route[tick, 30] { }\n\
         event_route[E_PIKE_BLOCKED] { }\nevent_route[E_UL_CONTACT_INSERT, async] { }\nroute[\"quoted name\"] { }\n",
    );
    let kinds: Vec<(RouteKind, Option<String>, Option<i64>)> = cfg
        .items
        .iter()
        .map(|i| match i {
            Item::Route(r) => (r.kind, r.name.as_ref().map(|n| n.node.clone()), r.interval),
            _ => panic!(),
        })
        .collect();
    assert_eq!(kinds[0], (RouteKind::Request, None, None));
    assert_eq!(kinds[1], (RouteKind::Request, None, None));
    assert_eq!(kinds[2], (RouteKind::Request, Some("relay".into()), None));
    assert_eq!(kinds[3].0, RouteKind::Failure);
    assert_eq!(kinds[4], (RouteKind::OnReply, None, None));
    assert_eq!(kinds[10], (RouteKind::Timer, Some("tick".into()), Some(30)));
    assert_eq!(
        kinds[11],
        (RouteKind::Event, Some("E_PIKE_BLOCKED".into()), None)
    );
    assert_eq!(kinds[13].1.as_deref(), Some("quoted name"));
}

#[test]
fn route_name_errors() {
    assert!(errors("failure_route { }")[0].contains("needs a name"));
    assert!(errors("error_route[x] { }")[0].contains("takes no name"));
    assert!(errors("timer_route[t] { }")[0].contains("interval"));
}

#[test]
fn kamailio_request_route_is_accepted_with_warning() {
    let (cfg, diags, _) = parse_str("t.cfg", "request_route { exit; }");
    assert!(matches!(&cfg.items[0], Item::Route(r) if r.kind == RouteKind::Request));
    assert!(diags[0].message.contains("Kamailio"));
}

#[test]
fn call_with_all_argument_kinds() {
    match one("f(\"s\", 'raw', 5, -3, $var(x), null, , \"x\");") {
        StmtKind::Call(c) => {
            assert_eq!(c.name.node, "f");
            let kinds: Vec<ArgKind> = c.args.into_iter().map(|a| a.kind).collect();
            assert_eq!(
                kinds,
                vec![
                    ArgKind::Str {
                        value: "s".into(),
                        single: false
                    },
                    ArgKind::Str {
                        value: "raw".into(),
                        single: true
                    },
                    ArgKind::Int(5),
                    ArgKind::Int(-3),
                    ArgKind::Var("$var(x)".into()),
                    ArgKind::Null,
                    ArgKind::Empty,
                    ArgKind::Str {
                        value: "x".into(),
                        single: false
                    },
                ]
            );
        }
        other => panic!("{other:?}"),
    }
    match one("f(, \"x\");") {
        StmtKind::Call(c) => assert_eq!(c.args[0].kind, ArgKind::Empty),
        other => panic!("{other:?}"),
    }
    match one("f(\"a\",);") {
        StmtKind::Call(c) => assert_eq!(c.args[1].kind, ArgKind::Empty),
        other => panic!("{other:?}"),
    }
}

#[test]
fn expressions_are_not_arguments() {
    assert!(errors("route { f($var(a) + 1); }")[0].contains("expressions are not allowed"));
    assert!(errors("route { f(g()); }")[0].contains("used as an argument"));
    assert!(errors("route { f(bare); }")[0].contains("bare word"));
}

#[test]
fn bare_words_need_parentheses() {
    assert!(errors("route { t_relay; }")[0].contains("command calls need '()'"));
}

#[test]
fn missing_semicolon_is_reported_and_parsing_goes_on() {
    let e = errors("route { f()\n g(); h() }");
    assert_eq!(e.len(), 2, "{e:?}");
    assert!(e.iter().all(|m| m.contains("expected `;`")));
}

#[test]
fn assignments() {
    for (src, op) in [
        ("$var(a) = 1;", AssignOp::Set),
        ("$avp(a) := 1;", AssignOp::Replace),
        ("$var(a) += 1;", AssignOp::Compound(BinOp::Add)),
        ("$var(a) -= 1;", AssignOp::Compound(BinOp::Sub)),
        ("$var(a) *= 1;", AssignOp::Compound(BinOp::Mul)),
        ("$var(a) /= 1;", AssignOp::Compound(BinOp::Div)),
        ("$var(a) %= 1;", AssignOp::Compound(BinOp::Mod)),
        ("$var(a) &= 1;", AssignOp::Compound(BinOp::BitAnd)),
        ("$var(a) |= 1;", AssignOp::Compound(BinOp::BitOr)),
        ("$var(a) ^= 1;", AssignOp::Compound(BinOp::BitXor)),
    ] {
        match one(src) {
            StmtKind::Assign { op: o, .. } => assert_eq!(o, op, "{src}"),
            other => panic!("{src}: {other:?}"),
        }
    }
    match one("$avp(a) = null;") {
        StmtKind::Assign { rhs, .. } => assert_eq!(rhs, Expr::Null),
        other => panic!("{other:?}"),
    }
    match one("$var(a) = f(1);") {
        StmtKind::Assign {
            rhs: Expr::Call(c), ..
        } => assert_eq!(c.name.node, "f"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn arithmetic_shape() {
    match one("$var(a) = 1 | 2 + 3 * 4;") {
        StmtKind::Assign { rhs, .. } => assert_eq!(
            rhs,
            Expr::Binary(
                BinOp::BitOr,
                Box::new(Expr::Int(1)),
                Box::new(Expr::Binary(
                    BinOp::Mul,
                    Box::new(Expr::Binary(
                        BinOp::Add,
                        Box::new(Expr::Int(2)),
                        Box::new(Expr::Int(3))
                    )),
                    Box::new(Expr::Int(4))
                ))
            )
        ),
        other => panic!("{other:?}"),
    }
}

#[test]
fn if_else_chain() {
    match one("if ($var(a) == 1) f(); else if ($var(a) == 2) { g(); } else h();") {
        StmtKind::If { els: Some(e), .. } => {
            assert!(matches!(e[0].kind, StmtKind::If { els: Some(_), .. }))
        }
        other => panic!("{other:?}"),
    }
    assert!(errors("route { else f(); }")[0].contains("without a matching `if`"));
}

#[test]
fn condition_precedence() {
    match one("if (a() || b() && !c()) ;") {
        StmtKind::If {
            cond: Cond::And(l, r),
            ..
        } => {
            assert!(matches!(*l, Cond::Or(_, _)));
            assert!(matches!(*r, Cond::Not(_)));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn comparisons() {
    for (src, op) in [
        ("==", CmpOp::Eq),
        ("!=", CmpOp::Ne),
        (">", CmpOp::Gt),
        ("<", CmpOp::Lt),
        (">=", CmpOp::Ge),
        ("<=", CmpOp::Le),
        ("=~", CmpOp::Match),
        ("!~", CmpOp::NotMatch),
    ] {
        match one(&format!("if ($rU {src} \"x\") ;")) {
            StmtKind::If {
                cond: Cond::Cmp { op: o, .. },
                ..
            } => assert_eq!(o, op),
            other => panic!("{other:?}"),
        }
    }
    match one("if ($si == 10.0.0.0/8) ;") {
        StmtKind::If {
            cond: Cond::Cmp { rhs, .. },
            ..
        } => assert_eq!(rhs.node, Operand::Net("10.0.0.0/8".into())),
        other => panic!("{other:?}"),
    }
    match one("if ($si == 2001:db8::/32) ;") {
        StmtKind::If {
            cond: Cond::Cmp { rhs, .. },
            ..
        } => assert_eq!(rhs.node, Operand::Net("2001:db8::/32".into())),
        other => panic!("{other:?}"),
    }
    match one("if ($si != [::1]) ;") {
        StmtKind::If {
            cond: Cond::Cmp { rhs, .. },
            ..
        } => assert_eq!(rhs.node, Operand::Net("::1".into())),
        other => panic!("{other:?}"),
    }
    match one("if ($var(x) == 5) ;") {
        StmtKind::If {
            cond: Cond::Cmp { rhs, .. },
            ..
        } => assert_eq!(rhs.node, Operand::Int(5)),
        other => panic!("{other:?}"),
    }
    match one("if ($rU == NULL) ;") {
        StmtKind::If {
            cond: Cond::Cmp { rhs, .. },
            ..
        } => assert_eq!(rhs.node, Operand::Null),
        other => panic!("{other:?}"),
    }
}

#[test]
fn left_side_of_comparison_must_be_a_variable() {
    assert!(
        errors("route { if (\"x\" == $var(a)) f(); }")[0].contains("left side of a comparison")
    );
}

#[test]
fn while_for_switch() {
    assert!(matches!(
        one("while ($var(i) < 3) { $var(i) += 1; break; }"),
        StmtKind::While { .. }
    ));
    assert!(matches!(
        one("for ($var(v) in $(avp(a)[*])) { break; }"),
        StmtKind::ForEach { .. }
    ));
    match one("switch ($rU) { case \"a\": f(); case 2: case -3: break; default: g(); }") {
        StmtKind::Switch { cases, .. } => {
            assert_eq!(cases.len(), 4);
            assert!(cases[3].label.is_none());
            assert_eq!(cases[2].label.as_ref().unwrap().node, CaseLabel::Int(-3));
        }
        other => panic!("{other:?}"),
    }
    assert!(errors("route { break; }")[0].contains("outside of"));
}

#[test]
fn return_exit_drop() {
    assert_eq!(one("return;"), StmtKind::Return(vec![]));
    assert!(matches!(one("return(-1);"), StmtKind::Return(a) if a[0].kind == ArgKind::Int(-1)));
    assert!(matches!(one("return 2;"), StmtKind::Return(a) if a[0].kind == ArgKind::Int(2)));
    assert!(matches!(one("return(1, \"a\", $var(x), null);"), StmtKind::Return(a) if a.len() == 4));
    assert_eq!(one("exit;"), StmtKind::Exit);
    assert_eq!(one("exit();"), StmtKind::Exit);
    assert_eq!(one("drop;"), StmtKind::Drop);
}

#[test]
fn route_calls() {
    match one("route(relay, \"a\", 1, $var(x));") {
        StmtKind::Route(rc) => {
            assert_eq!(rc.target.node, RouteRef::Name("relay".into()));
            assert_eq!(rc.args.len(), 3);
        }
        other => panic!("{other:?}"),
    }
    assert!(
        matches!(one("route(\"to_$var(x)\");"), StmtKind::Route(rc) if matches!(rc.target.node, RouteRef::Dynamic(_)))
    );
    assert!(
        matches!(one("route($var(r));"), StmtKind::Route(rc) if matches!(rc.target.node, RouteRef::Dynamic(_)))
    );
}

#[test]
fn logging_statements() {
    assert!(
        matches!(one("xlog(\"L_ERR\", \"a\" \"b $ru\");"), StmtKind::Xlog { level: Some(_), fmt } if fmt.node == "ab $ru")
    );
    assert!(matches!(
        one("xlog(\"hello\\n\");"),
        StmtKind::Xlog { level: None, .. }
    ));
    assert!(
        matches!(one("xlog($var(lvl), \"x\");"), StmtKind::Xlog { level: Some(a), .. } if matches!(a.kind, ArgKind::Var(_)))
    );
    assert!(matches!(
        one("xdbg(\"x\");"),
        StmtKind::Xlog { level: Some(_), .. }
    ));
    assert!(matches!(
        one("log(\"x\");"),
        StmtKind::Log { level: None, .. }
    ));
    assert!(matches!(
        one("log(1, \"x\");"),
        StmtKind::Log { level: Some(1), .. }
    ));
    assert!(matches!(one("error(\"a\", \"b\");"), StmtKind::Error(_, _)));
    assert!(matches!(
        one("assert($var(a) == 1, \"must be one\");"),
        StmtKind::Assert { desc: Some(_), .. }
    ));
}

#[test]
fn async_and_launch() {
    assert!(matches!(
        one("async(sleep(1), resume, 5);"),
        StmtKind::Async {
            timeout: Some(5),
            ..
        }
    ));
    assert!(matches!(
        one("launch(exec(\"x\"), report, \"t\");"),
        StmtKind::Launch {
            report: Some(_),
            text: Some(_),
            ..
        }
    ));
    assert!(matches!(
        one("launch(exec(\"x\"));"),
        StmtKind::Launch { report: None, .. }
    ));
}

#[test]
fn legacy_keywords_are_rewritten_with_warnings() {
    match one("if (method == \"INVITE\") ;") {
        StmtKind::If {
            cond: Cond::Cmp { lhs, .. },
            ..
        } => assert_eq!(lhs.node, "$rm"),
        other => panic!("{other:?}"),
    }
    match one("if (uri == myself) ;") {
        StmtKind::If {
            cond: Cond::Call(c),
            ..
        } => {
            assert_eq!(c.name.node, "is_myself");
            assert_eq!(
                c.args[0].kind,
                ArgKind::Str {
                    value: "$rd".into(),
                    single: false
                }
            );
        }
        other => panic!("{other:?}"),
    }
    match one("if (src_ip != myself) ;") {
        StmtKind::If {
            cond: Cond::Not(c), ..
        } => assert!(matches!(*c, Cond::Call(_))),
        other => panic!("{other:?}"),
    }
    match one("if (proto == UDP) ;") {
        StmtKind::If {
            cond: Cond::Cmp { lhs, rhs, .. },
            ..
        } => {
            assert_eq!(lhs.node, "$socket_in(proto)");
            assert_eq!(rhs.node, Operand::Str("udp".into()));
        }
        other => panic!("{other:?}"),
    }
    match one("if (msg:len > max_len) ;") {
        StmtKind::If {
            cond: Cond::Cmp { lhs, rhs, .. },
            ..
        } => {
            assert_eq!(lhs.node, "$ml");
            assert_eq!(rhs.node, Operand::Int(65535));
        }
        other => panic!("{other:?}"),
    }
    let w = warnings("route { if (method == \"INVITE\" && src_ip == 10.0.0.0/8) ; }");
    assert_eq!(w.len(), 2, "{w:?}");
    assert!(w[0].contains("legacy core keyword `method`"));
}

#[test]
fn nested_block_and_null_statements() {
    let b = body("{ f(); { g(); } } ; ;");
    assert!(matches!(b[0].kind, StmtKind::Block(_)));
    assert_eq!(b.len(), 3);
}

#[test]
fn top_level_errors_recover() {
    let e = errors("foo bar\nlog_level=3;\nroute { f( }\nroute[x] { g(); }");
    assert!(e.len() >= 3, "{e:?}");
    assert!(e[0].contains("unexpected word `foo`"));
}

#[test]
fn spans_point_at_the_statement() {
    let (cfg, _, sm) = parse_str("t.cfg", "route {\n  f(1);\n}");
    let Item::Route(r) = &cfg.items[0] else {
        panic!()
    };
    assert_eq!(sm.location(r.body[0].span), "t.cfg:2:3");
    assert_eq!(sm.snippet(r.body[0].span), "f(1);");
}
