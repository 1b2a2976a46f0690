//! osipsctl: provisioning of an OpenSIPS/osips database, driven by osipsctlrc. The binary
//! parses [`cli::Cli`] and calls [`run`]; each command group lives in its own file.
//!
//! Passwords are stored as HA1 hashes only unless `STORE_PLAINTEXT_PW=1` (see [`subscriber`]);
//! tenants are encoded in the domain table's attrs column (see [`tenant`]).

pub mod acl;
pub mod address;
pub mod alias_db;
pub mod aor;
pub mod avp;
pub mod cli;
pub mod control;
pub mod ctx;
pub mod daemon;
pub mod dbshow;
pub mod dialplan;
pub mod digest;
pub mod dispatcher;
pub mod domain;
pub mod error;
pub mod mi_link;
pub mod mi_reload;
pub mod monitor;
pub mod output;
pub mod speeddial;
pub mod subscriber;
pub mod tenant;
pub mod usrloc;
pub mod values;

use clap::CommandFactory;

use cli::{AclCmd, AddressCmd, AliasCmd, AvpCmd, Cli, Cmd, DbCmd, DialplanCmd, DispatcherCmd};
use cli::{DomainCmd, Shell, SpeeddialCmd, TenantCmd, UlCmd};
use ctx::Ctx;
pub use error::{Failure, Outcome, exit};
use output::Report;

use crate::ctlrc::Rc;

/// The command's name as the JSON output reports it (`tenant add`).
fn command_name(cmd: &Cmd) -> String {
    let sub = |group: &str, s: &dyn std::fmt::Debug| {
        let d = format!("{s:?}");
        let word: String = d
            .chars()
            .take_while(|c| c.is_alphanumeric())
            .collect::<String>()
            .to_ascii_lowercase();
        format!("{group} {word}")
    };
    match cmd {
        Cmd::Add { .. } => "add".into(),
        Cmd::Passwd { .. } => "passwd".into(),
        Cmd::Rm { .. } => "rm".into(),
        Cmd::Show { .. } => "show".into(),
        Cmd::Tenant(s) => sub("tenant", s),
        Cmd::Domain(s) => sub("domain", s),
        Cmd::AliasDb(s) => sub("alias_db", s),
        Cmd::Acl(s) => sub("acl", s),
        Cmd::Address(s) => sub("address", s),
        Cmd::Dispatcher(s) => sub("dispatcher", s),
        Cmd::Avp(s) => sub("avp", s),
        Cmd::Dialplan(s) => sub("dialplan", s),
        Cmd::Speeddial(s) => sub("speeddial", s),
        Cmd::Db(s) => sub("db", s),
        Cmd::Ps => "ps".into(),
        Cmd::Uptime => "uptime".into(),
        Cmd::Version => "version".into(),
        Cmd::Ul(s) => sub("ul", s),
        Cmd::Online => "online".into(),
        Cmd::Monitor { .. } => "monitor".into(),
        Cmd::Ping { .. } => "ping".into(),
        Cmd::Mi { .. } => "mi".into(),
        Cmd::Start => "start".into(),
        Cmd::Stop => "stop".into(),
        Cmd::Restart => "restart".into(),
        Cmd::Completions { .. } => "completions".into(),
        Cmd::Manpage => "manpage".into(),
    }
}

/// Writes a completion script or the man page; these need no rc file or database.
fn generated(cmd: &Cmd) -> Option<i32> {
    let mut out = std::io::stdout();
    match cmd {
        Cmd::Completions { shell } => {
            let mut c = Cli::command();
            let sh = match shell {
                Shell::Bash => clap_complete::Shell::Bash,
                Shell::Zsh => clap_complete::Shell::Zsh,
                Shell::Fish => clap_complete::Shell::Fish,
            };
            clap_complete::generate(sh, &mut c, "osipsctl", &mut out);
            Some(exit::OK)
        }
        Cmd::Manpage => Some(
            match clap_mangen::Man::new(Cli::command()).render(&mut out) {
                Ok(()) => exit::OK,
                Err(e) => {
                    eprintln!("osipsctl: error: cannot write the man page: {e}");
                    exit::FAILED
                }
            },
        ),
        _ => None,
    }
}

