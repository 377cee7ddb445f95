//! A private JACK dummy server for a test, and the JACK tools it talks to.
//! Missing tools fail the test with the package to install.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A `jackd -d dummy` of its own name, stopped when dropped. Clients that
/// follow `JACK_DEFAULT_SERVER` (ours, the JACK tools) find it once
/// [`Server::use_it`] has set that for this process.
pub struct Server {
    pub name: String,
    pub log: PathBuf,
    child: Child,
}

impl Server {
    /// A server named after `tag` and this process.
    pub fn start(tag: &str, frames: u32) -> Server {
        Server::start_named(&format!("{tag}-{}", std::process::id()), frames)
    }

    /// A server of exactly this name (to bring one back after a stop).
    pub fn start_named(name: &str, frames: u32) -> Server {
        let name = name.to_string();
        let log = std::env::temp_dir().join(format!("{name}.log"));
        let file = std::fs::File::create(&log).unwrap();
        let child = Command::new("jackd")
            .args(["-n", &name, "-d", "dummy", "-r", "48000", "-p"])
            .arg(frames.to_string())
            .env("JACK_NO_AUDIO_RESERVATION", "1")
            .stdout(Stdio::from(file.try_clone().unwrap()))
            .stderr(Stdio::from(file))
            .spawn()
            .expect("jackd must be installed (scripts/setup.sh installs jackd2)");
        let s = Server { name, log, child };
        s.wait_port("system:playback_1");
        s
    }

    /// A command that talks to this server.
    pub fn command(&self, program: &str) -> Command {
        let mut c = Command::new(program);
        c.env("JACK_DEFAULT_SERVER", &self.name)
            .env("JACK_NO_START_SERVER", "1");
        c
    }

    /// Point this process's own JACK clients at this server.
    ///
    /// # Safety
    /// Sets the environment: call before other threads read it.
    pub unsafe fn use_it(&self) {
        // SAFETY: the caller promises no concurrent readers.
        unsafe {
            std::env::set_var("JACK_DEFAULT_SERVER", &self.name);
            std::env::set_var("JACK_NO_START_SERVER", "1");
        }
    }

    /// Start `jack_simple_client` (a sine) and wait for its ports; connect
    /// its first output to each port of `to`.
    pub fn sine_into(&self, to: &[&str]) -> Kid {
        let kid = Kid(self
            .command("jack_simple_client")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("jack_simple_client must be installed (scripts/setup.sh installs jackd2)"));
        self.wait_port("jack_simple_client:output1");
        for port in to {
            self.connect("jack_simple_client:output1", port);
        }
        kid
    }

    /// An engine for playback at the server's `rate` (channels by param).
    pub fn engine(rate: u32) -> ohmpatch_engine::Engine {
        Server::engine_on(rate, 1)
    }

    /// `engine` on `threads` threads; with more than one, every plan that
    /// has independent branches is handed to the workers, however cheap.
    pub fn engine_on(rate: u32, threads: usize) -> ohmpatch_engine::Engine {
        ohmpatch_engine::Engine::new(
            ohmpatch_nodes::shared_registry(),
            ohmpatch_engine::EngineConfig {
                sample_rate: f64::from(rate),
                channel_map: ohmpatch_engine::ChannelMap::Param,
                threads,
                parallel_min_us: if threads > 1 {
                    -1.0
                } else {
                    ohmpatch_engine::DEFAULT_PARALLEL_MIN_US
                },
                ..ohmpatch_engine::EngineConfig::default()
            },
        )
    }

    /// The JACK device with `inputs` capture ports, as `play` chooses it;
    /// fails the test if JACK is not what it gets (after `use_it`).
    pub fn device(inputs: u16) -> ohmpatch_engine::DeviceChoice {
        let choice = ohmpatch_engine::backend::choose_device(&ohmpatch_engine::StreamOptions {
            backend: ohmpatch_engine::BackendKind::Jack,
            inputs,
            ..ohmpatch_engine::StreamOptions::default()
        });
        assert_eq!(
            choice.backend,
            ohmpatch_engine::BackendKind::Jack,
            "{:?}",
            choice.fallback_reason
        );
        choice
    }

    /// `jack_lsp` with these flags (`-c`: connections, `-A`: aliases).
    pub fn lsp(&self, flags: &[&str]) -> String {
        let out = self
            .command("jack_lsp")
            .args(flags)
            .output()
            .expect("jack_lsp must be installed (scripts/setup.sh installs jackd2)");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Wait (up to 20 s) until a port of this name exists.
    pub fn wait_port(&self, port: &str) {
        let t0 = Instant::now();
        loop {
            if self.lsp(&[]).lines().any(|l| l.trim() == port) {
                return;
            }
            assert!(
                t0.elapsed() < Duration::from_secs(20),
                "no JACK port {port} appeared; ports:\n{}",
                self.lsp(&[])
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Whether `jack_lsp -c` lists `b` under `a`.
    pub fn connected(&self, a: &str, b: &str) -> bool {
        let listing = self.lsp(&["-c"]);
        let mut under = false;
        for line in listing.lines() {
            if !line.starts_with(char::is_whitespace) {
                under = line == a;
            } else if under && line.trim() == b {
                return true;
            }
        }
        false
    }

    pub fn connect(&self, from: &str, to: &str) {
        let st = self
            .command("jack_connect")
            .args([from, to])
            .status()
            .expect("jack_connect must be installed (scripts/setup.sh installs jackd2)");
        assert!(st.success(), "jack_connect {from} {to} failed");
    }

    /// How many times the server's log has blamed a client for an xrun.
    pub fn blamed(&self) -> usize {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .matches("was not finished")
            .count()
    }

    /// Stop the server now (it is also stopped when dropped).
    pub fn stop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            super::stop_jackd(&mut self.child);
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_file(&self.log);
    }
}

/// A child process killed (SIGINT, then SIGKILL) when dropped.
pub struct Kid(pub Child);

impl Drop for Kid {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-INT", &self.0.id().to_string()])
            .status();
        let t0 = Instant::now();
        while t0.elapsed() < Duration::from_secs(3) {
            if let Ok(Some(_)) = self.0.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
