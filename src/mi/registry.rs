//! The MI command registry: commands with their recipes (parameter-name lists), looked up by their
//! 3.x name or by the 4.0 `module:command` form, and run with OpenSIPS's recipe matching.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;

use parking_lot::RwLock;
use serde_json::Value;

use super::error::*;
use super::params::MiParams;

/// A handler a module exports as data.
pub type MiHandler = fn(&MiParams<'_>) -> MiResult;

/// A handler that carries state (core commands, commands the runtime installs later).
pub type MiDynHandler = Arc<dyn Fn(&MiParams<'_>) -> MiResult + Send + Sync>;

/// Command flag: positional (array) parameters are refused (`MI_NAMED_PARAMS_ONLY`).
pub const MI_NAMED_PARAMS_ONLY: u32 = 1 << 1;

/// One way of calling a command: its parameter names and the handler for them.
#[derive(Clone, Copy, Debug)]
pub struct Recipe {
    pub params: &'static [&'static str],
    pub handler: MiHandler,
}

/// An MI command as a module exports it (`mi_export_t`): `&'static [MiCommand]` in its descriptor.
#[derive(Clone, Copy, Debug)]
pub struct MiCommand {
    /// The 3.x name, e.g. `ul_show_contact`.
    pub name: &'static str,
    /// Other names it answers to, alone or as `module:alias` (4.0 style, e.g. `show_contact`).
    pub aliases: &'static [&'static str],
    pub help: &'static str,
    pub flags: u32,
    pub recipes: &'static [Recipe],
}

/// A registered recipe (static or stateful handler).
#[derive(Clone)]
pub struct RegRecipe {
    pub params: &'static [&'static str],
    pub handler: MiDynHandler,
}

