//! Method parameters, read the way the Telegram server reads them.
//!
//! A bot may send the same call as a query string, an urlencoded form, JSON or multipart form
//! data, with GET or POST (a GET's body is read as a POST's). [`Params`] merges all of them into one JSON object (body over query string), and
//! [`Params::parse`] deserialises it into a typed request through [`Lenient`], which accepts the
//! string forms of every type: `"123"` for a number, `"true"` for a boolean, and JSON text for an
//! object or a list (`reply_markup`, `entities`, `allowed_updates`). Unknown parameters are ignored.
//!
//! Most calls are a JSON body with every value already of its type. Such a body is kept as it
//! came, and [`Params::parse`] first reads it straight into the typed request; only when that
//! fails does it build the object and read it leniently. The two readings agree whenever the
//! strict one succeeds, except on two things kept off this path: an empty string, which the
//! lenient reading takes for an absent optional parameter, and a list where an object is
//! expected, which only the strict one reads (a property test checks the agreement on random
//! bodies; it found the second).

use axum::extract::{FromRequest, Multipart, Request};
use axum::http::{Method, header};
use serde::de::{self, DeserializeOwned, DeserializeSeed, IntoDeserializer, MapAccess, SeqAccess, Visitor};
use serde::forward_to_deserialize_any;
use serde_json::{Map, Value};

use roost_types::{ApiError, ErrorKind};

use crate::envelope::HttpError;

/// Largest request body accepted, multipart included.
pub const BODY_LIMIT: usize = 20 * 1024 * 1024;
/// Largest total of a call's parameters other than files: a urlencoded or JSON body, or the text
/// fields of a multipart one (Telegram's server: 1 MiB, `413 Request Entity Too Large`). Only
/// files may be larger, so no request makes a worker parse more than this.
pub const PARAMETERS_LIMIT: usize = 1 << 20;

/// All parameters of one call.
#[derive(Debug, Default, Clone)]
pub struct Params {
    /// The parameters as one JSON object; empty while `json` holds them.
    values: Map<String, Value>,
    /// Files uploaded as multipart parts, by parameter name.
    pub files: Vec<(String, Upload)>,
    /// A JSON body that is every parameter of the call, as received: a valid JSON object with
    /// no list and no empty string in it (see [`keeps_as_is`]).
    json: Option<bytes::Bytes>,
}

/// One uploaded file.
#[derive(Debug, Clone)]
pub struct Upload {
    pub file_name: String,
    pub bytes: bytes::Bytes,
}

impl Params {
    /// Parameters from a JSON object.
    pub fn from_map(values: Map<String, Value>) -> Params {
        Params { values, ..Params::default() }
    }

    /// The parameters as a typed request.
    pub fn parse<T: DeserializeOwned>(self) -> Result<T, ApiError> {
        if let Some(body) = &self.json
            && let Ok(request) = serde_json::from_slice::<T>(body)
        {
            return Ok(request);
        }
        serde_path_to_error::deserialize(Lenient(Value::Object(self.into_values()?))).map_err(|e| {
            let path = e.path().to_string();
            ApiError::with(ErrorKind::CantParseParameter, format_args!("\"{path}\": {}", e.inner()))
        })
    }

    /// Every parameter as one JSON object.
    fn into_values(self) -> Result<Map<String, Value>, ApiError> {
        let Some(body) = self.json else { return Ok(self.values) };
        let mut values = self.values;
        merge_body(&mut values, "application/json", &body)?;
        Ok(values)
    }

    /// Sets a parameter (a dialect's edge puts back what it translated).
    pub fn insert(&mut self, name: &str, value: Value) {
        if let Some(body) = self.json.take() {
            // Checked when it was kept: a JSON object.
            let _ = merge_body(&mut self.values, "application/json", &body);
        }
        self.values.insert(name.to_owned(), value);
    }

    /// Takes a parameter out, as given.
    pub fn take(&mut self, name: &str) -> Option<Value> {
        if let Some(body) = self.json.take() {
            // Checked when it was kept: a JSON object.
            let _ = merge_body(&mut self.values, "application/json", &body);
        }
        self.values.remove(name)
    }

