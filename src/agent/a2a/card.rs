//! The agent card: where to fetch it, and what it says about how to talk to the agent.

use serde_json::Value;

use super::dialect::Dialect;
use crate::agent::transport::{Accept, ContentType, Request, Transport, same_origin};
use crate::agent::{AgentError, AgentInfo};
use crate::http::one_line;
use crate::redact::redact_url;

/// The 0.3 / 1.0 card path.
pub(crate) const CARD_PATH: &str = "/.well-known/agent-card.json";
/// The 0.2 card path, tried when [`CARD_PATH`] answers 404.
pub(crate) const LEGACY_CARD_PATH: &str = "/.well-known/agent.json";

/// How to talk to one A2A agent, learned from its card.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Target {
    pub(crate) card: Value,
    pub(crate) dialect: Dialect,
    /// The JSON-RPC endpoint.
    pub(crate) rpc_url: String,
    /// Where the card came from.
    pub(crate) card_url: String,
    pub(crate) streaming: bool,
    /// For a 1.0 target: where to speak 0.3 instead if the agent refuses 1.0 calls.
    pub(crate) fallback: Option<Fallback>,
}

/// The 0.x interface to use when a card's 1.0 interface turns out not to speak 1.0: the
/// card's own 0.x JSON-RPC interface when it lists one, else the 1.0 URL in dialect 0.3.
///
/// Seen in the wild: a proxy that drops the `A2A-Version` header makes an a2a-sdk 1.x agent
/// answer `SendMessage` with -32009, and a 0.2.x server behind a card that claims 1.0
/// answers -32600 (a2a-sdk 0.2.10) or -32601; both still answer `message/send`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Fallback {
    pub(crate) dialect: Dialect,
    pub(crate) rpc_url: String,
}

/// The dialect and URL of one call.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Route<'a> {
    pub(crate) dialect: Dialect,
    pub(crate) rpc_url: &'a str,
}

impl Target {
    /// The card's choice, or its [`Fallback`] once the agent has refused the card's choice.
    pub(crate) fn route(&self, fallen_back: bool) -> Route<'_> {
        match &self.fallback {
            Some(fallback) if fallen_back => {
                Route { dialect: fallback.dialect, rpc_url: &fallback.rpc_url }
            }
            _ => Route { dialect: self.dialect, rpc_url: &self.rpc_url },
        }
    }

    /// Whether messages go to another server than the one that served the card.
    pub(crate) fn rpc_elsewhere(&self) -> bool {
        let origin = |url: &str| reqwest::Url::parse(url).ok().map(|u| u.origin());
        origin(&self.rpc_url) != origin(&self.card_url)
    }

    pub(crate) fn info(&self) -> AgentInfo {
        AgentInfo {
            name: self.card.get("name").and_then(Value::as_str).map(str::to_owned),
            protocol_version: Some(self.dialect.label().to_owned()),
            streaming: self.streaming,
            card: Some(self.card.clone()),
        }
    }
}

/// Fetches the card (`agent-card.json`, then `agent.json` on 404) and picks an interface.
pub(crate) async fn discover(transport: &Transport) -> Result<Target, AgentError> {
    let base = transport.endpoint.url.trim_end_matches('/').to_owned();
    let (card, card_url) = fetch(transport, &base).await?;
    let target =
        select(&card, &card_url, &service_base(&base)).map_err(|detail| AgentError::Protocol {
            url: redact_url(&card_url),
            detail: format!("unusable agent card: {detail}"),
        })?;
    check_origins(&target, &base, &transport.options.allowed_origins)?;
    Ok(target)
}

