//! Finding the installed LV2 plugins (lilv, through livi; `LV2_PATH` is
//! honoured) and reading what ohmpatch needs from each description: its
//! audio ports, its controls with their ranges and properties, its latency
//! port, and whether it asks for something ohmpatch cannot give.

use livi::PortType;
use ohmpatch_engine::MAX_PORTS;
use serde::Serialize;
use std::sync::OnceLock;

/// The names the wrapper's own params take; a plugin control with one of
/// these symbols could not be told apart, so such a plugin is refused.
pub const WRAPPER_PARAMS: [&str; 5] = ["uri", "full_scale_dbu", "domain", "z_in_ohm", "z_out_ohm"];

/// One control input, as the node's param named by its symbol.
#[derive(Clone, Debug, Serialize)]
pub struct Control {
    pub symbol: String,
    pub name: String,
    /// The plugin's port index.
    pub index: usize,
    pub min: f64,
    pub max: f64,
    pub default: f64,
    pub integer: bool,
    pub toggled: bool,
    pub logarithmic: bool,
    /// Scale points (label, value), when the port is an enumeration.
    pub choices: Vec<(String, f64)>,
}

/// What ohmpatch knows of one installed plugin.
#[derive(Clone, Debug, Serialize)]
pub struct PluginInfo {
    pub uri: String,
    pub name: String,
    pub class: String,
    pub audio_inputs: Vec<String>,
    pub audio_outputs: Vec<String>,
    pub controls: Vec<Control>,
    /// Control outputs by symbol, with their port index (meters, the
    /// latency report).
    pub control_outputs: Vec<(String, usize)>,
    /// The control output that reports the plugin's latency, by port index.
    #[serde(skip)]
    pub latency_port: Option<usize>,
    /// Atom sequence inputs and outputs (given empty sequences).
    pub atom_inputs: usize,
    pub atom_outputs: usize,
    /// Why ohmpatch cannot host it, when it cannot.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refused: Option<String>,
}

/// The plugins found, and the lilv world that found them.
pub struct Catalog {
    pub world: livi::World,
    pub plugins: Vec<PluginInfo>,
}

impl Catalog {
    pub fn get(&self, uri: &str) -> Option<&PluginInfo> {
        self.plugins.iter().find(|p| p.uri == uri)
    }
}

/// The installed plugins, found once per process (lilv reads every
/// bundle's description; a few tens of milliseconds for a few hundred).
pub fn catalog() -> &'static Catalog {
    static CATALOG: OnceLock<Catalog> = OnceLock::new();
    CATALOG.get_or_init(discover)
}

fn discover() -> Catalog {
    let world = livi::World::new();
    let mut plugins: Vec<PluginInfo> = world.iter_plugins().map(|p| describe(&world, &p)).collect();
    // Plugins livi leaves out: it cannot give what they require.
    let supported = livi::Features::supported_features();
    for p in world.raw().plugins().iter() {
        let uri = p.uri().as_uri().unwrap_or("").to_string();
        if uri.is_empty() || plugins.iter().any(|q| q.uri == uri) {
            continue;
        }
        let needs: Vec<String> = p
            .required_features()
            .iter()
            .filter_map(|f| f.as_uri().map(str::to_string))
            .filter(|f| !supported.contains(f.as_str()))
            .collect();
        plugins.push(PluginInfo {
            name: p.name().as_str().unwrap_or(&uri).to_string(),
            class: p.class().label().as_str().unwrap_or("Plugin").to_string(),
            uri,
            audio_inputs: Vec::new(),
            audio_outputs: Vec::new(),
            controls: Vec::new(),
            control_outputs: Vec::new(),
            latency_port: None,
            atom_inputs: 0,
            atom_outputs: 0,
            refused: Some(if needs.is_empty() {
                "it has a port of a type ohmpatch cannot connect".into()
            } else {
                format!("it requires {}", needs.join(", "))
            }),
        });
    }
    plugins.sort_by(|a, b| a.name.cmp(&b.name).then(a.uri.cmp(&b.uri)));
    Catalog { world, plugins }
}

const LV2: &str = "http://lv2plug.in/ns/lv2core#";

