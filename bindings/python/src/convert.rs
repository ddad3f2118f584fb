//! Python values ↔ the wire convention ([`Payload`]: a JSON array whose binary arguments are
//! `{"_placeholder":true,"num":N}` placeholders plus the attachments). Conversions walk the Python objects
//! directly (no `json` module round trip) and keep dict key order; `bytes` (also nested) become attachments
//! one way and come back as `bytes` the other way.

use crate::errors::coded_error;
use bytes::Bytes;
use ferrio::socketio::MAX_JSON_DEPTH;
use ferrio::{EmitError, Payload};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{
    PyBool, PyByteArray, PyBytes, PyDict, PyFloat, PyInt, PyList, PyMemoryView, PyString, PyTuple,
};
use serde::de::{DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use std::fmt::Write as _;

/// Builds a payload from the event arguments (a list or tuple, one element per argument), nesting at
/// most `max_json_depth` arrays and objects, the arguments' own array included: the server's
/// `max_json_depth`, which the core checks again on the JSON text. Deeper data raises what the core's
/// refusal raises (`EmitError`, the code of `EmitError::TooDeep`), or a `ValueError` when it is deeper
/// because it contains itself (a reference cycle, which has no JSON form); the walk stops there.
pub(crate) fn args_to_payload(args: &Bound<'_, PyAny>, max_json_depth: usize) -> PyResult<Payload> {
    let mut writer = JsonWriter {
        max_depth: max_json_depth,
        ..JsonWriter::default()
    };
    writer.text.push('[');
    // The arguments' array is the first level.
    writer.open.push(args.as_ptr() as usize);
    if let Ok(tuple) = args.cast::<PyTuple>() {
        for (i, item) in tuple.iter().enumerate() {
            if i > 0 {
                writer.text.push(',');
            }
            writer.write(&item)?;
        }
    } else if let Ok(list) = args.cast::<PyList>() {
        for (i, item) in list.iter().enumerate() {
            if i > 0 {
                writer.text.push(',');
            }
            writer.write(&item)?;
        }
    } else {
        return Err(PyTypeError::new_err(
            "the arguments must be a list or a tuple",
        ));
    }
    writer.text.push(']');
    Payload::from_json(writer.text, writer.attachments)
        .map_err(|e| PyValueError::new_err(e.to_string()))
}

#[derive(Default)]
struct JsonWriter {
    text: String,
    attachments: Vec<Bytes>,
    /// The most arrays and objects open at once.
    max_depth: usize,
    /// The arrays and objects open now, outermost first (their addresses, to tell a reference cycle).
    open: Vec<usize>,
}

impl JsonWriter {
    fn string(&mut self, s: &str) {
        // serde_json's escaping; writing a &str into a String cannot fail.
        if let Ok(quoted) = serde_json::to_string(s) {
            self.text.push_str(&quoted);
        }
    }

    fn binary(&mut self, data: Bytes) {
        let num = self.attachments.len();
        self.attachments.push(data);
        let _ = write!(self.text, "{{\"_placeholder\":true,\"num\":{num}}}");
    }

    /// Opens the array or object `obj`, one level deeper than those open.
    fn enter(&mut self, obj: &Bound<'_, PyAny>) -> PyResult<()> {
        let address = obj.as_ptr() as usize;
        if self.open.len() >= self.max_depth {
            // Only now, on the way out, is the path searched for the cycle that may have made it deep.
            if self.open.contains(&address) || has_duplicates(&self.open) {
                return Err(PyValueError::new_err(
                    "the data is nested too deeply: it contains a reference cycle",
                ));
            }
            return Err(coded_error(obj.py(), &EmitError::TooDeep));
        }
        self.open.push(address);
        Ok(())
    }

    fn leave(&mut self) {
        self.open.pop();
    }

    fn write(&mut self, obj: &Bound<'_, PyAny>) -> PyResult<()> {
        if obj.is_none() {
            self.text.push_str("null");
        } else if let Ok(s) = obj.cast::<PyString>() {
            self.string(&s.to_cow()?);
        } else if let Ok(b) = obj.cast::<PyBool>() {
            self.text
                .push_str(if b.is_true() { "true" } else { "false" });
        } else if obj.is_instance_of::<PyInt>() {
            if let Ok(v) = obj.extract::<i64>() {
                let _ = write!(self.text, "{v}");
            } else if let Ok(v) = obj.extract::<u64>() {
                let _ = write!(self.text, "{v}");
            } else {
                // A big integer: JSON has no size limit, write its decimal digits.
                self.text.push_str(&obj.str()?.to_cow()?);
            }
        } else if let Ok(f) = obj.cast::<PyFloat>() {
            let v = f.value();
            if !v.is_finite() {
                return Err(PyValueError::new_err(format!(
                    "{v} is not JSON serializable (NaN and infinities have no JSON form)"
                )));
            }
            let text =
                serde_json::to_string(&v).map_err(|e| PyValueError::new_err(e.to_string()))?;
            self.text.push_str(&text);
        } else if let Ok(b) = obj.cast::<PyBytes>() {
            self.binary(Bytes::copy_from_slice(b.as_bytes()));
        } else if let Ok(b) = obj.cast::<PyByteArray>() {
            self.binary(Bytes::from(b.to_vec()));
        } else if obj.is_instance_of::<PyMemoryView>() {
            let data: Vec<u8> = obj.call_method0("tobytes")?.extract()?;
            self.binary(Bytes::from(data));
        } else if let Ok(list) = obj.cast::<PyList>() {
            self.enter(obj)?;
            self.text.push('[');
            for (i, item) in list.iter().enumerate() {
                if i > 0 {
                    self.text.push(',');
                }
                self.write(&item)?;
            }
            self.text.push(']');
            self.leave();
        } else if let Ok(tuple) = obj.cast::<PyTuple>() {
            self.enter(obj)?;
            self.text.push('[');
            for (i, item) in tuple.iter().enumerate() {
                if i > 0 {
                    self.text.push(',');
                }
                self.write(&item)?;
            }
            self.text.push(']');
            self.leave();
        } else if let Ok(dict) = obj.cast::<PyDict>() {
            self.enter(obj)?;
            self.text.push('{');
            for (i, (key, value)) in dict.iter().enumerate() {
                if i > 0 {
                    self.text.push(',');
                }
                self.key(&key)?;
                self.text.push(':');
                self.write(&value)?;
            }
            self.text.push('}');
            self.leave();
        } else {
            let type_name = obj.get_type().name()?;
            return Err(PyTypeError::new_err(format!(
                "Object of type {type_name} is not JSON serializable"
            )));
        }
        Ok(())
    }

    /// Dict keys as the `json` module writes them: strings, and numbers, booleans and None as text.
    fn key(&mut self, key: &Bound<'_, PyAny>) -> PyResult<()> {
        if let Ok(s) = key.cast::<PyString>() {
            self.string(&s.to_cow()?);
        } else if key.is_none() {
            self.text.push_str("\"null\"");
        } else if let Ok(b) = key.cast::<PyBool>() {
            self.text
                .push_str(if b.is_true() { "\"true\"" } else { "\"false\"" });
        } else if key.is_instance_of::<PyInt>() || key.is_instance_of::<PyFloat>() {
            let text = key.str()?.to_cow()?.into_owned();
            self.string(&text);
        } else {
            let type_name = key.get_type().name()?;
            return Err(PyTypeError::new_err(format!(
                "keys must be str, int, float, bool or None, not {type_name}"
            )));
        }
        Ok(())
    }
}

/// Whether some address occurs twice (a container inside itself).
fn has_duplicates(addresses: &[usize]) -> bool {
    let mut sorted = addresses.to_vec();
    sorted.sort_unstable();
    sorted.windows(2).any(|pair| pair[0] == pair[1])
}

/// The arguments of a payload as a Python list, with placeholders replaced by `bytes`.
pub(crate) fn payload_to_list<'py>(
    py: Python<'py>,
    payload: &Payload,
) -> PyResult<Bound<'py, PyList>> {
    let attachments = payload.attachments();
    let mut de = serde_json::Deserializer::from_str(payload.args_json());
    // serde_json's own limit (128 levels) would contradict a larger `max_json_depth`, which the core
    // already enforced on this text; `PySeed` bounds the recursion by the largest allowed instead.
    de.disable_recursion_limit();
    let value = PySeed {
        py,
        attachments,
        depth: 0,
    }
    .deserialize(&mut de)
    .map_err(|e| PyValueError::new_err(format!("invalid payload: {e}")))?;
    value
        .cast_into::<PyList>()
        .map_err(|_| PyValueError::new_err("invalid payload: not an array"))
}

