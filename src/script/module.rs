//! The one descriptor every module exports (and the core too): its parameters, script functions,
//! pseudo-variables, MI commands, events and init hooks. The compiler resolves names through these
//! tables once; the interpreter calls `FunctionSpec::handler` with a [`RunCtx`].
//!
//! Adding a module = one file exporting `pub static DESCRIPTOR: ModuleDescriptor` + one line in
//! `crate::modules::MODULES`.

use super::ast::RouteKind;
use super::pv::PvSpec;
use super::value::{Str, Value};
use std::collections::HashMap;

/// Set of route types (OpenSIPS `route.h` masks) where a function may be called.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RouteMask(pub u16);

impl RouteMask {
    pub const REQUEST: RouteMask = RouteMask(1);
    pub const FAILURE: RouteMask = RouteMask(2);
    pub const ONREPLY: RouteMask = RouteMask(4);
    pub const BRANCH: RouteMask = RouteMask(8);
    pub const ERROR: RouteMask = RouteMask(16);
    pub const LOCAL: RouteMask = RouteMask(32);
    pub const STARTUP: RouteMask = RouteMask(64);
    pub const TIMER: RouteMask = RouteMask(128);
    pub const EVENT: RouteMask = RouteMask(256);
    pub const ALL: RouteMask = RouteMask(511);
    pub const NONE: RouteMask = RouteMask(0);

    pub const fn or(self, o: RouteMask) -> RouteMask {
        RouteMask(self.0 | o.0)
    }

    pub fn of(kind: RouteKind) -> RouteMask {
        match kind {
            RouteKind::Request => Self::REQUEST,
            RouteKind::Failure => Self::FAILURE,
            RouteKind::OnReply => Self::ONREPLY,
            RouteKind::Branch => Self::BRANCH,
            RouteKind::Error => Self::ERROR,
            RouteKind::Local => Self::LOCAL,
            RouteKind::Startup => Self::STARTUP,
            RouteKind::Timer => Self::TIMER,
            RouteKind::Event => Self::EVENT,
        }
    }

    pub fn contains(self, kind: RouteKind) -> bool {
        self.0 & Self::of(kind).0 != 0
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    pub fn kinds(self) -> impl Iterator<Item = RouteKind> {
        RouteKind::ALL
            .into_iter()
            .filter(move |k| self.contains(*k))
    }
}

/// How one function parameter is given in the script (OpenSIPS 3.x `cmds.h` / `mod_fix.c`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArgType {
    /// Unquoted number, or a variable holding an integer. A quoted string is an error.
    Int,
    /// Format string (`$` variables expanded at each call, `$$` = `$`) or a variable.
    Str,
    /// String literal only, no variables (e.g. `save("location")` table).
    StaticStr,
    /// String literal taken as is, without variable expansion (NO_EXPAND).
    RawStr,
    /// Unquoted writable variable (output parameter).
    Var,
    /// Unquoted `$avp(...)`.
    Avp,
    /// Regular expression: literal compiled once, or a variable compiled at each call.
    Regex,
    /// Message flag name (static string); names get ids at compile time.
    Flag,
    /// Branch flag name (static string).
    BranchFlag,
    /// Name of a route block of this kind (static string), e.g. `t_on_failure("x")`.
    Route(RouteKind),
    /// Number, string or variable (parameters OpenSIPS declares as INT|STR).
    Any,
}