    /// A parameter as text, for the few that are read before typing (tokens, cursors).
    pub fn text(&self, name: &str) -> Option<String> {
        let kept;
        let value = match &self.json {
            Some(body) => {
                kept = serde_json::from_slice::<Map<String, Value>>(body).ok()?;
                kept.get(name)?
            }
            None => self.values.get(name)?,
        };
        match value {
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
        Ok(Params::from_map(values))
    }
}

/// Whether a JSON body can be kept as it came for [`Params::parse`]: a valid JSON object with no
/// empty string (the lenient reading takes it for an absent parameter) and no list (serde reads a
/// struct from a list of its fields in order, which the lenient reading refuses). Both are looked
/// for in the raw text, strings included: some bodies that could be kept are not.
fn keeps_as_is(body: &[u8]) -> bool {
    body.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{')
        && !body.contains(&b'[')
        && !body.windows(2).any(|pair| pair == b"\"\"")
        && std::str::from_utf8(body).is_ok()
        && serde_json::from_slice::<de::IgnoredAny>(body).is_ok()
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
            Ok(_) => return Err(ApiError::BODY_NOT_OBJECT),
            Err(e) => return Err(ApiError::with(ErrorKind::CantParseJsonBody, e)),
        }
    } else {
        merge_pairs(map, body);
    }
    Ok(())
}

impl Params {
    /// The parameters of a request whose body may be at most `limit` bytes (more is answered
    /// `413` without reading further).
    pub async fn read_limited(req: Request, limit: usize) -> Result<Params, HttpError> {
        let declared = req
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|n| n > limit as u64) {
            return Err(HttpError(ApiError::PAYLOAD_TOO_LARGE));
        }
        // Multipart bodies are read by axum's extractor: bounded by wrapping the body itself.
        let req = req.map(|body| axum::body::Body::new(http_body_util::Limited::new(body, limit)));
        read_params(req, &(), limit).await.map_err(HttpError)
    }
}

impl<S: Send + Sync> FromRequest<S> for Params {
    type Rejection = HttpError;

    async fn from_request(req: Request, state: &S) -> Result<Self, HttpError> {
        read_params(req, state, BODY_LIMIT).await.map_err(HttpError)
    }
}

