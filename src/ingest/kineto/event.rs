//! One Kineto trace event, read loosely: the fields we use (`ph`, `cat`, `name`,
//! `pid`, `tid`, `ts`, `dur` and a few `args`), each a [`Loose`] value, so an event
//! is never refused for one field's type. An element of `traceEvents` that is no
//! object reads as `None`; unknown keys are skipped unread; a repeated key: the last
//! wins. Keys are matched without allocating, by one `match` each.

use std::fmt;

use serde::de::{DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer};

use super::loose::Loose;

/// A process or thread id: Kineto writes integers, and strings for its own spans
/// (`"Spans"`); a numeric string is read as the integer, anything else is `Other`.
#[derive(Debug, Clone, Default)]
pub enum Id {
    Int(i64),
    #[default]
    Other,
}

impl Id {
    pub fn as_int(&self) -> Option<i64> {
        match self {
            Id::Int(i) => Some(*i),
            Id::Other => None,
        }
    }
}

impl<'de> Deserialize<'de> for Id {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(match Loose::<i64>::deserialize(deserializer)? {
            Loose::Value(i) | Loose::FromText(i) => Id::Int(i),
            Loose::Absent | Loose::Wrong => Id::Other,
        })
    }
}

/// The `args` fields we use; each read loosely (see [`Loose`]).
#[derive(Debug, Default)]
pub struct Args {
    pub correlation: Loose<i64>,
    pub device: Loose<i64>,
    pub stream: Loose<i64>,
    pub bytes: Loose<i64>,
    pub grid: Loose<[i64; 3]>,
    pub block: Loose<[i64; 3]>,
    /// `registers per thread`.
    pub registers: Loose<i64>,
    /// `shared memory`.
    pub shared_memory: Loose<i64>,
}

/// One trace event, as much of it as we use; every field read loosely, so an
/// event is never refused for one field's type (see [`Loose`]).
#[derive(Debug, Default)]
pub struct Event {
    pub ph: Loose<String>,
    pub cat: Loose<String>,
    pub name: Loose<String>,
    pub pid: Id,
    pub tid: Id,
    pub ts: Loose<f64>,
    pub dur: Loose<f64>,
    /// `Wrong` when `args` is not an object.
    pub args: Loose<()>,
    pub arg: Args,
}

impl Event {
    /// The fields we use that held an unexpected type (`true`) or a number written
    /// as a string (`false`), named as in the trace.
    pub fn oddities(&self) -> impl Iterator<Item = (&'static str, bool)> + '_ {
        let a = &self.arg;
        [
            ("cat", self.cat.oddity()),
            ("name", self.name.oddity()),
            ("ts", self.ts.oddity()),
            ("dur", self.dur.oddity()),
            ("args", self.args.oddity()),
            ("args.correlation", a.correlation.oddity()),
            ("args.device", a.device.oddity()),
            ("args.stream", a.stream.oddity()),
            ("args.bytes", a.bytes.oddity()),
            ("args.grid", a.grid.oddity()),
            ("args.block", a.block.oddity()),
            ("args.registers per thread", a.registers.oddity()),
            ("args.shared memory", a.shared_memory.oddity()),
        ]
        .into_iter()
        .filter_map(|(field, odd)| odd.map(|wrong| (field, wrong)))
    }
}

/// Visitor methods for an object-shaped value: every scalar reads as `None`.
macro_rules! scalars_are_none {
    ($t:ty) => {
        fn visit_str<E>(self, _: &str) -> Result<Option<$t>, E> {
            Ok(None)
        }
        fn visit_i64<E>(self, _: i64) -> Result<Option<$t>, E> {
            Ok(None)
        }
        fn visit_u64<E>(self, _: u64) -> Result<Option<$t>, E> {
            Ok(None)
        }
        fn visit_f64<E>(self, _: f64) -> Result<Option<$t>, E> {
            Ok(None)
        }
        fn visit_bool<E>(self, _: bool) -> Result<Option<$t>, E> {
            Ok(None)
        }
        fn visit_unit<E>(self) -> Result<Option<$t>, E> {
            Ok(None)
        }
    };
}

/// The event keys we read; any other key is skipped unread.
#[derive(Clone, Copy)]
enum EventKey {
    Ph,
    Cat,
    Name,
    Pid,
    Tid,
    Ts,
    Dur,
    Args,
}

fn event_key(key: &str) -> Option<EventKey> {
    Some(match key {
        "ph" => EventKey::Ph,
        "cat" => EventKey::Cat,
        "name" => EventKey::Name,
        "pid" => EventKey::Pid,
        "tid" => EventKey::Tid,
        "ts" => EventKey::Ts,
        "dur" => EventKey::Dur,
        "args" => EventKey::Args,
        _ => return None,
    })
}

/// The `args` keys we read.
#[derive(Clone, Copy)]
enum ArgKey {
    Correlation,
    Device,
    Stream,
    Bytes,
    Grid,
    Block,
    Registers,
    SharedMemory,
}

fn arg_key(key: &str) -> Option<ArgKey> {
    Some(match key {
        "correlation" => ArgKey::Correlation,
        "device" => ArgKey::Device,
        "stream" => ArgKey::Stream,
        "bytes" => ArgKey::Bytes,
        "grid" => ArgKey::Grid,
        "block" => ArgKey::Block,
        "registers per thread" => ArgKey::Registers,
        "shared memory" => ArgKey::SharedMemory,
        _ => return None,
    })
}

/// An object key, matched without allocating (one `match`, compiled to a switch on
/// length and bytes): `Some(key)` for a key we read, `None` for any other.
struct KeySeed<K>(fn(&str) -> Option<K>);

impl<'de, K> DeserializeSeed<'de> for KeySeed<K> {
    type Value = Option<K>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_identifier(self)
    }
}

