//! event_subscribe, events_list, subscribers_list, raise_event (`evi/event_interface.c`).

use serde_json::{Map, Value, json};

use super::{Def, MiCore};
use crate::events::{DEFAULT_EXPIRE, EvValue, EventParams, Expiry, SubscriberInfo};
use crate::mi::params::value_as_string;
use crate::mi::{MiError, MiParams, MiResult, ok};

pub(super) const DEFS: &[Def] = &[
    Def {
        name: "event_subscribe",
        aliases: &[],
        help: "subscribes an event to the Event Interface",
        recipes: &[
            (&["event", "socket"], event_subscribe),
            (&["event", "socket", "expire"], event_subscribe),
        ],
    },
    Def {
        name: "events_list",
        aliases: &[],
        help: "lists all the events advertised through the Event Interface",
        recipes: &[(&[], events_list)],
    },
    Def {
        name: "subscribers_list",
        aliases: &[],
        help: "lists all the Event Interface subscribers; Params: [ event [ subscriber ]]",
        recipes: &[
            (&[], subscribers_list),
            (&["event"], subscribers_list),
            (&["event", "socket"], subscribers_list),
        ],
    },
    Def {
        name: "raise_event",
        aliases: &[],
        help: "raises an event through the Event Interface; Params: event [ params ]",
        recipes: &[
            (&["event"], raise_event),
            (&["event", "params"], raise_event),
        ],
    },
];

fn event_subscribe(core: &MiCore, p: &MiParams<'_>) -> MiResult {
    let expire = match p.opt_int("expire")? {
        Some(e) if e < 0 => return Err(MiError::invalid_params("Negative expire value")),
        Some(e) => e.min(u32::MAX as i64) as u32,
        None => DEFAULT_EXPIRE,
    };
    let event = p.string("event")?;
    let socket = p.string("socket")?;
    if event.is_empty() || socket.is_empty() {
        return Err(MiError::new(400, "Bad parameter value"));
    }
    core.events
        .subscribe(&event, &socket, Expiry::Secs(expire))
        .map_err(|e| MiError::with_data(400, "Bad parameter value", e.to_string()))?;
    ok()
}

fn events_list(core: &MiCore, _: &MiParams<'_>) -> MiResult {
    let events: Vec<Value> = core
        .events
        .list()
        .into_iter()
        .map(|(name, id)| json!({ "name": name, "id": id }))
        .collect();
    Ok(json!({ "Events": events }))
}

fn subscriber_json(s: &SubscriberInfo) -> Value {
    let mut m = Map::new();
    m.insert("socket".into(), Value::from(s.socket.clone()));
    m.insert(
        "expire".into(),
        s.expire
            .map(Value::from)
            .unwrap_or_else(|| Value::from("never")),
    );
    Value::Object(m)
}

fn subscribers_list(core: &MiCore, p: &MiParams<'_>) -> MiResult {
    let Some(event) = p.opt_string("event")? else {
        let mut events = Vec::new();
        for (name, id) in core.events.list() {
            let subs = core.events.subscribers(&name).unwrap_or_default();
            if subs.is_empty() {
                continue;
            }
            let list: Vec<Value> = subs.iter().map(subscriber_json).collect();
            events.push(json!({ "name": name, "id": id, "Subscribers": list }));
        }
        return Ok(json!({ "Events": events }));
    };
    let (id, subs) = match (core.events.id(&event), core.events.subscribers(&event)) {
        (Some(id), Some(subs)) => (id, subs),
        _ => return Err(MiError::new(404, "Event not published")),
    };
    let mut ev = Map::new();
    match p.opt_string("socket")? {
        Some(socket) => {
            let s = core
                .events
                .subscriber(&event, &socket)
                .ok_or_else(|| MiError::new(404, "Subscriber does not exist"))?;
            ev.insert("name".into(), Value::from(event));
            ev.insert("id".into(), Value::from(id));
            ev.insert("Subscriber".into(), subscriber_json(&s));
        }
        // OpenSIPS prints an empty object for an event nobody subscribed to
        None if subs.is_empty() => {}
        None => {
            ev.insert("name".into(), Value::from(event));
            ev.insert("id".into(), Value::from(id));
            ev.insert(
                "Subscribers".into(),
                Value::Array(subs.iter().map(subscriber_json).collect()),
            );
        }
    }
    Ok(json!({ "Event": ev }))
}

fn json_to_ev(v: &Value) -> EvValue {
    match v {
        Value::Number(n) => n
            .as_i64()
            .map(EvValue::Int)
            .unwrap_or_else(|| EvValue::Str(n.to_string())),
        Value::String(s) => EvValue::Str(s.clone()),
        other => EvValue::Str(other.to_string()),
    }
}

fn named_params(obj: &Map<String, Value>) -> EventParams {
    let mut ep = EventParams::new();
    for (k, v) in obj {
        ep.push(Some(k), json_to_ev(v));
    }
    ep
}

/// `params`: an array (positional string values) or a JSON object, given directly or as a string.
fn raise_params(p: &MiParams<'_>) -> Result<EventParams, MiError> {
    match p.value("params") {
        None => Ok(EventParams::new()),
        Some(Value::Array(a)) => {
            let mut ep = EventParams::new();
            for v in a {
                let s = value_as_string(v).ok_or_else(|| MiError::new(400, "Bad Params"))?;
                ep.push(None, s);
            }
            Ok(ep)
        }
        Some(Value::Object(o)) => Ok(named_params(o)),
        Some(Value::String(s)) => match serde_json::from_str::<Value>(s) {
            Ok(Value::Object(o)) => Ok(named_params(&o)),
            _ => Err(MiError::new(400, "Bad Params")),
        },
        Some(_) => Err(MiError::new(400, "No Params")),
    }
}

fn raise_event(core: &MiCore, p: &MiParams<'_>) -> MiResult {
    let event = p.string("event")?;
    let id = core
        .events
        .id(&event)
        .ok_or_else(|| MiError::new(404, "Event not registered"))?;
    if !core.events.has_subscribers(id) {
        return Err(MiError::new(480, "Temporarily Unavailable"));
    }
    let params = raise_params(p)?;
    core.events.raise(id, params);
    ok()
}
