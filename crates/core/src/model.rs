//! The threat model: elements (nodes, dataflows, boundaries), data items, assumptions and the
//! diagram layout. Attribute names and defaults are pytm's, so pytm users and pytm threat
//! libraries find the vocabulary they know.
//!
//! Unset attributes are `None` in the structs and read as their default through the getters;
//! the file keeps only what the user set, which keeps models short and their diffs small.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::attr::{Action, Classification, DatastoreType, Kind, KindSet, Lifetime, TlsVersion, Value, attributes, dflt};

/// The version of the native file format this build reads and writes.
pub const FORMAT_VERSION: u32 = 1;

const ACTOR: KindSet = Kind::Actor.set();
const SERVER: KindSet = Kind::Server.set();
const FLOW: KindSet = Kind::Dataflow.set();
const DATASTORE: KindSet = Kind::Datastore.set();
const LLM: KindSet = Kind::Llm.set();
const AGENT: KindSet = Kind::Agent.set();
const NOT_FLOW: KindSet = KindSet::NODES.with(Kind::Boundary.set());
const PROCESS_LAMBDA: KindSet = KindSet::PROCESSES.with(Kind::Lambda.set());

fn on_aws(kind: Kind) -> Value<'static> {
    Value::Bool(kind == Kind::Lambda)
}
fn unmanaged(_: Kind) -> Value<'static> {
    Value::Str("Unmanaged")
}
fn classification_unknown(_: Kind) -> Value<'static> {
    Value::Enum(crate::attr::EnumValue::Classification(Classification::Unknown))
}
fn tls_none(_: Kind) -> Value<'static> {
    Value::Enum(crate::attr::EnumValue::TlsVersion(TlsVersion::None))
}
fn lifetime_none(_: Kind) -> Value<'static> {
    Value::Enum(crate::attr::EnumValue::Lifetime(Lifetime::None))
}
fn datastore_unknown(_: Kind) -> Value<'static> {
    Value::Enum(crate::attr::EnumValue::DatastoreType(DatastoreType::Unknown))
}
fn is_false(b: &bool) -> bool {
    !*b
}
pub(crate) fn is_default<T: Default + PartialEq>(v: &T) -> bool {
    *v == T::default()
}

