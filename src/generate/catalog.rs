//! What the synthetic clients are: the services, the APIs each calls and how much, and what the
//! APIs answer when a call fails. Limits, codes and messages follow Microsoft's documentation
//! and the responses real clients have logged (see the reference notes in the repository).

/// Which service answers a call; it decides the shape of the error body.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Backend {
    /// Defender for Endpoint: `{"error":{"code","message","target"}}`.
    #[default]
    Defender,
    /// Microsoft Graph: `error` with `innerError` and its `request-id`.
    Graph,
    /// Azure AD Graph: OData v3 `odata.error`.
    AzureAdGraph,
    /// Azure Resource Manager: `error` with a code and no id.
    ResourceManager,
    /// The token endpoint: `error` is a string beside `error_description`.
    Login,
}

impl Backend {
    pub fn host(self, defender_host: &'static str) -> &'static str {
        match self {
            Backend::Defender => defender_host,
            Backend::Graph => "graph.microsoft.com",
            Backend::AzureAdGraph => "graph.windows.net",
            Backend::ResourceManager => "management.azure.com",
            Backend::Login => "login.microsoftonline.com",
        }
    }
}

/// How a service writes its log.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Style {
    /// Serilog's compact JSON (`@t`, `@mt`, `@l`), a .NET service.
    #[default]
    Clef,
    /// zap-like JSON (`ts`, `level`, `msg`) with the response body as an escaped string, Go.
    Zap,
    /// Elastic Common Schema JSON with dotted names, Node.
    Ecs,
    /// logfmt pairs with the body as a quoted value, Go.
    Logfmt,
    /// Python's logging text, requests' exceptions and dict reprs.
    PythonLogging,
    /// A SOAR integration: `Error in API call [403] - Forbidden {...}`.
    Xsoar,
    /// PowerShell: `Invoke-RestMethod: {...}`, .NET WebException text, transcripts.
    PowerShell,
    /// NLog JSON of a .NET directory sync.
    NLog,
    /// python-json-logger records of an Azure SDK client.
    AzureSdk,
    /// Plain text lines: time, level, logger, call, status, body.
    TextLine,
}

/// What a call does, which decides the errors it can meet.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ApiKind {
    /// Reads one resource named in the path.
    #[default]
    Read,
    /// Reads a collection, often with an OData query.
    List,
    /// A machine action (isolate, scan, ...).
    Action,
    Update,
    Indicators,
    Hunting,
    Token,
}

/// One API as a client calls it.
#[derive(Debug, Clone, Copy, Default)]
pub struct Api {
    pub backend: Backend,
    pub method: &'static str,
    /// The path; `{machine}`, `{guid}`, `{alert}`, `{number}`, `{tenant}` and `{subscription}`
    /// stand for ids.
    pub path: &'static str,
    /// The path as `errwatch classify` reports it in `api`: every id is `{id}`.
    pub template: &'static str,
    /// The query string with its `?`, or nothing.
    pub query: &'static str,
    pub kind: ApiKind,
    /// The application role the call needs, named in 403 messages.
    pub role: &'static str,
    /// What a 404 says was not found.
    pub resource: &'static str,
    /// Documented throttling limits, per tenant.
    pub per_minute: u32,
    pub per_hour: u32,
}

const fn defender(
    method: &'static str,
    path: &'static str,
    template: &'static str,
    kind: ApiKind,
    role: &'static str,
    resource: &'static str,
) -> Api {
    // Most Defender APIs document 100 calls a minute and 1,500 an hour.
    Api {
        backend: Backend::Defender,
        method,
        path,
        template,
        query: "",
        kind,
        role,
        resource,
        per_minute: 100,
        per_hour: 1500,
    }
}

const fn graph(method: &'static str, path: &'static str, template: &'static str, role: &'static str) -> Api {
    Api {
        backend: Backend::Graph,
        method,
        path,
        template,
        query: "",
        kind: ApiKind::Read,
        role,
        resource: "Incident",
        per_minute: 50,
        per_hour: 1500,
    }
}

const fn with_query(api: Api, query: &'static str) -> Api {
    Api { query, ..api }
}

const fn with_limits(api: Api, per_minute: u32, per_hour: u32) -> Api {
    Api { per_minute, per_hour, ..api }
}

pub const TOKEN: Api = Api {
    backend: Backend::Login,
    method: "POST",
    path: "/{tenant}/oauth2/v2.0/token",
    template: "/{id}/oauth2/v2.0/token",
    query: "",
    kind: ApiKind::Token,
    role: "",
    resource: "",
    per_minute: 0,
    per_hour: 0,
};