/// Refuses a card that sends messages — and with them the credentials — to another origin
/// than the agent URL the user gave, unless `--allow-card-origin` names that origin.
fn check_origins(target: &Target, base: &str, allowed: &[String]) -> Result<(), AgentError> {
    let Ok(own) = reqwest::Url::parse(base) else { return Ok(()) };
    let allowed: Vec<reqwest::Url> =
        allowed.iter().filter_map(|origin| reqwest::Url::parse(origin.trim()).ok()).collect();
    let urls = std::iter::once(&target.rpc_url).chain(target.fallback.iter().map(|f| &f.rpc_url));
    for url in urls {
        let Ok(parsed) = reqwest::Url::parse(url) else { continue };
        if same_origin(&parsed, &own) || allowed.iter().any(|a| same_origin(&parsed, a)) {
            continue;
        }
        let origin = parsed.origin().ascii_serialization();
        return Err(AgentError::Protocol {
            url: redact_url(&target.card_url),
            detail: format!(
                "the agent card sends messages to {}, another origin than {}; refused so that \
                 the messages and credentials stay with the agent you named. If that server is \
                 yours, pass --allow-card-origin {origin} (or use it as the --agent URL)",
                redact_url(url),
                own.origin().ascii_serialization()
            ),
        });
    }
    Ok(())
}

/// The URL the agent is served at: the endpoint URL, or the part before `/.well-known/`
/// when the user gave the card's own URL.
fn service_base(base: &str) -> String {
    match base.find("/.well-known/") {
        Some(at) if is_card_url(base) => base[..at].to_owned(),
        _ => base.to_owned(),
    }
}

/// Whether the user gave the card's own URL rather than the agent's.
fn is_card_url(url: &str) -> bool {
    std::path::Path::new(url).extension().is_some_and(|ext| ext.eq_ignore_ascii_case("json"))
}

async fn fetch(transport: &Transport, base: &str) -> Result<(Value, String), AgentError> {
    let candidates = if is_card_url(base) {
        vec![base.to_owned()]
    } else {
        vec![format!("{base}{CARD_PATH}"), format!("{base}{LEGACY_CARD_PATH}")]
    };
    let mut attempts = 1;
    let mut not_found = None;
    for url in &candidates {
        let result = transport.execute(Request::get(url), Accept::Success, &mut attempts).await;
        match result {
            Ok(answer) => {
                let card = transport.read_json(answer, ContentType::Json).await?;
                if !card.is_object() {
                    return Err(AgentError::Protocol {
                        url: redact_url(url),
                        detail: "the agent card is not a JSON object".to_owned(),
                    });
                }
                return Ok((card, url.clone()));
            }
            Err(err @ AgentError::Http { status: 404, .. }) => not_found = Some(err),
            // A connect error names the agent, not the card path.
            Err(AgentError::Unreachable { detail, .. }) => {
                return Err(AgentError::Unreachable { url: redact_url(base), detail });
            }
            Err(err) => return Err(err),
        }
    }
    Err(match not_found {
        Some(err) if candidates.len() == 1 => err,
        _ => AgentError::Http {
            url: redact_url(base),
            status: 404,
            snippet: format!(
                "no agent card at {CARD_PATH} nor {LEGACY_CARD_PATH}; is this an A2A agent?"
            ),
        },
    })
}

