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

/// The shape of error body a client logged. What each one is, is its [`Shape`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Family {
    /// Defender for Endpoint.
    Mde,
    /// Microsoft Graph.
    Graph,
    /// Azure Resource Manager and other REST-guidelines APIs.
    Rest,
    /// Azure AD Graph, OData v3.
    ODataV3,
    /// The Azure AD token endpoint.
    Aad,
    /// No body, only a status.
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
    pub code: Option<Field>,
    /// The body's field holding the message: text, or an object whose `value` is the text.
    pub message: Option<Field>,
    /// Where the family's own correlation id sits.
    pub id: IdFields,
    /// A list of codes beside the code (the token endpoint's numeric `error_codes`): inner
    /// codes of the envelope.
    pub code_list: Option<Field>,
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
    Object { prefix: Option<Field>, key: Field, needs: &'static [Need] },
    /// The object itself, when its code field holds text beside one of these fields.
    Flat { beside_any_of: &'static [Field] },
    /// No body at all: only a status says the call failed.
    NoBody,
}

/// What an object must hold to be a family's body.
#[derive(Debug)]
pub enum Need {
    /// The code field holds a code: text that is not blank, or a number.
    Code,
    /// This field holds a GUID.
    Guid(Field),
    /// This field is there, whatever it holds.
    Field(Field),
}

/// Where a family's own correlation id sits; the first GUID found is it.
#[derive(Debug)]
pub enum IdFields {
    /// These fields of the body, in this order.
    Body(&'static [Field]),
    /// These fields of the objects chained under `link`: the body's `link`, that one's `link`,
    /// and so on; each name is looked for along the whole chain before the next name.
    Chain { link: Field, names: &'static [Field] },
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

/// A field name a family looks for: as the API writes it, for people, and as the walk compares
/// it (lowercase, without `_`, `-` or spaces), worked out once when the program is built rather
/// than on every comparison.
#[derive(Clone, Copy)]
pub struct Field {
    written: &'static str,
    compared: [u8; MAX_FIELD_NAME],
    compared_length: usize,
}

/// The longest name a family looks for, as compared.
const MAX_FIELD_NAME: usize = 24;

impl Field {
    // Called only in the constants and statics of this module, so the index below is checked
    // when the program is built: a name too long fails the build, not a run.
    #[allow(clippy::indexing_slicing)]
    const fn new(written: &'static str) -> Field {
        let bytes = written.as_bytes();
        let mut compared = [0_u8; MAX_FIELD_NAME];
        let mut compared_length = 0;
        let mut index = 0;
        while index < bytes.len() {
            let byte = bytes[index];
            if !matches!(byte, b'_' | b'-' | b' ') {
                compared[compared_length] = byte.to_ascii_lowercase();
                compared_length += 1;
            }
            index += 1;
        }
        Field { written, compared, compared_length }
    }

    /// The name as the API writes it.
    pub fn written(&self) -> &'static str {
        self.written
    }

    fn compared(&self) -> &[u8] {
        self.compared.get(..self.compared_length).unwrap_or_default()
    }

    /// Whether a field name, as written in a record, reads as this one.
    #[inline]
    fn is(&self, name: &[u8]) -> bool {
        text::reads_as(name, self.compared())
    }

    /// Whether a normalised field name is this one.
    fn is_normalised(&self, name: &NameBuffer) -> bool {
        name.as_bytes() == self.compared()
    }
}

impl std::fmt::Display for Field {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.written)
    }
}

impl std::fmt::Debug for Field {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", self.written)
    }
}

static MDE: Shape = Shape {
    name: "mde",
    answered_by: "Defender for Endpoint",
    recognition: Recognition::Object {
        prefix: None,
        key: Field::new("error"),
        needs: &[Need::Code, Need::Guid(Field::new("target"))],
    },
    code: Some(Field::new("code")),
    message: Some(Field::new("message")),
    id: IdFields::Body(&[Field::new("target")]),
    code_list: None,
    implied_status: None,
};

