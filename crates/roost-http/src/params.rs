//! Method parameters, read the way the Telegram server reads them.
//!
//! A bot may send the same call as a query string, an urlencoded form, JSON or multipart form
//! data. [`Params`] merges all of them into one JSON object (body over query string), and
//! [`Params::parse`] deserialises it into a typed request through [`Lenient`], which accepts the
//! string forms of every type: `"123"` for a number, `"true"` for a boolean, and JSON text for an
//! object or a list (`reply_markup`, `entities`, `allowed_updates`). Unknown parameters are ignored.

use axum::extract::{FromRequest, Multipart, Request};
use axum::http::{Method, header};
use serde::de::{self, DeserializeOwned, DeserializeSeed, IntoDeserializer, MapAccess, SeqAccess, Visitor};
use serde::forward_to_deserialize_any;
use serde_json::{Map, Value};

use roost_types::ApiError;

use crate::envelope::HttpError;

/// Largest request body accepted, multipart included.
pub const BODY_LIMIT: usize = 20 * 1024 * 1024;

/// All parameters of one call.
#[derive(Debug, Default, Clone)]
pub struct Params {
    pub values: Map<String, Value>,
    /// Files uploaded as multipart parts, by parameter name.
    pub files: Vec<(String, Upload)>,
}

/// One uploaded file.
#[derive(Debug, Clone)]
pub struct Upload {
    pub file_name: String,
    pub bytes: bytes::Bytes,
}

impl Params {
    /// The parameters as a typed request.
    pub fn parse<T: DeserializeOwned>(self) -> Result<T, ApiError> {
        serde_path_to_error::deserialize(Lenient(Value::Object(self.values))).map_err(|e| {
            let path = e.path().to_string();
            ApiError::bad_request(format_args!("can't parse parameter \"{path}\": {}", e.inner()))
        })
    }

    /// A parameter as text, for the few that are read before typing (tokens, cursors).
    pub fn text(&self, name: &str) -> Option<String> {
        match self.values.get(name)? {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        }
    }

    /// An uploaded file, or else a text parameter, of that name.
    pub fn file_or_text(&self, name: &str) -> Option<bytes::Bytes> {
        self.files
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, upload)| upload.bytes.clone())
            .or_else(|| self.text(name).map(bytes::Bytes::from))
    }

    /// Parameters from a non-multipart body (JSON or urlencoded form) of the given content type.
    pub fn from_body(content_type: &str, body: &[u8]) -> Result<Params, ApiError> {
        let mut values = Map::new();
        merge_body(&mut values, &content_type.to_ascii_lowercase(), body)?;
        Ok(Params { values, files: Vec::new() })
    }
}

fn merge_pairs(map: &mut Map<String, Value>, pairs: &[u8]) {
    for (key, value) in form_urlencoded::parse(pairs) {
        map.insert(key.into_owned(), Value::String(value.into_owned()));
    }
}

/// Adds the parameters of a JSON or urlencoded body (any other content type is read as a form,
/// as `curl -d` sends it).
fn merge_body(map: &mut Map<String, Value>, content_type: &str, body: &[u8]) -> Result<(), ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(());
    }
    if content_type.starts_with("application/json") {
        match serde_json::from_slice::<Value>(body) {
            Ok(Value::Object(object)) => map.extend(object),
            Ok(_) => return Err(ApiError::bad_request("the request body must be a JSON object")),
            Err(e) => return Err(ApiError::bad_request(format_args!("can't parse JSON body: {e}"))),
        }
    } else {
        merge_pairs(map, body);
    }
    Ok(())
}

impl<S: Send + Sync> FromRequest<S> for Params {
    type Rejection = HttpError;

    async fn from_request(req: Request, state: &S) -> Result<Self, HttpError> {
        read_params(req, state).await.map_err(HttpError)
    }
}