impl ArgType {
    pub fn describe(self) -> &'static str {
        match self {
            ArgType::Int => "an integer (unquoted) or a variable",
            ArgType::Str => "a string or a variable",
            ArgType::StaticStr => "a constant string (no variables)",
            ArgType::RawStr => "a string",
            ArgType::Var => "a writable variable",
            ArgType::Avp => "an $avp(...) variable",
            ArgType::Regex => "a regular expression string or a variable",
            ArgType::Flag => "a flag name (constant string)",
            ArgType::BranchFlag => "a branch flag name (constant string)",
            ArgType::Route(_) => "a route name (constant string)",
            ArgType::Any => "a number, a string or a variable",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParamKind {
    pub ty: ArgType,
    /// May be omitted (trailing, or an empty positional slot).
    pub optional: bool,
}

impl ParamKind {
    pub const fn req(ty: ArgType) -> ParamKind {
        ParamKind {
            ty,
            optional: false,
        }
    }
    pub const fn opt(ty: ArgType) -> ParamKind {
        ParamKind { ty, optional: true }
    }
}

/// Shorthands for parameter lists in descriptor tables.
pub mod p {
    use super::{ArgType, ParamKind};
    use crate::script::ast::RouteKind;
    pub const INT: ParamKind = ParamKind::req(ArgType::Int);
    pub const STR: ParamKind = ParamKind::req(ArgType::Str);
    pub const STATIC: ParamKind = ParamKind::req(ArgType::StaticStr);
    pub const RAW: ParamKind = ParamKind::req(ArgType::RawStr);
    pub const VAR: ParamKind = ParamKind::req(ArgType::Var);
    pub const AVP: ParamKind = ParamKind::req(ArgType::Avp);
    pub const REGEX: ParamKind = ParamKind::req(ArgType::Regex);
    pub const FLAG: ParamKind = ParamKind::req(ArgType::Flag);
    pub const BFLAG: ParamKind = ParamKind::req(ArgType::BranchFlag);
    pub const ANY: ParamKind = ParamKind::req(ArgType::Any);
    pub const OPT_INT: ParamKind = ParamKind::opt(ArgType::Int);
    pub const OPT_STR: ParamKind = ParamKind::opt(ArgType::Str);
    pub const OPT_STATIC: ParamKind = ParamKind::opt(ArgType::StaticStr);
    pub const OPT_RAW: ParamKind = ParamKind::opt(ArgType::RawStr);
    pub const OPT_VAR: ParamKind = ParamKind::opt(ArgType::Var);
    pub const OPT_AVP: ParamKind = ParamKind::opt(ArgType::Avp);
    pub const OPT_REGEX: ParamKind = ParamKind::opt(ArgType::Regex);
    pub const OPT_ANY: ParamKind = ParamKind::opt(ArgType::Any);
    pub const fn route(kind: RouteKind) -> ParamKind {
        ParamKind::req(ArgType::Route(kind))
    }
    pub const fn opt_route(kind: RouteKind) -> ParamKind {
        ParamKind::opt(ArgType::Route(kind))
    }
}

/// An argument as the handler receives it (already evaluated for this call).
#[derive(Debug, Clone)]
pub enum ArgValue<'a> {
    /// Optional parameter omitted.
    None,
    Int(i32),
    Str(Str),
    /// Output variable, to be written through `RunCtx::set_pv`.
    Var(&'a PvSpec),
    Regex(&'a regex::Regex),
    /// Flag id (allocated at compile time from its name).
    Flag(u32),
    /// Index of a route block in the compiled script's table for that route kind.
    Route(RouteKind, usize),
}

impl ArgValue<'_> {
    pub fn int(&self) -> Option<i32> {
        match self {
            ArgValue::Int(i) => Some(*i),
            _ => None,
        }
    }
    pub fn str(&self) -> Option<&str> {
        match self {
            ArgValue::Str(s) => Some(s),
            _ => None,
        }
    }
}

/// What a handler may touch while the interpreter runs a route. The interpreter builds it.
pub struct RunCtx<'a> {
    /// Type of the top route being run (sub-routes inherit it).
    pub route: RouteKind,
    pub vars: &'a mut super::vars::VarStore,
    pub avps: &'a mut super::vars::AvpStore,
    pub shv: &'a super::vars::SharedVars,
    /// The message being processed; None in startup / timer routes until the SIP layer provides a
    /// dummy message.
    pub msg: Option<&'a mut dyn MessageAccess>,
    /// `$param(i)` of the current route call (or event attributes in an event_route).
    pub params: Vec<(Option<String>, Value)>,
    /// `$return(i)` of the last `return(code, values...)`.
    pub returns: Vec<Value>,
    /// `$rc` / `$retcode`.
    pub last_rc: i32,
    /// `$err.*`: the internal error set during this run (cleared once `error_route` ran).
    pub err: Option<super::errinfo::ErrInfo>,
}

/// Access to the SIP message for pseudo-variables and module functions. The SIP layer implements
/// it for its message type; modules downcast through `as_any` to reach the concrete message.
pub trait MessageAccess {
    /// Value of a message pseudo-variable; None if this variable is not one the message knows.
    fn get_pv(&mut self, pv: &PvSpec) -> Option<Value>;
    /// Writes a message pseudo-variable (`$ru`, `$du`, ...).
    fn set_pv(&mut self, pv: &PvSpec, value: &Value) -> Result<(), String>;
    fn as_any(&mut self) -> &mut dyn std::any::Any;
    /// A parse error met since the last call (reading a header that does not parse), for
    /// `$err.*` and `error_route`.
    fn take_error(&mut self) -> Option<super::errinfo::ErrInfo> {
        None
    }
    /// [`MessageAccess::get_pv`] then [`MessageAccess::take_error`] in one call (one dynamic
    /// dispatch per read): an error met is stored in `err`.
    fn read_pv(&mut self, pv: &PvSpec, err: &mut Option<super::errinfo::ErrInfo>) -> Option<Value> {
        let v = self.get_pv(pv);
        if let Some(e) = self.take_error() {
            *err = Some(e);
        }
        v
    }
}

/// A script function: returns >0 true, <0 false, 0 = stop the script.
pub type CmdHandler = fn(&mut RunCtx<'_>, &[ArgValue<'_>]) -> i32;

