//! Compiles the AST once at start: modules and their parameters, routes, function calls (resolved
//! through the module descriptors, arguments checked by the 3.x rules), variables, transformations,
//! flags. Every problem becomes a [`Diagnostic`]; compilation goes on to report them all.

use super::ast::*;
use super::core_cmds::RENAMED;
use super::diag::{DiagCode, Diagnostic};
use super::globals::{self, GlobalKind, Lookup};
use super::ir::*;
use super::known_modules::{is_opensips_module, module_name};
use super::module::{
    ArgType, FunctionSpec, ModParamKind, ModParams, ParamValue, Registry, RouteMask,
};
use super::pv::{FmtPart, Format, PvError, PvIndex, PvInner, PvSpec, parse_format, parse_pv};
use super::pvnames;
use super::span::{SourceMap, Span};
use super::transform::TrParam;
use std::collections::{HashMap, HashSet};

/// OpenSIPS `MAX_CMD_PARAMS`.
const MAX_ARGS: usize = 8;

/// Variables that must be written with a name: `$var(x)`, not `$var`.
const NEEDS_INNER: &[&str] = &[
    "var",
    "avp",
    "hdr",
    "hdrcnt",
    "param",
    "shv",
    "dlg_val",
    "json",
    "argv",
    "msg.flag",
    "branch.flag",
    "msg.branch.flag",
    "msg.branch.attr",
    "bavp",
    "env",
    "acc_extra",
    "C",
    "stat",
    "ct.fields",
    "time",
    "rl_count",
    "return",
];

/// A call site remembered for the route-type check, done once the call graph is known.
struct FnSite {
    name: String,
    allowed: RouteMask,
    span: Span,
}

struct RouteMeta {
    kind: RouteKind,
    name: Option<String>,
    span: Span,
}

pub struct Compiler<'a> {
    reg: &'a Registry,
    sources: &'a SourceMap,
    diags: Vec<Diagnostic>,
    modules: Vec<LoadedModule>,
    /// Item index of each loadmodule, by module name (order check for modparam).
    loaded_at: HashMap<String, usize>,
    route_meta: Vec<RouteMeta>,
    route_index: HashMap<(RouteKind, Option<String>), usize>,
    flags: FlagNames,
    cur_route: usize,
    /// Request routes called from each route (indexes into routes).
    edges: Vec<Vec<usize>>,
    sites: Vec<Vec<FnSite>>,
    unresolved: HashSet<String>,
    var_slots: HashMap<String, u32>,
}

/// Compiles a parsed script. Returns the script when there are no errors, and every diagnostic.
pub fn compile(
    cfg: &Config,
    sources: SourceMap,
    reg: &Registry,
) -> (Option<Script>, Vec<Diagnostic>) {
    let mut c = Compiler {
        reg,
        sources: &sources,
        diags: Vec::new(),
        modules: Vec::new(),
        loaded_at: HashMap::new(),
        route_meta: Vec::new(),
        route_index: HashMap::new(),
        flags: FlagNames::default(),
        cur_route: 0,
        edges: Vec::new(),
        sites: Vec::new(),
        unresolved: HashSet::new(),
        var_slots: HashMap::new(),
    };
    let mut globals_out = Vec::new();
    let mut sockets = Vec::new();
    let mut aliases = Vec::new();
    let mut mpath = Vec::new();
    // Modules first: functions are resolved against everything loaded, wherever loadmodule is.
    for (i, item) in cfg.items.iter().enumerate() {
        if let Item::LoadModule(m) = item {
            c.load_module(m, i);
        }
    }
    c.check_deps();
    let mut modparams: HashMap<String, ModParams> = HashMap::new();
    for (i, item) in cfg.items.iter().enumerate() {
        match item {
            Item::Global(g) => {
                c.global(g, &mut globals_out, &mut sockets, &mut aliases, &mut mpath)
            }
            Item::ModParam(mp) => c.modparam(mp, i, &mut modparams),
            _ => {}
        }
    }
    c.check_modparams(&modparams);
    c.declare_routes(cfg);
    let mut routes = Vec::new();
    for item in &cfg.items {
        if let Item::Route(r) = item {
            let Some(&idx) = c
                .route_index
                .get(&(r.kind, r.name.as_ref().map(|n| n.node.clone())))
            else {
                continue;
            };
            if c.route_meta[idx].span != r.span {
                continue; // a duplicate, already reported
            }
            c.cur_route = idx;
            let body = c.block(&r.body);
            routes.push((
                idx,
                CRoute {
                    kind: r.kind,
                    name: r.name.as_ref().map(|n| n.node.clone()),
                    interval: r.interval.map(|i| i.clamp(0, u32::MAX as i64) as u32),
                    asynchronous: r.asynchronous,
                    body,
                    span: r.span,
                },
            ));
        }
    }
    routes.sort_by_key(|(i, _)| *i);
    let routes: Vec<CRoute> = routes.into_iter().map(|(_, r)| r).collect();
    c.check_route_types();
    if !c.unresolved.is_empty() {
        let mut names: Vec<_> = c.unresolved.iter().cloned().collect();
        names.sort();
        for d in c.diags.iter_mut() {
            if matches!(d.code, Some(DiagCode::ModuleNotImplemented { .. })) {
                d.notes.push(format!(
                    "calls to functions osips does not know were not checked: {}",
                    names.join(", ")
                ));
                break;
            }
        }
    }
    let mut var_names = vec![String::new(); c.var_slots.len()];
    for (n, i) in &c.var_slots {
        var_names[*i as usize] = n.clone();
    }
    let Compiler {
        diags,
        modules,
        flags,
        ..
    } = c;
    if diags.iter().any(|d| d.is_error()) {
        return (None, diags);
    }
    let script = Script::new(
        sources,
        globals_out,
        sockets,
        aliases,
        mpath,
        modules,
        modparams,
        routes,
        flags,
        var_names,
    );
    (Some(script), diags)
}

fn pv_err_span(base: Span, e: &PvError, quoted: bool) -> Span {
    let off = base.start as usize + e.at + quoted as usize;
    let off = off
        .min(base.end.saturating_sub(1) as usize)
        .max(base.start as usize);
    Span::new(base.file, off, off + 1)
}

