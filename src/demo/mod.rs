//! The embedded demo: a deterministic mock A2A agent ([`MockAgent`], documented with its
//! reply directives in [`mock_agent`]) and the example scenario files the `demo` command runs
//! against it ([`bundled_scenarios`]).

mod directives;
pub mod fake_judge;
mod memory;
pub mod mock_agent;
mod timer;
mod wire;

pub use fake_judge::{FakeJudge, FakeJudgeOptions, Fault};
pub use mock_agent::{MockAgent, MockAgentOptions, MockDialect, bind, serve_forever};

/// The bundled example scenario files, as `(file name, contents)`, in run order.
///
/// Against the mock agent (any dialect; streaming on or off) they are meant to produce:
///
/// | file | format | scenarios | intended outcome |
/// | --- | --- | --- | --- |
/// | `genesis_a_core_p0.yaml` | Genesis dialect A | 4 × P0 | all pass (JSON field and latency checks) |
/// | `support_agent_p1.yaml` | Genesis dialect B | 5 × P1 | 4 pass, 1 fails (missing keyword) |
/// | `checkout_agent.yaml` | native (`version: 1`) | 2 × P0, 3 × P1, 3 × P2 | 6 pass, 1 fails (JSON field below threshold), 1 errors (HTTP 500) |
/// | `rogue_tshirt_store.json` | Rogue | 3 (no priority) | judge-only (`expected_outcome`); the mock's replies are written to satisfy them |
///
/// The scenarios' expectations rely on the mock agent's directives (`[reply:…]`,
/// `[json:{…}]`, `[task]`, …) being sent verbatim: the user message must be the scenario's
/// prompt/task text as written, not a JSON dump of its `input`.
pub fn bundled_scenarios() -> Vec<(&'static str, &'static str)> {
    vec![
        ("genesis_a_core_p0.yaml", include_str!("scenarios/genesis_a_core_p0.yaml")),
        ("support_agent_p1.yaml", include_str!("scenarios/support_agent_p1.yaml")),
        ("checkout_agent.yaml", include_str!("scenarios/checkout_agent.yaml")),
        ("rogue_tshirt_store.json", include_str!("scenarios/rogue_tshirt_store.json")),
    ]
}