#[derive(Debug, Clone, Copy)]
pub struct FunctionSpec {
    pub name: &'static str,
    pub params: &'static [ParamKind],
    /// Route types the function may be called from.
    pub routes: RouteMask,
    pub handler: CmdHandler,
}

impl FunctionSpec {
    pub fn min_args(&self) -> usize {
        self.params
            .iter()
            .rposition(|p| !p.optional)
            .map(|i| i + 1)
            .unwrap_or(0)
    }
}

/// Type of a module parameter (`modparam`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModParamKind {
    Int,
    Str,
    /// Accepts either (OpenSIPS params declared STR_PARAM|INT_PARAM).
    IntOrStr,
    /// Message flag name (`tcp_persistent_flag`); the name gets an id shared with `setflag()`.
    Flag,
    /// Branch flag name (`nat_bflag`); shares ids with `setbflag()`.
    BranchFlag,
}

#[derive(Debug, Clone, Copy)]
pub struct ParamSpec {
    pub name: &'static str,
    pub kind: ModParamKind,
    /// May be given several times (USE_FUNC_PARAM: each call appends).
    pub multi: bool,
}

impl ParamSpec {
    pub const fn int(name: &'static str) -> ParamSpec {
        ParamSpec {
            name,
            kind: ModParamKind::Int,
            multi: false,
        }
    }
    pub const fn str(name: &'static str) -> ParamSpec {
        ParamSpec {
            name,
            kind: ModParamKind::Str,
            multi: false,
        }
    }
    pub const fn flag(name: &'static str) -> ParamSpec {
        ParamSpec {
            name,
            kind: ModParamKind::Flag,
            multi: false,
        }
    }
    pub const fn bflag(name: &'static str) -> ParamSpec {
        ParamSpec {
            name,
            kind: ModParamKind::BranchFlag,
            multi: false,
        }
    }
    pub const fn any(name: &'static str) -> ParamSpec {
        ParamSpec {
            name,
            kind: ModParamKind::IntOrStr,
            multi: false,
        }
    }
    pub const fn multi(self) -> ParamSpec {
        ParamSpec {
            multi: true,
            ..self
        }
    }
}

