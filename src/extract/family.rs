//! Envelope families: the shapes of error body clients log, each described in one place.
//!
//! A family is all errwatch knows about one shape of body: its name in output, how the walk
//! recognises it among a record's objects, the fields its code, message and correlation id sit
//! in, and the status it implies when nothing else gives one. Each is one [`Shape`], a static
//! value; the walk, the classifier, the output and the documentation ask it rather than match on
//! families themselves, so a new family is a variant and a shape here, its tests, and records
//! in the corpus.
//!
//! The module sits in `extract`, not beside it: recognising and reading a body are tests on the
//! JSON objects the walk meets, which need the walk's field names and readers. Classification
//! asks a family only for its implied status, and output only for its name, both through
//! [`Family`], which `extract` exports.

use std::borrow::Cow;

use super::text::{self, NameBuffer};
use crate::guid::Guid;
use crate::json::Node;

/// The fields of a JSON object, in document order.
pub(super) type Fields<'a> = [(Cow<'a, str>, Node<'a>)];

/// Links of a chain of nested objects (Graph's `innerError`s) followed, at most.
const MAX_CHAIN_LINKS: usize = 16;

/// The shape of error body a client logged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Family {
    /// Defender for Endpoint: `{"error":{"code","message","target":<guid>}}`.
    Mde,
    /// Microsoft Graph: `error` with an `innerError` carrying `request-id`.
    Graph,
    /// Other `error` objects with a code (ARM, the REST API guidelines form).
    Rest,
    /// OData v3: `{"odata.error":{"code","message":{"value"}}}`.
    ODataV3,
    /// The token endpoint: `{"error":"invalid_client","error_description":...}`.
    Aad,
    /// No body, but an HTTP error status in a field or in the text.
    StatusOnly,
}

impl Family {
    /// Every family, in the order they are listed for people and tried by the walk.
    pub const ALL: [Family; 6] =
        [Family::Mde, Family::Graph, Family::Rest, Family::ODataV3, Family::Aad, Family::StatusOnly];

    pub const fn shape(self) -> &'static Shape {
        match self {
            Family::Mde => &MDE,
            Family::Graph => &GRAPH,
            Family::Rest => &REST,
            Family::ODataV3 => &ODATA_V3,
            Family::Aad => &AAD,
            Family::StatusOnly => &STATUS_ONLY,
        }
    }

    /// The name in output: `errwatch classify`, stored rows, the API.
    pub fn as_str(self) -> &'static str {
        self.shape().name
    }

    /// The status a body of this family implies by itself, for when neither the record nor
    /// the code gives one.
    pub fn implied_status(self, raw_code: Option<&str>) -> Option<u16> {
        self.shape().implied_status.as_ref().map(|implied| implied.of(raw_code))
    }
}

/// One family: who answers with it, how it is recognised, where its facts sit.
#[derive(Debug)]
pub struct Shape {
    /// The name in output.
    pub name: &'static str,
    /// Who answers with this body, for people.
    pub answered_by: &'static str,
    pub recognition: Recognition,
    /// The body's field holding the code.
    pub code: Option<&'static str>,
    /// The body's field holding the message: text, or an object whose `value` is the text.
    pub message: Option<&'static str>,
    /// Where the family's own correlation id sits.
    pub id: IdFields,
    /// A list of codes beside the code (the token endpoint's numeric `error_codes`): inner
    /// codes of the envelope.
    pub code_list: Option<&'static str>,
    pub implied_status: Option<ImpliedStatus>,
}

/// How the walk tells a body of the family among a record's objects. Field names are written
/// as the API writes them and compared as the walk compares names: without case, `_`, `-` or
/// spaces.
#[derive(Debug)]
pub enum Recognition {
    /// An object under a field whose name (its last dotted segment) reads as `key`, after a
    /// `prefix` segment when one is given (`odata.error`) and after anything otherwise. A key
    /// with a family's prefix is that family's before it is any other's; otherwise the first
    /// family in [`Family::ALL`] whose needs the object meets wins.
    Object { prefix: Option<&'static str>, key: &'static str, needs: &'static [Need] },
    /// The object itself, when its code field holds text beside one of these fields.
    Flat { beside_any_of: &'static [&'static str] },
    /// No body at all: only a status says the call failed.
    NoBody,
}