pub const MACHINES: Api = with_query(
    defender("GET", "/api/machines", "/api/machines", ApiKind::List, "Machine.Read.All", "Machine"),
    "?$filter=healthStatus+eq+%27Active%27",
);
pub const MACHINE: Api =
    defender("GET", "/api/machines/{machine}", "/api/machines/{id}", ApiKind::Read, "Machine.Read.All", "Machine");
pub const MACHINE_SOFTWARE: Api = defender(
    "GET",
    "/api/machines/{machine}/software",
    "/api/machines/{id}/software",
    ApiKind::Read,
    "Software.Read.All",
    "Machine",
);
pub const MACHINE_VULNERABILITIES: Api = defender(
    "GET",
    "/api/machines/{machine}/vulnerabilities",
    "/api/machines/{id}/vulnerabilities",
    ApiKind::Read,
    "Vulnerability.Read.All",
    "Machine",
);
pub const MACHINE_LOGON_USERS: Api = defender(
    "GET",
    "/api/machines/{machine}/logonusers",
    "/api/machines/{id}/logonusers",
    ApiKind::Read,
    "User.Read.All",
    "Machine",
);
pub const ISOLATE: Api = defender(
    "POST",
    "/api/machines/{machine}/isolate",
    "/api/machines/{id}/isolate",
    ApiKind::Action,
    "Machine.Isolate",
    "Machine",
);
pub const UNISOLATE: Api = defender(
    "POST",
    "/api/machines/{machine}/unisolate",
    "/api/machines/{id}/unisolate",
    ApiKind::Action,
    "Machine.Isolate",
    "Machine",
);
pub const ANTIVIRUS_SCAN: Api = defender(
    "POST",
    "/api/machines/{machine}/runAntiVirusScan",
    "/api/machines/{id}/runAntiVirusScan",
    ApiKind::Action,
    "Machine.Scan",
    "Machine",
);
pub const INVESTIGATION_PACKAGE: Api = defender(
    "POST",
    "/api/machines/{machine}/collectInvestigationPackage",
    "/api/machines/{id}/collectInvestigationPackage",
    ApiKind::Action,
    "Machine.CollectForensics",
    "Machine",
);
pub const RESTRICT_CODE_EXECUTION: Api = defender(
    "POST",
    "/api/machines/{machine}/restrictCodeExecution",
    "/api/machines/{id}/restrictCodeExecution",
    ApiKind::Action,
    "Machine.RestrictExecution",
    "Machine",
);
pub const MACHINE_ACTION: Api = defender(
    "GET",
    "/api/machineactions/{guid}",
    "/api/machineactions/{id}",
    ApiKind::Read,
    "Machine.Read.All",
    "Machine action",
);
pub const ALERTS: Api = with_query(
    defender("GET", "/api/alerts", "/api/alerts", ApiKind::List, "Alert.Read.All", "Alert"),
    "?$top=10000&$expand=evidence",
);
pub const ALERT: Api =
    defender("GET", "/api/alerts/{alert}", "/api/alerts/{id}", ApiKind::Read, "Alert.Read.All", "Alert");
pub const ALERT_UPDATE: Api =
    defender("PATCH", "/api/alerts/{alert}", "/api/alerts/{id}", ApiKind::Update, "Alert.ReadWrite.All", "Alert");
pub const ALERTS_BATCH_UPDATE: Api = with_limits(
    defender(
        "POST",
        "/api/alerts/batchUpdate",
        "/api/alerts/batchUpdate",
        ApiKind::Update,
        "Alert.ReadWrite.All",
        "Alert",
    ),
    10,
    500,
);
pub const ADVANCED_QUERIES: Api = with_limits(
    defender(
        "POST",
        "/api/advancedqueries/run",
        "/api/advancedqueries/run",
        ApiKind::Hunting,
        "AdvancedQuery.Read.All",
        "Query",
    ),
    45,
    1500,
);
pub const INDICATORS: Api =
    defender("GET", "/api/indicators", "/api/indicators", ApiKind::List, "Ti.Read.All", "Indicator");