/// A module parameter value from `modparam`.
#[derive(Debug, Clone, PartialEq)]
pub enum ParamValue {
    Int(i64),
    Str(String),
}

/// Reads a module pseudo-variable; None when it has no value here (reads as `<null>`).
pub type PvGetter = fn(&mut RunCtx<'_>, &PvSpec) -> Option<Value>;
/// Writes a module pseudo-variable.
pub type PvSetter = fn(&mut RunCtx<'_>, &PvSpec, &Value) -> Result<(), String>;

/// A pseudo-variable class a module exports (`$T_reply_code`, `$dlg_val(name)`).
#[derive(Debug, Clone, Copy)]
pub struct PvExport {
    pub name: &'static str,
    pub writable: bool,
    /// Written as `$name(inner)`.
    pub takes_inner: bool,
    /// How the interpreter reads it; None = declared only (the script compiles, reads are NULL).
    pub get: Option<PvGetter>,
    /// How the interpreter writes it (needs `writable`).
    pub set: Option<PvSetter>,
}

impl PvExport {
    /// A read-only variable.
    pub const fn read(name: &'static str, takes_inner: bool, get: PvGetter) -> PvExport {
        PvExport {
            name,
            writable: false,
            takes_inner,
            get: Some(get),
            set: None,
        }
    }
    /// A readable and writable variable.
    pub const fn read_write(
        name: &'static str,
        takes_inner: bool,
        get: PvGetter,
        set: PvSetter,
    ) -> PvExport {
        PvExport {
            name,
            writable: true,
            takes_inner,
            get: Some(get),
            set: Some(set),
        }
    }
}

/// The pseudo-variable `name` exported by a module of `crate::modules::MODULES`.
pub fn module_pv(name: &str) -> Option<&'static PvExport> {
    static MAP: std::sync::OnceLock<HashMap<&'static str, &'static PvExport>> =
        std::sync::OnceLock::new();
    MAP.get_or_init(|| {
        crate::modules::MODULES
            .iter()
            .flat_map(|m| m.pvs.iter())
            .map(|p| (p.name, p))
            .collect()
    })
    .get(name)
    .copied()
}

/// Module init hook: checks the parameters and prepares shared state.
pub type InitHook = fn(&InitCtx<'_>) -> Result<(), String>;

/// A module's check of its parameters ([`ModuleDescriptor::check_params`]).
pub type ParamsCheck = fn(&ModParams) -> Result<(), String>;

/// Context of the module init hook: the module's parameters as set by `modparam`.
pub struct InitCtx<'a> {
    pub params: &'a ModParams,
}

/// Parameters set for one module, by name, in script order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ModParams(pub HashMap<String, Vec<ParamValue>>);

impl ModParams {
    /// Last value given for `name`.
    pub fn get(&self, name: &str) -> Option<&ParamValue> {
        self.0.get(name).and_then(|v| v.last())
    }
    pub fn all(&self, name: &str) -> &[ParamValue] {
        self.0.get(name).map(|v| v.as_slice()).unwrap_or(&[])
    }
}

/// A check of one constant argument of a module function, run when the script is compiled
/// (OpenSIPS's fixup functions): a bad constant is a script error with its line and column.
#[derive(Debug, Clone, Copy)]
pub struct ArgCheck {
    pub function: &'static str,
    /// 0-based argument position.
    pub arg: usize,
    pub check: fn(&str) -> Result<(), String>,
}

#[derive(Debug, Clone, Copy)]
pub struct ModuleDescriptor {
    /// OpenSIPS module name (`tm`, `sl`, `registrar`).
    pub name: &'static str,
    /// Modules that must be loaded too.
    pub deps: &'static [&'static str],
    pub params: &'static [ParamSpec],
    pub functions: &'static [FunctionSpec],
    /// Checks of constant arguments of `functions`, run at compile time.
    pub arg_checks: &'static [ArgCheck],
    pub pvs: &'static [PvExport],
    /// Registered with `mi::MiRegistry::register_module` at load time.
    pub mi_commands: &'static [crate::mi::MiCommand],
    /// Registered with `stats::Stats::register_group` under the module's name.
    pub stats: &'static [crate::stats::StatDef],
    /// Published with `events::EventRegistry::publish_all`.
    pub events: &'static [crate::events::EventDef],
    /// Called once after the script is compiled, before workers start.
    pub init: Option<InitHook>,
    /// Called in each worker with its rank.
    pub child_init: Option<fn(i32) -> Result<(), String>>,
    /// Called once when the server stops (after the transport), e.g. to flush caches.
    pub destroy: Option<fn()>,
    /// Checks the module's parameters as a whole (`osips -C` and start-up), e.g. a value
    /// list or two parameters that contradict each other; the error names the parameter.
    pub check_params: Option<ParamsCheck>,
}