/// What an object must hold to be a family's body.
#[derive(Debug)]
pub enum Need {
    /// The code field holds a code: text that is not blank, or a number.
    Code,
    /// This field holds a GUID.
    Guid(&'static str),
    /// This field is there, whatever it holds.
    Field(&'static str),
}

/// Where a family's own correlation id sits; the first GUID found is it.
#[derive(Debug)]
pub enum IdFields {
    /// These fields of the body, in this order.
    Body(&'static [&'static str]),
    /// These fields of the objects chained under `link`: the body's `link`, that one's `link`,
    /// and so on; each name is looked for along the whole chain before the next name.
    Chain { link: &'static str, names: &'static [&'static str] },
}

/// A status that follows from the body alone.
#[derive(Debug)]
pub struct ImpliedStatus {
    /// Codes, exactly as written, with the status each implies.
    pub by_code: &'static [(&'static str, u16)],
    /// The status of any other code, or of no code.
    pub otherwise: u16,
}

impl ImpliedStatus {
    fn of(&self, raw_code: Option<&str>) -> u16 {
        self.by_code.iter().find(|(code, _)| Some(*code) == raw_code).map_or(self.otherwise, |(_, status)| *status)
    }
}

static MDE: Shape = Shape {
    name: "mde",
    answered_by: "Defender for Endpoint",
    recognition: Recognition::Object { prefix: None, key: "error", needs: &[Need::Code, Need::Guid("target")] },
    code: Some("code"),
    message: Some("message"),
    id: IdFields::Body(&["target"]),
    code_list: None,
    implied_status: None,
};

static GRAPH: Shape = Shape {
    name: "graph",
    answered_by: "Microsoft Graph",
    recognition: Recognition::Object { prefix: None, key: "error", needs: &[Need::Field("innerError")] },
    code: Some("code"),
    message: Some("message"),
    id: IdFields::Chain { link: "innerError", names: &["request-id", "client-request-id"] },
    code_list: None,
    implied_status: None,
};

static REST: Shape = Shape {
    name: "rest",
    answered_by: "Azure Resource Manager and other REST-guidelines APIs",
    recognition: Recognition::Object { prefix: None, key: "error", needs: &[Need::Code] },
    code: Some("code"),
    message: Some("message"),
    // Its `target` names a parameter, not a call.
    id: IdFields::Body(&[]),
    code_list: None,
    implied_status: None,
};

static ODATA_V3: Shape = Shape {
    name: "odata_v3",
    answered_by: "Azure AD Graph (OData v3)",
    recognition: Recognition::Object { prefix: Some("odata"), key: "error", needs: &[] },
    code: Some("code"),
    message: Some("message"),
    id: IdFields::Body(&["requestId"]),
    code_list: None,
    implied_status: None,
};

static AAD: Shape = Shape {
    name: "aad",
    answered_by: "the Azure AD token endpoint",
    recognition: Recognition::Flat { beside_any_of: &["error_description", "error_codes"] },
    code: Some("error"),
    message: Some("error_description"),
    id: IdFields::Body(&["correlation_id", "trace_id"]),
    code_list: Some("error_codes"),
    // The token endpoint answers 400 for every OAuth error but a client that failed to
    // authenticate, and its codes are not in Defender's table.
    implied_status: Some(ImpliedStatus { by_code: &[("invalid_client", 401)], otherwise: 400 }),
};

static STATUS_ONLY: Shape = Shape {
    name: "status_only",
    answered_by: "any API",
    recognition: Recognition::NoBody,
    code: None,
    message: None,
    id: IdFields::Body(&[]),
    code_list: None,
    implied_status: None,
};

/// How an object holds an envelope.
pub(super) enum Detected<'a, 'b> {
    /// The body is the object under the field at `key_index`.
    Under { key_index: usize, family: Family, body: &'a Fields<'b> },
    /// The object itself is the body.
    Flat(Family),
}

/// Which family's body an object holds, if any. Called for every object the walk meets.
pub(super) fn detect<'a, 'b>(object: &'a Fields<'b>) -> Option<Detected<'a, 'b>> {
    let mut flat_code_seen = [false; Family::ALL.len()];
    let mut flat_beside_seen = [false; Family::ALL.len()];
    for (key_index, (key, value)) in object.iter().enumerate() {
        let key = key.as_bytes();
        let (prefix, last) = match key.iter().rposition(|&b| b == b'.') {
            Some(dot) => (key.get(..dot).unwrap_or_default(), key.get(dot + 1..).unwrap_or_default()),
            None => (&[][..], key),
        };
        if !may_be_recognised(last) {
            continue;
        }
        if let Node::Object(body) = value {
            if let Some(family) = object_family(prefix, last, body) {
                return Some(Detected::Under { key_index, family, body });
            }
        }
        let seen = flat_code_seen.iter_mut().zip(flat_beside_seen.iter_mut());
        for (family, (code_seen, beside_seen)) in Family::ALL.iter().zip(seen) {
            let shape = family.shape();
            let Recognition::Flat { beside_any_of } = shape.recognition else { continue };
            if shape.code.is_some_and(|code| text::reads_as(last, code)) {
                *code_seen |= matches!(value, Node::Text(_));
            } else if beside_any_of.iter().any(|field| text::reads_as(key, field)) {
                *beside_seen = true;
            }
        }
    }
    let seen = flat_code_seen.into_iter().zip(flat_beside_seen);
    Family::ALL.into_iter().zip(seen).find(|(_, seen)| *seen == (true, true)).map(|(family, _)| Detected::Flat(family))
}

/// Every name recognition looks for starts with this letter, so that most keys are passed
/// over at once. A test holds every family to it.
const FIRST_LETTER: u8 = b'e';

/// Every name recognition looks for contains one of these, in any case: the prefilter lets
/// through only records that do. A test holds every family to it.
pub(super) const NEEDLES: [&str; 2] = ["rror", "RROR"];

fn may_be_recognised(name: &[u8]) -> bool {
    let first_letter = name.iter().find(|&&byte| !matches!(byte, b'_' | b'-' | b' '));
    first_letter.is_some_and(|letter| letter.to_ascii_lowercase() == FIRST_LETTER)
}

/// The family whose body is `body`, under a key `prefix.last`.
fn object_family(prefix: &[u8], last: &[u8], body: &Fields<'_>) -> Option<Family> {
    let fits = |family: &Family, by_prefix: bool| {
        let shape = family.shape();
        let Recognition::Object { prefix: wanted, key, needs } = shape.recognition else { return false };
        wanted.is_some() == by_prefix
            && wanted.map_or(true, |wanted| text::reads_as(prefix, wanted))
            && text::reads_as(last, key)
            && needs.iter().all(|need| shape.meets(need, body))
    };
    Family::ALL
        .iter()
        .find(|family| fits(family, true))
        .or_else(|| Family::ALL.iter().find(|family| fits(family, false)))
        .copied()
}

/// What a body says of its call.
pub(super) struct Said {
    pub code: Option<String>,
    pub message: Option<String>,
    /// The family's own correlation id.
    pub id: Option<Guid>,
}

impl Shape {
    fn meets(&self, need: &Need, body: &Fields<'_>) -> bool {
        match need {
            Need::Code => self.code.and_then(|code| get(body, code)).is_some_and(is_raw_code),
            Need::Guid(name) => guid_in(body, name).is_some(),
            Need::Field(name) => get(body, name).is_some(),
        }
    }

