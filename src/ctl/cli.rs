//! The command line model (clap derive), shared by the binary, the completions and the man page.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

pub const AFTER_HELP: &str = "\
Settings come from osipsctlrc (opensipsctlrc syntax, read and never executed):
  /etc/osips/osipsctlrc, /usr/local/etc/osips/osipsctlrc, ~/.osipsctlrc (later files win),
  or the one file named by $OSIPSCTLRC or --rc FILE. Database: DBENGINE, DB_PATH, DBHOST,
  DBPORT, DBNAME, DBRWUSER, DBRWPW (or DBURL). SIP_DOMAIN is the domain of bare user names.
  STORE_PLAINTEXT_PW=1 also stores the clear password (default 0: only the HA1 hashes).
  ALIASES_TYPE=DB refuses users that collide with an alias. VERIFY_ACL / ACL_GROUPS limit
  `acl grant`.

The running osips is reached over CTLENGINE: FIFO (default; OSIPS_FIFO, default
  /tmp/opensips_fifo, replies in OSIPS_FIFO_REPLY_DIR, default /tmp), HTTP (OSIPS_MI_URL, default
  http://127.0.0.1:8888/mi), DATAGRAM (OSIPS_DATAGRAM, udp:HOST:PORT or a socket path) or
  UNIXSOCK (OSIPS_UNIXSOCK). It is asked to reload after changes to domains, tenants, addresses,
  dispatcher and dialplan. start/stop use OSIPSBIN, PID_FILE and STARTOPTIONS; monitor refreshes
  every WATCH_PERIOD seconds.

Tenants are domains sharing attributes: the domain table's attrs column holds
  tenant=NAME;key=value;...  (read in scripts with $(var(attrs){param.value,tenant})).

Output: aligned tables on stdout, messages on stderr; --json prints one JSON object on stdout.
osipsctl never prompts when stdin is not a terminal: give every argument.

Exit codes:
  0 success   1 the operation failed (exists, not found, refused)   2 usage or bad input
  3 database or running osips (MI) unreachable";

#[derive(Parser, Debug)]
#[command(
    name = "osipsctl",
    version = crate::VERSION,
    about = "Provision an OpenSIPS/osips database (subscribers, tenants, domains, aliases, ACLs, addresses, dispatcher, dialplan, ...)",
    after_help = AFTER_HELP
)]
pub struct Cli {
    /// Read this rc file alone (instead of the osipsctlrc cascade)
    #[arg(long, global = true, value_name = "FILE")]
    pub rc: Option<PathBuf>,
    /// Print one JSON object on stdout (result or error)
    #[arg(long, global = true)]
    pub json: bool,
    /// Do not ask before removing many rows
    #[arg(short = 'y', long = "yes", global = true)]
    pub yes: bool,
    #[command(subcommand)]
    pub command: Cmd,
}

