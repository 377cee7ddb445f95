"""assets/ir/*.wav: cabinet impulse responses measured from ohmpatch's own
power amp, speaker and mic models.

How, for each cabinet below:
1. Write a 48 kHz WAV holding one sample at 0.5 (-6 dBFS) and zeros after
   it (a unit impulse, scaled), and beside it the patch

       file_in (line, level_dbu 0) -> power_amp (AMP) -> speaker (SPEAKER)
         -> mic (MIC) -> output (full_scale_dbu -20, limiter off)

   The power amp's residual noise is set to its lowest (snr_db 140) and the
   mic has no self-noise, so the render is the chain's impulse response
   (every stage is linear at this level: the amp is far below clipping).
2. Render 0.5 s of it: `ohmpatch render ir.ohm.ron --out raw.wav --seconds 0.5`
   (the `ohmpatch` on PATH, or the binary named by $OHMPATCH), or, where the
   app is not built, the same offline render from the test crate:
   `cargo test -p ohmpatch-tests --test assets -- --ignored render_for_asset_scripts`
   with OHMPATCH_RENDER_PATCH, OHMPATCH_RENDER_OUT and OHMPATCH_RENDER_SECONDS set.
   An impulse in, so no deconvolution is needed: the output is the response.
3. Trim: drop what comes before the first sample within 60 dB of the peak
   (the power amp's oversampling latency and the mic's r/c delay), less 4
   samples kept for the filters' pre-ringing; keep 200 ms; fade the last
   10 ms out with a half cosine.
4. Normalise to 0 dB gain at 1 kHz (the DFT of the trimmed response at
   1 kHz has magnitude 1): `check` takes a cab_ir as its gain_db, so the IR
   plays at the predicted level where `check` evaluates a chain without a
   tone. Written as 24-bit PCM.

Run: python3 assets/make/cab_ir.py (from anywhere).
"""

import cmath
import math
import os
import shutil
import subprocess
import tempfile

import wavfile as wf

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))

# name: (power_amp params, speaker preset, mic params)
CABS = {
    "guitar-12in-sm57-5cm": ('"model": "solid_state", "z_out_ohm": 0.05', "guitar_12in", '"distance_m": 0.05, "model": "dynamic_57"'),
    "guitar-12in-tube-sm57-5cm": ('"model": "tube_push_pull", "power_w": 30.0, "z_out_ohm": 4.0', "guitar_12in", '"distance_m": 0.05, "model": "dynamic_57"'),
    "hifi-woofer-condenser-30cm": ('"model": "solid_state", "z_out_ohm": 0.05', "hifi_woofer", '"distance_m": 0.3, "model": "condenser", "self_noise_db_spl": -1.0'),
}

PATCH = """(
    version: 1,
    name: "Impulse response of {name}",
    nodes: {{
        "amp": (kind: "power_amp", pos: (240.0, 0.0), params: {{"gain_db": 26.0, "sag": 0.0, "snr_db": 140.0, {amp}}}),
        "cab": (kind: "speaker", pos: (460.0, 0.0), params: {{"preset": "{speaker}"}}),
        "imp": (kind: "file_in", pos: (20.0, 0.0), params: {{"level_dbu": 0.0, "path": "impulse.wav"}}),
        "mic": (kind: "mic", pos: (680.0, 0.0), params: {{{mic}}}),
        "out": (kind: "output", pos: (900.0, 0.0), params: {{"full_scale_dbu": -20.0, "limiter": false}}),
    }},
    wires: [
        ("imp.out", "amp.in"),
        ("amp.out", "cab.in"),
        ("cab.out", "mic.in"),
        ("mic.out", "out.in"),
    ],
)
"""

SECONDS = 0.5
KEEP = int(0.2 * wf.RATE)
FADE = int(0.01 * wf.RATE)


def render(patch, out):
    exe = os.environ.get("OHMPATCH") or shutil.which("ohmpatch")
    if exe:
        subprocess.run([exe, "render", patch, "--out", out, "--seconds", str(SECONDS)], check=True)
        return
    env = dict(os.environ, OHMPATCH_RENDER_PATCH=patch, OHMPATCH_RENDER_OUT=out, OHMPATCH_RENDER_SECONDS=str(SECONDS))
    subprocess.run(
        ["cargo", "test", "-q", "-p", "ohmpatch-tests", "--test", "assets", "--",
         "--ignored", "--exact", "render_for_asset_scripts"],
        check=True, cwd=ROOT, env=env,
    )


def trim_and_normalise(h):
    peak = max(abs(s) for s in h)
    onset = next(i for i, s in enumerate(h) if abs(s) > peak * 1e-3)
    h = h[max(0, onset - 4):][:KEEP]
    for i in range(FADE):
        h[-1 - i] *= 0.5 - 0.5 * math.cos(math.pi * i / FADE)
    w = 2 * math.pi * 1000.0 / wf.RATE
    gain = abs(sum(s * cmath.exp(-1j * w * n) for n, s in enumerate(h)))
    return [s / gain for s in h]


def main():
    os.makedirs(os.path.join(ROOT, "assets", "ir"), exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        wf.write(os.path.join(tmp, "impulse.wav"), [0.5] + [0.0] * int(SECONDS * wf.RATE), bits=24, seed=0)
        for name, (amp, speaker, mic) in CABS.items():
            patch = os.path.join(tmp, "ir.ohm.ron")
            with open(patch, "w") as f:
                f.write(PATCH.format(name=name, amp=amp, speaker=speaker, mic=mic))
            raw = os.path.join(tmp, "raw.wav")
            render(patch, raw)
            h, rate = wf.read(raw)
            assert rate == wf.RATE
            h = trim_and_normalise(h)
            if max(abs(s) for s in h) >= 1.0:
                raise SystemExit(f"{name}: the normalised response peaks above full scale")
            out = os.path.join(ROOT, "assets", "ir", name + ".wav")
            # No dither on an impulse response: it is a filter, not a signal.
            wf.write(out, h, bits=24, seed=None)
            wf.report("ir/" + name + ".wav", h)


if __name__ == "__main__":
    main()