async fn read_params<S: Send + Sync>(req: Request, state: &S, limit: usize) -> Result<Params, ApiError> {
    let mut params = Params::default();
    if let Some(query) = req.uri().query() {
        merge_pairs(&mut params.values, query.as_bytes());
    }
    // A GET may carry a body too (pyTelegramBotAPI's async client sends most methods so): read
    // it like a POST's. Only a request that announces no body skips the reading.
    let announces_body = req.headers().contains_key(header::CONTENT_LENGTH)
        || req.headers().contains_key(header::TRANSFER_ENCODING);
    if (req.method() == Method::GET || req.method() == Method::HEAD) && !announces_body {
        return Ok(params);
    }
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    let invalid = |e: axum::extract::multipart::MultipartError| {
        ApiError::with(ErrorKind::MultipartInvalid, e.body_text())
    };
    if content_type.starts_with("multipart/form-data") {
        let mut multipart = Multipart::from_request(req, state)
            .await
            .map_err(|e| ApiError::with(ErrorKind::MultipartInvalid, e.body_text()))?;
        let mut text_bytes = 0;
        while let Some(mut field) = multipart.next_field().await.map_err(invalid)? {
            let Some(name) = field.name().map(str::to_owned) else { continue };
            match field.file_name().map(str::to_owned) {
                Some(file_name) => {
                    let bytes = field.bytes().await.map_err(invalid)?;
                    params.files.push((name, Upload { file_name, bytes }));
                }
                None => {
                    // Counted as it arrives: a text field past the limit is refused unread.
                    let mut text = Vec::new();
                    while let Some(chunk) = field.chunk().await.map_err(invalid)? {
                        text_bytes += chunk.len();
                        if text_bytes > limit.min(PARAMETERS_LIMIT) {
                            return Err(ApiError::PAYLOAD_TOO_LARGE);
                        }
                        text.extend_from_slice(&chunk);
                    }
                    let text = String::from_utf8(text)
                        .map_err(|_| ApiError::with(ErrorKind::ParameterNotUtf8, &name))?;
                    params.values.insert(name, Value::String(text));
                }
            }
        }
        return Ok(params);
    }
    let body = axum::body::to_bytes(req.into_body(), limit.min(PARAMETERS_LIMIT))
        .await
        .map_err(|_| ApiError::PAYLOAD_TOO_LARGE)?;
    if params.values.is_empty() && content_type.starts_with("application/json") && keeps_as_is(&body) {
        params.json = Some(body);
        return Ok(params);
    }
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
            Value::Object(map) => Params::from_map(map),
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

    /// The strict reading of a kept JSON body, whenever it succeeds, gives what the lenient
    /// reading of the same parameters gives.
    mod strict_and_lenient {
        use super::*;
        use proptest::prelude::*;
        use roost_types::requests::{
            AnswerCallbackQuery, DeleteWebhook, EditMessageText, ForwardMessages, GetHistory, MyCommands,
            SetWebhook,
        };

        const KEYS: &[&str] = &[
            "chat_id",
            "text",
            "parse_mode",
            "entities",
            "reply_markup",
            "reply_to_message_id",
            "reply_parameters",
            "protect_content",
            "allow_sending_without_reply",
            "message_id",
            "offset",
            "length",
            "type",
            "url",
            "user",
            "id",
            "is_bot",
            "first_name",
            "limit",
            "timeout",
            "allowed_updates",
            "max_connections",
            "drop_pending_updates",
            "secret_token",
            "callback_query_id",
            "show_alert",
            "cache_time",
            "from_chat_id",
            "message_ids",
            "commands",
            "command",
            "description",
            "scope",
            "language_code",
            "inline_keyboard",
            "before_message_id",
            "unknown",
        ];
        const TEXTS: &[&str] = &[
            "",
            " ",
            "0",
            "1",
            "7",
            "-5",
            " 12 ",
            "1.5",
            "1e3",
            "true",
            "false",
            "True",
            "@name",
            "hello",
            "bold",
            "HTML",
            "[\"message\"]",
            "[1,2]",
            "{\"inline_keyboard\":[]}",
            "null",
        ];

        fn leaf() -> impl Strategy<Value = Value> {
            prop_oneof![
                Just(Value::Null),
                any::<bool>().prop_map(Value::Bool),
                (-3i64..12).prop_map(Value::from),
                any::<i64>().prop_map(Value::from),
                prop_oneof![Just(0.0), Just(2.0), Just(1.5), Just(-7.0)].prop_map(Value::from),
                prop::sample::select(TEXTS).prop_map(Value::from),
            ]
        }

        fn value() -> impl Strategy<Value = Value> {
            leaf().prop_recursive(3, 24, 4, |inner| {
                prop_oneof![
                    prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                    prop::collection::btree_map(prop::sample::select(KEYS), inner, 0..4)
                        .prop_map(|m| Value::Object(m.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())),
                ]
            })
        }

        /// Mostly a value of the type the parameter has somewhere, in JSON or in text form;
        /// sometimes anything.
        fn value_for(key: &'static str) -> BoxedStrategy<Value> {
            let integer = prop_oneof![
                (-3i64..40).prop_map(Value::from),
                any::<i64>().prop_map(Value::from),
                (-3i64..40).prop_map(|n| Value::from(n.to_string())),
            ];
            let boolean = prop_oneof![
                any::<bool>().prop_map(Value::from),
                prop::sample::select(&["true", "false", "1", "0", "True"][..]).prop_map(Value::from),
                (0i64..2).prop_map(Value::from),
            ];
            let text = prop_oneof![
                prop::sample::select(TEXTS).prop_map(Value::from),
                prop::sample::select(&["HTML", "MarkdownV2", "hi", "https://example.com/hook"][..])
                    .prop_map(Value::from),
            ];
            let typed: BoxedStrategy<Value> = match key {
                "message_id"
                | "offset"
                | "limit"
                | "timeout"
                | "reply_to_message_id"
                | "max_connections"
                | "cache_time"
                | "before_message_id"
                | "length"
                | "from_chat_id"
                | "id" => integer.boxed(),
                "protect_content"
                | "show_alert"
                | "drop_pending_updates"
                | "allow_sending_without_reply"
                | "is_bot" => boolean.boxed(),
                "chat_id" => prop_oneof![
                    integer,
                    prop::sample::select(&["@name", "@", "12", " 12 ", "x"][..]).prop_map(Value::from),
                    Just(Value::from(2.0)),
                ]
                .boxed(),
                // An object, or a list of what could be its fields in order.
                "reply_markup" | "reply_parameters" | "scope" | "user" => prop_oneof![
                    prop::collection::btree_map(prop::sample::select(KEYS), value(), 0..4)
                        .prop_map(|m| Value::Object(m.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())),
                    prop::collection::vec(leaf(), 1..4).prop_map(Value::Array),
                ]
                .boxed(),
                _ => text.boxed(),
            };
            prop_oneof![3 => typed, 1 => value()].boxed()
        }

        fn object() -> impl Strategy<Value = Map<String, Value>> {
            prop::collection::vec(prop::sample::select(KEYS).prop_flat_map(|k| (Just(k), value_for(k))), 0..7)
                .prop_map(|pairs| pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
        }

        fn agree<T: DeserializeOwned + PartialEq + std::fmt::Debug>(object: &Map<String, Value>) {
            let body = serde_json::to_vec(object).unwrap_or_default();
            if !keeps_as_is(&body) {
                return;
            }
            if let Ok(strict) = serde_json::from_slice::<T>(&body) {
                let lenient = Params::from_map(object.clone()).parse::<T>();
                assert_eq!(lenient.as_ref().ok(), Some(&strict), "{}", String::from_utf8_lossy(&body));
            }
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(2000))]
            #[test]
            fn whenever_the_strict_reading_succeeds_the_lenient_one_agrees(object in object()) {
                agree::<SendMessage>(&object);
                agree::<GetUpdates>(&object);
                agree::<SetWebhook>(&object);
                agree::<DeleteWebhook>(&object);
                agree::<EditMessageText>(&object);
                agree::<ForwardMessages>(&object);
                agree::<AnswerCallbackQuery>(&object);
                agree::<MyCommands>(&object);
                agree::<GetHistory>(&object);
            }
        }
    }

    /// A kept JSON body reads the same through every accessor.
    #[test]
    fn a_kept_body_reads_like_a_built_one() {
        let body = br#"{"chat_id": 5, "text": "hi", "method": "sendMessage"}"#;
        assert!(keeps_as_is(body));
        let kept = Params { json: Some(bytes::Bytes::from_static(body)), ..Params::default() };
        assert_eq!(kept.text("text").as_deref(), Some("hi"));
        assert_eq!(kept.text("chat_id").as_deref(), Some("5"));
        let mut taken = kept.clone();
        assert_eq!(taken.take("method"), Some(Value::from("sendMessage")));
        let req: SendMessage = taken.parse().unwrap_or_default();
        assert_eq!(req.chat_id, Some(ChatId::Id(5)));
        let req: SendMessage = kept.parse().unwrap_or_default();
        assert_eq!(req.text.as_deref(), Some("hi"));
        // Lenient readings still happen: a number as text, a keyboard as JSON text.
        let body = br#"{"chat_id": "5", "reply_markup": "{\"inline_keyboard\": []}"}"#;
        let kept = Params { json: Some(bytes::Bytes::from_static(body)), ..Params::default() };
        let req: SendMessage = kept.parse().unwrap_or_default();
        assert_eq!(req.chat_id, Some(ChatId::Id(5)));
        assert!(req.reply_markup.is_some());
        // Not kept: an empty string (absent, leniently), or anything but a JSON object.
        for body in [
            &br#"{"parse_mode": ""}"#[..],
            br#"{"reply_parameters": [3]}"#,
            b"[1]",
            b"{",
            b"  ",
            b"{\"a\":\xff}",
        ] {
            assert!(!keeps_as_is(body), "{}", String::from_utf8_lossy(body));
        }
    }

    #[test]
    fn bad_values_name_the_parameter() {
        let err = params(json!({"limit": "many"})).parse::<GetUpdates>().err();
        let description = err.map(|e| crate::telegram::errors::describe(&e).into_owned()).unwrap_or_default();
        assert!(description.starts_with("Bad Request: can't parse parameter \"limit\""), "{description}");
        let err = params(json!({"chat_id": "not a chat"})).parse::<SendMessage>().err();
        assert_eq!(err.map(|e| e.status()), Some(400));
    }
}