attributes! {
    /// An element of the model: a node (actor, process, server, data store, ...), a dataflow
    /// between two nodes, or a trust boundary. Which attributes apply depends on `kind`.
    pub struct Element, key ElementAttr {
        head {
            /// Stable identifier, unique in the model. It survives renames; flows, boundaries,
            /// the layout and triage decisions refer to elements by it.
            pub id: String,
            /// What the element is.
            pub kind: Kind,
            /// The name shown in diagrams and reports.
            pub name: String,
            /// Dataflows only: the id of the element the data comes from.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub source: Option<String>,
            /// Dataflows only: the id of the element the data goes to.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub sink: Option<String>,
            /// The id of the trust boundary that contains this node or boundary.
            #[serde(default, rename = "inBoundary", skip_serializing_if = "Option::is_none")]
            pub in_boundary: Option<String>,
            /// Dataflows only: the id of the request flow this flow answers. Setting it makes
            /// the flow a response.
            #[serde(default, rename = "responseTo", skip_serializing_if = "Option::is_none")]
            pub response_to: Option<String>,
        }
        attrs {
            /// Free text describing the element.
            "description" description: String = dflt::empty, KindSet::ALL;
            /// The template type the element was drawn from, such as Microsoft TMT's
            /// `SE.P.TMCore.WebApp`; template rule packs match on it.
            "stereotype" stereotype: String = dflt::empty, KindSet::ALL;
            /// False for elements outside the scope of the analysis: they get no findings.
            "inScope" in_scope: bool = dflt::t, KindSet::ALL;
            /// The most sensitive data classification the element may handle.
            "maxClassification" max_classification: Classification = classification_unknown, KindSet::ALL;
            /// The lowest TLS version the element accepts.
            "minTLSVersion" min_tls_version: TlsVersion = tls_none, KindSet::ALL;
            /// Diagram levels the element appears on (DFD level filtering).
            "levels" levels: Vec<u32> = dflt::level0, KindSet::ALL;
            /// Source files that implement the element.
            "sourceFiles" source_files: Vec<String> = dflt::no_strs, KindSet::ALL;
            /// The port the node listens on (-1: none).
            "port" port: i64 = dflt::minus_one, KindSet::NODES;
            /// The protocol the node speaks, or a flow carries ("HTTPS", "MySQL", "UART").
            /// A request flow without one takes its sink's.
            "protocol" protocol: String = dflt::empty, KindSet::NODES.with(FLOW);
            /// Actors only: the actor has administrative rights.
            "isAdmin" is_admin: bool = dflt::f, ACTOR;
            /// The operating system the asset runs on.
            "OS" os: String = dflt::empty, KindSet::ASSETS;
            /// The asset runs on Amazon Web Services (default true for lambdas).
            "onAWS" on_aws: bool = on_aws, KindSet::ASSETS;
            /// The asset manages resources (files, memory, connections) for others.
            "handlesResources" handles_resources: bool = dflt::f, KindSet::ASSETS;
            /// The asset reads configuration or secrets from environment variables.
            "usesEnvironmentVariables" uses_environment_variables: bool = dflt::f, KindSet::ASSETS;
            /// Session tokens authenticate the requests the server or flow carries.
            "usesSessionTokens" uses_session_tokens: bool = dflt::f, SERVER.with(FLOW);
            /// Traffic travels through a VPN.
            "usesVPN" uses_vpn: bool = dflt::f, SERVER.with(FLOW);
            /// The server caches responses or data.
            "usesCache" uses_cache: bool = dflt::f, SERVER;
            /// The server parses XML.
            "usesXMLParser" uses_xml_parser: bool = dflt::f, SERVER;
            /// Someone can physically reach the external entity.
            "hasPhysicalAccess" has_physical_access: bool = dflt::f, Kind::ExternalEntity.set();
            /// The environment the code runs in ("Production", "Staging").
            "environment" environment: String = dflt::empty, PROCESS_LAMBDA;
            /// The code exposes an API to other components.
            "implementsAPI" implements_api: bool = dflt::f, PROCESS_LAMBDA;
            /// How the code runs: "Managed" (runtime with memory safety) or "Unmanaged".
            "codeType" code_type: String = unmanaged, KindSet::PROCESSES;
            /// The process or flow implements its own communication protocol.
            "implementsCommunicationProtocol" implements_communication_protocol: bool = dflt::f, KindSet::PROCESSES.with(FLOW);
            /// The process checks that its control flow is not diverted.
            "tracksExecutionFlow" tracks_execution_flow: bool = dflt::f, KindSet::PROCESSES;
            /// The process lets clients run scripts (browser-side code).
            "allowsClientSideScripting" allows_client_side_scripting: bool = dflt::f, KindSet::PROCESSES;
            /// The data store is an Amazon RDS instance.
            "onRDS" on_rds: bool = dflt::f, DATASTORE;
            /// The data store holds logs.
            "storesLogData" stores_log_data: bool = dflt::f, DATASTORE;
            /// The data store holds personally identifiable information.
            "storesPII" stores_pii: bool = dflt::f, DATASTORE;
            /// The data store holds sensitive data.
            "storesSensitiveData" stores_sensitive_data: bool = dflt::f, DATASTORE;
            /// Several parties share the data store.
            "isShared" is_shared: bool = dflt::f, DATASTORE;
            /// Clients can write to the data store.
            "hasWriteAccess" has_write_access: bool = dflt::f, DATASTORE;
            /// The data store is queried with SQL.
            "isSQL" is_sql: bool = dflt::t, DATASTORE;
            /// The technology of the data store.
            "type" datastore_type: DatastoreType = datastore_unknown, DATASTORE;
            /// The model is a third-party service.
            "isThirdParty" is_third_party: bool = dflt::t, LLM;
            /// A system prompt steers the model.
            "hasSystemPrompt" has_system_prompt: bool = dflt::t, LLM;
            /// The model reads input from untrusted parties.
            "processesUntrustedInput" processes_untrusted_input: bool = dflt::t, LLM;
            /// The model runs on infrastructure the owner controls.
            "isSelfHosted" is_self_hosted: bool = dflt::f, LLM;
            /// The model sees personal data.
            "processesPersonalData" processes_personal_data: bool = dflt::f, LLM;
            /// The model or its provider keeps user data.
            "retainsUserData" retains_user_data: bool = dflt::f, LLM;
            /// The model can act (call tools, trigger actions).
            "hasAgentCapabilities" has_agent_capabilities: bool = dflt::f, LLM;
            /// The model can reach sensitive systems.
            "hasAccessToSensitiveSystems" has_access_to_sensitive_systems: bool = dflt::f, LLM;
            /// The model's output is executed as code.
            "executesCode" executes_code: bool = dflt::f, LLM;
            /// Input and output pass through content filters.
            "hasContentFiltering" has_content_filtering: bool = dflt::f, LLM;
            /// The model retrieves documents to augment prompts (RAG).
            "hasRAG" has_rag: bool = dflt::f, LLM;
            /// The model is fine-tuned on the owner's data.
            "hasFineTuning" has_fine_tuning: bool = dflt::f, LLM;
            /// The agent launches external tools.
            "usesExternalTools" uses_external_tools: bool = dflt::f, AGENT;
            /// The agent validates the configuration of the tools it launches.
            "validatesToolLaunchConfig" validates_tool_launch_config: bool = dflt::f, AGENT;
            /// The flow answers a request. Set automatically when `responseTo` is set.
            "isResponse" is_response: bool = dflt::f, FLOW;
            /// The flow's source port (-1: none). A response without one takes its source's port.
            "srcPort" src_port: i64 = dflt::minus_one, FLOW;
            /// The flow's destination port (-1: none). A request without one takes its sink's port.
            "dstPort" dst_port: i64 = dflt::minus_one, FLOW;
            /// The TLS version protecting the flow.
            "tlsVersion" tls_version: TlsVersion = tls_none, FLOW;
            /// The flow's position in the sequence (-1: unordered; numbered when the model is ordered).
            "order" order: i64 = dflt::minus_one, FLOW;
            /// A note shown beside the flow in sequence diagrams.
            "note" note: String = dflt::empty, FLOW;
        }
        tail {
            /// Data items (by id) the element holds or the flow carries. A flow also carries
            /// the data of its source.
            #[serde(default, skip_serializing_if = "Vec::is_empty")]
            pub data: Vec<String>,
            /// Security controls in place on the element.
            #[serde(default, skip_serializing_if = "Controls::is_empty")]
            pub controls: Controls,
            /// Overrides of generated findings, by threat id: they amend the finding and force
            /// it even when the rule's condition does not hold.
            #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
            pub overrides: BTreeMap<String, Override>,
            /// Assumptions made about the element; those with `exclude` suppress threats.
            #[serde(default, skip_serializing_if = "Vec::is_empty")]
            pub assumptions: Vec<Assumption>,
            /// Custom properties (from templates or the user), by name.
            #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
            pub properties: BTreeMap<String, PropValue>,
            /// Threats written by hand on this element (in the app or the file), as Threat
            /// Dragon users record them; each is a finding like those of the rule packs.
            #[serde(default, skip_serializing_if = "Vec::is_empty")]
            pub threats: Vec<Threat>,
        }
    }
}