impl ModuleDescriptor {
    /// A descriptor with nothing but a name, for `..ModuleDescriptor::EMPTY` in tables.
    pub const EMPTY: ModuleDescriptor = ModuleDescriptor {
        name: "",
        deps: &[],
        params: &[],
        functions: &[],
        arg_checks: &[],
        pvs: &[],
        mi_commands: &[],
        stats: &[],
        events: &[],
        init: None,
        child_init: None,
        destroy: None,
        check_params: None,
    };

    pub fn function(&self, name: &str) -> Option<&'static FunctionSpec> {
        self.functions.iter().find(|f| f.name == name)
    }

    pub fn param(&self, name: &str) -> Option<&'static ParamSpec> {
        self.params.iter().find(|p| p.name == name)
    }
}

/// Every module osips implements, plus the core.
#[derive(Debug, Clone)]
pub struct Registry {
    modules: Vec<&'static ModuleDescriptor>,
}

impl Registry {
    /// The core and every module in `crate::modules::MODULES`.
    pub fn builtin() -> Registry {
        Registry::with(crate::modules::MODULES)
    }

    /// The core plus the given modules (tests use their own tables).
    pub fn with(modules: &[&'static ModuleDescriptor]) -> Registry {
        let mut all = vec![&super::core_cmds::CORE];
        all.extend_from_slice(modules);
        Registry { modules: all }
    }

    pub fn core(&self) -> &'static ModuleDescriptor {
        self.modules[0]
    }

    pub fn module(&self, name: &str) -> Option<&'static ModuleDescriptor> {
        self.modules
            .iter()
            .skip(1)
            .find(|m| m.name == name)
            .copied()
    }

    pub fn modules(&self) -> impl Iterator<Item = &'static ModuleDescriptor> + '_ {
        self.modules.iter().skip(1).copied()
    }

    /// Implemented modules that export `function`.
    pub fn exporters(&self, function: &str) -> Vec<&'static ModuleDescriptor> {
        self.modules()
            .filter(|m| m.function(function).is_some())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks() {
        let m = RouteMask::REQUEST.or(RouteMask::FAILURE);
        assert!(m.contains(RouteKind::Failure));
        assert!(!m.contains(RouteKind::OnReply));
        assert_eq!(RouteMask::ALL.kinds().count(), 9);
    }

    #[test]
    fn min_args_counts_mandatory_prefix() {
        fn h(_: &mut RunCtx<'_>, _: &[ArgValue<'_>]) -> i32 {
            1
        }
        let f = FunctionSpec {
            name: "f",
            params: &[p::STR, p::OPT_INT, p::OPT_STR],
            routes: RouteMask::ALL,
            handler: h,
        };
        assert_eq!(f.min_args(), 1);
    }
}