impl<'de, K> Visitor<'de> for KeySeed<K> {
    type Value = Option<K>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an object key")
    }

    fn visit_str<E>(self, key: &str) -> Result<Self::Value, E> {
        Ok((self.0)(key))
    }
}

/// Reads one `traceEvents` element: an object becomes `Some(Event)` (a repeated
/// key: the last wins), anything else `None`.
struct EventVisitor;

impl<'de> Visitor<'de> for EventVisitor {
    type Value = Option<Event>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a trace event")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Option<Event>, A::Error> {
        let mut e = Event::default();
        while let Some(key) = map.next_key_seed(KeySeed(event_key))? {
            match key {
                Some(EventKey::Ph) => e.ph = map.next_value()?,
                Some(EventKey::Cat) => e.cat = map.next_value()?,
                Some(EventKey::Name) => e.name = map.next_value()?,
                Some(EventKey::Pid) => e.pid = map.next_value()?,
                Some(EventKey::Tid) => e.tid = map.next_value()?,
                Some(EventKey::Ts) => e.ts = map.next_value()?,
                Some(EventKey::Dur) => e.dur = map.next_value()?,
                Some(EventKey::Args) => {
                    let args = map.next_value_seed(ArgsSeed)?;
                    e.args = match args {
                        Some(args) => {
                            e.arg = args;
                            Loose::Value(())
                        }
                        None => Loose::Wrong,
                    };
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(Some(e))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Option<Event>, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(None)
    }

    scalars_are_none!(Event);
}

/// A trace event element: `None` when it is not an object.
pub struct MaybeEvent(pub Option<Event>);

impl<'de> Deserialize<'de> for MaybeEvent {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(EventVisitor).map(MaybeEvent)
    }
}

/// Reads `args`: `Some` for an object (unknown keys ignored, a repeated key: the
/// last wins), `None` for any other value.
struct ArgsSeed;

impl<'de> DeserializeSeed<'de> for ArgsSeed {
    type Value = Option<Args>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Option<Args>, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ArgsSeed {
    type Value = Option<Args>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("event args")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Option<Args>, A::Error> {
        let mut a = Args::default();
        while let Some(key) = map.next_key_seed(KeySeed(arg_key))? {
            match key {
                Some(ArgKey::Correlation) => a.correlation = map.next_value()?,
                Some(ArgKey::Device) => a.device = map.next_value()?,
                Some(ArgKey::Stream) => a.stream = map.next_value()?,
                Some(ArgKey::Bytes) => a.bytes = map.next_value()?,
                Some(ArgKey::Grid) => a.grid = map.next_value()?,
                Some(ArgKey::Block) => a.block = map.next_value()?,
                Some(ArgKey::Registers) => a.registers = map.next_value()?,
                Some(ArgKey::SharedMemory) => a.shared_memory = map.next_value()?,
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(Some(a))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Option<Args>, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(None)
    }
    scalars_are_none!(Args);
}
