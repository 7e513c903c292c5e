//! Streaming reader for PyTorch-profiler (Kineto) chrome traces, plain or gzip.
//!
//! The top-level object is walked key by key and `traceEvents` element by element
//! (serde `DeserializeSeed`), so the whole document is never held: each event is
//! handed to a callback and dropped. Only the few metadata keys we use are kept.
//! Times (`ts`, `dur`, µs as decimals with ns precision) become int64 ns here.

use std::collections::BTreeMap;
use std::fmt;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use serde::de::{DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserializer;

pub use super::event::Event;
use super::event::MaybeEvent;

use crate::error::{Error, Result};

/// Device properties we keep.
#[derive(Debug, Default, Clone)]
pub struct DeviceProperties {
    pub id: Option<i64>,
    pub name: Option<String>,
}

/// Distributed info (present in multi-rank traces).
#[derive(Debug, Default, Clone)]
pub struct DistributedInfo {
    pub rank: Option<i64>,
}

/// Top-level metadata of a trace. Metadata of an unexpected shape is left out and
/// counted in `oddities`, never fatal.
#[derive(Debug, Default, Clone)]
pub struct TraceMeta {
    pub schema_version: Option<String>,
    pub devices: Vec<DeviceProperties>,
    pub distributed: Option<DistributedInfo>,
    pub cuda_driver_version: Option<String>,
    pub trace_id: Option<String>,
    /// True once a `traceEvents` array was seen.
    pub has_events: bool,
    /// What could not be read, by reason (a `traceEvents` element that is no
    /// object, metadata of the wrong type).
    pub oddities: BTreeMap<&'static str, u64>,
}

impl TraceMeta {
    fn odd(&mut self, reason: &'static str) {
        *self.oddities.entry(reason).or_default() += 1;
    }
}

/// An integer field of a metadata object: a number or a numeric string.
fn int_of(value: Option<&serde_json::Value>) -> Option<i64> {
    match value? {
        serde_json::Value::Number(n) => n.as_i64(),
        serde_json::Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// `deviceProperties`: the objects of the array (anything else is counted).
fn devices_of(value: serde_json::Value, meta: &mut TraceMeta) -> Vec<DeviceProperties> {
    let serde_json::Value::Array(items) = value else {
        meta.odd("Kineto deviceProperties not an array (GPU names unknown)");
        return Vec::new();
    };
    items
        .iter()
        .filter_map(|item| match item {
            serde_json::Value::Object(o) => Some(DeviceProperties {
                id: int_of(o.get("id")),
                name: o.get("name").and_then(|n| n.as_str()).map(str::to_string),
            }),
            _ => {
                meta.odd("Kineto deviceProperties entry not an object (left out)");
                None
            }
        })
        .collect()
}

struct TopLevel<'a, F> {
    meta: &'a mut TraceMeta,
    on_event: &'a mut F,
}

impl<'de, F: FnMut(Event)> Visitor<'de> for TopLevel<'_, F> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a chrome trace object with traceEvents")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "traceEvents" => {
                    map.next_value_seed(Events {
                        on_event: &mut *self.on_event,
                        meta: &mut *self.meta,
                    })?;
                    self.meta.has_events = true;
                }
                "deviceProperties" => {
                    let value = map.next_value::<serde_json::Value>()?;
                    self.meta.devices = devices_of(value, self.meta);
                }
                "distributedInfo" => match map.next_value::<serde_json::Value>()? {
                    serde_json::Value::Object(o) => {
                        self.meta.distributed = Some(DistributedInfo {
                            rank: int_of(o.get("rank")),
                        })
                    }
                    _ => self
                        .meta
                        .odd("Kineto distributedInfo not an object (rank from the file name)"),
                },
                "schemaVersion" => {
                    self.meta.schema_version =
                        Some(map.next_value::<serde_json::Value>()?.to_string())
                }
                "cuda_driver_version" => {
                    self.meta.cuda_driver_version =
                        Some(map.next_value::<serde_json::Value>()?.to_string())
                }
                "trace_id" => {
                    self.meta.trace_id = match map.next_value::<serde_json::Value>()? {
                        serde_json::Value::String(id) => Some(id),
                        serde_json::Value::Null => None,
                        other => Some(other.to_string()),
                    }
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(())
    }
}

struct Events<'a, F> {
    on_event: &'a mut F,
    meta: &'a mut TraceMeta,
}