static GRAPH: Shape = Shape {
    name: "graph",
    answered_by: "Microsoft Graph",
    recognition: Recognition::Object {
        prefix: None,
        key: Field::new("error"),
        needs: &[Need::Field(Field::new("innerError"))],
    },
    code: Some(Field::new("code")),
    message: Some(Field::new("message")),
    id: IdFields::Chain {
        link: Field::new("innerError"),
        names: &[Field::new("request-id"), Field::new("client-request-id")],
    },
    code_list: None,
    implied_status: None,
};

static REST: Shape = Shape {
    name: "rest",
    answered_by: "Azure Resource Manager and other REST-guidelines APIs",
    recognition: Recognition::Object { prefix: None, key: Field::new("error"), needs: &[Need::Code] },
    code: Some(Field::new("code")),
    message: Some(Field::new("message")),
    // Its `target` names a parameter, not a call.
    id: IdFields::Body(&[]),
    code_list: None,
    implied_status: None,
};

static ODATA_V3: Shape = Shape {
    name: "odata_v3",
    answered_by: "Azure AD Graph (OData v3)",
    recognition: Recognition::Object { prefix: Some(Field::new("odata")), key: Field::new("error"), needs: &[] },
    code: Some(Field::new("code")),
    message: Some(Field::new("message")),
    id: IdFields::Body(&[Field::new("requestId")]),
    code_list: None,
    implied_status: None,
};

static AAD: Shape = Shape {
    name: "aad",
    answered_by: "the Azure AD token endpoint",
    recognition: Recognition::Flat { beside_any_of: &[Field::new("error_description"), Field::new("error_codes")] },
    code: Some(Field::new("error")),
    message: Some(Field::new("error_description")),
    id: IdFields::Body(&[Field::new("correlation_id"), Field::new("trace_id")]),
    code_list: Some(Field::new("error_codes")),
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

/// The head of README's family table, one text per column of [`Description::cells`].
pub const TABLE_HEADER: [&str; 7] = [
    "family",
    "answered by",
    "recognised by (the first that fits)",
    "code",
    "message (text, or an object's `value`)",
    "correlation id",
    "status when neither the record nor the code gives one",
];

/// A family described for people, one text per column of README's family table, in Markdown
/// (field names in backticks).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Description {
    pub name: String,
    pub answered_by: String,
    pub recognised_by: String,
    pub code: String,
    pub message: String,
    pub id: String,
    pub implied_status: String,
}

impl Description {
    /// The texts in the order of [`TABLE_HEADER`].
    pub fn cells(&self) -> [&str; 7] {
        [&self.name, &self.answered_by, &self.recognised_by, &self.code, &self.message, &self.id, &self.implied_status]
    }
}

/// What a table cell says when the family has no such thing.
const NOTHING: &str = "—";

impl Family {
    pub fn describe(self) -> Description {
        let shape = self.shape();
        let path = shape.path();
        let field = |name: Option<Field>| name.map_or(NOTHING.to_owned(), |name| format!("`{path}{name}`"));
        let mut code = field(shape.code);
        if let Some(list) = shape.code_list {
            code.push_str(&format!(", with `{path}{list}` as inner codes"));
        }
        Description {
            name: format!("`{}`", shape.name),
            answered_by: shape.answered_by.to_owned(),
            recognised_by: shape.recognised_by(),
            code,
            message: field(shape.message),
            id: shape.id_text(),
            implied_status: shape.implied_status.as_ref().map_or(NOTHING.to_owned(), ImpliedStatus::text),
        }
    }
}

impl Shape {
    /// Where the body's fields sit, as a prefix of their names: `error.`, `odata.error.`, or
    /// nothing for a flat body.
    fn path(&self) -> String {
        match self.recognition {
            Recognition::Object { prefix: Some(prefix), key, .. } => format!("{prefix}.{key}."),
            Recognition::Object { prefix: None, key, .. } => format!("{key}."),
            Recognition::Flat { .. } | Recognition::NoBody => String::new(),
        }
    }

