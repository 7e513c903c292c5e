//! Streaming reader for PyTorch-profiler (Kineto) chrome traces, plain or gzip.
//!
//! The top-level object is walked key by key and `traceEvents` element by element
//! (serde `DeserializeSeed`), so the whole document is never held: each event is
//! handed to a callback and dropped. Only the few metadata keys we use are kept.
//! Times (`ts`, `dur`, µs as decimals with ns precision) become int64 ns here.

use std::fmt;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use serde::de::{DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer};

use crate::error::{Error, Result};

/// A process or thread id: Kineto writes integers, and strings for its own spans.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum Id {
    Int(i64),
    Text(#[allow(dead_code)] String),
}

impl Id {
    pub fn as_int(&self) -> Option<i64> {
        match self {
            Id::Int(i) => Some(*i),
            Id::Text(_) => None,
        }
    }
}

/// The `args` fields we use.
#[derive(Debug, Default, Deserialize)]
pub struct Args {
    pub correlation: Option<i64>,
    pub device: Option<i64>,
    pub stream: Option<i64>,
    pub bytes: Option<i64>,
    pub grid: Option<[i64; 3]>,
    pub block: Option<[i64; 3]>,
    #[serde(rename = "registers per thread")]
    pub registers: Option<i64>,
    #[serde(rename = "shared memory")]
    pub shared_memory: Option<i64>,
}

/// One trace event, as much of it as we use.
#[derive(Debug, Deserialize)]
pub struct Event {
    pub ph: Option<String>,
    pub cat: Option<String>,
    pub name: Option<String>,
    pub pid: Option<Id>,
    pub tid: Option<Id>,
    pub ts: Option<f64>,
    pub dur: Option<f64>,
    #[serde(default)]
    pub args: Option<Args>,
}

/// Device properties we keep.
#[derive(Debug, Default, Clone, Deserialize)]
pub struct DeviceProperties {
    pub id: Option<i64>,
    pub name: Option<String>,
}

/// Distributed info (present in multi-rank traces).
#[derive(Debug, Default, Clone, Deserialize)]
pub struct DistributedInfo {
    pub rank: Option<i64>,
}

/// Top-level metadata of a trace.
#[derive(Debug, Default, Clone)]
pub struct TraceMeta {
    pub schema_version: Option<String>,
    pub devices: Vec<DeviceProperties>,
    pub distributed: Option<DistributedInfo>,
    pub cuda_driver_version: Option<String>,
    pub trace_id: Option<String>,
    /// True once a `traceEvents` array was seen.
    pub has_events: bool,
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
                    })?;
                    self.meta.has_events = true;
                }
                "deviceProperties" => self.meta.devices = map.next_value()?,
                "distributedInfo" => self.meta.distributed = Some(map.next_value()?),
                "schemaVersion" => {
                    self.meta.schema_version =
                        Some(map.next_value::<serde_json::Value>()?.to_string())
                }
                "cuda_driver_version" => {
                    self.meta.cuda_driver_version =
                        Some(map.next_value::<serde_json::Value>()?.to_string())
                }
                "trace_id" => self.meta.trace_id = map.next_value::<Option<String>>()?,
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
        while let Some(event) = seq.next_element::<Event>()? {
            (self.on_event)(event);
        }
        Ok(())
    }
}

/// Opens `path` (gzip detected by magic bytes) as a buffered reader.
fn open(path: &Path) -> Result<Box<dyn Read>> {
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut reader = BufReader::with_capacity(1 << 20, file);
    let head = reader.fill_buf().map_err(|e| Error::io(path, e))?;
    if head.starts_with(&[0x1f, 0x8b]) {
        // Multi-member gzip (concatenated `gzip` outputs) is valid gzip: read every member.
        let decoder = flate2::read::MultiGzDecoder::new(reader);
        Ok(Box::new(BufReader::with_capacity(1 << 20, decoder)))
    } else {
        Ok(Box::new(reader))
    }
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
        assert_eq!(events[0].args.as_ref().unwrap().grid, Some([1, 2, 3]));
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