pub const INDICATORS_IMPORT: Api = with_limits(
    defender(
        "POST",
        "/api/indicators/import",
        "/api/indicators/import",
        ApiKind::Indicators,
        "Ti.ReadWrite.All",
        "Indicator",
    ),
    30,
    1500,
);
pub const INDICATOR_DELETE: Api = defender(
    "DELETE",
    "/api/indicators/{number}",
    "/api/indicators/{id}",
    ApiKind::Update,
    "Ti.ReadWrite.All",
    "Indicator",
);
pub const VULNERABILITIES: Api = defender(
    "GET",
    "/api/vulnerabilities",
    "/api/vulnerabilities",
    ApiKind::List,
    "Vulnerability.Read.All",
    "Vulnerability",
);
pub const RECOMMENDATIONS: Api = defender(
    "GET",
    "/api/recommendations",
    "/api/recommendations",
    ApiKind::List,
    "SecurityRecommendation.Read.All",
    "Recommendation",
);
pub const EXPOSURE_SCORE: Api =
    defender("GET", "/api/exposureScore", "/api/exposureScore", ApiKind::List, "Score.Read.All", "Score");
pub const SOFTWARE: Api =
    defender("GET", "/api/Software", "/api/Software", ApiKind::List, "Software.Read.All", "Software");
pub const VULNERABILITIES_BY_MACHINE: Api = with_limits(
    defender(
        "GET",
        "/api/machines/SoftwareVulnerabilitiesByMachine",
        "/api/machines/SoftwareVulnerabilitiesByMachine",
        ApiKind::List,
        "Vulnerability.Read.All",
        "Export",
    ),
    30,
    1000,
);
pub const INCIDENTS: Api = with_query(
    graph("GET", "/v1.0/security/incidents", "/v1.0/security/incidents", "SecurityIncident.Read.All"),
    "?$top=50&$expand=alerts",
);
pub const INCIDENT: Api =
    graph("GET", "/v1.0/security/incidents/{number}", "/v1.0/security/incidents/{id}", "SecurityIncident.Read.All");
pub const GRAPH_ALERTS: Api =
    graph("GET", "/v1.0/security/alerts_v2", "/v1.0/security/alerts_v2", "SecurityAlert.Read.All");
pub const GRAPH_ALERT_UPDATE: Api = Api {
    kind: ApiKind::Update,
    ..graph("PATCH", "/v1.0/security/alerts_v2/{alert}", "/v1.0/security/alerts_v2/{id}", "SecurityAlert.ReadWrite.All")
};
pub const HUNTING_QUERY: Api = Api {
    kind: ApiKind::Hunting,
    ..graph("POST", "/v1.0/security/runHuntingQuery", "/v1.0/security/runHuntingQuery", "ThreatHunting.Read.All")
};
pub const DIRECTORY_USERS: Api = Api {
    backend: Backend::AzureAdGraph,
    method: "GET",
    path: "/{tenant}/users",
    template: "/{id}/users",
    query: "?api-version=1.6&$top=999",
    kind: ApiKind::Read,
    role: "Directory.Read.All",
    resource: "User",
    per_minute: 100,
    per_hour: 1500,
};
pub const DIRECTORY_GROUPS: Api =
    Api { path: "/{tenant}/groups", template: "/{id}/groups", resource: "Group", ..DIRECTORY_USERS };
pub const ASSESSMENTS: Api = Api {
    backend: Backend::ResourceManager,
    method: "GET",
    path: "/subscriptions/{subscription}/providers/Microsoft.Security/assessments",
    template: "/subscriptions/{id}/providers/Microsoft.Security/assessments",
    query: "?api-version=2021-06-01",
    kind: ApiKind::Read,
    role: "Microsoft.Security/assessments/read",
    resource: "Assessment",
    per_minute: 200,
    per_hour: 12000,
};
pub const SECURITY_ALERTS: Api = Api {
    path: "/subscriptions/{subscription}/providers/Microsoft.Security/alerts",
    template: "/subscriptions/{id}/providers/Microsoft.Security/alerts",
    query: "?api-version=2022-01-01",
    role: "Microsoft.Security/alerts/read",
    resource: "Alert",
    ..ASSESSMENTS
};

/// One client application.
#[derive(Debug, Clone, Copy, Default)]
pub struct Service {
    pub name: &'static str,
    pub style: Style,
    /// The Defender API host it was configured with (current, legacy or regional).
    pub defender_host: &'static str,
    /// The APIs it calls, with how often.
    pub apis: &'static [(u32, Api)],
    /// How many of its records, relatively, the whole traffic holds.
    pub weight: u32,
    /// Its log lines that are not about a call.
    pub ordinary: &'static [&'static str],
    /// In a throttle storm: the API this client hammers and how many calls a second it makes,
    /// ignoring Retry-After.
    pub storm: Option<(Api, f64)>,
    /// In a token expiry: whether its client secret is the one that expired.
    pub secret_expires: bool,
    /// In a permission change: whether its application lost roles.
    pub loses_roles: bool,
}