    fn recognised_by(&self) -> String {
        match self.recognition {
            Recognition::Object { prefix, key, needs } => {
                let key = prefix.map_or(key.to_string(), |prefix| format!("{prefix}.{key}"));
                let needs: Vec<String> = needs
                    .iter()
                    .map(|need| match need {
                        Need::Code => format!("`{}`", self.code.map_or(NOTHING, |code| code.written())),
                        Need::Guid(name) => format!("a GUID `{name}`"),
                        Need::Field(name) => format!("`{name}`"),
                    })
                    .collect();
                if needs.is_empty() {
                    format!("an `{key}` object")
                } else {
                    format!("an `{key}` object with {}", needs.join(" and "))
                }
            }
            Recognition::Flat { beside_any_of } => {
                let beside: Vec<String> = beside_any_of.iter().map(|name| format!("`{name}`")).collect();
                format!(
                    "`{}` as text, beside {}",
                    self.code.map_or(NOTHING, |code| code.written()),
                    beside.join(" or ")
                )
            }
            Recognition::NoBody => "no body, only an error status in a field or in the text".to_owned(),
        }
    }

    fn id_text(&self) -> String {
        let path = self.path();
        match self.id {
            IdFields::Body([]) => NOTHING.to_owned(),
            IdFields::Body(names) => {
                names.iter().map(|name| format!("`{path}{name}`")).collect::<Vec<_>>().join(", else ")
            }
            IdFields::Chain { link, names } => {
                let names: Vec<String> = names.iter().map(|name| format!("`{name}`")).collect();
                format!("{}, in `{path}{link}` or the `{link}` objects nested in it", names.join(", else "))
            }
        }
    }
}

impl ImpliedStatus {
    fn text(&self) -> String {
        let mut text: String =
            self.by_code.iter().map(|(code, status)| format!("{status} for `{code}`, else ")).collect();
        text.push_str(&self.otherwise.to_string());
        text
    }
}

/// The families' names for help text: `mde, graph, rest, odata_v3, aad, or status_only (no body)`.
pub fn names() -> String {
    let names: Vec<String> = Family::ALL
        .iter()
        .map(|family| match family.shape().recognition {
            Recognition::NoBody => format!("{} (no body)", family.as_str()),
            _ => family.as_str().to_owned(),
        })
        .collect();
    match names.split_last() {
        Some((last, [])) => last.clone(),
        Some((last, others)) => format!("{}, or {last}", others.join(", ")),
        None => String::new(),
    }
}

/// One line per family for help text, each starting with `indent`: its name, who answers with
/// it and how it is recognised.
pub fn help_lines(indent: &str) -> String {
    let width = Family::ALL.iter().map(|family| family.as_str().len()).max().unwrap_or_default() + 2;
    let lines: Vec<String> = Family::ALL
        .iter()
        .map(|family| {
            let description = family.describe();
            let recognised_by = description.recognised_by.replace('`', "");
            format!("{indent}{:width$}{}: {recognised_by}", family.as_str(), description.answered_by)
        })
        .collect();
    lines.join("\n")
}

/// README's family table: the header, then one row per family.
pub fn markdown_table() -> String {
    let row = |cells: [&str; 7]| format!("| {} |\n", cells.join(" | "));
    let mut table = row(TABLE_HEADER);
    table.push_str(&row(["---"; 7]).replace(' ', ""));
    for family in Family::ALL {
        table.push_str(&row(family.describe().cells()));
    }
    table
}

/// How an object holds an envelope.
pub(super) enum Detected<'a, 'b> {
    /// The body is the object under the field at `key_index`.
    Under { key_index: usize, family: Family, body: &'a Fields<'b>, recognised: Recognised },
    /// The object itself is the body.
    Flat(Family),
}

/// What recognising a body already read in it, so that reading the body need not read it again.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Recognised {
    /// The GUID a [`Need::Guid`] found, with its field.
    guid: Option<(&'static Field, Guid)>,
}

impl Recognised {
    /// The GUID of the body's field `name`, when recognition read it.
    fn guid(&self, name: &Field) -> Option<Guid> {
        self.guid.filter(|(field, _)| field.compared() == name.compared()).map(|(_, guid)| guid)
    }
}

