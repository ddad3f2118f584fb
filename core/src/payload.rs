//! [`Payload`]: the arguments of an event or an ack in the wire convention every binding shares — one
//! JSON array plus binary attachments referenced by `{"_placeholder":true,"num":N}`. A leaf of the crate:
//! the Socket.IO layer and the adapters (which carry payloads between servers) both use it.

use crate::error::{CodedError, ErrorCode};
use bytes::Bytes;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::value::RawValue;

/// The arguments of an event or an ack: a JSON array (text) and the binary attachments its placeholders
/// refer to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Payload {
    args: String,
    attachments: Vec<Bytes>,
}

impl Default for Payload {
    fn default() -> Self {
        Payload::empty()
    }
}

/// Why a payload could not be built or read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PayloadError {
    /// The JSON text is not an array.
    #[error("the arguments must be a JSON array")]
    NotAnArray,
    /// A placeholder refers to a missing attachment.
    #[error("a placeholder refers to attachment {0}, which does not exist")]
    MissingAttachment(usize),
    /// JSON (de)serialization failed.
    #[error(transparent)]
    Json(#[from] serde_json::Error),
}

impl CodedError for PayloadError {
    fn code(&self) -> ErrorCode {
        ErrorCode::InvalidJson
    }
}

impl Payload {
    /// No arguments.
    pub fn empty() -> Payload {
        Payload {
            args: "[]".to_owned(),
            attachments: Vec::new(),
        }
    }

    /// Arguments from the JSON text of an array (placeholders allowed) and the attachments.
    pub fn from_json(
        args: impl Into<String>,
        attachments: Vec<Bytes>,
    ) -> Result<Payload, PayloadError> {
        let args = args.into();
        serde_json::from_str::<Vec<&RawValue>>(&args).map_err(|_| PayloadError::NotAnArray)?;
        Ok(Payload { args, attachments })
    }

    /// Trusted constructor for text the codec has already validated as an array.
    pub(crate) fn from_parts(args: String, attachments: Vec<Bytes>) -> Payload {
        Payload { args, attachments }
    }

    /// The same arguments with these attachments, which their placeholders refer to by position (adapters
    /// rebuild payloads received from other servers this way).
    pub fn with_attachments(mut self, attachments: Vec<Bytes>) -> Payload {
        self.attachments = attachments;
        self
    }

    /// Several arguments from anything serializing to a JSON array, such as a tuple: `&("hi", 42)`.
    pub fn from_args<T: Serialize + ?Sized>(args: &T) -> Result<Payload, PayloadError> {
        let text = serde_json::to_string(args)?;
        if !text.starts_with('[') {
            return Err(PayloadError::NotAnArray);
        }
        Ok(Payload {
            args: text,
            attachments: Vec::new(),
        })
    }

    /// One argument.
    pub fn one<T: Serialize + ?Sized>(arg: &T) -> Result<Payload, PayloadError> {
        let mut args = String::from("[");
        args.push_str(&serde_json::to_string(arg)?);
        args.push(']');
        Ok(Payload {
            args,
            attachments: Vec::new(),
        })
    }

    /// A builder for arguments mixing JSON values and binary buffers.
    pub fn builder() -> PayloadBuilder {
        PayloadBuilder {
            args: Vec::new(),
            attachments: Vec::new(),
        }
    }

    /// The JSON text of the arguments array (placeholders kept).
    pub fn args_json(&self) -> &str {
        &self.args
    }

    /// The binary attachments, in placeholder order.
    pub fn attachments(&self) -> &[Bytes] {
        &self.attachments
    }

    /// Splits into the JSON text and the attachments.
    pub fn into_parts(self) -> (String, Vec<Bytes>) {
        (self.args, self.attachments)
    }

    /// Deserializes the arguments array, e.g. into a tuple `(String, u32)` or a `Vec<Value>`.
    /// Binary arguments appear as their placeholders; see [`Payload::attachments`].
    pub fn parse<T: DeserializeOwned>(&self) -> Result<T, PayloadError> {
        Ok(serde_json::from_str(&self.args)?)
    }

    /// The first argument, deserialized.
    pub fn first<T: DeserializeOwned>(&self) -> Result<T, PayloadError> {
        let elements: Vec<&RawValue> = serde_json::from_str(&self.args)?;
        let first = elements.first().map(|v| v.get()).unwrap_or("null");
        Ok(serde_json::from_str(first)?)
    }

    /// The arguments as JSON values.
    pub fn values(&self) -> Result<Vec<serde_json::Value>, PayloadError> {
        self.parse()
    }

    /// How many arguments there are.
    pub fn len(&self) -> usize {
        serde_json::from_str::<Vec<&RawValue>>(&self.args)
            .map(|v| v.len())
            .unwrap_or(0)
    }

    /// Whether there are no arguments.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Builds a [`Payload`] argument by argument.
#[derive(Debug)]
pub struct PayloadBuilder {
    args: Vec<String>,
    attachments: Vec<Bytes>,
}

impl PayloadBuilder {
    /// Appends a JSON argument.
    pub fn arg<T: Serialize + ?Sized>(mut self, value: &T) -> Result<PayloadBuilder, PayloadError> {
        self.args.push(serde_json::to_string(value)?);
        Ok(self)
    }

    /// Appends a binary argument (sent as an attachment).
    pub fn binary(mut self, data: impl Into<Bytes>) -> PayloadBuilder {
        let num = self.attachments.len();
        self.attachments.push(data.into());
        self.args
            .push(format!("{{\"_placeholder\":true,\"num\":{num}}}"));
        self
    }

    /// The payload.
    pub fn build(self) -> Payload {
        Payload {
            args: format!("[{}]", self.args.join(",")),
            attachments: self.attachments,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_and_reads_arguments() {
        let p = Payload::from_args(&("hi", 42)).unwrap();
        assert_eq!(p.args_json(), "[\"hi\",42]");
        assert_eq!(p.parse::<(String, u32)>().unwrap(), ("hi".to_owned(), 42));
        assert_eq!(p.first::<String>().unwrap(), "hi");
        assert_eq!(p.len(), 2);
        assert_eq!(Payload::one(&[1, 2]).unwrap().args_json(), "[[1,2]]");
        assert!(Payload::from_args(&"x").is_err());
        assert!(Payload::from_json("{}", vec![]).is_err());
        assert!(Payload::empty().is_empty());
    }

    #[test]
    fn binary_arguments_become_placeholders() {
        let p = Payload::builder()
            .arg("file")
            .unwrap()
            .binary(vec![1u8, 2, 3])
            .build();
        assert_eq!(
            p.args_json(),
            "[\"file\",{\"_placeholder\":true,\"num\":0}]"
        );
        assert_eq!(p.attachments(), &[Bytes::from_static(&[1, 2, 3])]);
    }
}