pub const SERVICES: &[Service] = &[
    Service {
        name: "mde-sync",
        style: Style::Clef,
        defender_host: "api.security.microsoft.com",
        apis: &[
            (10, MACHINES),
            (30, MACHINE),
            (15, MACHINE_SOFTWARE),
            (15, MACHINE_VULNERABILITIES),
            (10, MACHINE_LOGON_USERS),
            (5, MACHINE_ACTION),
            (2, TOKEN),
        ],
        weight: 18,
        ordinary: &[
            "Synced {n} machines in {ms} ms",
            "Machine sync cycle started",
            "Skipped {n} machines not seen for 30 days",
            "Inventory snapshot written with {n} machines",
        ],
        storm: None,
        secret_expires: true,
        loses_roles: false,
    },
    Service {
        name: "alert-poller",
        style: Style::Zap,
        defender_host: "api.securitycenter.microsoft.com",
        apis: &[(40, ALERTS), (30, ALERT), (15, ALERT_UPDATE), (5, ALERTS_BATCH_UPDATE), (2, TOKEN)],
        weight: 16,
        ordinary: &[
            "poll cycle finished",
            "fetched {n} alerts in {ms} ms",
            "forwarded {n} alerts to the ticketing queue",
            "checkpoint saved",
        ],
        storm: Some((ALERTS, 8.0)),
        secret_expires: true,
        loses_roles: false,
    },
    Service {
        name: "vuln-report",
        style: Style::Ecs,
        defender_host: "eu.api.security.microsoft.com",
        apis: &[
            (25, VULNERABILITIES),
            (20, RECOMMENDATIONS),
            (10, EXPOSURE_SCORE),
            (20, SOFTWARE),
            (20, VULNERABILITIES_BY_MACHINE),
            (2, TOKEN),
        ],
        weight: 10,
        ordinary: &[
            "report build started",
            "collected {n} vulnerabilities in {ms} ms",
            "report uploaded to the share",
            "exposure trend updated for {n} device groups",
        ],
        storm: None,
        secret_expires: true,
        loses_roles: false,
    },
    Service {
        name: "incident-bridge",
        style: Style::Logfmt,
        defender_host: "api.security.microsoft.com",
        apis: &[
            (30, INCIDENTS),
            (25, INCIDENT),
            (25, GRAPH_ALERTS),
            (10, GRAPH_ALERT_UPDATE),
            (8, HUNTING_QUERY),
            (2, TOKEN),
        ],
        weight: 10,
        ordinary: &[
            "synced {n} incidents",
            "incident queue drained",
            "mapped {n} alerts to tickets in {ms} ms",
            "webhook delivered",
        ],
        storm: None,
        secret_expires: false,
        loses_roles: true,
    },
    Service {
        name: "hunting-jobs",
        style: Style::PythonLogging,
        defender_host: "api.security.microsoft.com",
        apis: &[(90, ADVANCED_QUERIES), (3, TOKEN)],
        weight: 10,
        ordinary: &[
            "query LateralMovement_daily returned {n} rows in {ms} ms",
            "scheduled {n} hunting queries for the next hour",
            "results written to blob storage",
            "query SuspiciousPowerShell_hourly returned no rows",
        ],
        storm: Some((ADVANCED_QUERIES, 5.0)),
        secret_expires: false,
        loses_roles: false,
    },
    Service {
        name: "soar-responder",
        style: Style::Xsoar,
        defender_host: "api.securitycenter.microsoft.com",
        apis: &[
            (25, ISOLATE),
            (10, UNISOLATE),
            (15, ANTIVIRUS_SCAN),
            (10, INVESTIGATION_PACKAGE),
            (5, RESTRICT_CODE_EXECUTION),
            (30, MACHINE_ACTION),
            (3, TOKEN),
        ],
        weight: 10,
        ordinary: &[
            "playbook Isolate-Compromised-Host started for incident {n}",
            "machine action still pending, next check in 30 s",
            "playbook finished in {ms} ms",
            "enrichment added {n} indicators to the incident",
        ],
        storm: None,
        secret_expires: false,
        loses_roles: true,
    },
    Service {
        name: "indicator-import",
        style: Style::PowerShell,
        defender_host: "api.securitycenter.microsoft.com",
        apis: &[(40, INDICATORS_IMPORT), (30, INDICATORS), (25, INDICATOR_DELETE), (3, TOKEN)],
        weight: 8,
        ordinary: &[
            "Imported {n} indicators",
            "Reading threat feed from the share",
            "Removed {n} expired indicators",
            "Import finished in {ms} ms",
        ],
        storm: None,
        secret_expires: false,
        loses_roles: true,
    },
    Service {
        name: "directory-sync",
        style: Style::NLog,
        defender_host: "api.security.microsoft.com",
        apis: &[(60, DIRECTORY_USERS), (35, DIRECTORY_GROUPS), (3, TOKEN)],
        weight: 6,
        ordinary: &[
            "delta sync finished with {n} changes",
            "owner map refreshed for {n} devices",
            "delta link stored",
            "sync took {ms} ms",
        ],
        storm: None,
        secret_expires: false,
        loses_roles: true,
    },
    Service {
        name: "asset-inventory",
        style: Style::AzureSdk,
        defender_host: "api.security.microsoft.com",
        apis: &[(55, ASSESSMENTS), (40, SECURITY_ALERTS), (3, TOKEN)],
        weight: 6,
        ordinary: &[
            "inventory refreshed with {n} assessments",
            "subscription scan started",
            "unhealthy assessments exported in {ms} ms",
            "cache warmed",
        ],
        storm: None,
        secret_expires: false,
        loses_roles: true,
    },
    Service {
        name: "edr-console",
        style: Style::TextLine,
        defender_host: "api.securitycenter.microsoft.com",
        apis: &[(20, ALERTS), (30, MACHINE), (10, MACHINES), (5, ISOLATE), (10, ADVANCED_QUERIES), (2, TOKEN)],
        weight: 6,
        ordinary: &[
            "fetched {n} alerts in {ms} ms",
            "session refreshed for the console",
            "dashboard tiles recomputed",
            "cached {n} machine timelines",
        ],
        storm: None,
        secret_expires: true,
        loses_roles: false,
    },
];

