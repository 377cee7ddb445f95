//! `ohmpatch devices`: hosts and devices with their rates and buffer sizes.

pub fn run(as_json: bool) -> u8 {
    let list = ohmpatch_engine::backend::list_devices();
    if as_json {
        println!("{}", serde_json::to_string_pretty(&list).expect("json"));
        return 0;
    }
    for d in &list {
        let rates: Vec<String> = d
            .sample_rates
            .iter()
            .map(|(a, b)| {
                if a == b {
                    format!("{a}")
                } else {
                    format!("{a}–{b}")
                }
            })
            .collect();
        let default = match (d.default, d.default_input) {
            (true, true) => "  (default)",
            (true, false) => "  (default output)",
            (false, true) => "  (default input)",
            _ => "",
        };
        println!("{:<5} {}{default}", d.host, d.name);
        if !d.id.is_empty() && d.id != d.name {
            println!("      id: {}", d.id);
        }
        if let Some(c) = d.channels {
            println!("      output channels: up to {c}");
        }
        if let Some(c) = d.input_channels {
            println!("      input channels: up to {c}");
        }
        if !rates.is_empty() {
            println!("      sample rates: {} Hz", rates.join(", "));
        }
        if let Some((a, b)) = d.buffer_sizes {
            println!("      buffer sizes: {a}–{b} frames");
        }
        if let Some(e) = &d.error {
            println!("      note: {e}");
        }
    }
    0
}