    /// The code, message and id of a body of this family.
    pub(super) fn read(&self, body: &Fields<'_>) -> Said {
        let id = match self.id {
            IdFields::Body(names) => names.iter().find_map(|name| guid_in(body, name)),
            IdFields::Chain { link, names } => {
                names.iter().find_map(|name| chain(body, link).find_map(|object| guid_in(object, name)))
            }
        };
        Said {
            code: self.code.and_then(|code| get(body, code)).and_then(raw_code),
            message: self.message.and_then(|message| get(body, message)).and_then(message_text),
            id,
        }
    }

    /// The codes of the body's code list, as written.
    pub(super) fn code_list<'a, 'b>(&self, body: &'a Fields<'b>) -> &'a [Node<'b>] {
        match self.code_list.and_then(|list| get(body, list)) {
            Some(Node::Array(codes)) => codes,
            _ => &[],
        }
    }

    /// Whether a field (its normalised name) is one the family reads itself: the walk passes
    /// over such fields of a flat body.
    pub(super) fn reads_field(&self, name: &NameBuffer) -> bool {
        [self.code, self.message, self.code_list]
            .into_iter()
            .flatten()
            .any(|field| text::reads_as(name.as_bytes(), field))
    }
}

/// The objects chained under `link`, from the body's own.
fn chain<'a, 'b>(body: &'a Fields<'b>, link: &'static str) -> impl Iterator<Item = &'a Fields<'b>> {
    std::iter::successors(get(body, link).and_then(Node::as_object), move |object| {
        get(object, link).and_then(Node::as_object)
    })
    .take(MAX_CHAIN_LINKS)
}

/// The value of the first field whose name reads as `name`.
pub(super) fn get<'a, 'b>(object: &'a Fields<'b>, name: &str) -> Option<&'a Node<'b>> {
    object.iter().find(|(key, _)| text::reads_as(key.as_bytes(), name)).map(|(_, value)| value)
}

fn guid_in(object: &Fields<'_>, name: &str) -> Option<Guid> {
    get(object, name).and_then(Node::as_str).and_then(Guid::parse)
}

/// Whether [`raw_code`] finds a code in `value`, without copying it.
fn is_raw_code(value: &Node<'_>) -> bool {
    match value {
        Node::Text(text) => !text.trim().is_empty(),
        Node::Number(_) => true,
        _ => false,
    }
}

/// A code as written: a string (trimmed, not empty) or a number, read as its digits.
pub(super) fn raw_code(value: &Node<'_>) -> Option<String> {
    match value {
        Node::Text(text) => Some(text.trim()).filter(|text| !text.is_empty()).map(str::to_owned),
        Node::Number(number) => Some(number.to_string()),
        _ => None,
    }
}

/// A message: a string, or OData's `{"lang": ..., "value": ...}`.
fn message_text(value: &Node<'_>) -> Option<String> {
    match value {
        Node::Text(text) => Some(text.to_string()),
        Node::Object(fields) => get(fields, "value").and_then(Node::as_str).map(str::to_owned),
        _ => None,
    }
}