/// Attributes outside the generated table (fixed fields and computed values), for `describe`,
/// the loader and the rule compiler.
#[derive(Debug, Clone, Copy)]
pub struct FixedAttr {
    /// Name in files and conditions.
    pub name: &'static str,
    /// Static type for conditions.
    pub ty: crate::attr::Ty,
    /// Kinds that have it.
    pub kinds: KindSet,
    /// Default as text.
    pub default: &'static str,
    /// Meaning.
    pub doc: &'static str,
    /// True if conditions can read it but files cannot set it.
    pub computed: bool,
}

/// The fixed and computed attributes of elements.
pub const FIXED_ATTRIBUTES: &[FixedAttr] = {
    use crate::attr::Ty;
    const ALL: KindSet = KindSet::ALL;
    const DATA_HOLDERS: KindSet = KindSet::NODES.with(Kind::Dataflow.set());
    &[
        FixedAttr {
            name: "id",
            ty: Ty::Str,
            kinds: ALL,
            default: "required",
            doc: "Stable identifier, unique in the model; survives renames.",
            computed: false,
        },
        FixedAttr {
            name: "kind",
            ty: Ty::Str,
            kinds: ALL,
            default: "required",
            doc: "What the element is (Actor, Server, Dataflow, Boundary, ...).",
            computed: false,
        },
        FixedAttr {
            name: "name",
            ty: Ty::Str,
            kinds: ALL,
            default: "required",
            doc: "The name shown in diagrams and reports.",
            computed: false,
        },
        FixedAttr {
            name: "source",
            ty: Ty::Node(KindSet::NODES),
            kinds: FLOW,
            default: "required",
            doc: "The element the data comes from (an id in files).",
            computed: false,
        },
        FixedAttr {
            name: "sink",
            ty: Ty::Node(KindSet::NODES),
            kinds: FLOW,
            default: "required",
            doc: "The element the data goes to (an id in files).",
            computed: false,
        },
        FixedAttr {
            name: "inBoundary",
            ty: Ty::Node(Kind::Boundary.set()),
            kinds: NOT_FLOW,
            default: "None",
            doc: "The trust boundary that contains the element (an id in files).",
            computed: false,
        },
        FixedAttr {
            name: "responseTo",
            ty: Ty::Node(FLOW),
            kinds: FLOW,
            default: "None",
            doc: "The request this flow answers (an id in files); makes the flow a response.",
            computed: false,
        },
        FixedAttr {
            name: "response",
            ty: Ty::Node(FLOW),
            kinds: FLOW,
            default: "None",
            doc: "The response that answers this flow (computed from the responses' `responseTo`).",
            computed: true,
        },
        FixedAttr {
            name: "data",
            ty: Ty::DataSet,
            kinds: DATA_HOLDERS,
            default: "[]",
            doc: "Data items held or carried (ids in files); a flow also carries its source's data.",
            computed: false,
        },
        FixedAttr {
            name: "inputs",
            ty: Ty::Nodes(FLOW),
            kinds: KindSet::NODES,
            default: "[]",
            doc: "Request flows that arrive at the node (computed).",
            computed: true,
        },
        FixedAttr {
            name: "outputs",
            ty: Ty::Nodes(FLOW),
            kinds: KindSet::NODES,
            default: "[]",
            doc: "Request flows that leave the node (computed).",
            computed: true,
        },
        FixedAttr {
            name: "controls",
            ty: Ty::Controls,
            kinds: ALL,
            default: "all unset",
            doc: "Security controls in place (see `threatmap describe Controls`).",
            computed: false,
        },
        FixedAttr {
            name: "overrides",
            ty: Ty::Strs,
            kinds: ALL,
            default: "{}",
            doc: "Overrides of generated findings by threat id (severity, cvss, response, ...); they also force the finding.",
            computed: false,
        },
        FixedAttr {
            name: "assumptions",
            ty: Ty::Strs,
            kinds: ALL,
            default: "[]",
            doc: "Assumptions about the element; `exclude` lists threat ids they rule out.",
            computed: false,
        },
        FixedAttr {
            name: "properties",
            ty: Ty::Strs,
            kinds: ALL,
            default: "{}",
            doc: "Custom properties by name (strings, numbers, booleans).",
            computed: false,
        },
    ]
};