// `detect` keeps one bit per family.
const _: () = assert!(Family::ALL.len() <= u32::BITS as usize);

/// Which family's body an object holds, if any. Called for every object the walk meets.
#[inline]
pub(super) fn detect<'a, 'b>(object: &'a Fields<'b>) -> Option<Detected<'a, 'b>> {
    // Flat families whose code field, and whose other fields, were seen: one bit each, by
    // their place in `Family::ALL`.
    let mut flat_code_seen = 0_u32;
    let mut flat_beside_seen = 0_u32;
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
            if let Some((family, recognised)) = object_family(prefix, last, body) {
                return Some(Detected::Under { key_index, family, body, recognised });
            }
        }
        for (bit, family) in Family::ALL.iter().enumerate() {
            let shape = family.shape();
            let Recognition::Flat { beside_any_of } = &shape.recognition else { continue };
            if shape.code.as_ref().is_some_and(|code| code.is(last)) {
                if matches!(value, Node::Text(_)) {
                    flat_code_seen |= 1 << bit;
                }
            } else if beside_any_of.iter().any(|field| field.is(key)) {
                flat_beside_seen |= 1 << bit;
            }
        }
    }
    let both_seen = flat_code_seen & flat_beside_seen;
    if both_seen == 0 {
        return None;
    }
    Family::ALL.get(both_seen.trailing_zeros() as usize).copied().map(Detected::Flat)
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
fn object_family(prefix: &[u8], last: &[u8], body: &Fields<'_>) -> Option<(Family, Recognised)> {
    // A key with a family's prefix is that family's before it is any other's; most keys have
    // no prefix, and no family's prefix is empty.
    if !prefix.is_empty() {
        let by_prefix = Family::ALL.into_iter().find_map(|family| {
            let shape = family.shape();
            let Recognition::Object { prefix: Some(wanted), key, needs } = &shape.recognition else { return None };
            if !(wanted.is(prefix) && key.is(last)) {
                return None;
            }
            shape.recognise(needs, body).map(|recognised| (family, recognised))
        });
        if by_prefix.is_some() {
            return by_prefix;
        }
    }
    Family::ALL.into_iter().find_map(|family| {
        let shape = family.shape();
        let Recognition::Object { prefix: None, key, needs } = &shape.recognition else { return None };
        if !key.is(last) {
            return None;
        }
        shape.recognise(needs, body).map(|recognised| (family, recognised))
    })
}

/// What a body says of its call.
pub(super) struct Said {
    pub code: Option<String>,
    pub message: Option<String>,
    /// The family's own correlation id.
    pub id: Option<Guid>,
}

impl Shape {
    /// Whether a body meets all of the family's needs, with what checking them read.
    fn recognise(&self, needs: &'static [Need], body: &Fields<'_>) -> Option<Recognised> {
        let mut recognised = Recognised::default();
        for need in needs {
            match need {
                Need::Code => {
                    if !self.code.as_ref().and_then(|code| get(body, code)).is_some_and(is_raw_code) {
                        return None;
                    }
                }
                Need::Guid(name) => recognised.guid = Some((name, guid_in(body, name)?)),
                Need::Field(name) => {
                    get(body, name)?;
                }
            }
        }
        Some(recognised)
    }

    /// The code, message and id of a body of this family, given what recognising it read.
    pub(super) fn read(&self, body: &Fields<'_>, recognised: Recognised) -> Said {
        let id = match &self.id {
            IdFields::Body(names) => {
                names.iter().find_map(|name| recognised.guid(name).or_else(|| guid_in(body, name)))
            }
            IdFields::Chain { link, names } => {
                names.iter().find_map(|name| chain(body, link).find_map(|object| guid_in(object, name)))
            }
        };
        Said {
            code: self.code.as_ref().and_then(|code| get(body, code)).and_then(raw_code),
            message: self.message.as_ref().and_then(|message| get(body, message)).and_then(message_text),
            id,
        }
    }

