//! Events interface (OpenSIPS EVI): the registry of published events, subscriptions with expiry,
//! and delivery over UDP / UNIX datagrams (event_datagram), TCP (event_stream), HTTP POST and the
//! script's `event_route`.
//!
//! A module exports its events as `&'static [EventDef]`; at start the runtime calls
//! [`EventRegistry::publish_all`] and the module keeps the returned ids to raise them:
//!
//! ```
//! use osips::events::{EventRegistry, EventParams};
//! let evi = EventRegistry::with_core();
//! let id = evi.publish("E_MY_EVENT", &["caller"]);
//! if evi.has_subscribers(id) {
//!     evi.raise(id, EventParams::new().with("caller", "alice"));
//! }
//! ```

mod core_events;
mod delivery;
mod params;
mod registry;
mod socket;

pub use core_events::*;
pub use delivery::{EventHook, IO_TIMEOUT, MAX_DATAGRAM, QUEUE_LEN, RouteHandler, SinkStats};
pub use params::{EvValue, EventParams, build_payload};
pub use registry::{
    DEFAULT_EXPIRE, Event, EventDef, EventId, EventRegistry, Expiry, RouteMode, SubscribeError,
    SubscriberInfo,
};
pub use socket::{EventSocket, SocketError};