/// Controls Threatmap adds to pytm's set (the privacy controls the `linddun` pack reads).
/// pytm's JSON lists them only where a model sets them, as it does a team's own controls.
pub const THREATMAP_CONTROLS: &[&str] =
    &["enforcesRetention", "informsDataSubjects", "minimizesData", "pseudonymizesData", "recordsConsent", "supportsDataSubjectRights"];

attributes! {
    /// The security controls of an element. Every element has one set; unset controls are
    /// false (or empty).
    pub struct Controls, key ControlAttr {
        head {}
        attrs {
            /// The element verifies who it sends data to.
            "authenticatesDestination" authenticates_destination: bool = dflt::f, KindSet::ALL;
            /// The element verifies who sends it data.
            "authenticatesSource" authenticates_source: bool = dflt::f, KindSet::ALL;
            /// The authentication scheme in use ("OAuth2", "mTLS").
            "authenticationScheme" authentication_scheme: String = dflt::empty, KindSet::ALL;
            /// The element checks what the sender is allowed to do.
            "authorizesSource" authorizes_source: bool = dflt::f, KindSet::ALL;
            /// The element checks whether the destination's certificate was revoked.
            "checksDestinationRevocation" checks_destination_revocation: bool = dflt::f, KindSet::ALL;
            /// Input sizes and ranges are checked before use.
            "checksInputBounds" checks_input_bounds: bool = dflt::f, KindSet::ALL;
            /// Connections time out.
            "definesConnectionTimeout" defines_connection_timeout: bool = dflt::f, KindSet::ALL;
            /// XML document type definitions are not processed.
            "disablesDTD" disables_dtd: bool = dflt::f, KindSet::ALL;
            /// Pages cannot be framed by other sites.
            "disablesiFrames" disables_iframes: bool = dflt::f, KindSet::ALL;
            /// Outgoing headers are encoded.
            "encodesHeaders" encodes_headers: bool = dflt::f, KindSet::ALL;
            /// Output is encoded for the context it lands in (HTML, SQL, shell).
            "encodesOutput" encodes_output: bool = dflt::f, KindSet::ALL;
            /// Cookies are encrypted.
            "encryptsCookies" encrypts_cookies: bool = dflt::f, KindSet::ALL;
            /// Session data is encrypted.
            "encryptsSessionData" encrypts_session_data: bool = dflt::f, KindSet::ALL;
            /// Personal data is deleted when its retention period ends (privacy: storage limitation).
            "enforcesRetention" enforces_retention: bool = dflt::f, KindSet::ALL;
            /// Crashes are handled without exposing state or stopping service.
            "handlesCrashes" handles_crashes: bool = dflt::f, KindSet::ALL;
            /// Interrupted operations are handled safely.
            "handlesInterruptions" handles_interruptions: bool = dflt::f, KindSet::ALL;
            /// Resource use per client is limited (rate limits, quotas).
            "handlesResourceConsumption" handles_resource_consumption: bool = dflt::f, KindSet::ALL;
            /// Access is controlled.
            "hasAccessControl" has_access_control: bool = dflt::f, KindSet::ALL;
            /// An authentication scheme is implemented.
            "implementsAuthenticationScheme" implements_authentication_scheme: bool = dflt::f, KindSet::ALL;
            /// Requests carry anti-CSRF tokens.
            "implementsCSRFToken" implements_csrf_token: bool = dflt::f, KindSet::ALL;
            /// Messages carry nonces against replay.
            "implementsNonce" implements_nonce: bool = dflt::f, KindSet::ALL;
            /// The principle of least privilege is applied.
            "implementsPOLP" implements_polp: bool = dflt::f, KindSet::ALL;
            /// Validation happens on the server, not only on the client.
            "implementsServerSideValidation" implements_server_side_validation: bool = dflt::f, KindSet::ALL;
            /// HTTP messages are parsed strictly.
            "implementsStrictHTTPValidation" implements_strict_http_validation: bool = dflt::f, KindSet::ALL;
            /// The people the personal data is about are told what is collected, why and who
            /// receives it (privacy: transparency).
            "informsDataSubjects" informs_data_subjects: bool = dflt::f, KindSet::ALL;
            /// Script filters run on content.
            "invokesScriptFilters" invokes_script_filters: bool = dflt::f, KindSet::ALL;
            /// Data is encrypted in transit.
            "isEncrypted" is_encrypted: bool = dflt::f, KindSet::ALL;
            /// Stored data is encrypted.
            "isEncryptedAtRest" is_encrypted_at_rest: bool = dflt::f, KindSet::ALL;
            /// The element is hardened (minimal services, secure configuration).
            "isHardened" is_hardened: bool = dflt::f, KindSet::ALL;
            /// The element stays available under failure or load.
            "isResilient" is_resilient: bool = dflt::f, KindSet::ALL;
            /// Only the personal data the purpose needs is collected, kept or passed on (privacy).
            "minimizesData" minimizes_data: bool = dflt::f, KindSet::ALL;
            /// Confidentiality of the data is protected.
            "providesConfidentiality" provides_confidentiality: bool = dflt::f, KindSet::ALL;
            /// Integrity of the data is protected.
            "providesIntegrity" provides_integrity: bool = dflt::f, KindSet::ALL;
            /// Direct identifiers are replaced by pseudonyms or tokens (privacy: unlinkability).
            "pseudonymizesData" pseudonymizes_data: bool = dflt::f, KindSet::ALL;
            /// Consent or another legal basis is recorded for each use of personal data (privacy).
            "recordsConsent" records_consent: bool = dflt::f, KindSet::ALL;
            /// Input is sanitized before use.
            "sanitizesInput" sanitizes_input: bool = dflt::f, KindSet::ALL;
            /// People can see, correct, export and delete their personal data (privacy:
            /// intervenability).
            "supportsDataSubjectRights" supports_data_subject_rights: bool = dflt::f, KindSet::ALL;
            /// Control flow integrity is checked.
            "tracksExecutionFlow" tracks_execution_flow: bool = dflt::f, KindSet::ALL;
            /// Code is signed and signatures are verified.
            "usesCodeSigning" uses_code_signing: bool = dflt::f, KindSet::ALL;
            /// The encryption algorithm in use ("AES", "RSA").
            "usesEncryptionAlgorithm" uses_encryption_algorithm: String = dflt::empty, KindSet::ALL;
            /// Multi-factor authentication is required.
            "usesMFA" uses_mfa: bool = dflt::f, KindSet::ALL;
            /// Queries use parameters, not string concatenation.
            "usesParameterizedInput" uses_parameterized_input: bool = dflt::f, KindSet::ALL;
            /// Only safe library functions are used (no unchecked copies or formats).
            "usesSecureFunctions" uses_secure_functions: bool = dflt::f, KindSet::ALL;
            /// Session identifiers are long, random and unpredictable.
            "usesStrongSessionIdentifiers" uses_strong_session_identifiers: bool = dflt::f, KindSet::ALL;
            /// Traffic goes through a VPN.
            "usesVPN" uses_vpn: bool = dflt::f, KindSet::ALL;
            /// The content type of input is checked.
            "validatesContentType" validates_content_type: bool = dflt::f, KindSet::ALL;
            /// Incoming headers are validated.
            "validatesHeaders" validates_headers: bool = dflt::f, KindSet::ALL;
            /// Input is validated against what is expected.
            "validatesInput" validates_input: bool = dflt::f, KindSet::ALL;
            /// Session identifiers are verified on every request.
            "verifySessionIdentifiers" verify_session_identifiers: bool = dflt::f, KindSet::ALL;
        }
        tail {
            /// Controls of a team's own threat library (pytm accepts any attribute on
            /// `controls`), by name; rules read them as `controls.NAME`, and an element
            /// without one reads it as `None`.
            #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
            pub custom: BTreeMap<String, PropValue>,
        }
    }
}