async fn read_params<S: Send + Sync>(req: Request, state: &S) -> Result<Params, ApiError> {
    let mut params = Params::default();
    if let Some(query) = req.uri().query() {
        merge_pairs(&mut params.values, query.as_bytes());
    }
    if req.method() == Method::GET || req.method() == Method::HEAD {
        return Ok(params);
    }
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    let invalid = |e: axum::extract::multipart::MultipartError| {
        ApiError::bad_request(format_args!("invalid multipart body: {}", e.body_text()))
    };
    if content_type.starts_with("multipart/form-data") {
        let mut multipart = Multipart::from_request(req, state)
            .await
            .map_err(|e| ApiError::bad_request(format_args!("invalid multipart body: {}", e.body_text())))?;
        while let Some(field) = multipart.next_field().await.map_err(invalid)? {
            let Some(name) = field.name().map(str::to_owned) else { continue };
            match field.file_name().map(str::to_owned) {
                Some(file_name) => {
                    let bytes = field.bytes().await.map_err(invalid)?;
                    params.files.push((name, Upload { file_name, bytes }));
                }
                None => {
                    let text = field.text().await.map_err(invalid)?;
                    params.values.insert(name, Value::String(text));
                }
            }
        }
        return Ok(params);
    }
    let body =
        axum::body::to_bytes(req.into_body(), BODY_LIMIT).await.map_err(|_| ApiError::PAYLOAD_TOO_LARGE)?;
    merge_body(&mut params.values, &content_type, &body)?;
    Ok(params)
}

/// A JSON value that deserialises leniently, the way Telegram reads parameters (see the module
/// documentation).
pub struct Lenient(pub Value);

type Error = serde_json::Error;

fn invalid(value: &Value, expected: &str) -> Error {
    de::Error::custom(format_args!("expected {expected}, got {value}"))
}

impl Lenient {
    /// The value, with JSON text in a string decoded (for objects and lists).
    fn decoded(self) -> Result<Value, Error> {
        match self.0 {
            Value::String(text) => serde_json::from_str(&text),
            other => Ok(other),
        }
    }
}

macro_rules! lenient_integer {
    ($($method:ident => $visit:ident $ty:ty,)*) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
            match &self.0 {
                Value::String(text) => match text.trim().parse::<$ty>() {
                    Ok(n) => visitor.$visit(n),
                    Err(_) => Err(invalid(&self.0, "an integer")),
                },
                _ => self.0.$method(visitor),
            }
        }
    )*};
}

impl<'de> de::Deserializer<'de> for Lenient {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.0 {
            Value::Object(map) => visitor.visit_map(LenientMap::new(map)),
            Value::Array(items) => visitor.visit_seq(LenientSeq(items.into_iter())),
            other => other.deserialize_any(visitor),
        }
    }

    lenient_integer! {
        deserialize_i8 => visit_i8 i8,
        deserialize_i16 => visit_i16 i16,
        deserialize_i32 => visit_i32 i32,
        deserialize_i64 => visit_i64 i64,
        deserialize_u8 => visit_u8 u8,
        deserialize_u16 => visit_u16 u16,
        deserialize_u32 => visit_u32 u32,
        deserialize_u64 => visit_u64 u64,
        deserialize_f32 => visit_f32 f32,
        deserialize_f64 => visit_f64 f64,
    }

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match &self.0 {
            Value::Bool(b) => visitor.visit_bool(*b),
            Value::String(text) => match text.trim().to_ascii_lowercase().as_str() {
                "true" | "1" => visitor.visit_bool(true),
                "false" | "0" | "" => visitor.visit_bool(false),
                _ => Err(invalid(&self.0, "a boolean")),
            },
            Value::Number(n) => match n.as_i64() {
                Some(0) => visitor.visit_bool(false),
                Some(1) => visitor.visit_bool(true),
                _ => Err(invalid(&self.0, "a boolean")),
            },
            _ => Err(invalid(&self.0, "a boolean")),
        }
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_string(visitor)
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.0 {
            Value::String(text) => visitor.visit_string(text),
            Value::Number(n) => visitor.visit_string(n.to_string()),
            Value::Bool(b) => visitor.visit_string(b.to_string()),
            other => Err(invalid(&other, "a string")),
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match &self.0 {
            Value::Null => visitor.visit_none(),
            // An empty form field means "not given", as with Telegram.
            Value::String(text) if text.is_empty() => visitor.visit_none(),
            _ => visitor.visit_some(self),
        }
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.decoded()? {
            Value::Array(items) => visitor.visit_seq(LenientSeq(items.into_iter())),
            other => Err(invalid(&other, "a JSON array")),
        }
    }

    fn deserialize_tuple<V: Visitor<'de>>(self, _len: usize, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.decoded()? {
            Value::Object(map) => visitor.visit_map(LenientMap::new(map)),
            other => Err(invalid(&other, "a JSON object")),
        }
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.deserialize_map(visitor)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Error> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.0.deserialize_enum(name, variants, visitor)
    }

    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.0.deserialize_unit(visitor)
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_unit()
    }

    forward_to_deserialize_any! {
        i128 u128 char bytes byte_buf unit_struct identifier tuple_struct
    }
}