/// Builds Python objects straight from the JSON text (dicts keep the order of the wire).
#[derive(Clone, Copy)]
struct PySeed<'a, 'py> {
    py: Python<'py>,
    attachments: &'a [Bytes],
    /// Arrays and objects around the value.
    depth: usize,
}

impl PySeed<'_, '_> {
    /// The seed for the values of an array or object at this seed's level, unless it is one level
    /// deeper than any server may allow (the recursion stays bounded whatever the text).
    fn inside<E: serde::de::Error>(self) -> Result<Self, E> {
        if self.depth >= MAX_JSON_DEPTH {
            return Err(E::custom(format!(
                "nested deeper than {MAX_JSON_DEPTH} levels"
            )));
        }
        Ok(PySeed {
            depth: self.depth + 1,
            ..self
        })
    }
}

impl<'de, 'py> DeserializeSeed<'de> for PySeed<'_, 'py> {
    type Value = Bound<'py, PyAny>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

fn de_err<E: serde::de::Error>(e: PyErr) -> E {
    E::custom(e.to_string())
}

impl<'de, 'py> Visitor<'de> for PySeed<'_, 'py> {
    type Value = Bound<'py, PyAny>;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_unit<E: serde::de::Error>(self) -> Result<Self::Value, E> {
        Ok(self.py.None().into_bound(self.py))
    }

    fn visit_bool<E: serde::de::Error>(self, v: bool) -> Result<Self::Value, E> {
        Ok(PyBool::new(self.py, v).to_owned().into_any())
    }

    fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok(PyInt::new(self.py, v).into_any())
    }

    fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Ok(PyInt::new(self.py, v).into_any())
    }

    fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Self::Value, E> {
        Ok(PyFloat::new(self.py, v).into_any())
    }

    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(PyString::new(self.py, v).into_any())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let inside = self.inside()?;
        let list = PyList::empty(self.py);
        while let Some(item) = seq.next_element_seed(inside)? {
            list.append(item).map_err(de_err)?;
        }
        Ok(list.into_any())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let inside = self.inside()?;
        let dict = PyDict::new(self.py);
        let mut placeholder = false;
        let mut num: Option<u64> = None;
        let mut len = 0usize;
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            let value = map.next_value_seed(inside)?;
            len += 1;
            if key == "_placeholder" {
                placeholder =
                    value.is_instance_of::<PyBool>() && value.is_truthy().unwrap_or(false);
            } else if key == "num" && value.is_instance_of::<PyInt>() {
                num = value.extract::<u64>().ok();
            }
            dict.set_item(key.as_ref(), value).map_err(de_err)?;
        }
        if placeholder && len == 2 {
            if let Some(data) = num.and_then(|n| self.attachments.get(n as usize)) {
                return Ok(PyBytes::new(self.py, data).into_any());
            }
        }
        Ok(dict.into_any())
    }
}