/// A registered command.
#[derive(Clone)]
pub struct RegCommand {
    pub name: String,
    pub module: String,
    pub aliases: Vec<String>,
    pub help: String,
    pub flags: u32,
    pub recipes: Vec<RegRecipe>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RegisterError {
    #[error("MI command <{0}> already registered")]
    Duplicate(String),
    #[error("MI command <{0}> has no recipe")]
    NoRecipe(String),
}

/// Result of looking a method name up.
pub enum Lookup {
    Found(Arc<RegCommand>),
    NotFound,
    /// A bare alias that several modules export: the caller must say `module:command`.
    Ambiguous(Vec<String>),
}

/// The registry; shared by every MI transport.
#[derive(Default)]
pub struct MiRegistry {
    cmds: RwLock<Vec<Arc<RegCommand>>>,
}

impl MiRegistry {
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers the commands a module exports.
    pub fn register_module(
        &self,
        module: &str,
        cmds: &'static [MiCommand],
    ) -> Result<(), RegisterError> {
        for c in cmds {
            let recipes = c
                .recipes
                .iter()
                .map(|r| {
                    let h = r.handler;
                    RegRecipe {
                        params: r.params,
                        handler: Arc::new(move |p: &MiParams<'_>| h(p)),
                    }
                })
                .collect();
            self.register(RegCommand {
                name: c.name.to_string(),
                module: module.to_string(),
                aliases: c.aliases.iter().map(|a| a.to_string()).collect(),
                help: c.help.to_string(),
                flags: c.flags,
                recipes,
            })?;
        }
        Ok(())
    }

    /// Registers one command (stateful handlers).
    pub fn register(&self, cmd: RegCommand) -> Result<(), RegisterError> {
        if cmd.recipes.is_empty() {
            return Err(RegisterError::NoRecipe(cmd.name));
        }
        let mut cmds = self.cmds.write();
        if cmds.iter().any(|c| c.name == cmd.name) {
            return Err(RegisterError::Duplicate(cmd.name));
        }
        cmds.push(Arc::new(cmd));
        Ok(())
    }

    /// Replaces the handler of an existing command's recipe with these parameter names (the
    /// runtime installs `reload_routes`, `kill`, … this way once it exists).
    pub fn install_handler(&self, name: &str, params: &[&str], handler: MiDynHandler) -> bool {
        let mut cmds = self.cmds.write();
        let Some(slot) = cmds.iter_mut().find(|c| c.name == name) else {
            return false;
        };
        let mut cmd = (**slot).clone();
        let Some(r) = cmd.recipes.iter_mut().find(|r| r.params == params) else {
            return false;
        };
        r.handler = handler;
        *slot = Arc::new(cmd);
        true
    }

    /// The 3.x names, in registration order (what `which` prints).
    pub fn names(&self) -> Vec<String> {
        self.cmds.read().iter().map(|c| c.name.clone()).collect()
    }

    /// Finds a command: its exact name, `module:name`, `module:alias`, or a bare alias that only
    /// one module exports.
    pub fn lookup(&self, method: &str) -> Lookup {
        let cmds = self.cmds.read();
        if let Some(c) = cmds.iter().find(|c| c.name == method) {
            return Lookup::Found(c.clone());
        }
        if let Some((module, name)) = method.split_once(':') {
            return match cmds.iter().find(|c| {
                c.module == module && (c.name == name || c.aliases.iter().any(|a| a == name))
            }) {
                Some(c) => Lookup::Found(c.clone()),
                None => Lookup::NotFound,
            };
        }
        let by_alias: Vec<&Arc<RegCommand>> = cmds
            .iter()
            .filter(|c| c.aliases.iter().any(|a| a == method))
            .collect();
        match by_alias.as_slice() {
            [] => Lookup::NotFound,
            [one] => Lookup::Found((*one).clone()),
            many => Lookup::Ambiguous(
                many.iter()
                    .map(|c| format!("{}:{method}", c.module))
                    .collect(),
            ),
        }
    }

    /// The command if the name resolves to exactly one.
    pub fn get(&self, method: &str) -> Option<Arc<RegCommand>> {
        match self.lookup(method) {
            Lookup::Found(c) => Some(c),
            _ => None,
        }
    }

    /// Runs a command with already validated JSON-RPC `params` (array, object or none).
    pub fn run(&self, cmd: &RegCommand, params: Option<&Value>) -> MiResult {
        let positional = matches!(params, Some(Value::Array(_)));
        if positional && cmd.flags & MI_NAMED_PARAMS_ONLY != 0 {
            return Err(MiError::invalid_params(DET_POS_PARAMS));
        }
        let recipe = match_recipe(&cmd.recipes, params)?;
        let p = MiParams::new(params, recipe.params, self);
        match catch_unwind(AssertUnwindSafe(|| (recipe.handler)(&p))) {
            Ok(r) => r,
            Err(_) => {
                tracing::error!(command = %cmd.name, "MI command handler panicked");
                Err(MiError::server_error(DET_CMD_NULL))
            }
        }
    }

    /// Runs a command by name with JSON params, for in-process callers (script `mi()`, tests).
    pub fn call(&self, method: &str, params: Option<Value>) -> MiResult {
        let params = params.filter(|p| match p {
            Value::Array(a) => !a.is_empty(),
            Value::Object(o) => !o.is_empty(),
            _ => true,
        });
        if matches!(params, Some(ref p) if !p.is_array() && !p.is_object()) {
            return Err(MiError::invalid_request());
        }
        match self.lookup(method) {
            Lookup::Found(c) => self.run(&c, params.as_ref()),
            Lookup::NotFound => Err(MiError::method_not_found()),
            Lookup::Ambiguous(c) => Err(MiError::with_data(
                METHOD_NOT_FOUND,
                "Method not found",
                format!("Ambiguous command, use one of: {}", c.join(", ")),
            )),
        }
    }
}

/// OpenSIPS's `get_cmd_recipe`: no params → the recipe without params; positional → the only
/// recipe with that many params; named → the first recipe of that size whose names all appear.
fn match_recipe<'r>(
    recipes: &'r [RegRecipe],
    params: Option<&Value>,
) -> Result<&'r RegRecipe, MiError> {
    let (count, names): (usize, Option<Vec<&str>>) = match params {
        None => (0, None),
        Some(Value::Array(a)) => (a.len(), None),
        Some(Value::Object(o)) => (o.len(), Some(o.keys().map(|k| k.as_str()).collect())),
        Some(_) => return Err(MiError::invalid_request()),
    };
    if count == 0 {
        return recipes
            .iter()
            .find(|r| r.params.is_empty())
            .ok_or_else(|| MiError::invalid_params(DET_NO_PARAMS));
    }
    let mut size_matched = false;
    let mut found: Option<&RegRecipe> = None;
    for r in recipes
        .iter()
        .filter(|r| !r.params.is_empty() && r.params.len() == count)
    {
        match &names {
            None => {
                if found.is_some() {
                    return Err(MiError::invalid_params(DET_AMBIG_CALL));
                }
                found = Some(r);
            }
            Some(names) => {
                size_matched = true;
                if r.params.iter().all(|p| names.contains(p)) {
                    return Ok(r);
                }
            }
        }
    }
    match found {
        Some(r) => Ok(r),
        None if size_matched => Err(MiError::invalid_params(DET_MATCH_PARAMS)),
        None => Err(MiError::invalid_params(DET_NO_PARAMS)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn echo(p: &MiParams<'_>) -> MiResult {
        Ok(json!({ "recipe": p.recipe() }))
    }

    static USRLOC: &[MiCommand] = &[MiCommand {
        name: "ul_show_contact",
        aliases: &["show_contact"],
        help: "shows contacts",
        flags: 0,
        recipes: &[Recipe {
            params: &["table_name", "aor"],
            handler: echo,
        }],
    }];
    static TWO: &[MiCommand] = &[
        MiCommand {
            name: "ds_list",
            aliases: &["list"],
            help: "",
            flags: 0,
            recipes: &[
                Recipe {
                    params: &[],
                    handler: echo,
                },
                Recipe {
                    params: &["partition"],
                    handler: echo,
                },
                Recipe {
                    params: &["full"],
                    handler: echo,
                },
                Recipe {
                    params: &["full", "partition"],
                    handler: echo,
                },
            ],
        },
        MiCommand {
            name: "named_only",
            aliases: &[],
            help: "",
            flags: MI_NAMED_PARAMS_ONLY,
            recipes: &[Recipe {
                params: &["a"],
                handler: echo,
            }],
        },
    ];
    static OTHER: &[MiCommand] = &[MiCommand {
        name: "lb_list",
        aliases: &["list"],
        help: "",
        flags: 0,
        recipes: &[Recipe {
            params: &[],
            handler: echo,
        }],
    }];

    fn reg() -> MiRegistry {
        let r = MiRegistry::new();
        r.register_module("usrloc", USRLOC).unwrap();
        r.register_module("dispatcher", TWO).unwrap();
        r.register_module("load_balancer", OTHER).unwrap();
        r
    }

    #[test]
    fn names_answer_in_both_styles() {
        let r = reg();
        for m in [
            "ul_show_contact",
            "usrloc:show_contact",
            "usrloc:ul_show_contact",
            "show_contact",
        ] {
            assert!(r.get(m).is_some(), "{m}");
        }
        assert!(r.get("dispatcher:show_contact").is_none());
        assert!(matches!(r.lookup("list"), Lookup::Ambiguous(_)));
        assert_eq!(r.call("list", None).unwrap_err().code, METHOD_NOT_FOUND);
        assert!(r.get("dispatcher:list").is_some());
        assert_eq!(
            r.register_module("usrloc", USRLOC),
            Err(RegisterError::Duplicate("ul_show_contact".into()))
        );
    }

    #[test]
    fn recipes_match_like_opensips() {
        let r = reg();
        let v = r
            .call("ul_show_contact", Some(json!(["location", "a@b"])))
            .unwrap();
        assert_eq!(v, json!({"recipe": ["table_name", "aor"]}));
        let v = r
            .call(
                "ul_show_contact",
                Some(json!({"aor": "a@b", "table_name": "location"})),
            )
            .unwrap();
        assert_eq!(v["recipe"][1], "aor");
        let e = r
            .call(
                "ul_show_contact",
                Some(json!({"aor": "a@b", "table": "location"})),
            )
            .unwrap_err();
        assert_eq!(e, MiError::invalid_params(DET_MATCH_PARAMS));
        let e = r
            .call("ul_show_contact", Some(json!(["location"])))
            .unwrap_err();
        assert_eq!(e, MiError::invalid_params(DET_NO_PARAMS));
        let e = r.call("ul_show_contact", None).unwrap_err();
        assert_eq!(e, MiError::invalid_params(DET_NO_PARAMS));
        let e = r.call("ds_list", Some(json!(["x"]))).unwrap_err();
        assert_eq!(e, MiError::invalid_params(DET_AMBIG_CALL));
        assert_eq!(
            r.call("ds_list", Some(json!({"full": 1}))).unwrap()["recipe"],
            json!(["full"])
        );
        assert_eq!(
            r.call("ds_list", Some(json!([]))).unwrap()["recipe"],
            json!([])
        );
        assert_eq!(
            r.call("ds_list", Some(json!({}))).unwrap()["recipe"],
            json!([])
        );
        let e = r.call("named_only", Some(json!([1]))).unwrap_err();
        assert_eq!(e, MiError::invalid_params(DET_POS_PARAMS));
        assert!(r.call("named_only", Some(json!({"a": 1}))).is_ok());
    }

    #[test]
    fn panicking_handler_is_a_server_error() {
        fn boom(_: &MiParams<'_>) -> MiResult {
            panic!("boom")
        }
        static B: &[MiCommand] = &[MiCommand {
            name: "boom",
            aliases: &[],
            help: "",
            flags: 0,
            recipes: &[Recipe {
                params: &[],
                handler: boom,
            }],
        }];
        let r = MiRegistry::new();
        r.register_module("t", B).unwrap();
        assert_eq!(
            r.call("boom", None).unwrap_err(),
            MiError::server_error(DET_CMD_NULL)
        );
    }

    #[test]
    fn install_handler_replaces_a_recipe() {
        let r = reg();
        assert!(r.install_handler("ds_list", &["full"], Arc::new(|_| Ok(json!("new")))));
        assert_eq!(
            r.call("ds_list", Some(json!({"full": 1}))).unwrap(),
            json!("new")
        );
        assert!(!r.install_handler("ds_list", &["nope"], Arc::new(|_| Ok(json!("x")))));
        assert!(!r.install_handler("nope", &[], Arc::new(|_| Ok(json!("x")))));
    }
}
