//! Clients for the agents under test: A2A (0.2.x, 0.3, 1.0), plain HTTP JSON, and
//! OpenAI-compatible chat completions.
//!
//! Contract used by the engine:
//! - [`AgentClient::probe`] is called once per agent before scheduling; an error turns every
//!   scenario of that agent into `error` with one message.
//! - [`AgentClient::send`] sends one user message within a conversation and returns the
//!   agent's reply text; [`ConversationState`] carries the `contextId` between turns.
//! - Errors say what happened in words a user can act on, and never contain secrets.

mod a2a;
mod http_json;
mod openai_chat;
mod transport;

use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use tokio::sync::OnceCell;

use crate::model::Usage;
use crate::secret::Secret;

/// How to reach one agent.
#[derive(Debug, Clone)]
pub struct AgentEndpoint {
    pub name: String,
    /// A2A: the agent's base URL (card at `{url}/.well-known/agent-card.json`).
    /// HTTP JSON: the URL to POST to. OpenAI chat: the base URL (`…/v1`).
    pub url: String,
    pub kind: AgentKind,
    pub auth: Auth,
    /// Extra headers sent on every request (values may be secrets).
    pub headers: Vec<(String, Secret)>,
}

/// The protocol an agent speaks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AgentKind {
    A2a,
    /// POST a JSON body built from `request_template` (`{{message}}`, `{{context_id}}`
    /// placeholders, JSON-escaped) and read the reply text at `reply_pointer` (JSON Pointer).
    HttpJson {
        request_template: String,
        reply_pointer: String,
    },
    /// `POST {url}/chat/completions` with `model`; usage is read from the reply.
    OpenAiChat {
        model: String,
    },
}

// Every protocol answers these itself, with no fallback arm: a new protocol does not compile
// until it says which model it uses and how the cache knows it.
impl AgentKind {
    /// The LLM model behind the agent when the protocol names one, so that cost estimates and
    /// ledgers can price the agent's own tokens.
    pub fn model(&self) -> Option<&str> {
        match self {
            AgentKind::A2a | AgentKind::HttpJson { .. } => None,
            AgentKind::OpenAiChat { model } => Some(model),
        }
    }

    /// How the agent is spoken to, as the cache key records it (`KeyContext::agent_protocol`):
    /// `a2a`, `http-json {template} {pointer}`, `openai {model}`. Never credentials. Changing
    /// this text makes every cached result of the protocol miss.
    pub fn cache_identity(&self) -> String {
        match self {
            AgentKind::A2a => "a2a".to_owned(),
            AgentKind::HttpJson { request_template, reply_pointer } => {
                format!("http-json {request_template} {reply_pointer}")
            }
            AgentKind::OpenAiChat { model } => format!("openai {model}"),
        }
    }
}

/// Credentials sent on every request, the card fetch included.
#[derive(Debug, Clone, Default)]
pub enum Auth {
    #[default]
    None,
    ApiKey {
        header: String,
        key: Secret,
    },
    Bearer(Secret),
    Basic {
        user: String,
        password: Secret,
    },
}

/// Client knobs.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// One agent turn (or the probe), all included: every request, body, event stream,
    /// `tasks/get` poll and retry of it. An absurdly long value means "no limit", never an
    /// overflow.
    pub timeout: Duration,
    /// Retries for connect errors and 5xx only (not for 4xx, not for timeouts of a request
    /// that reached the agent).
    pub retries: u32,
    /// First backoff delay; doubles each retry, with jitter.
    pub backoff: Duration,
    /// Bodies larger than this are cut off and reported as an error.
    pub max_body_bytes: usize,
    /// Origins (`https://host:port`) besides the agent's own that an A2A card may name for
    /// messages (`--allow-card-origin`); the credentials go there too.
    pub allowed_origins: Vec<String>,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            timeout: Duration::from_secs(30),
            retries: 2,
            backoff: Duration::from_millis(200),
            max_body_bytes: 8 * 1024 * 1024,
            allowed_origins: Vec::new(),
        }
    }
}

/// What an agent answered to one message.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct AgentReply {
    pub text: String,
    pub usage: Option<Usage>,
    /// HTTP attempts made for this turn (1 when nothing was retried).
    pub attempts: u32,
}

/// State carried across the turns of one conversation.
#[derive(Debug, Clone, Default)]
pub struct ConversationState {
    /// A2A `contextId` returned by the agent on the first turn and sent on every later turn.
    pub context_id: Option<String>,
    /// A2A `taskId` of a task left in `input-required`, to continue it.
    pub task_id: Option<String>,
    /// For chat agents: the messages so far.
    pub history: Vec<(crate::model::Role, String)>,
    /// Attempts at the agent so far in this conversation: one per message, plus each retry
    /// and dialect fallback. Failed turns count too, so an `error` outcome says how often
    /// the agent was tried.
    pub attempts: u32,
}