    /// The codes of the body's code list, as written.
    pub(super) fn code_list<'a, 'b>(&self, body: &'a Fields<'b>) -> &'a [Node<'b>] {
        match self.code_list.as_ref().and_then(|list| get(body, list)) {
            Some(Node::Array(codes)) => codes,
            _ => &[],
        }
    }

    /// Whether a field (its normalised name) is one the family reads itself: the walk passes
    /// over such fields of a flat body.
    pub(super) fn reads_field(&self, name: &NameBuffer) -> bool {
        [&self.code, &self.message, &self.code_list].into_iter().flatten().any(|field| field.is_normalised(name))
    }
}

/// The objects chained under `link`, from the body's own.
fn chain<'a, 'b>(body: &'a Fields<'b>, link: &'a Field) -> impl Iterator<Item = &'a Fields<'b>> {
    std::iter::successors(get(body, link).and_then(Node::as_object), move |object| {
        get(object, link).and_then(Node::as_object)
    })
    .take(MAX_CHAIN_LINKS)
}

/// The value of the first field whose name reads as `name`.
#[inline]
pub(super) fn get<'a, 'b>(object: &'a Fields<'b>, name: &Field) -> Option<&'a Node<'b>> {
    object.iter().find(|(key, _)| name.is(key.as_bytes())).map(|(_, value)| value)
}