fn describe(world: &livi::World, p: &livi::Plugin) -> PluginInfo {
    let raw = p.raw();
    let w = world.raw();
    let prop = |s: &str| w.new_uri(s);
    let integer = prop(&format!("{LV2}integer"));
    let toggled = prop(&format!("{LV2}toggled"));
    let enumeration = prop(&format!("{LV2}enumeration"));
    let logarithmic = prop("http://lv2plug.in/ns/ext/port-props#logarithmic");
    let midi = prop("http://lv2plug.in/ns/ext/midi#MidiEvent");
    let mut info = PluginInfo {
        uri: p.uri(),
        name: p.name(),
        class: raw.class().label().as_str().unwrap_or("Plugin").to_string(),
        audio_inputs: Vec::new(),
        audio_outputs: Vec::new(),
        controls: Vec::new(),
        control_outputs: Vec::new(),
        latency_port: raw.latency_port_index(),
        atom_inputs: 0,
        atom_outputs: 0,
        refused: None,
    };
    let mut refuse = |why: String| {
        info.refused.get_or_insert(why);
    };
    let mut refusals = Vec::new();
    for port in p.ports() {
        let lport = raw.port_by_index(port.index.0);
        let has = |n: &livi::lilv::node::Node| lport.as_ref().is_some_and(|l| l.has_property(n));
        match port.port_type {
            PortType::AudioInput => info.audio_inputs.push(port.symbol.clone()),
            PortType::AudioOutput => info.audio_outputs.push(port.symbol.clone()),
            PortType::ControlOutput => info
                .control_outputs
                .push((port.symbol.clone(), port.index.0)),
            PortType::AtomSequenceOutput => info.atom_outputs += 1,
            PortType::AtomSequenceInput => {
                if lport.as_ref().is_some_and(|l| l.supports_event(&midi)) {
                    refusals.push(format!("it takes MIDI on port {}", port.symbol));
                }
                info.atom_inputs += 1;
            }
            PortType::CVInput | PortType::CVOutput => {
                refusals.push(format!("port {} is a CV port", port.symbol));
            }
            PortType::ControlInput => {
                let (mut min, mut max) = (
                    port.min_value.map_or(0.0, f64::from),
                    port.max_value.map_or(1.0, f64::from),
                );
                if !(min.is_finite() && max.is_finite()) || min > max {
                    (min, max) = (0.0, 1.0);
                }
                let default = f64::from(port.default_value).clamp(min, max);
                let mut choices = Vec::new();
                if has(&enumeration)
                    && let Some(l) = &lport
                {
                    for sp in l.scale_points().iter() {
                        let label = sp.label().as_str().unwrap_or("").trim().to_string();
                        let v = sp.value();
                        let value = v.as_float().or(v.as_int().map(|i| i as f32)).map(f64::from);
                        if let Some(v) = value
                            && !label.is_empty()
                            && !choices.iter().any(|(l, _): &(String, f64)| *l == label)
                        {
                            choices.push((label, v));
                        }
                    }
                    choices.sort_by(|a, b| a.1.total_cmp(&b.1));
                    // A default that is no scale point leaves it a number.
                    if !choices.iter().any(|(_, v)| *v == default) {
                        choices.clear();
                    }
                }
                if WRAPPER_PARAMS.contains(&port.symbol.as_str()) {
                    refusals.push(format!(
                        "its control {} has the name of a param of ohmpatch's own",
                        port.symbol
                    ));
                }
                info.controls.push(Control {
                    symbol: port.symbol.clone(),
                    name: port.name.clone(),
                    index: port.index.0,
                    min,
                    max,
                    default,
                    integer: has(&integer),
                    toggled: has(&toggled),
                    logarithmic: has(&logarithmic) && min > 0.0,
                    choices,
                });
            }
        }
    }
    if info.audio_inputs.len() > MAX_PORTS || info.audio_outputs.len() > MAX_PORTS {
        refusals.push(format!(
            "it has more than {MAX_PORTS} audio ports on a side"
        ));
    }
    if let Some(why) = refusals.into_iter().next() {
        refuse(why);
    }
    info
}