#[derive(Subcommand, Debug)]
pub enum Cmd {
    /// Add a subscriber (or every user of a CSV file, in one transaction)
    Add {
        /// user[@domain] (bare names take SIP_DOMAIN)
        #[arg(required_unless_present = "csv", conflicts_with = "csv")]
        user: Option<String>,
        /// The password (asked on a terminal when missing)
        password: Option<String>,
        /// CSV file of `user[@domain],password` lines (`#` comments; quote fields with ")
        #[arg(long, value_name = "FILE")]
        csv: Option<PathBuf>,
    },
    /// Change a subscriber's password
    Passwd {
        user: String,
        password: Option<String>,
    },
    /// Remove a subscriber with its aliases, ACL groups, preferences and contacts
    Rm { user: String },
    /// Show one subscriber, or all
    Show { user: Option<String> },
    /// Tenants: sets of domains sharing attributes
    #[command(subcommand)]
    Tenant(TenantCmd),
    /// Domains served by osips (domain table)
    #[command(subcommand)]
    Domain(DomainCmd),
    /// Aliases of users (dbaliases table)
    #[command(subcommand, name = "alias_db", alias = "aliasdb")]
    AliasDb(AliasCmd),
    /// ACL group membership (grp table)
    #[command(subcommand)]
    Acl(AclCmd),
    /// Trusted addresses (address table, permissions module)
    #[command(subcommand)]
    Address(AddressCmd),
    /// Dispatcher destinations (dispatcher table)
    #[command(subcommand)]
    Dispatcher(DispatcherCmd),
    /// User preferences (usr_preferences table)
    #[command(subcommand)]
    Avp(AvpCmd),
    /// Dialplan rules (dialplan table)
    #[command(subcommand)]
    Dialplan(DialplanCmd),
    /// Speed dials (speed_dial table)
    #[command(subcommand, alias = "speed_dial")]
    Speeddial(SpeeddialCmd),
    /// Raw table access
    #[command(subcommand)]
    Db(DbCmd),
    /// Processes of the running osips (MI ps)
    Ps,
    /// Since when the running osips runs (MI uptime)
    Uptime,
    /// Version of the running osips (MI version)
    Version,
    /// Registered contacts in the running osips (MI ul_dump, ul_show_contact, ul_rm, ul_add)
    #[command(subcommand, alias = "usrloc")]
    Ul(UlCmd),
    /// AoRs with a registered contact (MI ul_dump)
    Online,
    /// Refreshing view of the running osips every WATCH_PERIOD seconds (q or Ctrl-C quits)
    #[command(aliases = ["console", "moni", "con"])]
    Monitor {
        /// Stop after N refreshes (for scripts)
        #[arg(long, value_name = "N")]
        count: Option<u64>,
    },
    /// Send an OPTIONS request from the running osips to a SIP URI (MI t_uac_dlg)
    Ping { uri: String },
    /// Run an MI command: `name=value` arguments are named parameters, others positional
    #[command(alias = "fifo")]
    Mi {
        command: String,
        #[arg(allow_hyphen_values = true, trailing_var_arg = true)]
        args: Vec<String>,
    },
    /// Start osips: OSIPSBIN -P PID_FILE STARTOPTIONS, then wait for the pid file
    Start,
    /// Stop osips: SIGTERM to the pid in PID_FILE, then wait until it is gone
    Stop,
    /// Stop osips if it runs, then start it
    Restart,
    /// Print a shell completion script
    Completions {
        #[arg(value_enum)]
        shell: Shell,
    },
    /// Print the man page (roff)
    Manpage,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum Shell {
    Bash,
    Zsh,
    Fish,
}

#[derive(Subcommand, Debug)]
pub enum TenantCmd {
    /// Create a tenant with its domains
    Add {
        name: String,
        #[arg(required = true)]
        domains: Vec<String>,
        /// An attribute shared by the tenant's domains (repeatable)
        #[arg(long = "attr", value_name = "KEY=VALUE")]
        attrs: Vec<String>,
    },
    /// Remove a tenant's domains (refused while it has users, unless --cascade)
    Rm {
        name: String,
        /// Also remove the tenant's users and everything that refers to them
        #[arg(long)]
        cascade: bool,
    },
    /// Domains, attributes, users and online users of one tenant or all
    Show { name: Option<String> },
}

#[derive(Subcommand, Debug)]
pub enum DomainCmd {
    /// Add a domain (optionally to a tenant)
    Add {
        domain: String,
        #[arg(long, value_name = "NAME")]
        tenant: Option<String>,
    },
    /// Remove a domain
    Rm { domain: String },
    /// The domains the running osips has loaded (MI domain_dump)
    Show,
    /// The domain table
    Showdb,
    /// Ask the running osips to reload the domains
    Reload,
}

#[derive(Subcommand, Debug)]
pub enum AliasCmd {
    /// The target of an alias
    Show { alias: String },
    /// The aliases of a user
    List { target: String },
    /// Add an alias pointing to a user
    Add { alias: String, target: String },
    /// Remove an alias
    Rm { alias: String },
}

#[derive(Subcommand, Debug)]
pub enum AclCmd {
    /// Groups of one user, or all memberships
    Show { user: Option<String> },
    /// Put a user in groups
    Grant {
        user: String,
        #[arg(required = true)]
        groups: Vec<String>,
        /// Grant even when the user is not a subscriber
        #[arg(long)]
        force: bool,
    },
    /// Take a user out of one group, or of all
    Revoke { user: String, group: Option<String> },
}

#[derive(Subcommand, Debug)]
pub enum AddressCmd {
    /// The address table
    Show,
    /// The addresses the running osips has loaded (MI address_dump)
    Dump,
    /// Add an address: GRP IP MASK PORT PROTO [CONTEXT_INFO] [PATTERN]
    Add {
        grp: String,
        ip: String,
        mask: String,
        port: String,
        /// any, udp, tcp, tls, sctp, ws, wss or none
        proto: String,
        context_info: Option<String>,
        pattern: Option<String>,
    },
    /// Remove an address: GRP IP MASK PORT
    Rm {
        grp: String,
        ip: String,
        mask: String,
        port: String,
    },
    /// Ask the running osips to reload the addresses
    Reload,
}

#[derive(Subcommand, Debug)]
pub enum DispatcherCmd {
    /// The dispatcher table
    Show,
    /// The sets the running osips has loaded (MI ds_list)
    Dump,
    /// Add a destination: SETID DESTINATION SOCKET STATE WEIGHT ATTRS [DESCRIPTION]
    Addgw {
        setid: String,
        /// sip:host[:port]
        destination: String,
        /// proto:host:port of the local socket, or "" for any
        socket: String,
        /// 0 active, 1 inactive, 2 probing
        state: String,
        weight: String,
        attrs: String,
        description: Option<String>,
        #[arg(long, default_value = "0", allow_hyphen_values = true)]
        priority: String,
        /// 0 probe when inactive, 1 always, 2 never
        #[arg(long, default_value = "0")]
        probe_mode: String,
    },
    /// Remove a destination by id
    Rmgw { id: String },
    /// Ask the running osips to reload the sets
    Reload,
}

#[derive(Args, Debug, Default)]
pub struct AvpFilter {
    /// Table (default usr_preferences / AVP_TABLE)
    #[arg(short = 'T', long = "table")]
    pub table: Option<String>,
    /// user@domain or uuid
    #[arg(short = 'u', long = "id")]
    pub id: Option<String>,
    #[arg(short = 'a', long = "attr")]
    pub attr: Option<String>,
    #[arg(short = 'v', long = "value")]
    pub value: Option<String>,
    /// 0 str:str, 1 str:int, 2 int:str, 3 int:int
    #[arg(short = 't', long = "type")]
    pub ty: Option<String>,
}

#[derive(Subcommand, Debug)]
pub enum AvpCmd {
    /// List preferences
    List(AvpFilter),
    /// Add a preference: ID ATTR TYPE VALUE
    Add {
        #[arg(short = 'T', long = "table")]
        table: Option<String>,
        /// user@domain or uuid
        id: String,
        attr: String,
        /// 0 str:str, 1 str:int, 2 int:str, 3 int:int
        ty: String,
        value: String,
    },
    /// Remove the preferences matching the filters (at least one)
    Rm(AvpFilter),
}

#[derive(Subcommand, Debug)]
pub enum DialplanCmd {
    /// Rules of one dialplan, or all
    Show { dpid: Option<String> },
    /// Add a rule: DPID PRIO OP MATCH_EXP MATCH_FLAGS SUBST_EXP REPL_EXP ATTRS
    Addrule {
        dpid: String,
        prio: String,
        /// equal, regexp or fnmatch
        op: String,
        match_exp: String,
        /// 0 case sensitive, 1 insensitive
        match_flags: String,
        subst_exp: String,
        repl_exp: String,
        attrs: String,
    },
    /// Remove every rule (asks; --yes without a terminal)
    Rm,
    /// Remove the rules of one dialplan
    Rmdpid { dpid: String },
    /// Remove the rules of one priority in one dialplan
    Rmrule { dpid: String, prio: String },
    /// Ask the running osips to reload the dialplans
    Reload,
}

#[derive(Subcommand, Debug)]
pub enum SpeeddialCmd {
    /// Entries with this speed-dial id
    Show { sd_id: String },
    /// One user's speed dials
    List { user: String },
    /// Add a speed dial: USER SD_ID NEW_URI [DESCRIPTION]
    Add {
        user: String,
        sd_id: String,
        new_uri: String,
        description: Option<String>,
    },
    /// Remove a speed dial
    Rm { user: String, sd_id: String },
}

#[derive(Subcommand, Debug)]
pub enum DbCmd {
    /// Every row of a table
    Show { table: String },
}

#[derive(Subcommand, Debug)]
pub enum UlCmd {
    /// Every registered contact, or the contacts of one AoR
    Show {
        /// user[@domain] (bare names take SIP_DOMAIN)
        aor: Option<String>,
        /// AoRs and contact URIs only (MI ul_dump brief)
        #[arg(long)]
        brief: bool,
    },
    /// Remove an AoR with all its contacts, or one contact
    Rm {
        aor: String,
        contact: Option<String>,
    },
    /// Add a contact to an AoR (EXPIRES seconds; 0, the default, never expires)
    Add {
        aor: String,
        contact: String,
        expires: Option<String>,
        /// q value
        #[arg(long, default_value = "1.00")]
        q: String,
        /// usrloc flags
        #[arg(long, default_value = "0")]
        flags: String,
        /// branch flags
        #[arg(long, default_value = "0")]
        cflags: String,
        /// bitmask of the supported methods (32767: all)
        #[arg(long, default_value = "32767")]
        methods: String,
    },
}