/// Picks the dialect and JSON-RPC URL from `card`.
///
/// `supportedInterfaces` (1.0) wins: its first `JSONRPC` entry with a version this client
/// speaks. Otherwise the card's `url` + `protocolVersion` (0.2 / 0.3), or the `JSONRPC` entry
/// of `additionalInterfaces` when `preferredTransport` is something else.
pub(crate) fn select(card: &Value, card_url: &str, endpoint_url: &str) -> Result<Target, String> {
    let streaming = card.pointer("/capabilities/streaming").and_then(Value::as_bool) == Some(true);
    let str_of = |v: &Value, key: &str| v.get(key).and_then(Value::as_str).map(str::to_owned);

    let mut seen = Vec::new();
    // The JSON-RPC interfaces this client speaks, in the card's order of preference.
    let mut usable = Vec::new();
    if let Some(interfaces) = card.get("supportedInterfaces").and_then(Value::as_array) {
        for interface in interfaces {
            let binding = str_of(interface, "protocolBinding").unwrap_or_default();
            let version = str_of(interface, "protocolVersion");
            seen.push(format!("{} {}", binding, version.as_deref().unwrap_or("?")));
            if !is_jsonrpc(&binding) {
                continue;
            }
            // A 1.0 interface without a version is 1.0.
            let Some(dialect) = Dialect::from_version(version.as_deref().or(Some("1.0"))) else {
                continue;
            };
            let url = str_of(interface, "url").unwrap_or_default();
            let rpc_url = usable_url(&url, card_url).unwrap_or_else(|| endpoint_url.to_owned());
            usable.push(Fallback { dialect, rpc_url });
        }
    }
    if let Some(Fallback { dialect, rpc_url }) = usable.first().cloned() {
        let fallback = (dialect == Dialect::V1_0).then(|| {
            usable
                .into_iter()
                .find(|i| i.dialect != Dialect::V1_0)
                .unwrap_or(Fallback { dialect: Dialect::V0_3, rpc_url: rpc_url.clone() })
        });
        let card_url = card_url.to_owned();
        return Ok(Target { card: card.clone(), dialect, rpc_url, card_url, streaming, fallback });
    }

    let Some(url) = str_of(card, "url") else {
        return Err(if seen.is_empty() {
            "it has neither supportedInterfaces nor url".to_owned()
        } else {
            format!(
                "none of its interfaces is JSON-RPC in a version this client speaks (found: {})",
                one_line(&seen.join(", "), 200)
            )
        });
    };
    let preferred = str_of(card, "preferredTransport").unwrap_or_else(|| "JSONRPC".to_owned());
    let url = if is_jsonrpc(&preferred) {
        url
    } else {
        card.get("additionalInterfaces")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .find(|i| str_of(i, "transport").is_some_and(|t| is_jsonrpc(&t)))
            .and_then(|i| str_of(i, "url"))
            .ok_or_else(|| {
                format!(
                    "its preferred transport is {} and it lists no JSON-RPC interface",
                    one_line(&preferred, 40)
                )
            })?
    };
    let version = str_of(card, "protocolVersion");
    let dialect = Dialect::from_version(version.as_deref()).ok_or_else(|| {
        format!(
            "protocolVersion {} is newer than this client",
            one_line(version.as_deref().unwrap_or(""), 40)
        )
    })?;
    let rpc_url = usable_url(&url, card_url).unwrap_or_else(|| endpoint_url.to_owned());
    let fallback = (dialect == Dialect::V1_0)
        .then(|| Fallback { dialect: Dialect::V0_3, rpc_url: rpc_url.clone() });
    let card_url = card_url.to_owned();
    Ok(Target { card: card.clone(), dialect, rpc_url, card_url, streaming, fallback })
}

fn is_jsonrpc(binding: &str) -> bool {
    let normalized: String = binding
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .collect::<String>()
        .to_ascii_uppercase();
    normalized == "JSONRPC"
}