impl<'de, F: FnMut(Event)> DeserializeSeed<'de> for Events<'_, F> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de, F: FnMut(Event)> Visitor<'de> for Events<'_, F> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an array of trace events")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while let Some(MaybeEvent(event)) = seq.next_element::<MaybeEvent>()? {
            match event {
                Some(event) => (self.on_event)(event),
                None => self
                    .meta
                    .odd("Kineto traceEvents element that is not an object (skipped)"),
            }
        }
        Ok(())
    }
}

/// Opens `path` (gzip detected by magic bytes) as a buffered reader.
fn open(path: &Path) -> Result<Box<dyn Read>> {
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut reader = BufReader::with_capacity(1 << 20, file);
    let head = reader.fill_buf().map_err(|e| Error::io(path, e))?;
    let mut text: Box<dyn BufRead> = if head.starts_with(&[0x1f, 0x8b]) {
        // Multi-member gzip (concatenated `gzip` outputs) is valid gzip: read every member.
        let decoder = flate2::read::MultiGzDecoder::new(reader);
        Box::new(BufReader::with_capacity(1 << 20, decoder))
    } else {
        Box::new(reader)
    };
    // JSON after a UTF-8 byte-order mark is still JSON.
    let head = text.fill_buf().map_err(|e| Error::io(path, e))?;
    if head.starts_with(crate::ingest::probe::UTF8_BOM) {
        text.consume(crate::ingest::probe::UTF8_BOM.len());
    }
    Ok(Box::new(text))
}

/// Streams every event of the trace at `path` to `on_event`; returns the metadata.
pub fn read(path: &Path, mut on_event: impl FnMut(Event)) -> Result<TraceMeta> {
    let reader = open(path)?;
    let mut meta = TraceMeta::default();
    let mut deserializer = serde_json::Deserializer::from_reader(reader);
    let visitor = TopLevel {
        meta: &mut meta,
        on_event: &mut on_event,
    };
    deserializer
        .deserialize_map(visitor)
        .and_then(|()| deserializer.end())
        .map_err(|e| {
            let reason = if e.is_eof() {
                format!(
                    "truncated JSON ({e}); the trace file is incomplete — re-export or re-copy it"
                )
            } else if e.is_io() {
                format!("cannot read the trace ({e}); is the gzip file complete?")
            } else {
                format!("not a PyTorch-profiler chrome trace ({e})")
            };
            Error::input(path, reason)
        })?;
    if !meta.has_events {
        return Err(Error::input(
            path,
            "JSON without a traceEvents array: not a PyTorch-profiler (Kineto) chrome trace",
        ));
    }
    Ok(meta)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn converts_microseconds_exactly() {
        assert_eq!(
            crate::ingest::sanity::kineto_times(4_964_592_927_089.388, None),
            Ok((4_964_592_927_089_388, 4_964_592_927_089_388))
        );
        assert_eq!(
            crate::ingest::sanity::kineto_times(0.0, Some(1.184)),
            Ok((0, 1184))
        );
    }

    #[test]
    fn streams_events_and_metadata() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.json");
        std::fs::write(
            &path,
            r#"{"schemaVersion": 1, "traceEvents": [{"ph": "X", "cat": "kernel", "name": "k", "pid": 0, "tid": 7, "ts": 1.5, "dur": 2.0, "args": {"correlation": 3, "grid": [1, 2, 3]}}, {"ph": "M", "pid": "Spans", "tid": "x"}], "distributedInfo": {"rank": 1}}"#,
        )
        .unwrap();
        let mut events = Vec::new();
        let meta = read(&path, |e| events.push(e)).unwrap();
        assert_eq!(events.len(), 2);
        assert_eq!(
            events[0].arg.grid,
            super::super::loose::Loose::Value([1, 2, 3])
        );
        assert_eq!(meta.distributed.unwrap().rank, Some(1));
        std::fs::write(&path, r#"{"traceEvents": [{"ph": "X""#).unwrap();
        let err = read(&path, |_| {}).unwrap_err().to_string();
        assert!(err.contains("truncated"), "{err}");
        std::fs::write(&path, r#"{"foo": 1}"#).unwrap();
        assert!(read(&path, |_| {})
            .unwrap_err()
            .to_string()
            .contains("traceEvents"));
    }
}