impl Compiler<'_> {
    fn err(&mut self, span: Span, msg: impl Into<String>, label: impl Into<String>) {
        self.diags.push(Diagnostic::error(span, msg).label(label));
    }

    fn warn(&mut self, span: Span, msg: impl Into<String>, label: impl Into<String>) {
        self.diags.push(Diagnostic::warning(span, msg).label(label));
    }

    fn has_unimplemented(&self) -> bool {
        self.modules.iter().any(|m| m.descriptor.is_none())
    }

    fn is_loaded(&self, name: &str) -> bool {
        self.modules.iter().any(|m| m.name == name)
    }

    // ------------------------------------------------------------------ modules

    fn load_module(&mut self, m: &super::span::Spanned<String>, item: usize) {
        let name = module_name(&m.node).to_string();
        if name.is_empty() {
            self.err(m.span, "empty module name", "expected \"name.so\"");
            return;
        }
        if self.is_loaded(&name) {
            self.warn(
                m.span,
                format!("module `{name}` is loaded twice"),
                "already loaded above",
            );
            return;
        }
        let descriptor = self.reg.module(&name);
        if descriptor.is_none() {
            if is_opensips_module(&name) {
                self.diags.push(
                    Diagnostic::error(
                        m.span,
                        format!("module `{name}` is not implemented in osips yet"),
                    )
                    .label("osips does not provide this OpenSIPS module")
                    .code(DiagCode::ModuleNotImplemented {
                        module: name.clone(),
                    }),
                );
            } else {
                let implemented: Vec<&str> = self.reg.modules().map(|d| d.name).collect();
                let mut d = Diagnostic::error(m.span, format!("unknown module `{name}`"))
                    .label("no such OpenSIPS module");
                let best = implemented
                    .iter()
                    .chain(super::known_modules::OPENSIPS_MODULES.iter())
                    .map(|n| (*n, globals::edit_distance(&name, n)))
                    .filter(|(_, d)| *d <= 2)
                    .min_by_key(|(_, d)| *d);
                if let Some((b, _)) = best {
                    d = d.note(format!("did you mean `{b}`?"));
                }
                self.diags.push(d);
                return;
            }
        }
        self.loaded_at.insert(name.clone(), item);
        self.modules.push(LoadedModule {
            name,
            descriptor,
            span: m.span,
        });
    }

    /// Each module's own check of its parameters, reported at its loadmodule.
    fn check_modparams(&mut self, modparams: &HashMap<String, ModParams>) {
        let none = ModParams::default();
        let mut errors = Vec::new();
        for m in &self.modules {
            let Some(check) = m.descriptor.and_then(|d| d.check_params) else {
                continue;
            };
            if let Err(e) = check(modparams.get(&m.name).unwrap_or(&none)) {
                errors.push((m.span, format!("module `{}`: {e}", m.name)));
            }
        }
        for (span, msg) in errors {
            self.err(span, msg, "bad module parameters");
        }
    }

    fn check_deps(&mut self) {
        let mut missing = Vec::new();
        for m in &self.modules {
            if let Some(d) = m.descriptor {
                for dep in d.deps {
                    if !self.is_loaded(dep) {
                        missing.push((m.span, m.name.clone(), dep.to_string()));
                    }
                }
            }
        }
        for (span, m, dep) in missing {
            self.diags.push(
                Diagnostic::error(span, format!("module `{m}` needs module `{dep}`"))
                    .label(format!("add loadmodule \"{dep}.so\"")),
            );
        }
    }

    fn modparam(&mut self, mp: &ModParam, item: usize, out: &mut HashMap<String, ModParams>) {
        let pattern = format!("(?i)^({})$", mp.module.node);
        let re = match regex::Regex::new(&pattern) {
            Ok(r) => r,
            Err(_) => {
                self.err(
                    mp.module.span,
                    "bad module name pattern",
                    "not a valid regular expression",
                );
                return;
            }
        };
        let matched: Vec<(String, Option<&'static super::module::ModuleDescriptor>)> = self
            .modules
            .iter()
            .filter(|m| re.is_match(&m.name))
            .map(|m| (m.name.clone(), m.descriptor))
            .collect();
        if matched.is_empty() {
            let hint = if is_opensips_module(&mp.module.node)
                || self.reg.module(&mp.module.node).is_some()
            {
                format!("add loadmodule \"{}.so\" before it", mp.module.node)
            } else {
                "no loaded module has this name".to_string()
            };
            self.err(
                mp.module.span,
                format!(
                    "modparam for module `{}`, which is not loaded",
                    mp.module.node
                ),
                hint,
            );
            return;
        }
        for (name, desc) in matched {
            if self.loaded_at.get(&name).is_some_and(|&at| at > item) {
                self.err(
                    mp.module.span,
                    format!("modparam for module `{name}` before its loadmodule"),
                    "move the loadmodule above this line",
                );
                continue;
            }
            let Some(desc) = desc else {
                continue; // not implemented: its parameters are unknown
            };
            let Some(spec) = desc.param(&mp.param.node) else {
                let mut d = Diagnostic::error(
                    mp.param.span,
                    format!("unknown parameter `{}` of module `{name}`", mp.param.node),
                )
                .label("not a parameter of this module");
                if let Some(b) = desc
                    .params
                    .iter()
                    .map(|p| (p.name, globals::edit_distance(&mp.param.node, p.name)))
                    .filter(|(_, d)| *d <= 2)
                    .min_by_key(|(_, d)| *d)
                {
                    d = d.note(format!("did you mean `{}`?", b.0));
                }
                self.diags.push(d);
                continue;
            };
            let value = match (&mp.value.node, spec.kind) {
                (ModParamValue::Int(i), ModParamKind::Int | ModParamKind::IntOrStr) => {
                    ParamValue::Int(*i)
                }
                (ModParamValue::Str(s), ModParamKind::Str | ModParamKind::IntOrStr) => {
                    ParamValue::Str(s.clone())
                }
                (ModParamValue::Str(s), ModParamKind::Flag | ModParamKind::BranchFlag) => {
                    let branch = spec.kind == ModParamKind::BranchFlag;
                    if self.flag(s, branch, mp.value.span).is_none() {
                        continue;
                    }
                    ParamValue::Str(s.clone())
                }
                (ModParamValue::Int(_), ModParamKind::Flag | ModParamKind::BranchFlag) => {
                    let msg = format!(
                        "parameter `{}` of module `{name}` takes a flag name",
                        mp.param.node
                    );
                    self.err(
                        mp.value.span,
                        msg,
                        "flags are named in OpenSIPS 3.x: quote it",
                    );
                    continue;
                }
                (ModParamValue::Str(s), ModParamKind::Int) => {
                    self.diags.push(
                        Diagnostic::error(
                            mp.value.span,
                            format!(
                                "parameter `{}` of module `{name}` takes an integer",
                                mp.param.node
                            ),
                        )
                        .label("this is a string")
                        .note(if s.trim().parse::<i64>().is_ok() {
                            format!("write {s} without quotes")
                        } else {
                            "give a number".into()
                        }),
                    );
                    continue;
                }
                (ModParamValue::Int(_), ModParamKind::Str) => {
                    self.err(
                        mp.value.span,
                        format!(
                            "parameter `{}` of module `{name}` takes a string",
                            mp.param.node
                        ),
                        "this is a number",
                    );
                    continue;
                }
            };
            let entry = out
                .entry(name.clone())
                .or_default()
                .0
                .entry(spec.name.to_string())
                .or_default();
            if spec.multi {
                entry.push(value);
            } else {
                *entry = vec![value];
            }
        }
    }

    // ------------------------------------------------------------------ globals

    fn global(
        &mut self,
        g: &GlobalParam,
        out: &mut Vec<(String, GlobalSetting, Span)>,
        sockets: &mut Vec<(globals::SocketDef, Span)>,
        aliases: &mut Vec<String>,
        mpath: &mut Vec<String>,
    ) {
        let name = g.name.node.as_str();
        let (canon, kind) = match globals::lookup(name) {
            Lookup::Known(n, k) => (n, k),
            Lookup::Deprecated(new, k, note) => {
                self.warn(
                    g.name.span,
                    format!("`{name}` is deprecated: {note}"),
                    format!("read as `{new}`"),
                );
                (new, k)
            }
            Lookup::Removed(what) => {
                self.warn(
                    g.name.span,
                    format!("global parameter `{name}` no longer exists; ignored"),
                    what,
                );
                return;
            }
            Lookup::Unknown => {
                let mut d =
                    Diagnostic::error(g.name.span, format!("unknown global parameter `{name}`"))
                        .label("not an OpenSIPS core parameter");
                if let Some(s) = globals::suggest(name) {
                    d = d.note(format!("did you mean `{s}`?"));
                }
                self.diags.push(d);
                return;
            }
        };
        let v = &g.value.node;
        let vs = g.value.span;
        let text = match v {
            GlobalValue::Int(i) => i.to_string(),
            GlobalValue::Str(s) | GlobalValue::Ident(s) | GlobalValue::Raw(s) => s.clone(),
        };
        let setting = match kind {
            GlobalKind::Num | GlobalKind::SNum => match v {
                GlobalValue::Int(i) if *i >= 0 || kind == GlobalKind::SNum => {
                    GlobalSetting::Int(*i)
                }
                GlobalValue::Int(_) => {
                    self.err(
                        vs,
                        format!("`{canon}` cannot be negative"),
                        "expected a number ≥ 0",
                    );
                    return;
                }
                _ => {
                    self.err(
                        vs,
                        format!("`{canon}` takes a number"),
                        "expected a number or yes/no",
                    );
                    return;
                }
            },
            GlobalKind::Str => match v {
                GlobalValue::Str(s) => GlobalSetting::Str(s.clone()),
                _ => {
                    self.err(
                        vs,
                        format!("`{canon}` takes a quoted string"),
                        "expected \"...\"",
                    );
                    return;
                }
            },
            GlobalKind::Id | GlobalKind::StrOrId => match v {
                GlobalValue::Str(s) | GlobalValue::Ident(s) => GlobalSetting::Str(s.clone()),
                GlobalValue::Raw(s) if kind == GlobalKind::StrOrId => GlobalSetting::Str(s.clone()),
                _ => {
                    self.err(
                        vs,
                        format!("`{canon}` takes a name"),
                        "expected an identifier",
                    );
                    return;
                }
            },
            GlobalKind::Tos => match v {
                GlobalValue::Int(i) => GlobalSetting::Int(*i),
                GlobalValue::Ident(s) => {
                    let t = match s.as_str() {
                        "IPTOS_LOWDELAY" => 0x10,
                        "IPTOS_THROUGHPUT" => 0x08,
                        "IPTOS_RELIABILITY" => 0x04,
                        "IPTOS_LOWCOST" | "IPTOS_MINCOST" => 0x02,
                        _ => {
                            self.err(
                                vs,
                                format!("unknown TOS `{s}`"),
                                "expected a number or IPTOS_LOWDELAY, IPTOS_THROUGHPUT, ...",
                            );
                            return;
                        }
                    };
                    GlobalSetting::Int(t)
                }
                _ => {
                    self.err(vs, "`tos` takes a number or an IPTOS_* name", "bad value");
                    return;
                }
            },
            GlobalKind::Workers => {
                let mut words = text.split_whitespace();
                match words.next().and_then(|w| w.parse::<i64>().ok()) {
                    Some(n) if n >= 0 => {
                        let rest: Vec<&str> = words.collect();
                        if !(rest.is_empty()
                            || (rest.len() == 2 && rest[0] == "use_auto_scaling_profile"))
                        {
                            self.err(
                                vs,
                                format!("bad `{canon}` value"),
                                "expected NUMBER [use_auto_scaling_profile NAME]",
                            );
                            return;
                        }
                        GlobalSetting::Int(n)
                    }
                    _ => {
                        self.err(
                            vs,
                            format!("`{canon}` takes a number of workers"),
                            "expected a number",
                        );
                        return;
                    }
                }
            }
            GlobalKind::Socket => match globals::parse_socket(&text) {
                Ok(s) => {
                    sockets.push((s, vs));
                    GlobalSetting::Str(text)
                }
                Err(e) => {
                    self.err(
                        vs,
                        format!("bad socket definition: {e}"),
                        "expected proto:address[:port] [options]",
                    );
                    return;
                }
            },
            GlobalKind::Alias => {
                aliases.extend(text.split_whitespace().map(str::to_string));
                GlobalSetting::Str(text)
            }
            GlobalKind::Raw => GlobalSetting::Str(text),
        };
        if let ("mpath", GlobalSetting::Str(s)) = (canon, &setting) {
            mpath.push(s.clone());
        }
        if let ("tcp_no_new_conn_bflag" | "tcp_no_new_conn_rplflag", GlobalSetting::Str(f)) =
            (canon, &setting)
        {
            self.flag(f, canon == "tcp_no_new_conn_bflag", vs);
        }
        out.push((canon.to_string(), setting, g.span));
        if let ("log_stderror", Some(GlobalSetting::Int(i))) =
            (name, out.last().map(|o| o.1.clone()))
        {
            out.push((
                "syslog_enabled".into(),
                GlobalSetting::Int((i == 0) as i64),
                g.span,
            ));
        }
    }

    // ------------------------------------------------------------------ routes

    fn declare_routes(&mut self, cfg: &Config) {
        for item in &cfg.items {
            let Item::Route(r) = item else { continue };
            if r.interval.is_some_and(|i| i <= 0) {
                self.err(
                    r.span,
                    "timer_route interval must be at least 1 second",
                    "bad interval",
                );
            }
            let key = (r.kind, r.name.as_ref().map(|n| n.node.clone()));
            if let Some(&first) = self.route_index.get(&key) {
                let at = self.sources.location(self.route_meta[first].span);
                let what = match &r.name {
                    Some(n) => format!("{}[{}]", r.kind.keyword(), n.node),
                    None => r.kind.keyword().to_string(),
                };
                self.diags.push(
                    Diagnostic::error(r.span, format!("`{what}` is defined more than once"))
                        .label("second definition")
                        .note(format!("first defined at {at}")),
                );
                continue;
            }
            self.route_index.insert(key.clone(), self.route_meta.len());
            self.route_meta.push(RouteMeta {
                kind: r.kind,
                name: key.1,
                span: r.span,
            });
        }
        self.edges = vec![Vec::new(); self.route_meta.len()];
        self.sites = (0..self.route_meta.len()).map(|_| Vec::new()).collect();
        if !self.route_index.contains_key(&(RouteKind::Request, None)) {
            let span = match cfg.items.first() {
                Some(Item::Route(r)) => r.span,
                Some(Item::Global(g)) => g.span,
                Some(Item::ModParam(m)) => m.span,
                Some(Item::LoadModule(m)) => m.span,
                None => Span::default(),
            };
            if !self.sources.files().is_empty() {
                self.diags.push(
                    Diagnostic::error(
                        Span::new(span.file, 0, 0),
                        "the script has no main `route { ... }` block",
                    )
                    .label("requests have nowhere to go"),
                );
            }
        }
    }

    fn route_ref(&mut self, kind: RouteKind, name: &str, span: Span) -> Option<usize> {
        let key = (
            kind,
            if name == "0" && matches!(kind, RouteKind::Request | RouteKind::OnReply) {
                None
            } else {
                Some(name.to_string())
            },
        );
        if let Some(&i) = self.route_index.get(&key) {
            return Some(i);
        }
        let mut d = Diagnostic::error(span, format!("unknown route `{}[{name}]`", kind.keyword()))
            .label("no block with this name");
        let best = self
            .route_meta
            .iter()
            .filter(|m| m.kind == kind)
            .filter_map(|m| m.name.as_deref())
            .map(|n| (n, globals::edit_distance(name, n)))
            .filter(|(_, d)| *d <= 2)
            .min_by_key(|(_, d)| *d);
        if let Some((b, _)) = best {
            d = d.note(format!("did you mean `{b}`?"));
        }
        self.diags.push(d);
        None
    }

    /// Route types each block runs in: its own kind, and for `route[x]` every type of its callers.
    fn check_route_types(&mut self) {
        let n = self.route_meta.len();
        let mut types: Vec<RouteMask> = self
            .route_meta
            .iter()
            .map(|m| {
                if m.kind == RouteKind::Request && m.name.is_some() {
                    RouteMask::NONE
                } else {
                    RouteMask::of(m.kind)
                }
            })
            .collect();
        let mut changed = true;
        while changed {
            changed = false;
            for from in 0..n {
                for &to in &self.edges[from] {
                    let t = types[to].or(types[from]);
                    if t != types[to] {
                        types[to] = t;
                        changed = true;
                    }
                }
            }
        }
        let mut errors = Vec::new();
        for (r, sites) in self.sites.iter().enumerate() {
            for s in sites {
                let bad: Vec<RouteKind> = types[r]
                    .kinds()
                    .filter(|k| !s.allowed.contains(*k))
                    .collect();
                if let Some(k) = bad.first() {
                    let meta = &self.route_meta[r];
                    let block = match &meta.name {
                        Some(nm) => format!("{}[{nm}]", meta.kind.keyword()),
                        None => meta.kind.keyword().to_string(),
                    };
                    let via = if meta.kind == RouteKind::Request && meta.name.is_some() {
                        format!(" (`{block}` is called from a {})", k.keyword())
                    } else {
                        String::new()
                    };
                    let allowed: Vec<&str> = s.allowed.kinds().map(|k| k.keyword()).collect();
                    errors.push(
                        Diagnostic::error(
                            s.span,
                            format!("`{}` cannot be used in {}{via}", s.name, k.keyword()),
                        )
                        .label(format!("not allowed in {}", k.keyword()))
                        .note(format!(
                            "`{}` may be used in: {}",
                            s.name,
                            allowed.join(", ")
                        )),
                    );
                }
            }
        }
        self.diags.extend(errors);
    }

    // ------------------------------------------------------------------ variables

    fn known_pv(&self, name: &str) -> bool {
        pvnames::is_known(name)
            || self
                .modules
                .iter()
                .filter_map(|m| m.descriptor)
                .any(|d| d.pvs.iter().any(|p| p.name == name))
    }

    /// Parses a variable token and checks its names; None after reporting an error.
    fn pv(&mut self, text: &str, span: Span) -> Option<PvSpec> {
        match parse_pv(text) {
            Ok(mut spec) => self.check_pv(&mut spec, span).then_some(spec),
            Err(e) => {
                self.diags.push(
                    Diagnostic::error(
                        pv_err_span(span, &e, false),
                        format!("bad variable `{text}`: {}", e.msg),
                    )
                    .label("here"),
                );
                None
            }
        }
    }

    fn check_pv(&mut self, spec: &mut PvSpec, span: Span) -> bool {
        let mut ok = true;
        if let ("var", Some(PvInner::Literal(n))) = (spec.name.as_str(), &spec.inner) {
            let next = self.var_slots.len() as u32;
            spec.slot = Some(*self.var_slots.entry(n.clone()).or_insert(next));
        }
        if let Some((_, repl)) = pvnames::REMOVED_PVS.iter().find(|(n, _)| *n == spec.name) {
            self.warn(
                span,
                format!("`${}` was removed in OpenSIPS 3.3", spec.name),
                format!("read as `{repl}`"),
            );
            if let Ok(new) = parse_pv(repl) {
                if spec.trans.is_empty() && spec.index.is_none() {
                    *spec = new;
                } else if new.inner.is_none() || spec.inner.is_none() {
                    spec.name = new.name;
                    spec.class = new.class;
                    spec.inner = new.inner.or(spec.inner.take());
                }
            }
        }
        match pvnames::lookup(&spec.name) {
            Some(info) => {
                if info.module != "core" && !self.is_loaded(info.module) {
                    self.diags.push(
                        Diagnostic::error(
                            span,
                            format!(
                                "`${}` is provided by module `{}`, which is not loaded",
                                spec.name, info.module
                            ),
                        )
                        .label(format!("add loadmodule \"{}.so\"", info.module)),
                    );
                    ok = false;
                }
                if NEEDS_INNER.contains(&spec.name.as_str()) && spec.inner.is_none() {
                    self.err(
                        span,
                        format!("`${}` needs a name in parentheses", spec.name),
                        format!("write `${}(name)`", spec.name),
                    );
                    ok = false;
                }
            }
            None if self.known_pv(&spec.name) => {}
            None if self.has_unimplemented() => {
                // Might belong to a loaded module osips does not implement yet.
                self.unresolved.insert(format!("${}", spec.name));
            }
            None => {
                self.err(
                    span,
                    format!("unknown variable `${}`", spec.name),
                    "no such pseudo-variable",
                );
                ok = false;
            }
        }
        if let Some(PvInner::Pv(inner)) = &mut spec.inner {
            ok &= self.check_pv(inner, span);
        }
        if let Some(PvIndex::Pv(inner)) = &mut spec.index {
            ok &= self.check_pv(inner, span);
        }
        for t in &mut spec.trans {
            for p in t.params.iter_mut().chain(t.index.iter_mut()) {
                if let TrParam::Pv(inner) = p {
                    ok &= self.check_pv(inner, span);
                }
            }
        }
        ok
    }

    fn writable(&self, spec: &PvSpec) -> bool {
        match pvnames::lookup(&spec.name) {
            Some(i) => i.writable,
            None => {
                let from_module = self
                    .modules
                    .iter()
                    .filter_map(|m| m.descriptor)
                    .flat_map(|d| d.pvs.iter())
                    .find(|p| p.name == spec.name);
                from_module
                    .map(|p| p.writable)
                    .unwrap_or(self.has_unimplemented())
            }
        }
    }

    /// A variable that is written: must be writable and have no transformation.
    fn lvalue(&mut self, text: &str, span: Span) -> Option<PvSpec> {
        let spec = self.pv(text, span)?;
        if !spec.trans.is_empty() {
            self.err(
                span,
                format!("cannot assign to `{text}`"),
                "a variable with transformations is read-only",
            );
            return None;
        }
        if !self.writable(&spec) {
            self.err(
                span,
                format!("`${}` is read-only", spec.name),
                "cannot be assigned",
            );
            return None;
        }
        Some(spec)
    }

    fn format(&mut self, s: &str, span: Span) -> Option<Format> {
        let known = |n: &str| self.known_pv(n);
        match parse_format(s, &known) {
            Ok(mut f) => {
                let mut ok = true;
                for part in &mut f.parts {
                    if let FmtPart::Pv(pv) = part {
                        ok &= self.check_pv(pv, span);
                    }
                }
                ok.then_some(f)
            }
            Err(e) => {
                self.diags.push(
                    Diagnostic::error(
                        pv_err_span(span, &e, true),
                        format!("bad variable in string: {}", e.msg),
                    )
                    .label("here"),
                );
                None
            }
        }
    }

    // ------------------------------------------------------------------ statements

    fn block(&mut self, b: &Block) -> Vec<CStmt> {
        b.iter().filter_map(|s| self.stmt(s)).collect()
    }

    fn stmt(&mut self, s: &Stmt) -> Option<CStmt> {
        let kind = match &s.kind {
            StmtKind::Call(c) => CStmtKind::Call(self.call(c)?),
            StmtKind::Route(rc) => CStmtKind::Route(self.route_call(rc)?),
            StmtKind::Assign { lhs, op, rhs } => {
                let l = self.lvalue(&lhs.node, lhs.span);
                let r = self.expr(rhs);
                CStmtKind::Assign {
                    lhs: l?,
                    op: *op,
                    rhs: r?,
                }
            }
            StmtKind::If { cond, then, els } => {
                let c = self.cond(cond);
                let t = self.block(then);
                let e = els.as_ref().map(|b| self.block(b));
                CStmtKind::If {
                    cond: c?,
                    then: t,
                    els: e,
                }
            }
            StmtKind::While { cond, body } => {
                let c = self.cond(cond);
                let b = self.block(body);
                CStmtKind::While { cond: c?, body: b }
            }
            StmtKind::ForEach { var, src, body } => {
                let v = self.lvalue(&var.node, var.span);
                if v.as_ref()
                    .is_some_and(|v| !matches!(v.name.as_str(), "var" | "avp" | "json"))
                {
                    self.err(
                        var.span,
                        "the loop variable must be a $var, $avp or $json",
                        "not allowed as iterator",
                    );
                }
                let sp = self.pv(&src.node, src.span);
                if sp.as_ref().is_some_and(|sp| sp.index != Some(PvIndex::All)) {
                    self.err(
                        src.span,
                        "the loop source must be indexed with [*]",
                        format!("write `$({}[*])`", src.node.trim_start_matches('$')),
                    );
                }
                let b = self.block(body);
                CStmtKind::ForEach {
                    var: v?,
                    src: sp?,
                    body: b,
                }
            }
            StmtKind::Switch { subject, cases } => {
                let sub = self.pv(&subject.node, subject.span);
                let cs = cases
                    .iter()
                    .map(|c| CCase {
                        label: c.label.as_ref().map(|l| match &l.node {
                            super::ast::CaseLabel::Int(i) => super::ir::CaseLabel::Int(*i as i32),
                            super::ast::CaseLabel::Str(s) => super::ir::CaseLabel::Str(s.clone()),
                        }),
                        body: self.block(&c.body),
                    })
                    .collect();
                CStmtKind::Switch {
                    subject: sub?,
                    cases: cs,
                }
            }
            StmtKind::Block(b) => CStmtKind::Block(self.block(b)),
            StmtKind::Break => CStmtKind::Break,
            StmtKind::Return(args) => {
                let mut vals = Vec::new();
                for (i, a) in args.iter().enumerate() {
                    let e = match &a.kind {
                        ArgKind::Int(n) => CExpr::Int(*n as i32),
                        ArgKind::Var(v) => CExpr::Pv(self.pv(v, a.span)?),
                        ArgKind::Str { value, .. } if i > 0 => CExpr::Str(value.clone().into()),
                        ArgKind::Null if i > 0 => CExpr::Null,
                        ArgKind::Empty if args.len() == 1 => continue,
                        _ => {
                            self.err(
                                a.span,
                                "bad return value",
                                if i == 0 {
                                    "the return code is a number or a variable"
                                } else {
                                    "expected a number, string, variable or null"
                                },
                            );
                            return None;
                        }
                    };
                    vals.push(e);
                }
                let mut it = vals.into_iter();
                CStmtKind::Return {
                    code: it.next(),
                    values: it.collect(),
                }
            }
            StmtKind::Exit => CStmtKind::Exit,
            StmtKind::Drop => CStmtKind::Drop,
            StmtKind::Assert { cond, desc } => CStmtKind::Assert {
                cond: self.cond(cond)?,
                desc: desc.clone(),
            },
            StmtKind::Log { level, msg } => {
                let level = level.unwrap_or(4);
                if !(-3..=4).contains(&level) {
                    self.err(
                        s.span,
                        format!("log level {level} out of range"),
                        "levels go from -3 (alert) to 4 (debug)",
                    );
                }
                CStmtKind::Log {
                    level: level as i32,
                    msg: msg.clone(),
                }
            }
            StmtKind::Xlog { level, fmt } => {
                let lvl = match level {
                    None => XlogLevel::Default,
                    Some(a) => match &a.kind {
                        ArgKind::Str { value, .. } => match xlog_level(value) {
                            Some(l) => XlogLevel::Const(l),
                            None => {
                                self.diags.push(
                                    Diagnostic::error(a.span, format!("unknown xlog level `{value}`"))
                                        .label("expected L_ALERT, L_CRIT, L_ERR, L_WARN, L_NOTICE, L_INFO or L_DBG"),
                                );
                                return None;
                            }
                        },
                        ArgKind::Int(i) => XlogLevel::Const(*i as i32),
                        ArgKind::Var(v) => XlogLevel::Pv(self.pv(v, a.span)?),
                        _ => {
                            self.err(a.span, "bad xlog level", "expected \"L_...\" or a variable");
                            return None;
                        }
                    },
                };
                CStmtKind::Xlog {
                    level: lvl,
                    fmt: self.format(&fmt.node, fmt.span)?,
                }
            }
            StmtKind::Error(a, b) => CStmtKind::Error(a.clone(), b.clone()),
            StmtKind::Async {
                call,
                resume,
                timeout,
            } => {
                let c = self.call(call);
                self.sites[self.cur_route].push(FnSite {
                    name: "async".into(),
                    allowed: RouteMask::REQUEST.or(RouteMask::ONREPLY),
                    span: s.span,
                });
                let r = self.route_ref(RouteKind::Request, &resume.node, resume.span);
                if let Some(r) = r {
                    self.edges[self.cur_route].push(r);
                }
                CStmtKind::Async {
                    call: c?,
                    resume: r?,
                    timeout: timeout.map(|t| t as i32),
                }
            }
            StmtKind::Launch { call, report, text } => {
                let c = self.call(call);
                let r = match report {
                    Some(rn) => {
                        let r = self.route_ref(RouteKind::Request, &rn.node, rn.span)?;
                        self.edges[self.cur_route].push(r);
                        Some(r)
                    }
                    None => None,
                };
                CStmtKind::Launch {
                    call: c?,
                    report: r,
                    text: text.clone(),
                }
            }
            StmtKind::Nop => CStmtKind::Nop,
        };
        Some(CStmt { kind, span: s.span })
    }

    fn route_call(&mut self, rc: &RouteCall) -> Option<CRouteCall> {
        if rc.args.len() > 7 {
            self.err(rc.target.span, "too many route parameters", "at most 7");
        }
        let target = match &rc.target.node {
            RouteRef::Name(n) => {
                let i = self.route_ref(RouteKind::Request, n, rc.target.span)?;
                self.edges[self.cur_route].push(i);
                CRouteTarget::Static(i)
            }
            RouteRef::Dynamic(s) => {
                let f = self.format(s, rc.target.span)?;
                // Every request route may be reached: they inherit this route's type.
                for (i, m) in self.route_meta.iter().enumerate() {
                    if m.kind == RouteKind::Request && m.name.is_some() {
                        self.edges[self.cur_route].push(i);
                    }
                }
                CRouteTarget::Dynamic(f)
            }
        };
        let mut args = Vec::new();
        for a in &rc.args {
            args.push(match &a.kind {
                ArgKind::Str { value, .. } => CExpr::Str(value.clone().into()),
                ArgKind::Int(i) => CExpr::Int(*i as i32),
                ArgKind::Var(v) => CExpr::Pv(self.pv(v, a.span)?),
                ArgKind::Null | ArgKind::Empty => CExpr::Null,
            });
        }
        Some(CRouteCall {
            target,
            args,
            span: rc.target.span,
        })
    }

    fn resolve(&mut self, name: &str, span: Span) -> Option<FuncRef> {
        let mut name = name.to_string();
        if let Some((old, new, ver)) = RENAMED.iter().find(|(o, _, _)| *o == name) {
            self.warn(
                span,
                format!("`{old}()` was removed in OpenSIPS {ver}"),
                format!("read as `{new}()`"),
            );
            name = new.to_string();
        }
        if let Some(spec) = self.reg.core().function(&name) {
            return Some(FuncRef::Resolved {
                module: "core",
                spec,
            });
        }
        for m in &self.modules {
            if let Some(spec) = m.descriptor.and_then(|d| d.function(&name)) {
                return Some(FuncRef::Resolved {
                    module: m.descriptor.map(|d| d.name).unwrap_or(""),
                    spec,
                });
            }
        }
        let exporters = self.reg.exporters(&name);
        if let Some(m) = exporters.first() {
            self.diags.push(
                Diagnostic::error(
                    span,
                    format!(
                        "`{name}` is exported by module `{}`, which is not loaded",
                        m.name
                    ),
                )
                .label("missing loadmodule")
                .note(format!("add loadmodule \"{}.so\"", m.name)),
            );
            return None;
        }
        if self.has_unimplemented() {
            self.unresolved.insert(format!("{name}()"));
            return Some(FuncRef::Unresolved(name));
        }
        let mut d = Diagnostic::error(span, format!("unknown function `{name}`"))
            .label("not exported by the core or any loaded module")
            .note("missing loadmodule?");
        let candidates = self
            .reg
            .core()
            .functions
            .iter()
            .chain(
                self.modules
                    .iter()
                    .filter_map(|m| m.descriptor)
                    .flat_map(|d| d.functions.iter()),
            )
            .map(|f| (f.name, globals::edit_distance(&name, f.name)))
            .filter(|(_, d)| *d <= 2)
            .min_by_key(|(_, d)| *d);
        if let Some((b, _)) = candidates {
            d = d.note(format!("did you mean `{b}`?"));
        }
        self.diags.push(d);
        None
    }

    fn call(&mut self, c: &Call) -> Option<CCall> {
        let func = self.resolve(&c.name.node, c.name.span)?;
        if c.args.len() > MAX_ARGS {
            self.err(
                c.args[MAX_ARGS].span,
                format!("too many arguments to `{}`", c.name.node),
                format!("at most {MAX_ARGS}"),
            );
            return None;
        }
        let spec: &'static FunctionSpec = match &func {
            FuncRef::Resolved { spec, .. } => spec,
            FuncRef::Unresolved(_) => {
                // Still check what can be checked: the variables and strings.
                let mut args = Vec::new();
                for a in &c.args {
                    args.push(match &a.kind {
                        ArgKind::Str { value, .. } => CArg::Format(self.format(value, a.span)?),
                        ArgKind::Int(i) => CArg::Int(*i as i32),
                        ArgKind::Var(v) => CArg::Pv(self.pv(v, a.span)?),
                        ArgKind::Null | ArgKind::Empty => CArg::None,
                    });
                }
                return Some(CCall {
                    func,
                    args,
                    span: c.span,
                });
            }
        };
        self.sites[self.cur_route].push(FnSite {
            name: spec.name.to_string(),
            allowed: spec.routes,
            span: c.name.span,
        });
        // Trailing empty slots (`f("a",)`) count as omitted.
        let given = c.args.len();
        if given > spec.params.len() {
            let n = spec.params.len();
            self.diags.push(
                Diagnostic::error(
                    c.args[n].span,
                    format!("too many arguments to `{}`", spec.name),
                )
                .label(format!("`{}` takes {}", spec.name, count(n)))
                .note(format!("{given} given")),
            );
            return None;
        }
        let mut args = Vec::new();
        let mut ok = true;
        for (i, pk) in spec.params.iter().enumerate() {
            let Some(a) = c.args.get(i) else {
                if !pk.optional {
                    let want = spec.min_args();
                    self.diags.push(
                        Diagnostic::error(c.span, format!("missing arguments to `{}`", spec.name))
                            .label(format!("needs at least {}, {given} given", count(want))),
                    );
                    return None;
                }
                args.push(CArg::None);
                continue;
            };
            match self.arg(spec, i, pk.ty, pk.optional, a) {
                Some(ca) => args.push(ca),
                None => ok = false,
            }
        }
        if ok && let FuncRef::Resolved { module, .. } = &func {
            ok = self.arg_checks(module, spec, c);
        }
        ok.then_some(CCall {
            func,
            args,
            span: c.span,
        })
    }

    /// Runs the module's compile-time checks of `spec`'s constant arguments; false if one fails.
    fn arg_checks(&mut self, module: &str, spec: &FunctionSpec, c: &Call) -> bool {
        let Some(d) = self
            .modules
            .iter()
            .filter_map(|m| m.descriptor)
            .find(|d| d.name == module)
        else {
            return true;
        };
        let mut ok = true;
        for check in d.arg_checks.iter().filter(|k| k.function == spec.name) {
            let Some(a) = c.args.get(check.arg) else {
                continue;
            };
            if let ArgKind::Str { value, .. } = &a.kind
                && let Err(e) = (check.check)(value)
            {
                self.diags.push(
                    Diagnostic::error(
                        a.span,
                        format!("argument {} of `{}` is invalid", check.arg + 1, spec.name),
                    )
                    .label(e),
                );
                ok = false;
            }
        }
        ok
    }

    fn arg(
        &mut self,
        spec: &FunctionSpec,
        i: usize,
        ty: ArgType,
        optional: bool,
        a: &Arg,
    ) -> Option<CArg> {
        let fname = spec.name;
        let n = i + 1;
        let bad = |c: &mut Self, label: &str, note: Option<String>| {
            let mut d = Diagnostic::error(
                a.span,
                format!("argument {n} of `{fname}` must be {}", ty.describe()),
            )
            .label(label.to_string());
            if let Some(nt) = note {
                d = d.note(nt);
            }
            c.diags.push(d);
            None
        };
        match (&a.kind, ty) {
            (ArgKind::Empty, _) => {
                if optional {
                    Some(CArg::None)
                } else {
                    bad(self, "this argument cannot be omitted", None)
                }
            }
            (ArgKind::Null, _) => bad(self, "null is not a valid argument", None),
            // Integers
            (ArgKind::Int(v), ArgType::Int | ArgType::Any) => Some(CArg::Int(*v as i32)),
            (ArgKind::Str { value, .. }, ArgType::Int) => {
                let note = value
                    .trim()
                    .parse::<i64>()
                    .is_ok()
                    .then(|| format!("write {} without quotes", value.trim()));
                bad(self, "quoted strings are not integers (OpenSIPS 3.x)", note)
            }
            (ArgKind::Var(v), ArgType::Int | ArgType::Str | ArgType::RawStr | ArgType::Any) => {
                Some(CArg::Pv(self.pv(v, a.span)?))
            }
            // Strings
            (ArgKind::Str { value, .. }, ArgType::Str | ArgType::Any) => {
                Some(CArg::Format(self.format(value, a.span)?))
            }
            (ArgKind::Int(v), ArgType::Str | ArgType::RawStr) => {
                Some(CArg::Lit(v.to_string().into()))
            }
            (ArgKind::Str { value, .. }, ArgType::RawStr) => Some(CArg::Lit(value.clone().into())),
            (ArgKind::Str { value, .. }, ArgType::StaticStr) => {
                let f = self.format(value, a.span)?;
                match f.static_text() {
                    Some(t) => Some(CArg::Lit(t.into())),
                    None => bad(self, "variables are not allowed here", None),
                }
            }
            (
                ArgKind::Var(_),
                ArgType::StaticStr | ArgType::Flag | ArgType::BranchFlag | ArgType::Route(_),
            ) => bad(self, "variables are not allowed here", None),
            // Output variables
            (ArgKind::Var(v), ArgType::Var) => Some(CArg::Var(self.lvalue(v, a.span)?)),
            (ArgKind::Var(v), ArgType::Avp) => {
                let pv = self.pv(v, a.span)?;
                if pv.name != "avp" {
                    return bad(self, "not an $avp", None);
                }
                Some(CArg::Var(pv))
            }
            (_, ArgType::Var | ArgType::Avp) => bad(self, "expected an unquoted variable", None),
            // Regular expressions
            (ArgKind::Str { value, .. }, ArgType::Regex) => match posix_regex(value) {
                Ok(r) => Some(CArg::Regex(r)),
                Err(e) => bad(self, "invalid regular expression", Some(e)),
            },
            (ArgKind::Var(v), ArgType::Regex) => Some(CArg::RegexPv(self.pv(v, a.span)?)),
            (ArgKind::Int(v), ArgType::Regex) => {
                Some(CArg::Regex(posix_regex(&v.to_string()).ok()?))
            }
            // Flags
            (ArgKind::Str { value, .. }, ArgType::Flag | ArgType::BranchFlag) => self
                .flag(value, ty == ArgType::BranchFlag, a.span)
                .map(CArg::Flag),
            (ArgKind::Int(v), ArgType::Flag | ArgType::BranchFlag) => {
                self.warn(
                    a.span,
                    "flags are named in OpenSIPS 3.x",
                    format!("read as the flag name \"{v}\""),
                );
                self.flag(&v.to_string(), ty == ArgType::BranchFlag, a.span)
                    .map(CArg::Flag)
            }
            // Routes
            (ArgKind::Str { value, .. }, ArgType::Route(kind)) => {
                let r = self.route_ref(kind, value, a.span)?;
                Some(CArg::Route(kind, r))
            }
            (ArgKind::Int(v), ArgType::Route(kind)) => {
                let r = self.route_ref(kind, &v.to_string(), a.span)?;
                Some(CArg::Route(kind, r))
            }
            (ArgKind::Int(_), ArgType::StaticStr) => bad(self, "expected a quoted string", None),
        }
    }

    fn flag(&mut self, name: &str, branch: bool, span: Span) -> Option<u32> {
        let list = if branch {
            &mut self.flags.branch
        } else {
            &mut self.flags.msg
        };
        if let Some(i) = list.iter().position(|n| n == name) {
            return Some(i as u32);
        }
        if list.len() >= FlagNames::MAX {
            self.err(
                span,
                format!(
                    "too many {} flags",
                    if branch { "branch" } else { "message" }
                ),
                format!("at most {} names", FlagNames::MAX),
            );
            return None;
        }
        list.push(name.to_string());
        Some(list.len() as u32 - 1)
    }

    // ------------------------------------------------------------------ expressions

    fn cond(&mut self, c: &Cond) -> Option<CCond> {
        Some(match c {
            Cond::And(a, b) => {
                let (a, b) = (self.cond(a), self.cond(b));
                CCond::And(Box::new(a?), Box::new(b?))
            }
            Cond::Or(a, b) => {
                let (a, b) = (self.cond(a), self.cond(b));
                CCond::Or(Box::new(a?), Box::new(b?))
            }
            Cond::Not(a) => CCond::Not(Box::new(self.cond(a)?)),
            Cond::Cmp { lhs, op, rhs } => {
                let l = self.pv(&lhs.node, lhs.span);
                let r = self.operand(*op, rhs);
                CCond::Cmp {
                    lhs: l?,
                    op: *op,
                    rhs: r?,
                }
            }
            Cond::Arith(e) => CCond::Arith(self.expr(e)?),
            Cond::Call(call) => CCond::Call(self.call(call)?),
            Cond::Route(rc) => CCond::Route(self.route_call(rc)?),
            Cond::Var(v) => CCond::Pv(self.pv(&v.node, v.span)?),
            Cond::Int(i) => CCond::Int(*i as i32),
            Cond::Assign(s) => CCond::Assign(Box::new(self.stmt(s)?)),
        })
    }

    fn operand(&mut self, op: CmpOp, rhs: &super::span::Spanned<Operand>) -> Option<COperand> {
        Some(match &rhs.node {
            Operand::Var(v) => COperand::Pv(self.pv(&v.node, v.span)?),
            Operand::Str(s) if matches!(op, CmpOp::Match | CmpOp::NotMatch) => match posix_regex(s)
            {
                Ok(r) => COperand::Regex(r),
                Err(e) => {
                    self.diags.push(
                        Diagnostic::error(rhs.span, "invalid regular expression")
                            .label("cannot compile")
                            .note(e),
                    );
                    return None;
                }
            },
            Operand::Str(s) => COperand::Str(s.clone().into()),
            Operand::Int(i) => COperand::Int(*i as i32),
            Operand::Null => COperand::Null,
            Operand::Net(n) => {
                if super::transform::ip_matches("0.0.0.0", n)
                    .or_else(|| super::transform::ip_matches("::", n))
                    .is_none()
                {
                    self.err(
                        rhs.span,
                        format!("bad network `{n}`"),
                        "expected a.b.c.d/len, a.b.c.d/mask or an IPv6 network",
                    );
                    return None;
                }
                if !matches!(op, CmpOp::Eq | CmpOp::Ne) {
                    self.err(
                        rhs.span,
                        "addresses can only be compared with `==` or `!=`",
                        "here",
                    );
                    return None;
                }
                COperand::Net(n.clone())
            }
        })
    }

    fn expr(&mut self, e: &Expr) -> Option<CExpr> {
        Some(match e {
            Expr::Int(i) => CExpr::Int(*i as i32),
            Expr::Str(s) => CExpr::Str(s.clone().into()),
            Expr::Var(v) => CExpr::Pv(self.pv(&v.node, v.span)?),
            Expr::Null => CExpr::Null,
            Expr::Call(c) => CExpr::Call(self.call(c)?),
            Expr::Binary(op, a, b) => {
                let (a, b) = (self.expr(a), self.expr(b));
                CExpr::Binary(*op, Box::new(a?), Box::new(b?))
            }
            Expr::BitNot(a) => CExpr::BitNot(Box::new(self.expr(a)?)),
            Expr::Neg(a) => CExpr::Neg(Box::new(self.expr(a)?)),
            Expr::Cond(c) => CExpr::Cond(Box::new(self.cond(c)?)),
        })
    }
}

fn count(n: usize) -> String {
    format!("{n} argument{}", if n == 1 { "" } else { "s" })
}

/// xlog level names are recognised by their third character, as in OpenSIPS.
pub fn xlog_level(s: &str) -> Option<i32> {
    if !s.starts_with("L_") {
        return None;
    }
    Some(match s.as_bytes().get(2)? {
        b'A' => -3,
        b'C' => -2,
        b'E' => -1,
        b'W' => 1,
        b'N' => 2,
        b'I' => 3,
        b'D' => 4,
        _ => return None,
    })
}

/// Compiles a POSIX extended regex as OpenSIPS does for script comparisons: case-insensitive.
pub fn posix_regex(s: &str) -> Result<regex::Regex, String> {
    regex::RegexBuilder::new(s)
        .case_insensitive(true)
        .build()
        .map_err(|e| {
            // The regex crate prints the pattern and a caret over several lines: keep the reason.
            let text = e.to_string();
            let reason = text
                .lines()
                .rev()
                .find(|l| !l.trim().is_empty())
                .unwrap_or("")
                .trim();
            reason.strip_prefix("error: ").unwrap_or(reason).to_string()
        })
}