fn guid_in(object: &Fields<'_>, name: &Field) -> Option<Guid> {
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

/// The field of OData's message object holding the text.
const MESSAGE_VALUE: Field = Field::new("value");

/// A message: a string, or OData's `{"lang": ..., "value": ...}`.
fn message_text(value: &Node<'_>) -> Option<String> {
    match value {
        Node::Text(text) => Some(text.to_string()),
        Node::Object(fields) => get(fields, &MESSAGE_VALUE).and_then(Node::as_str).map(str::to_owned),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json;

    /// Every field name recognition looks for, with the family.
    fn recognised_names() -> Vec<(Family, &'static str)> {
        let mut names = Vec::new();
        for family in Family::ALL {
            let shape = family.shape();
            match shape.recognition {
                Recognition::Object { key, .. } => names.push((family, key.written())),
                Recognition::Flat { beside_any_of } => {
                    names.extend(shape.code.map(|code| (family, code.written())));
                    names.extend(beside_any_of.iter().map(|name| (family, name.written())));
                }
                Recognition::NoBody => {}
            }
        }
        names
    }

    #[test]
    fn every_name_recognition_looks_for_gets_past_the_quick_tests() {
        let names = recognised_names();
        assert!(!names.is_empty());
        for (family, name) in names {
            assert!(may_be_recognised(name.as_bytes()), "{family:?}: {name} does not start with the first letter");
            for written in [name.to_ascii_lowercase(), name.to_ascii_uppercase()] {
                assert!(
                    NEEDLES.iter().any(|needle| written.contains(needle)),
                    "{family:?}: the prefilter's needles miss {written}"
                );
            }
        }
    }

    #[test]
    fn every_shape_is_whole() {
        let mut names = Vec::new();
        for family in Family::ALL {
            let shape = family.shape();
            assert!(
                shape.name.bytes().all(|byte| byte.is_ascii_lowercase() || byte.is_ascii_digit() || byte == b'_'),
                "{family:?}: {}",
                shape.name
            );
            assert!(!names.contains(&shape.name), "{family:?}: {} twice", shape.name);
            names.push(shape.name);
            let needs_code = match shape.recognition {
                Recognition::Object { needs, .. } => needs.iter().any(|need| matches!(need, Need::Code)),
                Recognition::Flat { .. } => true,
                Recognition::NoBody => false,
            };
            assert!(!needs_code || shape.code.is_some(), "{family:?} is recognised by a code it does not name");
        }
    }

    #[test]
    fn objects_are_recognised_as_their_family() {
        #[track_caller]
        fn check(object: &str, expected: Option<(Family, Option<usize>)>) {
            let parsed = json::parse(object).unwrap();
            let found = detect(parsed.as_object().unwrap()).map(|detected| match detected {
                Detected::Under { key_index, family, .. } => (family, Some(key_index)),
                Detected::Flat(family) => (family, None),
            });
            assert_eq!(found, expected, "{object}");
        }
        const GUID: &str = "43f4cb08-8fac-4b65-9db1-745c2ae65f3a";
        let mde = format!(r#"{{"error":{{"code":"Forbidden","target":"{GUID}"}}}}"#);
        check(&mde, Some((Family::Mde, Some(0))));
        // A GUID target comes before an innerError.
        let both = format!(r#"{{"x":1,"Error":{{"code":"Forbidden","target":"{GUID}","innerError":{{}}}}}}"#);
        check(&both, Some((Family::Mde, Some(1))));
        check(r#"{"error":{"innerError":{"date":"x"}}}"#, Some((Family::Graph, Some(0))));
        check(r#"{"error":{"code":"BadRequest","target":"machineId"}}"#, Some((Family::Rest, Some(0))));
        check(r#"{"response.error":{"code":404}}"#, Some((Family::Rest, Some(0))));
        // OData's prefix wins over what the body holds.
        let odata = format!(r#"{{"odata.error":{{"code":"Forbidden","target":"{GUID}"}}}}"#);
        check(&odata, Some((Family::ODataV3, Some(0))));
        check(r#"{"odata.error":{}}"#, Some((Family::ODataV3, Some(0))));
        check(r#"{"error":"invalid_client","error_description":"bad secret"}"#, Some((Family::Aad, None)));
        check(r#"{"error_codes":[7000215],"Error":"invalid_grant"}"#, Some((Family::Aad, None)));
        // An application's own error fields are not an envelope.
        check(r#"{"error":{"code":" "}}"#, None);
        check(r#"{"error":{"message":"no code"}}"#, None);
        check(r#"{"errors":{"code":"BadRequest"}}"#, None);
        check(r#"{"error":"invalid_client"}"#, None);
        check(r#"{"error":{"a":1},"error_description":"d"}"#, None);
        check(r#"{"x.error_description":"d","error":"z"}"#, None);
        check(r#"{"level":"error","message":"failed"}"#, None);
    }

    #[test]
    fn bodies_say_their_code_message_and_id() {
        #[track_caller]
        fn check(family: Family, body: &str, expected: (Option<&str>, Option<&str>, Option<&str>)) {
            let parsed = json::parse(body).unwrap();
            let said = family.shape().read(parsed.as_object().unwrap(), Recognised::default());
            let id = said.id.map(|id| id.to_string());
            assert_eq!((said.code.as_deref(), said.message.as_deref(), id.as_deref()), expected, "{family:?}: {body}");
        }
        const GUID: &str = "43f4cb08-8fac-4b65-9db1-745c2ae65f3a";
        const OTHER: &str = "6f1a2e7c-0d3b-4c5e-9f8a-1b2c3d4e5f60";
        let mde = format!(r#"{{"code":" Forbidden ","message":"no","target":"{GUID}"}}"#);
        check(Family::Mde, &mde, (Some("Forbidden"), Some("no"), Some(GUID)));
        check(Family::Rest, r#"{"code":404,"target":"machineId"}"#, (Some("404"), None, None));
        let graph = format!(
            r#"{{"code":"x","innerError":{{"client-request-id":"{OTHER}","innerError":{{"request-id":"{GUID}"}}}}}}"#
        );
        check(Family::Graph, &graph, (Some("x"), None, Some(GUID)));
        let graph = format!(r#"{{"innerError":{{"client-request-id":"{OTHER}","request-id":"not a guid"}}}}"#);
        check(Family::Graph, &graph, (None, None, Some(OTHER)));
        let odata = format!(r#"{{"code":"c","message":{{"lang":"en","value":"v"}},"requestId":"{GUID}"}}"#);
        check(Family::ODataV3, &odata, (Some("c"), Some("v"), Some(GUID)));
        let aad = format!(r#"{{"error":"invalid_grant","error_description":"d","trace_id":"{OTHER}"}}"#);
        check(Family::Aad, &aad, (Some("invalid_grant"), Some("d"), Some(OTHER)));
        let aad = format!(r#"{{"error":"e","trace_id":"{OTHER}","correlation_id":"{GUID}"}}"#);
        check(Family::Aad, &aad, (Some("e"), None, Some(GUID)));
        check(Family::StatusOnly, r#"{"code":"c","message":"m"}"#, (None, None, None));
    }

    #[test]
    fn field_names_read_as_written_in_any_case_and_separation() {
        #[track_caller]
        fn check(field: Field, name: &str, expected: bool) {
            assert_eq!(field.is(name.as_bytes()), expected, "{name} as {field}");
        }
        check(Field::new("innerError"), "innererror", true);
        check(Field::new("innerError"), "InnerError", true);
        check(Field::new("request-id"), "requestId", true);
        check(Field::new("requestId"), "request-id", true);
        check(Field::new("error_description"), "Error-Description", true);
        check(Field::new("errorDescription"), "error description", true);
        check(Field::new("error"), "errors", false);
        check(Field::new("error"), "erro", false);
        check(Field::new("error"), "odata.error", false);
        check(Field::new("error"), "", false);
        check(Field::new("request-id"), "requestid2", false);
    }

    #[test]
    fn what_recognition_read_is_used_only_for_its_own_field() {
        static SHAPE: Shape = Shape {
            name: "test",
            answered_by: "a test",
            recognition: Recognition::Object {
                prefix: None,
                key: Field::new("error"),
                needs: &[Need::Guid(Field::new("target"))],
            },
            code: None,
            message: None,
            id: IdFields::Body(&[Field::new("requestId"), Field::new("target")]),
            code_list: None,
            implied_status: None,
        };
        #[track_caller]
        fn check(body: &str, expected: Option<&str>) {
            let parsed = json::parse(body).unwrap();
            let body = parsed.as_object().unwrap();
            let Recognition::Object { needs, .. } = &SHAPE.recognition else { unreachable!() };
            let recognised = SHAPE.recognise(needs, body).unwrap();
            assert!(recognised.guid.is_some(), "{body:?}");
            let read = SHAPE.read(body, recognised).id.map(|id| id.to_string());
            assert_eq!(read, SHAPE.read(body, Recognised::default()).id.map(|id| id.to_string()), "{body:?}");
            assert_eq!(read.as_deref(), expected, "{body:?}");
        }
        const GUID: &str = "43f4cb08-8fac-4b65-9db1-745c2ae65f3a";
        const OTHER: &str = "6f1a2e7c-0d3b-4c5e-9f8a-1b2c3d4e5f60";
        check(&format!(r#"{{"request_id":"{GUID}","target":"{OTHER}"}}"#), Some(GUID));
        check(&format!(r#"{{"requestId":"not a guid","Target":"{OTHER}"}}"#), Some(OTHER));
        check(&format!(r#"{{"target":"{OTHER}"}}"#), Some(OTHER));
    }

    #[test]
    fn a_chain_is_followed_so_far() {
        const GUID: &str = "43f4cb08-8fac-4b65-9db1-745c2ae65f3a";
        let nested = |links: usize| {
            let inner = format!(r#"{{"request-id":"{GUID}"}}"#);
            let chain = (1..links).fold(inner, |inner, _| format!(r#"{{"innerError":{inner}}}"#));
            format!(r#"{{"innerError":{chain}}}"#)
        };
        let read = |body: &str| {
            Family::Graph.shape().read(json::parse(body).unwrap().as_object().unwrap(), Recognised::default()).id
        };
        assert!(read(&nested(MAX_CHAIN_LINKS)).is_some());
        assert!(read(&nested(MAX_CHAIN_LINKS + 1)).is_none());
    }

    #[test]
    fn a_flat_body_reads_its_own_fields() {
        #[track_caller]
        fn check(family: Family, name: &str, expected: bool) {
            assert_eq!(family.shape().reads_field(&NameBuffer::normalise(name.as_bytes())), expected, "{name}");
        }
        check(Family::Aad, "error", true);
        check(Family::Aad, "errorDescription", true);
        check(Family::Aad, "error_codes", true);
        check(Family::Aad, "correlation_id", false);
        check(Family::StatusOnly, "error", false);
    }

    #[test]
    fn codes_imply_a_status_only_where_the_family_says() {
        #[track_caller]
        fn check(family: Family, raw_code: Option<&str>, expected: Option<u16>) {
            assert_eq!(family.implied_status(raw_code), expected, "{family:?} {raw_code:?}");
        }
        check(Family::Aad, Some("invalid_client"), Some(401));
        check(Family::Aad, Some("invalid_grant"), Some(400));
        check(Family::Aad, Some("Invalid_Client"), Some(400));
        check(Family::Aad, None, Some(400));
        for family in [Family::Mde, Family::Graph, Family::Rest, Family::ODataV3, Family::StatusOnly] {
            check(family, Some("invalid_client"), None);
            check(family, None, None);
        }
    }

    #[test]
    fn help_text_lists_every_family() {
        assert_eq!(names(), "mde, graph, rest, odata_v3, aad, or status_only (no body)");
        let lines = help_lines("  ");
        assert_eq!(lines.lines().count(), Family::ALL.len(), "{lines}");
        assert!(
            lines.starts_with("  mde          Defender for Endpoint: an error object with code and a GUID target\n")
        );
        assert!(!lines.contains('`'), "{lines}");
    }

    /// README's family table: the rows of the table whose head is [`TABLE_HEADER`], as cells.
    fn readme_rows(readme: &str) -> Vec<Vec<String>> {
        let cells = |line: &str| -> Vec<String> {
            let inner = line.trim().trim_start_matches('|').trim_end_matches('|');
            inner.split('|').map(|cell| cell.trim().to_owned()).collect()
        };
        let mut lines = readme.lines().skip_while(|line| cells(line) != TABLE_HEADER);
        assert!(lines.next().is_some(), "README.md has no family table; it should read:\n{}", markdown_table());
        lines.skip(1).take_while(|line| line.starts_with('|')).map(cells).collect()
    }

    /// Where README's table differs from the families, one line each.
    fn differences(rows: &[Vec<String>]) -> Vec<String> {
        let mut found = Vec::new();
        for family in Family::ALL {
            let description = family.describe();
            let expected = description.cells();
            match rows.iter().find(|row| row.first().map(String::as_str) == Some(expected[0])) {
                None => found.push(format!("{} is missing", expected[0])),
                Some(row) if row.len() != expected.len() => {
                    found.push(format!("{} has {} cells", expected[0], row.len()))
                }
                Some(row) => {
                    for ((column, written), wanted) in TABLE_HEADER.iter().zip(row).zip(expected) {
                        if written != wanted {
                            found.push(format!("{}, {column}: says {written:?}, is {wanted:?}", expected[0]));
                        }
                    }
                }
            }
        }
        for row in rows {
            let name = row.first().map(String::as_str).unwrap_or_default();
            if !Family::ALL.iter().any(|family| family.describe().name == name) {
                found.push(format!("{name} is no family"));
            }
        }
        found
    }

    #[test]
    fn the_readme_table_is_the_families() {
        let readme = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"));
        let found = differences(&readme_rows(readme));
        assert!(
            found.is_empty(),
            "README.md's family table:\n{}\nit should read:\n{}",
            found.join("\n"),
            markdown_table()
        );
    }

    #[test]
    fn a_drifted_table_is_told_apart() {
        #[track_caller]
        fn check(edit: impl Fn(String) -> String, expected: &[&str]) {
            let readme = edit(markdown_table());
            assert_eq!(differences(&readme_rows(&readme)), expected);
        }
        check(|table| table, &[]);
        check(|table| table.replace("| 401 for", "| 403 for"), &[
            "`aad`, status when neither the record nor the code gives one: says \"403 for `invalid_client`, else 400\", is \"401 for `invalid_client`, else 400\"",
        ]);
        check(|table| table.replace("`status_only`", "`bare`"), &["`status_only` is missing", "`bare` is no family"]);
        check(
            |table| table.lines().filter(|line| !line.contains("`graph`")).collect::<Vec<_>>().join("\n"),
            &["`graph` is missing"],
        );
    }
}
