//! `ohmpatch plugins`: the installed LV2 plugins, as a table or JSON: URI,
//! name, class, audio ports, controls, and why one cannot be hosted.

use ohmpatch_nodes::lv2::{PluginInfo, catalog};
use serde_json::json;

pub fn run(as_json: bool) -> u8 {
    let plugins = &catalog().plugins;
    if as_json {
        let list: Vec<serde_json::Value> = plugins.iter().map(plugin_json).collect();
        println!(
            "{}",
            serde_json::to_string_pretty(&json!({ "plugins": list })).expect("json")
        );
        return 0;
    }
    if plugins.is_empty() {
        println!(
            "no LV2 plugins found (LV2_PATH, ~/.lv2, /usr/lib/lv2 and /usr/local/lib/lv2 were searched)"
        );
    }
    for p in plugins {
        println!("{}  —  {} ({})", p.uri, p.name, p.class);
        println!(
            "    audio in: {}   audio out: {}   controls: {}",
            list(&p.audio_inputs),
            list(&p.audio_outputs),
            if p.controls.is_empty() {
                "-".to_string()
            } else {
                p.controls
                    .iter()
                    .map(|c| c.symbol.as_str())
                    .collect::<Vec<_>>()
                    .join(" ")
            }
        );
        if let Some(why) = &p.refused {
            println!("    cannot be hosted: {why}");
        }
    }
    0
}

fn list(names: &[String]) -> String {
    if names.is_empty() {
        "-".into()
    } else {
        names.join(" ")
    }
}

fn plugin_json(p: &PluginInfo) -> serde_json::Value {
    let controls: Vec<serde_json::Value> = p
        .controls
        .iter()
        .map(|c| {
            json!({
                "symbol": c.symbol,
                "name": c.name,
                "min": c.min,
                "max": c.max,
                "default": c.default,
                "integer": c.integer,
                "toggle": c.toggled,
                "logarithmic": c.logarithmic,
                "choices": c.choices.iter().map(|(l, v)| json!({"label": l, "value": v})).collect::<Vec<_>>(),
            })
        })
        .collect();
    json!({
        "uri": p.uri,
        "name": p.name,
        "class": p.class,
        "audio_inputs": p.audio_inputs,
        "audio_outputs": p.audio_outputs,
        "controls": controls,
        "control_outputs": p.control_outputs.iter().map(|(s, _)| s).collect::<Vec<_>>(),
        "hostable": p.refused.is_none(),
        "refused": p.refused,
    })
}