impl Controls {
    /// True if no control is set.
    pub fn is_empty(&self) -> bool {
        self.set_attributes().next().is_none() && self.custom.is_empty()
    }
}

attributes! {
    /// A piece of data that elements hold and flows carry.
    pub struct DataItem, key DataAttr {
        head {
            /// Stable identifier, unique among data items.
            pub id: String,
            /// The name shown in reports.
            pub name: String,
        }
        attrs {
            /// Free text describing the data.
            "description" description: String = dflt::empty, KindSet::ALL;
            /// The data's format ("JSON", "XML").
            "format" format: String = dflt::empty, KindSet::ALL;
            /// How sensitive the data is.
            "classification" classification: Classification = classification_unknown, KindSet::ALL;
            /// The data is personally identifiable information.
            "isPII" is_pii: bool = dflt::f, KindSet::ALL;
            /// The data is or contains credentials. Implied by a `credentialsLife` other than NONE.
            "isCredentials" is_credentials: bool = dflt::f, KindSet::ALL;
            /// How long the credentials stay valid (UNKNOWN when credentials give none).
            "credentialsLife" credentials_life: Lifetime = lifetime_none, KindSet::ALL;
            /// The data is stored at its destination.
            "isStored" is_stored: bool = dflt::f, KindSet::ALL;
            /// Stored data is encrypted at the destination (taken from the sink's controls when unset).
            "isDestEncryptedAtRest" is_dest_encrypted_at_rest: bool = dflt::f, KindSet::ALL;
            /// Stored data is encrypted at the source (taken from the source's controls when unset).
            "isSourceEncryptedAtRest" is_source_encrypted_at_rest: bool = dflt::f, KindSet::ALL;
        }
        tail {}
    }
}

/// An assumption made about the system or one element. One that lists threat ids in `exclude`
/// moves the findings of those threats to the excluded list.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Assumption {
    /// What is assumed.
    pub name: String,
    /// More detail.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// Threat ids this assumption rules out.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exclude: Vec<String>,
}

/// A threat written by hand on an element or flow. It is reported as a finding keyed
/// `id@element` (triage, badges, reports and every export treat it as any other), with the
/// text given here.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Threat {
    /// Identifier, unique among the model's threats and the rules that run on it (`T-1`).
    pub id: String,
    /// What the threat is, in a line.
    pub title: String,
    /// Severity: `Very High`, `High`, `Medium`, `Low`, `Very Low` or `Info`.
    pub severity: String,
    /// STRIDE categories by name (`Spoofing`, `Tampering`, `Repudiation`, `Information
    /// Disclosure`, `Denial of Service`, `Elevation of Privilege`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stride: Vec<String>,
    /// The threat in detail.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// How to counter it, one measure per entry.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mitigations: Vec<String>,
    /// CWE, CAPEC and other references.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub references: Vec<String>,
}