/// An error answer as an API writes it.
#[derive(Debug, Clone, Copy, Default)]
pub struct ErrorTemplate {
    /// The code as the API writes it.
    pub raw_code: &'static str,
    /// The code `errwatch classify` reports for it: Defender's table spelling for known codes
    /// and aliases, else as written.
    pub code: &'static str,
    /// Whether the body alone tells the status (a table code, a throttled inner code, the token
    /// endpoint's rule), so that a record without a status still gets the right one.
    pub implies_status: bool,
    /// Graph's inner code, when it carries one.
    pub inner_code: &'static str,
    /// The token endpoint's numeric error code.
    pub aad_code: u32,
    /// The message; `{role}`, `{resource}`, `{id}`, `{limit}`, `{window}`, `{received}`,
    /// `{guid}`, `{tenant}` and `{action}` are filled in.
    pub message: &'static str,
}

const fn known(code: &'static str, message: &'static str) -> ErrorTemplate {
    ErrorTemplate { raw_code: code, code, implies_status: true, inner_code: "", aad_code: 0, message }
}

const fn alias(raw_code: &'static str, code: &'static str, message: &'static str) -> ErrorTemplate {
    ErrorTemplate { raw_code, code, implies_status: true, inner_code: "", aad_code: 0, message }
}

/// A code outside Defender's table: only a status written beside it gives the status.
const fn other(code: &'static str, message: &'static str) -> ErrorTemplate {
    ErrorTemplate { raw_code: code, code, implies_status: false, inner_code: "", aad_code: 0, message }
}

const fn token(error: &'static str, aad_code: u32, message: &'static str) -> ErrorTemplate {
    ErrorTemplate { raw_code: error, code: error, implies_status: true, inner_code: "", aad_code, message }
}

type Templates = &'static [(u32, ErrorTemplate)];

const QUOTA_MESSAGE: &str = "API calls quota exceeded! maximum allowed {limit} per {window}";

/// What a backend answers with `status` to an API of `kind`. Empty: the gateway answered
/// without a body.
pub fn templates(backend: Backend, kind: ApiKind, status: u16) -> Templates {
    match backend {
        Backend::Defender => defender_templates(kind, status),
        Backend::Graph => graph_templates(status),
        Backend::AzureAdGraph => azure_ad_graph_templates(status),
        Backend::ResourceManager => resource_manager_templates(status),
        Backend::Login => login_templates(status),
    }
}