/// What went wrong talking to an agent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AgentError {
    #[error("cannot connect to {url}: {detail}")]
    Unreachable { url: String, detail: String },
    #[error("no answer from {url} within {timeout_ms} ms")]
    Timeout { url: String, timeout_ms: u64 },
    /// The agent kept answering (a stream that never ends, a task that stays `working`) past
    /// the turn's deadline.
    #[error(
        "{url} did not finish its answer within {timeout_ms} ms; --timeout bounds a whole turn \
         (streams, polling and retries included): raise it if the agent is just slow"
    )]
    TurnTimeout { url: String, timeout_ms: u64 },
    #[error("{url} answered HTTP {status}: {snippet}")]
    Http { url: String, status: u16, snippet: String },
    #[error(
        "{url} answered with a body over {limit} bytes; raise --max-body-bytes if that is expected"
    )]
    BodyTooLarge { url: String, limit: usize },
    #[error("{url} broke the protocol: {detail}")]
    Protocol { url: String, detail: String },
    #[error("agent error {code}: {message}")]
    Remote { code: i64, message: String },
    /// An A2A task ended as `failed`, `rejected` or `canceled`; `message` is the agent's
    /// status message.
    #[error("the agent ended the task as {state}: {message}")]
    TaskFailed { state: String, message: String },
}

impl AgentError {
    /// Connect errors and 5xx are worth retrying; nothing else is.
    pub fn is_retryable(&self) -> bool {
        match self {
            AgentError::Unreachable { .. } => true,
            AgentError::Http { status, .. } => *status >= 500,
            _ => false,
        }
    }
}

/// Facts learned from the probe (the agent card for A2A).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct AgentInfo {
    pub name: Option<String>,
    pub protocol_version: Option<String>,
    pub streaming: bool,
    /// The card's JSON, for the cache key.
    pub card: Option<serde_json::Value>,
}

/// A client for one agent. Cheap to clone; clones share the connection pool and the agent
/// card once fetched.
#[derive(Debug, Clone)]
pub struct AgentClient {
    transport: transport::Transport,
    /// The A2A card and what it says, fetched once (by `probe` or the first `send`).
    a2a_target: Arc<OnceCell<a2a::card::Target>>,
    /// Set once the agent refused a 1.0 call as if it did not speak 1.0: from then on, every
    /// conversation uses the card's 0.x fallback (see `a2a::send`).
    a2a_fallen_back: Arc<AtomicBool>,
}

impl AgentClient {
    /// A client that uses the given connection pool (share one `reqwest::Client` per run).
    /// The client must not follow redirects itself (build it with
    /// [`crate::http::client`]): this client follows them only where credentials stay
    /// with their origin.
    pub fn new(endpoint: AgentEndpoint, options: ClientOptions, http: reqwest::Client) -> Self {
        AgentClient {
            transport: transport::Transport::new(endpoint, options, http),
            a2a_target: Arc::new(OnceCell::new()),
            a2a_fallen_back: Arc::new(AtomicBool::new(false)),
        }
    }

    pub fn endpoint(&self) -> &AgentEndpoint {
        &self.transport.endpoint
    }

    /// Checks the agent once before scheduling: for A2A, fetches its card (kept for `send`)
    /// and, when the card names another server for messages, checks that it answers; for
    /// HTTP JSON and OpenAI chat agents, checks that the server answers HTTP at all.
    pub async fn probe(&self) -> Result<AgentInfo, AgentError> {
        let transport = self.transport.for_turn();
        let result = match &self.endpoint().kind {
            AgentKind::A2a => match self.a2a_target(&transport).await {
                Ok(target) => a2a::probe(&transport, target).await,
                Err(err) => Err(err),
            },
            AgentKind::HttpJson { request_template, .. } => {
                http_json::probe(&transport, request_template).await
            }
            AgentKind::OpenAiChat { model } => openai_chat::probe(&transport, model).await,
        };
        result.map_err(|err| self.transport.scrub(err))
    }

    /// Sends one user message in `conversation` and returns the agent's reply.
    pub async fn send(
        &self,
        conversation: &mut ConversationState,
        text: &str,
    ) -> Result<AgentReply, AgentError> {
        // Each kind counts its attempts here (the reply's `attempts`): the first request, then
        // each retry and fallback; the conversation keeps the total, failed turns included.
        let mut attempts = 0;
        let transport = self.transport.for_turn();
        let result = match &self.endpoint().kind {
            AgentKind::A2a => match self.a2a_target(&transport).await {
                Ok(target) => {
                    let fallen_back = &self.a2a_fallen_back;
                    a2a::send(&transport, target, fallen_back, conversation, text, &mut attempts)
                        .await
                }
                Err(err) => Err(err),
            },
            AgentKind::HttpJson { request_template, reply_pointer } => {
                http_json::send(
                    &transport,
                    request_template,
                    reply_pointer,
                    conversation,
                    text,
                    &mut attempts,
                )
                .await
            }
            AgentKind::OpenAiChat { model } => {
                openai_chat::send(&transport, model, conversation, text, &mut attempts).await
            }
        };
        conversation.attempts += attempts;
        result.map_err(|err| self.transport.scrub(err))
    }

    async fn a2a_target(
        &self,
        transport: &transport::Transport,
    ) -> Result<&a2a::card::Target, AgentError> {
        self.a2a_target.get_or_try_init(|| a2a::card::discover(transport)).await
    }
}