impl Model {
    /// Every hand-written threat, with the element it is written on.
    pub fn threats(&self) -> impl Iterator<Item = (&Element, &Threat)> {
        self.elements.iter().flat_map(|e| e.threats.iter().map(move |t| (e, t)))
    }

    /// An id for a new hand-written threat: `T-1`, `T-2`, ... the first not in use.
    pub fn next_threat_id(&self) -> String {
        (1..).map(|n| format!("T-{n}")).find(|id| !self.threats().any(|(_, t)| &t.id == id)).unwrap_or_default()
    }
}

/// An override of a generated finding. Every field given replaces the rule's value; the
/// finding is reported even if the rule's condition does not hold.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Override {
    /// Severity to report instead of the rule's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub severity: Option<String>,
    /// A CVSS score or vector for this finding.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cvss: Option<String>,
    /// The response to the threat ("mitigated", "accepted", a note).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response: Option<String>,
    /// Likelihood to report instead of the rule's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub likelihood: Option<String>,
    /// Description to report instead of the rule's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Details to report instead of the rule's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<String>,
    /// Mitigations to report instead of the rule's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mitigations: Option<String>,
    /// Example to report instead of the rule's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub example: Option<String>,
    /// References to report instead of the rule's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub references: Option<String>,
}

/// A custom property value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum PropValue {
    /// A boolean.
    Bool(bool),
    /// An integer.
    Int(i64),
    /// Text, or a selected list value.
    Text(String),
}

/// Where an element is drawn, in canvas units (y grows downward). Nodes and boundaries have a
/// position and a size; flows may have a waypoint the user dragged their midpoint to.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Placement {
    /// Left edge.
    pub x: f64,
    /// Top edge.
    pub y: f64,
    /// Width (nodes and boundaries).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub width: Option<f64>,
    /// Height (nodes and boundaries).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub height: Option<f64>,
    /// Line boundaries: the further points of the line, which starts at (`x`, `y`). A boundary
    /// drawn as a line (Microsoft TMT's trust line, Threat Dragon's boundary curve) contains
    /// nothing; flows cross it in the drawing.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub line: Vec<[f64; 2]>,
}

impl Placement {
    /// A line boundary's points, first to last; `None` for boxes and nodes.
    pub fn line_points(&self) -> Option<Vec<(f64, f64)>> {
        if self.line.is_empty() {
            return None;
        }
        Some(std::iter::once((self.x, self.y)).chain(self.line.iter().map(|p| (p[0], p[1]))).collect())
    }
}

/// True if segments `p1`–`p2` and `q1`–`q2` properly cross (touching or overlapping
/// collinear segments do not count).
pub fn segments_cross(p1: (f64, f64), p2: (f64, f64), q1: (f64, f64), q2: (f64, f64)) -> bool {
    let orient = |a: (f64, f64), b: (f64, f64), c: (f64, f64)| (b.0 - a.0) * (c.1 - a.1) - (b.1 - a.1) * (c.0 - a.0);
    let (d1, d2, d3, d4) = (orient(q1, q2, p1), orient(q1, q2, p2), orient(p1, p2, q1), orient(p1, p2, q2));
    const E: f64 = 1e-9;
    ((d1 > E && d2 < -E) || (d1 < -E && d2 > E)) && ((d3 > E && d4 < -E) || (d3 < -E && d4 > E))
}

/// A threat model: the native `*.threatmap.json` file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Model {
    /// File format version; this build reads versions up to [`FORMAT_VERSION`].
    #[serde(rename = "threatmap")]
    pub format: u32,
    /// The model's title.
    pub name: String,
    /// What the system is and does.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// Number the dataflows in order (flows without an `order` are numbered in file order).
    #[serde(default, skip_serializing_if = "is_false")]
    pub is_ordered: bool,
    /// Draw a request and its response as one double-headed edge.
    #[serde(default, skip_serializing_if = "is_false")]
    pub merge_responses: bool,
    /// Leave out elements that take part in no dataflow.
    #[serde(default, skip_serializing_if = "is_false")]
    pub ignore_unused: bool,
    /// What to do with duplicate dataflows.
    #[serde(default, skip_serializing_if = "is_default")]
    pub on_duplicates: Action,
    /// Facts about the whole system another tool's model carries (a TM-BOM scope's business
    /// criticality, exposure, tier), by name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub properties: BTreeMap<String, PropValue>,
    /// The rule packs to run when none are given on the command line: built-in pack names
    /// (`general`, `stride-interactions`, `iot`, `linddun`, `ai`, `cia`) or rule file paths relative to the model.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rule_packs: Vec<String>,
    /// Assumptions about the whole system; those with `exclude` apply to every element.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub assumptions: Vec<Assumption>,
    /// The data items.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub data: Vec<DataItem>,
    /// Nodes, boundaries and dataflows, in the order the user created them.
    #[serde(default)]
    pub elements: Vec<Element>,
    /// Triage decisions by finding key (`rule@element`): status, justification, owner, ticket,
    /// history. Kept when the finding disappears (reported as orphaned).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub decisions: crate::lifecycle::Decisions,
    /// Files attached to the model (photos, documents, the file it came from), kept in its
    /// artefacts folder beside it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub artefacts: Vec<crate::artefacts::Artefact>,
    /// The development team's tracker that `threatmap tickets` hands findings to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tracker: Option<crate::lifecycle::TrackerSettings>,
    /// Diagram positions by element id, for a model with one diagram. Kept apart from the
    /// semantics so that moving a shape changes only this section.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub layout: BTreeMap<String, Placement>,
    /// A model with several diagrams (Microsoft TMT's diagram tabs, Threat Dragon's diagrams,
    /// pytm's levels) lists them here, each with its own positions, and leaves `layout` empty.
    /// An element can be drawn on several diagrams: it is one element, with one set of findings.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub diagrams: Vec<Diagram>,
}