fn o(s: &Option<String>) -> Option<&str> {
    s.as_deref()
}

fn filter(f: &cli::AvpFilter) -> avp::Filter<'_> {
    avp::Filter {
        table: o(&f.table),
        id: o(&f.id),
        attr: o(&f.attr),
        value: o(&f.value),
        ty: o(&f.ty),
    }
}

fn dispatch(ctx: &Ctx, cmd: &Cmd) -> Outcome<Report> {
    match cmd {
        Cmd::Add { csv: Some(f), .. } => subscriber::add_csv(ctx, f),
        Cmd::Add { user, password, .. } => {
            subscriber::add(ctx, user.as_deref().unwrap_or(""), o(password))
        }
        Cmd::Passwd { user, password } => subscriber::passwd(ctx, user, o(password)),
        Cmd::Rm { user } => subscriber::rm(ctx, user),
        Cmd::Show { user } => subscriber::show(ctx, o(user)),
        Cmd::Tenant(t) => match t {
            TenantCmd::Add {
                name,
                domains,
                attrs,
            } => tenant::add(ctx, name, domains, attrs),
            TenantCmd::Rm { name, cascade } => tenant::rm(ctx, name, *cascade),
            TenantCmd::Show { name } => tenant::show(ctx, o(name)),
        },
        Cmd::Domain(d) => match d {
            DomainCmd::Add { domain, tenant } => domain::add(ctx, domain, o(tenant)),
            DomainCmd::Rm { domain } => domain::rm(ctx, domain),
            DomainCmd::Show => domain::show(ctx),
            DomainCmd::Showdb => domain::showdb(ctx),
            DomainCmd::Reload => domain::reload(ctx, "domains", "domain_reload"),
        },
        Cmd::AliasDb(a) => match a {
            AliasCmd::Show { alias } => alias_db::show(ctx, alias),
            AliasCmd::List { target } => alias_db::list(ctx, target),
            AliasCmd::Add { alias, target } => alias_db::add(ctx, alias, target),
            AliasCmd::Rm { alias } => alias_db::rm(ctx, alias),
        },
        Cmd::Acl(a) => match a {
            AclCmd::Show { user } => acl::show(ctx, o(user)),
            AclCmd::Grant {
                user,
                groups,
                force,
            } => acl::grant(ctx, user, groups, *force),
            AclCmd::Revoke { user, group } => acl::revoke(ctx, user, o(group)),
        },
        Cmd::Address(a) => match a {
            AddressCmd::Show => address::show(ctx),
            AddressCmd::Dump => address::dump(ctx),
            AddressCmd::Add {
                grp,
                ip,
                mask,
                port,
                proto,
                context_info,
                pattern,
            } => address::add(ctx, grp, ip, mask, port, proto, o(context_info), o(pattern)),
            AddressCmd::Rm {
                grp,
                ip,
                mask,
                port,
            } => address::rm(ctx, grp, ip, mask, port),
            AddressCmd::Reload => address::do_reload(ctx),
        },
        Cmd::Dispatcher(d) => match d {
            DispatcherCmd::Show => dispatcher::show(ctx),
            DispatcherCmd::Dump => dispatcher::dump(ctx),
            DispatcherCmd::Addgw {
                setid,
                destination,
                socket,
                state,
                weight,
                attrs,
                description,
                priority,
                probe_mode,
            } => dispatcher::addgw(
                ctx,
                &dispatcher::Gateway {
                    setid,
                    destination,
                    socket,
                    state,
                    weight,
                    attrs,
                    description: o(description),
                    priority,
                    probe_mode,
                },
            ),
            DispatcherCmd::Rmgw { id } => dispatcher::rmgw(ctx, id),
            DispatcherCmd::Reload => dispatcher::do_reload(ctx),
        },
        Cmd::Avp(a) => match a {
            AvpCmd::List(f) => avp::list(ctx, &filter(f)),
            AvpCmd::Add {
                table,
                id,
                attr,
                ty,
                value,
            } => avp::add(ctx, o(table), id, attr, ty, value),
            AvpCmd::Rm(f) => avp::rm(ctx, &filter(f)),
        },
        Cmd::Dialplan(d) => match d {
            DialplanCmd::Show { dpid } => dialplan::show(ctx, o(dpid)),
            DialplanCmd::Addrule {
                dpid,
                prio,
                op,
                match_exp,
                match_flags,
                subst_exp,
                repl_exp,
                attrs,
            } => dialplan::addrule(
                ctx,
                &dialplan::Rule {
                    dpid,
                    prio,
                    op,
                    match_exp,
                    match_flags,
                    subst_exp,
                    repl_exp,
                    attrs,
                },
            ),
            DialplanCmd::Rm => dialplan::rm_all(ctx),
            DialplanCmd::Rmdpid { dpid } => dialplan::rmdpid(ctx, dpid),
            DialplanCmd::Rmrule { dpid, prio } => dialplan::rmrule(ctx, dpid, prio),
            DialplanCmd::Reload => dialplan::do_reload(ctx),
        },
        Cmd::Speeddial(s) => match s {
            SpeeddialCmd::Show { sd_id } => speeddial::show(ctx, sd_id),
            SpeeddialCmd::List { user } => speeddial::list(ctx, user),
            SpeeddialCmd::Add {
                user,
                sd_id,
                new_uri,
                description,
            } => speeddial::add(ctx, user, sd_id, new_uri, o(description)),
            SpeeddialCmd::Rm { user, sd_id } => speeddial::rm(ctx, user, sd_id),
        },
        Cmd::Db(DbCmd::Show { table }) => dbshow::show(ctx, table),
        Cmd::Ps => control::ps(ctx),
        Cmd::Uptime => control::uptime(ctx),
        Cmd::Version => control::version(ctx),
        Cmd::Ul(u) => match u {
            UlCmd::Show { aor, brief } => usrloc::show(ctx, o(aor), *brief),
            UlCmd::Rm { aor, contact } => usrloc::rm(ctx, aor, o(contact)),
            UlCmd::Add {
                aor,
                contact,
                expires,
                q,
                flags,
                cflags,
                methods,
            } => usrloc::add(
                ctx,
                aor,
                contact,
                &usrloc::Binding {
                    expires: o(expires),
                    q,
                    flags,
                    cflags,
                    methods,
                },
            ),
        },
        Cmd::Online => usrloc::online(ctx),
        Cmd::Monitor { count } => monitor::run(ctx, *count),
        Cmd::Ping { uri } => control::ping(ctx, uri),
        Cmd::Mi { command, args } => control::mi(ctx, command, args),
        Cmd::Start => daemon::start(ctx),
        Cmd::Stop => daemon::stop(ctx),
        Cmd::Restart => daemon::restart(ctx),
        Cmd::Completions { .. } | Cmd::Manpage => Ok(Report::default()),
    }
}

/// Runs one parsed command line, prints the result and returns the exit code.
pub fn run(cli: Cli) -> i32 {
    if let Some(code) = generated(&cli.command) {
        return code;
    }
    let name = command_name(&cli.command);
    let result = Rc::load(cli.rc.as_deref())
        .map_err(Failure::from)
        .and_then(|rc| {
            if !cli.json {
                for w in rc.warnings() {
                    eprintln!("osipsctl: {w}");
                }
            }
            let mut ctx = Ctx::new(rc, cli.yes);
            ctx.json = cli.json;
            dispatch(&ctx, &cli.command)
        });
    match result {
        Ok(report) => {
            if report.silent {
                return exit::OK;
            }
            if cli.json {
                println!("{}", report.to_json(&name));
            } else {
                report.print_text();
            }
            exit::OK
        }
        Err(f) => {
            if cli.json {
                println!(
                    "{}",
                    serde_json::json!({
                        "ok": false,
                        "command": name,
                        "error": f.message,
                        "hint": f.hint,
                        "exit": f.code,
                    })
                );
            } else {
                eprintln!("osipsctl: error: {}", f.line());
            }
            f.code
        }
    }
}
