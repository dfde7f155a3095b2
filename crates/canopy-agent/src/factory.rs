//! Turning a tree file's `[agent]` declaration into an [`Agent`]: the factory a program
//! registers with [`TreeBuilder::agents`](canopy_node::TreeBuilder::agents).

use std::sync::Arc;

use canopy_node::{NodeService, treefile::AgentDecl};
use canopy_topology::{NodePath, Policy};

#[cfg(feature = "anthropic")]
use crate::providers::anthropic::{Anthropic, AnthropicConfig};
#[cfg(feature = "openai")]
use crate::providers::openai::{OpenAi, OpenAiConfig};
use crate::{
    agent::{Agent, AgentConfig, Pricing},
    providers::{sampling::SamplingOptions, scripted::Scripted},
};

/// The factory that makes every provider this build supports.
///
/// ```no_run
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// let root = canopy_node::treefile::load(std::path::Path::new("team.toml"))?;
/// let tree = canopy_node::Tree::builder(root).agents(canopy_agent::factory()).build().await?;
/// # Ok(()) }
/// ```
pub fn factory()
-> impl Fn(&NodePath, &AgentDecl) -> Result<Arc<dyn NodeService>, String> + Send + Sync + 'static {
    |_path: &NodePath, decl: &AgentDecl| {
        let config = config(decl);
        let agent = match decl.provider.as_str() {
            "sampling" => Agent::with_host_model(
                SamplingOptions {
                    model_hint: decl.model.clone(),
                    max_tokens: decl.max_tokens,
                },
                config,
            ),
            "scripted" => {
                let path = decl
                    .script
                    .as_deref()
                    .ok_or("provider 'scripted' needs a script")?;
                let model = Scripted::from_file(path).map_err(|error| error.to_string())?;
                Agent::new(model, config)
            }
            #[cfg(feature = "openai")]
            "openai" => {
                let mut model = OpenAiConfig::new(decl.model.clone().unwrap_or_default());
                if let Some(url) = &decl.base_url {
                    model = model.base_url(url.clone());
                }
                if let Some(key) = &decl.api_key {
                    model = model.api_key(key.clone());
                }
                Agent::new(OpenAi::new(model).map_err(|e| e.to_string())?, config)
            }
            #[cfg(feature = "anthropic")]
            "anthropic" => {
                let mut model = AnthropicConfig::new(decl.model.clone().unwrap_or_default());
                if let Some(url) = &decl.base_url {
                    model = model.base_url(url.clone());
                }
                if let Some(key) = &decl.api_key {
                    model = model.api_key(key.clone());
                }
                if let Some(max_tokens) = decl.max_tokens {
                    model = model.max_tokens(max_tokens);
                }
                Agent::new(Anthropic::new(model).map_err(|e| e.to_string())?, config)
            }
            other => {
                return Err(format!(
                    "provider '{other}' is not built into this program (see the canopy-agent \
                     crate's features)"
                ));
            }
        };
        Ok(Arc::new(agent) as Arc<dyn NodeService>)
    }
}

/// The agent's configuration from its declaration.
fn config(decl: &AgentDecl) -> AgentConfig {
    let mut config = AgentConfig::default();
    if let Some(tool) = &decl.tool {
        config.tool_name.clone_from(tool);
    }
    if let Some(description) = &decl.tool_description {
        config.description.clone_from(description);
    }
    config.system.clone_from(&decl.system);
    if let Some(turns) = decl.max_turns {
        config = config.max_turns(turns);
    }
    config.max_tokens = decl.max_tokens;
    config.temperature = decl.temperature;
    config.limits = decl.budget;
    let tools = decl
        .tools_allow
        .iter()
        .fold(Policy::new(), |p, g| p.allow(g));
    config.tools = decl.tools_deny.iter().fold(tools, |p, g| p.deny(g));
    if let Some(concurrency) = decl.concurrency {
        config.concurrency = concurrency;
    }
    config.pricing = decl.pricing.map(|(input, output)| Pricing {
        input_per_mtok: input,
        output_per_mtok: output,
    });
    config
}