/// One diagram of a model with several: a name and where each element it shows is drawn.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Diagram {
    /// The diagram's title (a TMT tab, a Threat Dragon diagram, `Level 1`).
    pub name: String,
    /// A pytm level: the diagram shows the elements on this level (their `levels` hold it),
    /// whether placed yet or not, as pytm's `--dfd --levels` draws them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub level: Option<u32>,
    /// Positions by element id: the elements placed on this diagram.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub layout: BTreeMap<String, Placement>,
}

impl Model {
    /// How many diagrams the model has (at least one).
    pub fn diagram_count(&self) -> usize {
        self.diagrams.len().max(1)
    }

    /// The name of diagram `d` (empty for the one diagram of a single-diagram model).
    pub fn diagram_name(&self, d: usize) -> &str {
        self.diagrams.get(d).map_or("", |x| x.name.as_str())
    }

    /// The diagram called `name` (names compare case-insensitively; `1`, `2`, ... number them).
    pub fn find_diagram(&self, name: &str) -> Option<usize> {
        let name = name.trim();
        (0..self.diagram_count())
            .find(|&d| self.diagram_name(d).eq_ignore_ascii_case(name))
            .or_else(|| name.parse::<usize>().ok().filter(|&n| n >= 1 && n <= self.diagram_count()).map(|n| n - 1))
    }

    /// The positions on diagram `d` (an empty map past the last diagram).
    pub fn layout_of(&self, d: usize) -> &BTreeMap<String, Placement> {
        static EMPTY: BTreeMap<String, Placement> = BTreeMap::new();
        if self.diagrams.is_empty() {
            return if d == 0 { &self.layout } else { &EMPTY };
        }
        self.diagrams.get(d).map_or(&EMPTY, |x| &x.layout)
    }

    /// The positions on diagram `d`, to change (the last diagram's past the end).
    pub fn layout_of_mut(&mut self, d: usize) -> &mut BTreeMap<String, Placement> {
        if self.diagrams.is_empty() {
            return &mut self.layout;
        }
        let d = d.min(self.diagrams.len() - 1);
        &mut self.diagrams[d].layout
    }

    /// Every diagram's positions, first to last.
    pub fn layouts(&self) -> impl Iterator<Item = &BTreeMap<String, Placement>> {
        (0..self.diagram_count()).map(|d| self.layout_of(d))
    }

    /// Forgets where `id` is drawn, on every diagram.
    pub fn unplace(&mut self, id: &str) {
        self.layout.remove(id);
        for d in &mut self.diagrams {
            d.layout.remove(id);
        }
    }

    /// Adds a diagram named `name` and returns its index. A single-diagram model first turns
    /// its one diagram into the list's first entry, named `first`.
    pub fn add_diagram(&mut self, first: &str, name: &str) -> usize {
        if self.diagrams.is_empty() {
            let layout = std::mem::take(&mut self.layout);
            self.diagrams.push(Diagram { name: first.to_owned(), level: None, layout });
        }
        self.diagrams.push(Diagram { name: name.to_owned(), level: None, layout: BTreeMap::new() });
        self.diagrams.len() - 1
    }

    /// Appends a diagram as another tool's file names it (`Diagram N` when it has no name;
    /// `name (2)` when the name is taken), with no positions yet; returns its index.
    pub fn push_diagram(&mut self, name: &str) -> usize {
        let n = self.diagrams.len() + 1;
        let name = if name.trim().is_empty() { format!("Diagram {n}") } else { name.trim().to_owned() };
        let taken = |x: &str| self.diagrams.iter().any(|d| d.name.eq_ignore_ascii_case(x));
        let name = if taken(&name) { (2..).map(|k| format!("{name} ({k})")).find(|x| !taken(x)).unwrap_or(name) } else { name };
        self.diagrams.push(Diagram { name, level: None, layout: BTreeMap::new() });
        self.diagrams.len() - 1
    }

    /// Removes diagram `d` (the elements stay in the model, and on the other diagrams they are
    /// drawn on). A model left with one unnamed diagram keeps it as `layout`.
    pub fn remove_diagram(&mut self, d: usize) {
        if d < self.diagrams.len() && self.diagrams.len() > 1 {
            self.diagrams.remove(d);
        }
        if self.diagrams.len() == 1 && self.diagrams[0].name.is_empty() && self.diagrams[0].level.is_none() {
            self.layout = std::mem::take(&mut self.diagrams[0].layout);
            self.diagrams.clear();
        }
    }