struct LenientSeq(std::vec::IntoIter<Value>);

impl<'de> SeqAccess<'de> for LenientSeq {
    type Error = Error;

    fn next_element_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<Option<T::Value>, Error> {
        self.0.next().map(|value| seed.deserialize(Lenient(value))).transpose()
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.0.len())
    }
}

struct LenientMap {
    entries: serde_json::map::IntoIter,
    value: Option<Value>,
}

impl LenientMap {
    fn new(map: Map<String, Value>) -> Self {
        LenientMap { entries: map.into_iter(), value: None }
    }
}

impl<'de> MapAccess<'de> for LenientMap {
    type Error = Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>, Error> {
        match self.entries.next() {
            Some((key, value)) => {
                self.value = Some(value);
                seed.deserialize(key.into_deserializer()).map(Some)
            }
            None => Ok(None),
        }
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, Error> {
        let value = self.value.take().ok_or_else(|| de::Error::custom("value without a key"))?;
        seed.deserialize(Lenient(value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use roost_types::requests::{ChatId, GetUpdates, SendMessage};
    use serde_json::json;

    fn params(value: Value) -> Params {
        match value {
            Value::Object(map) => Params { values: map, files: Vec::new() },
            _ => Params::default(),
        }
    }

    #[test]
    fn form_strings_become_typed_values() {
        let req: SendMessage = params(json!({
            "chat_id": "123",
            "text": "hi",
            "reply_to_message_id": "7",
            "protect_content": "true",
            "reply_markup": "{\"inline_keyboard\":[[{\"text\":\"a\",\"callback_data\":\"b\"}]]}",
            "entities": "[{\"type\":\"bold\",\"offset\":0,\"length\":2}]",
            "unknown_parameter": "ignored",
        }))
        .parse()
        .unwrap_or_default();
        assert_eq!(req.chat_id, Some(ChatId::Id(123)));
        assert_eq!(req.reply_to_message_id, Some(7));
        assert_eq!(req.protect_content, Some(true));
        assert!(req.reply_markup.is_some_and(|m| m.contains_key("inline_keyboard")));
        assert_eq!(req.entities.map(|e| e.len()), Some(1));
    }

    #[test]
    fn json_values_pass_through() {
        let req: GetUpdates = params(json!({"offset": -1, "limit": 5, "allowed_updates": ["message"]}))
            .parse()
            .unwrap_or_default();
        assert_eq!(req.offset, Some(-1));
        assert_eq!(req.limit, Some(5));
        assert_eq!(req.allowed_updates, Some(vec!["message".to_owned()]));
        let req: GetUpdates =
            params(json!({"allowed_updates": "[\"message\"]", "timeout": "30"})).parse().unwrap_or_default();
        assert_eq!(req.allowed_updates, Some(vec!["message".to_owned()]));
        assert_eq!(req.timeout, Some(30));
    }

    #[test]
    fn bad_values_name_the_parameter() {
        let err = params(json!({"limit": "many"})).parse::<GetUpdates>().err();
        let description = err.map(|e| e.description.into_owned()).unwrap_or_default();
        assert!(description.starts_with("Bad Request: can't parse parameter \"limit\""), "{description}");
        let err = params(json!({"chat_id": "not a chat"})).parse::<SendMessage>().err();
        assert_eq!(err.map(|e| e.code), Some(400));
    }
}