fn defender_templates(kind: ApiKind, status: u16) -> Templates {
    const DEFENDER_400_ACTION: Templates = &[
        (6, known("ActiveRequestAlreadyExists", "Action is already in progress")),
        (3, known("MissingRequiredParameter", "Parameter Comment is missing.")),
        (2, known("InvalidRequestBody", "Request body is incorrect")),
        (2, known("OsPlatformNotSupported", "OS Platform Linux is not supported for this action.")),
        (1, known("ClientVersionNotSupported", "{action} is supported on client version 10.0.17763 and above.")),
    ];
    const DEFENDER_400_INDICATORS: Templates = &[
        (4, known("MaximumBatchSizeExceeded", "Maximum batch size exceeded. Received: {received}, allowed: 500.")),
        // A client that logs codes through the machine-translated table.
        (
            1,
            alias(
                "MaximumBatchSizeExceededed",
                "MaximumBatchSizeExceeded",
                "Maximum batch size exceeded. Received: {received}, allowed: 500.",
            ),
        ),
        (3, known("InvalidHashValue", "Hash value {hash} is invalid.")),
        (2, known("InvalidDomainName", "Domain name contoso..com is invalid.")),
        (2, known("InvalidIpAddress", "IP address 10.20.300.4 is invalid.")),
        (2, known("InvalidUrl", "URL http//contoso.com/payload is invalid.")),
        (2, known("InvalidRequestBody", "Request body is incorrect")),
    ];
    const DEFENDER_400_HUNTING: Templates = &[
        (
            5,
            known(
                "BadRequest",
                concat!(
                    "Query execution has exceeded the allowed result size. ",
                    "Optimize your query by limiting the number of results and try again"
                ),
            ),
        ),
        (3, known("BadRequest", "Syntax error: the query could not be parsed at line 3")),
        (2, known("InvalidInput", "Invalid input Timeout")),
    ];
    const DEFENDER_400_UPDATE: Templates = &[
        (5, known("InvalidRequestBody", "Request body is incorrect")),
        (2, known("InvalidInput", "Invalid input classification: TruePositiv")),
    ];
    const DEFENDER_400_LIST: Templates = &[
        (5, known("ODataError", "Invalid ODataQuery: the property lastSeenTime in $filter is not supported")),
        (3, known("BadRequest", "General Bad Request error message.")),
    ];
    const DEFENDER_400: Templates = &[
        (5, known("InvalidInput", "Invalid input {id}")),
        (3, known("BadRequest", "General Bad Request error message.")),
    ];
    const DEFENDER_401: Templates = &[
        (60, known("Unauthorized", "Unauthorized (invalid or expired authorization header).")),
        (15, known("Unauthorized", "Unauthorized request - reason of failure: Account mode is inactive")),
        (1, alias("Obehörig", "Unauthorized", "Obehörig (ogiltig eller utgången auktoriseringsrubrik).")),
    ];
    const DEFENDER_403_ACTION: Templates = &[
        (30, known("Forbidden", "Missing application roles. API required roles: {role}, application roles")),
        (
            20,
            known(
                "Forbidden",
                concat!(
                    "The application does not have any of the required application permissions ({role}) ",
                    "to access the resource."
                ),
            ),
        ),
        (15, known("DisallowedOperation", "{action} is not allowed on this machine by its device group")),
        (5, known("DisabledFeature", "Tenant feature is not enabled.")),
        (
            1,
            alias(
                "OtillåtenOperation",
                "DisallowedOperation",
                "{action} is not allowed on this machine by its device group",
            ),
        ),
    ];
    const DEFENDER_403: Templates = &[
        (40, known("Forbidden", "Missing application roles. API required roles: {role}, application roles")),
        (
            25,
            known(
                "Forbidden",
                concat!(
                    "The application does not have any of the required application permissions ({role}) ",
                    "to access the resource."
                ),
            ),
        ),
        (10, known("DisabledFeature", "Tenant feature is not enabled.")),
        (1, alias("Förbjudet", "Forbidden", "Förbjudet (giltig token men otillräcklig behörighet för åtgärden).")),
    ];
    const DEFENDER_404: Templates = &[
        (70, known("ResourceNotFound", "{resource} {id} was not found")),
        (20, known("NotFound", "General Not Found error message.")),
    ];
    // A collection answers 404 when it has nothing recent to list.
    const DEFENDER_404_COLLECTION: Templates = &[(1, known("NotFound", "General Not Found error message."))];
    const DEFENDER_429: Templates = &[
        (60, alias("429", "TooManyRequests", QUOTA_MESSAGE)),
        (
            40,
            known(
                "TooManyRequests",
                "Response represents reaching quota limit either by number of requests or by CPU.",
            ),
        ),
    ];
    const DEFENDER_500: Templates = &[
        (70, known("InternalServerError", "")),
        (30, known("InternalServerError", "An unexpected error occurred. Retry the operation.")),
    ];
    const DEFENDER_OTHER: Templates = &[];
    match (status, kind) {
        (400, ApiKind::Action) => DEFENDER_400_ACTION,
        (400, ApiKind::Indicators) => DEFENDER_400_INDICATORS,
        (400, ApiKind::Hunting) => DEFENDER_400_HUNTING,
        (400, ApiKind::Update) => DEFENDER_400_UPDATE,
        (400, ApiKind::List) => DEFENDER_400_LIST,
        (400, _) => DEFENDER_400,
        (401, _) => DEFENDER_401,
        (403, ApiKind::Action) => DEFENDER_403_ACTION,
        (403, _) => DEFENDER_403,
        (404, ApiKind::Read | ApiKind::Action | ApiKind::Update) => DEFENDER_404,
        (404, _) => DEFENDER_404_COLLECTION,
        (429, _) => DEFENDER_429,
        (500, _) => DEFENDER_500,
        _ => DEFENDER_OTHER,
    }
}