    /// Which elements diagram `d` shows, by element index. A single-diagram model shows
    /// everything. Otherwise a diagram shows the nodes and boundaries it places (and, for a
    /// level diagram, those on its level), and the flows between nodes it shows; anything no
    /// diagram shows (an element added from the command line, a flow whose ends share no
    /// diagram, with its ends) is shown on the first, so nothing is ever hidden.
    pub fn shown_on(&self, d: usize) -> Vec<bool> {
        if self.diagrams.is_empty() {
            return vec![d == 0; self.elements.len()];
        }
        let all = self.diagram_membership();
        all.into_iter().map(|ds| ds.contains(&d)).collect()
    }

    /// The index of element `id` (the last of that id, as the rule engine reads duplicates).
    pub fn index_of(&self, id: &str) -> Option<usize> {
        self.elements.iter().rposition(|e| e.id == id)
    }

    /// The diagrams each element is shown on, by element index (see [`Model::shown_on`]).
    pub fn diagram_membership(&self) -> Vec<BTreeSet<usize>> {
        let n = self.elements.len();
        if self.diagrams.is_empty() {
            return vec![BTreeSet::from([0]); n];
        }
        let index: HashMap<&str, usize> = self.elements.iter().enumerate().map(|(k, e)| (e.id.as_str(), k)).collect();
        let levels = |e: &Element| e.levels.clone().unwrap_or_else(|| vec![0]);
        let mut on: Vec<BTreeSet<usize>> = vec![BTreeSet::new(); n];
        for (k, e) in self.elements.iter().enumerate() {
            if e.kind == Kind::Dataflow {
                continue;
            }
            for (d, diagram) in self.diagrams.iter().enumerate() {
                if diagram.layout.contains_key(&e.id) || diagram.level.is_some_and(|l| levels(e).contains(&l)) {
                    on[k].insert(d);
                }
            }
        }
        // A level diagram draws the boundaries around what it shows (pytm draws every boundary).
        for k in 0..n {
            let levels: Vec<usize> = on[k].iter().copied().filter(|&d| self.diagrams[d].level.is_some()).collect();
            let mut at = self.elements[k].in_boundary.as_deref();
            let mut hops = 0;
            while let (Some(b), true) = (at.and_then(|b| index.get(b)).copied(), hops < n) {
                on[b].extend(levels.iter().copied());
                at = self.elements[b].in_boundary.as_deref();
                hops += 1;
            }
        }
        for (k, e) in self.elements.iter().enumerate() {
            if e.kind != Kind::Dataflow && on[k].is_empty() {
                on[k].insert(0);
            }
        }
        for (k, e) in self.elements.iter().enumerate() {
            if e.kind != Kind::Dataflow {
                continue;
            }
            let end = |x: &Option<String>| x.as_deref().and_then(|id| index.get(id)).copied();
            let (Some(s), Some(t)) = (end(&e.source), end(&e.sink)) else {
                on[k].insert(0);
                continue;
            };
            let shared: BTreeSet<usize> = on[s].intersection(&on[t]).copied().collect();
            if shared.is_empty() {
                on[k].insert(0);
                on[s].insert(0);
                on[t].insert(0);
            } else {
                on[k] = shared;
            }
        }
        on
    }
}

impl Model {
    /// An empty model with a name.
    pub fn new(name: impl Into<String>) -> Model {
        Model {
            format: FORMAT_VERSION,
            name: name.into(),
            description: String::new(),
            is_ordered: false,
            merge_responses: false,
            ignore_unused: false,
            on_duplicates: Action::NoAction,
            properties: BTreeMap::new(),
            rule_packs: Vec::new(),
            assumptions: Vec::new(),
            data: Vec::new(),
            elements: Vec::new(),
            decisions: BTreeMap::new(),
            artefacts: Vec::new(),
            tracker: None,
            layout: BTreeMap::new(),
            diagrams: Vec::new(),
        }
    }
}

impl Element {
    /// A new element of `kind` with every attribute unset.
    pub fn new(id: impl Into<String>, kind: Kind, name: impl Into<String>) -> Element {
        Element { id: id.into(), kind, name: name.into(), ..Element::default() }
    }

    /// A new dataflow from `source` to `sink` (element ids).
    pub fn flow(id: impl Into<String>, name: impl Into<String>, source: impl Into<String>, sink: impl Into<String>) -> Element {
        Element { source: Some(source.into()), sink: Some(sink.into()), ..Element::new(id, Kind::Dataflow, name) }
    }

    /// True if the element is in scope (the default).
    pub fn in_scope(&self) -> bool {
        self.in_scope.unwrap_or(true)
    }
}

/// An id made from `name` ([`slug`]) that `taken` does not report as used: the slug itself, or
/// the slug with `-2`, `-3`, ... appended.
pub fn unique_id(name: &str, taken: impl Fn(&str) -> bool) -> String {
    let base = slug(name);
    if !taken(&base) {
        return base;
    }
    (2..).map(|n| format!("{base}-{n}")).find(|id| !taken(id)).unwrap_or(base)
}

/// Text on one line, for tables and lists: runs of whitespace (the line breaks a name keeps
/// for diagrams) become one space.
pub fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Turns a name into an id: lower case ASCII letters and digits joined by single dashes.
pub fn slug(name: &str) -> String {
    let mut out = String::new();
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.is_empty() && !out.ends_with('-') {
            out.push('-');
        }
        if out.len() >= 48 {
            break;
        }
    }
    let trimmed = out.trim_end_matches('-');
    if trimmed.is_empty() { "element".to_owned() } else { trimmed.to_owned() }
}