/// The card's endpoint URL, resolved against the card URL, unless it cannot be used: empty,
/// not http(s), or bound to the wildcard address (`0.0.0.0`, `[::]`), which a server
/// listening on all interfaces often advertises by mistake.
fn usable_url(url: &str, card_url: &str) -> Option<String> {
    let url = url.trim();
    if url.is_empty() {
        return None;
    }
    let parsed = reqwest::Url::parse(card_url).ok()?.join(url).ok()?;
    let wildcard = matches!(parsed.host_str(), Some("0.0.0.0" | "[::]" | "::"));
    (matches!(parsed.scheme(), "http" | "https") && !wildcard).then(|| parsed.to_string())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const CARD_URL: &str = "http://agent.test/.well-known/agent-card.json";
    const ENDPOINT: &str = "http://agent.test";

    /// The merged card a2a-sdk 1.3.0 serves (reference document §3).
    fn merged_card() -> Value {
        json!({
            "name": "rogue-runner test agent",
            "supportedInterfaces": [
                {"url": "http://127.0.0.1:41001", "protocolBinding": "JSONRPC", "protocolVersion": "1.0"},
                {"url": "http://127.0.0.1:41001", "protocolBinding": "JSONRPC", "protocolVersion": "0.3"},
                {"url": "http://127.0.0.1:41001/rest", "protocolBinding": "HTTP+JSON", "protocolVersion": "1.0"}
            ],
            "capabilities": {"streaming": true, "pushNotifications": false},
            "additionalInterfaces": [{"transport": "HTTP+JSON", "url": "http://127.0.0.1:41001/rest"}],
            "preferredTransport": "JSONRPC",
            "protocolVersion": "0.3",
            "url": "http://127.0.0.1:41001"
        })
    }

    #[test]
    fn merged_card_speaks_1_0() {
        let target = select(&merged_card(), CARD_URL, ENDPOINT).unwrap();
        assert_eq!(target.dialect, Dialect::V1_0);
        assert_eq!(target.rpc_url, "http://127.0.0.1:41001/");
        let fallback = target.route(true);
        assert_eq!(
            (fallback.dialect, fallback.rpc_url),
            (Dialect::V0_3, "http://127.0.0.1:41001/")
        );
        assert!(target.streaming);
        assert_eq!(target.info().name.as_deref(), Some("rogue-runner test agent"));
    }

    #[test]
    fn a_1_0_interface_falls_back_to_the_listed_0_3_one() {
        let card = json!({"supportedInterfaces": [
            {"url": "http://h/v1", "protocolBinding": "JSONRPC", "protocolVersion": "1.0"},
            {"url": "http://h/rest", "protocolBinding": "HTTP+JSON", "protocolVersion": "0.3"},
            {"url": "http://h/v03", "protocolBinding": "JSONRPC", "protocolVersion": "0.3"}]});
        let target = select(&card, CARD_URL, ENDPOINT).unwrap();
        let route = |fallen_back| {
            let route = target.route(fallen_back);
            (route.dialect, route.rpc_url.to_owned())
        };
        assert_eq!(route(false), (Dialect::V1_0, "http://h/v1".to_owned()));
        assert_eq!(route(true), (Dialect::V0_3, "http://h/v03".to_owned()));
    }

    #[test]
    fn a_1_0_only_card_falls_back_to_0_3_at_the_same_url() {
        let card = json!({"supportedInterfaces": [
            {"url": "http://h/rpc", "protocolBinding": "JSONRPC", "protocolVersion": "1.0"}]});
        let fallback = select(&card, CARD_URL, ENDPOINT).unwrap().fallback;
        assert_eq!(
            fallback,
            Some(Fallback { dialect: Dialect::V0_3, rpc_url: "http://h/rpc".into() })
        );
        let legacy = json!({"url": "http://h/rpc", "protocolVersion": "1.0"});
        let fallback = select(&legacy, CARD_URL, ENDPOINT).unwrap().fallback;
        assert_eq!(
            fallback,
            Some(Fallback { dialect: Dialect::V0_3, rpc_url: "http://h/rpc".into() })
        );
    }

    #[test]
    fn a_0_x_target_has_no_fallback() {
        let card = json!({"supportedInterfaces": [
            {"url": "http://h/rpc", "protocolBinding": "JSONRPC", "protocolVersion": "0.3"},
            {"url": "http://h/v1", "protocolBinding": "JSONRPC", "protocolVersion": "1.0"}]});
        let target = select(&card, CARD_URL, ENDPOINT).unwrap();
        assert_eq!((target.dialect, target.fallback), (Dialect::V0_3, None));
        let v02 = json!({"url": "http://h/a2a", "protocolVersion": "0.2.5"});
        assert_eq!(select(&v02, CARD_URL, ENDPOINT).unwrap().fallback, None);
    }

    #[test]
    fn rest_first_is_skipped_for_jsonrpc() {
        let card = json!({"supportedInterfaces": [
            {"url": "http://h/rest", "protocolBinding": "HTTP+JSON", "protocolVersion": "1.0"},
            {"url": "http://h/rpc", "protocolBinding": "JSONRPC", "protocolVersion": "0.3"}]});
        let target = select(&card, CARD_URL, ENDPOINT).unwrap();
        assert_eq!((target.dialect, target.rpc_url.as_str()), (Dialect::V0_3, "http://h/rpc"));
        assert!(!target.streaming);
    }

    #[test]
    fn only_rest_is_an_error_naming_what_was_found() {
        let card = json!({"supportedInterfaces": [
            {"url": "http://h/rest", "protocolBinding": "HTTP+JSON", "protocolVersion": "1.0"}]});
        let err = select(&card, CARD_URL, ENDPOINT).unwrap_err();
        assert!(err.contains("HTTP+JSON 1.0"), "{err}");
    }

    #[test]
    fn legacy_cards() {
        let v02 = json!({"url": "http://h/a2a", "protocolVersion": "0.2.5"});
        let target = select(&v02, CARD_URL, ENDPOINT).unwrap();
        assert_eq!((target.dialect, target.rpc_url.as_str()), (Dialect::V0_2, "http://h/a2a"));
        let v03 = json!({"url": "http://h/a2a", "protocolVersion": "0.3.0",
            "capabilities": {"streaming": true}});
        let target = select(&v03, CARD_URL, ENDPOINT).unwrap();
        assert_eq!(target.dialect, Dialect::V0_3);
        assert!(target.streaming);
        let no_version = json!({"url": "http://h/a2a"});
        assert_eq!(select(&no_version, CARD_URL, ENDPOINT).unwrap().dialect, Dialect::V0_2);
    }

    #[test]
    fn preferred_grpc_uses_the_additional_jsonrpc_interface() {
        let card = json!({"url": "grpc://h:50051", "preferredTransport": "GRPC",
            "protocolVersion": "0.3.0",
            "additionalInterfaces": [{"transport": "JSONRPC", "url": "http://h/rpc"}]});
        assert_eq!(select(&card, CARD_URL, ENDPOINT).unwrap().rpc_url, "http://h/rpc");
    }

    #[test]
    fn unusable_card_urls_fall_back_to_the_endpoint() {
        for url in ["", "   ", "http://0.0.0.0:8000/", "ftp://h/x", "http://[::]:9/"] {
            let card = json!({"url": url, "protocolVersion": "0.3.0"});
            assert_eq!(select(&card, CARD_URL, ENDPOINT).unwrap().rpc_url, ENDPOINT, "{url:?}");
        }
        let relative = json!({"url": "/rpc", "protocolVersion": "0.3.0"});
        assert_eq!(select(&relative, CARD_URL, ENDPOINT).unwrap().rpc_url, "http://agent.test/rpc");
    }

    #[test]
    fn cards_without_any_endpoint_are_rejected() {
        assert!(select(&json!({"name": "x"}), CARD_URL, ENDPOINT).is_err());
    }

    #[test]
    fn cards_naming_another_origin_are_refused_unless_allowed() {
        let card = json!({"url": "http://evil.test:9/rpc", "protocolVersion": "0.3.0"});
        let target = select(&card, CARD_URL, ENDPOINT).unwrap();
        let err = check_origins(&target, ENDPOINT, &[]).unwrap_err().to_string();
        assert!(err.contains("--allow-card-origin http://evil.test:9"), "{err}");
        assert!(check_origins(&target, ENDPOINT, &["http://evil.test:9".into()]).is_ok());
        assert!(check_origins(&target, ENDPOINT, &["http://evil.test:10".into()]).is_err());
        let v1 = json!({"supportedInterfaces": [
            {"url": "http://agent.test/v1", "protocolBinding": "JSONRPC", "protocolVersion": "1.0"},
            {"url": "https://agent.test/v03", "protocolBinding": "JSONRPC", "protocolVersion": "0.3"}]});
        let target = select(&v1, CARD_URL, ENDPOINT).unwrap();
        let err = check_origins(&target, ENDPOINT, &[]).unwrap_err().to_string();
        assert!(err.contains("https://agent.test/v03"), "{err}");
    }

    #[test]
    fn loopback_names_are_one_origin() {
        let card = json!({"url": "http://127.0.0.1:8000/", "protocolVersion": "0.3.0"});
        let target =
            select(&card, "http://localhost:8000/.well-known/agent-card.json", "x").unwrap();
        assert!(check_origins(&target, "http://localhost:8000", &[]).is_ok());
        assert!(check_origins(&target, "http://localhost:8001", &[]).is_err());
        assert!(check_origins(&target, "https://localhost:8000", &[]).is_err());
    }

    #[test]
    fn service_base_of_a_card_url() {
        assert_eq!(service_base("http://h/a/.well-known/agent.json"), "http://h/a");
        assert_eq!(service_base("http://h/a"), "http://h/a");
    }
}
