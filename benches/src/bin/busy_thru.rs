//! A reference client for the duplex benchmark: `jack_thru`'s work (input 1
//! copied to output 1) plus a fixed busy time in every process callback.
//! Beside `jack_thru` and ohmpatch on one server, it tells what the length of
//! a callback costs in blamed cycles from anything else a client does.
//!
//!     ohmpatch-busy-thru NAME [--busy-us US]

use jack::{AudioIn, AudioOut, Client, ClientOptions, Control, Port, ProcessScope};
use std::time::{Duration, Instant};

struct Thru {
    input: Port<AudioIn>,
    output: Port<AudioOut>,
    busy: Duration,
}

impl jack::ProcessHandler for Thru {
    fn process(&mut self, _: &Client, ps: &ProcessScope) -> Control {
        let t0 = Instant::now();
        self.output
            .as_mut_slice(ps)
            .copy_from_slice(self.input.as_slice(ps));
        while t0.elapsed() < self.busy {
            std::hint::spin_loop();
        }
        Control::Continue
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(name) = args.first().filter(|a| !a.starts_with('-')) else {
        eprintln!("ohmpatch-busy-thru NAME [--busy-us US]");
        std::process::exit(1);
    };
    let busy_us: f64 = match args.iter().position(|a| a == "--busy-us") {
        Some(i) => match args.get(i + 1).and_then(|v| v.parse().ok()) {
            Some(v) if v >= 0.0 => v,
            _ => {
                eprintln!("--busy-us takes microseconds (0 or more)");
                std::process::exit(1);
            }
        },
        None => 0.0,
    };
    let (client, _) = match Client::new(name, ClientOptions::NO_START_SERVER) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("no JACK server: {e}");
            std::process::exit(1);
        }
    };
    let ports = client
        .register_port("input_1", AudioIn::default())
        .and_then(|i| Ok((i, client.register_port("output_1", AudioOut::default())?)));
    let (input, output) = match ports {
        Ok(p) => p,
        Err(e) => {
            eprintln!("cannot register ports: {e}");
            std::process::exit(1);
        }
    };
    let thru = Thru {
        input,
        output,
        busy: Duration::from_secs_f64(busy_us / 1e6),
    };
    let _active = match client.activate_async((), thru) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("cannot activate: {e}");
            std::process::exit(1);
        }
    };
    // Runs until killed, like jack_thru.
    loop {
        std::thread::park();
    }
}