fn graph_templates(status: u16) -> Templates {
    const GRAPH_400: Templates = &[
        (5, known("BadRequest", "Invalid filter clause: the property severity cannot be used in a filter")),
        (3, other("invalidRequest", "The request is malformed or incorrect.")),
    ];
    const GRAPH_401: Templates = &[
        (7, other("InvalidAuthenticationToken", "Access token has expired or is not yet valid.")),
        (3, known("Unauthorized", "Required authentication information is either missing or not valid.")),
    ];
    const GRAPH_403: Templates = &[
        (
            6,
            known(
                "Forbidden",
                "Missing role permissions on the request. API requires one of {role}. Roles on the request: none.",
            ),
        ),
        (4, other("accessDenied", "Insufficient privileges to complete the operation.")),
    ];
    const GRAPH_404: Templates = &[
        (6, known("NotFound", "Resource not found for the segment incidents.")),
        (4, other("itemNotFound", "The requested resource does not exist.")),
    ];
    const GRAPH_429: Templates = &[
        (
            7,
            ErrorTemplate {
                raw_code: "TooManyRequests",
                code: "TooManyRequests",
                implies_status: true,
                inner_code: "429",
                aad_code: 0,
                message: "Please retry again later.",
            },
        ),
        (
            3,
            ErrorTemplate {
                raw_code: "accessDenied",
                code: "accessDenied",
                // Graph's throttled inner code means 429 whatever the outer code says.
                implies_status: true,
                inner_code: "throttledRequest",
                aad_code: 0,
                message: "Too Many Requests",
            },
        ),
    ];
    const GRAPH_500: Templates = &[(1, other("generalException", "General exception while processing."))];
    const GRAPH_503: Templates =
        &[(1, other("serviceNotAvailable", "The service is temporarily unavailable. Please try again later."))];
    const GRAPH_OTHER: Templates = &[];
    match status {
        400 => GRAPH_400,
        401 => GRAPH_401,
        403 => GRAPH_403,
        404 => GRAPH_404,
        429 => GRAPH_429,
        500 => GRAPH_500,
        503 => GRAPH_503,
        _ => GRAPH_OTHER,
    }
}

fn azure_ad_graph_templates(status: u16) -> Templates {
    const AZURE_AD_GRAPH_400: Templates =
        &[(1, other("Request_BadRequest", "Invalid value specified for property mailNickname of resource Group."))];
    const AZURE_AD_GRAPH_401: Templates = &[(
        1,
        other(
            "Authentication_ExpiredToken",
            "Your access token has expired. Please renew it before submitting the request.",
        ),
    )];
    const AZURE_AD_GRAPH_403: Templates =
        &[(1, other("Authorization_RequestDenied", "Insufficient privileges to complete the operation."))];
    const AZURE_AD_GRAPH_404: Templates = &[(
        1,
        other(
            "Request_ResourceNotFound",
            "Resource {guid} does not exist or one of its queried reference-property objects are not present.",
        ),
    )];
    const AZURE_AD_GRAPH_429: Templates =
        &[(1, other("Request_ThrottledTemporarily", "Your request is throttled temporarily. Please try again later."))];
    const AZURE_AD_GRAPH_500: Templates =
        &[(1, other("Service_InternalServerError", "Encountered an internal server error."))];
    const AZURE_AD_GRAPH_OTHER: Templates = &[];
    match status {
        400 => AZURE_AD_GRAPH_400,
        401 => AZURE_AD_GRAPH_401,
        403 => AZURE_AD_GRAPH_403,
        404 => AZURE_AD_GRAPH_404,
        429 => AZURE_AD_GRAPH_429,
        500 => AZURE_AD_GRAPH_500,
        _ => AZURE_AD_GRAPH_OTHER,
    }
}

fn resource_manager_templates(status: u16) -> Templates {
    const RESOURCE_MANAGER_400: Templates =
        &[(1, other("InvalidApiVersionParameter", "The api-version 2019-01-01 is invalid for this resource type."))];
    const RESOURCE_MANAGER_401: Templates = &[(
        1,
        other("ExpiredAuthenticationToken", "The access token expiry UTC time is earlier than current UTC time."),
    )];
    const RESOURCE_MANAGER_403: Templates = &[(
        1,
        other(
            "AuthorizationFailed",
            concat!(
                "The client '{guid}' with object id '{guid}' does not have authorization to perform action '{role}' ",
                "over scope '/subscriptions/{subscription}' or the scope is invalid. ",
                "If access was recently granted, please refresh your credentials."
            ),
        ),
    )];
    const RESOURCE_MANAGER_404: Templates =
        &[(1, other("SubscriptionNotFound", "The subscription '{subscription}' could not be found."))];
    const RESOURCE_MANAGER_429: Templates = &[(
        1,
        other(
            "SubscriptionRequestsThrottled",
            concat!(
                "Number of 'read' requests for subscription '{subscription}' exceeded. ",
                "Please try again after the delay in the Retry-After header."
            ),
        ),
    )];
    const RESOURCE_MANAGER_500: Templates = &[(1, known("InternalServerError", "Encountered internal server error."))];
    const RESOURCE_MANAGER_OTHER: Templates = &[];
    match status {
        400 => RESOURCE_MANAGER_400,
        401 => RESOURCE_MANAGER_401,
        403 => RESOURCE_MANAGER_403,
        404 => RESOURCE_MANAGER_404,
        429 => RESOURCE_MANAGER_429,
        500 => RESOURCE_MANAGER_500,
        _ => RESOURCE_MANAGER_OTHER,
    }
}

fn login_templates(status: u16) -> Templates {
    const LOGIN_401: Templates = &[
        (
            6,
            token(
                "invalid_client",
                7_000_222,
                concat!(
                    "AADSTS7000222: The provided client secret keys for app '{guid}' are expired. ",
                    "Visit the Azure portal to create new keys for your app."
                ),
            ),
        ),
        (
            4,
            token(
                "invalid_client",
                7_000_215,
                concat!(
                    "AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the request is ",
                    "the client secret value, not the client secret ID, for a secret added to app '{guid}'."
                ),
            ),
        ),
    ];
    const LOGIN_OTHER: Templates = &[
        (
            5,
            token(
                "invalid_grant",
                700_082,
                concat!(
                    "AADSTS700082: The refresh token has expired due to inactivity. ",
                    "The token was issued on 2026-08-01T09:12:44Z and was inactive for 90.00:00:00."
                ),
            ),
        ),
        (
            3,
            token(
                "invalid_scope",
                70_011,
                concat!(
                    "AADSTS70011: The provided value for the input parameter scope is not valid. ",
                    "The scope https://api.securitycenter.microsoft.com/.defaultx is not valid."
                ),
            ),
        ),
        (
            2,
            token(
                "unauthorized_client",
                700_016,
                "AADSTS700016: Application with identifier '{guid}' was not found in the directory '{tenant}'.",
            ),
        ),
    ];
    match status {
        401 => LOGIN_401,
        _ => LOGIN_OTHER,
    }
}

/// The standard reason phrase clients print beside a status.
pub fn reason_phrase(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        204 => "No Content",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Error",
    }
}
