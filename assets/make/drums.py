"""assets/drum-loop.wav: a synthesised kit, two identical bars of 4/4 at 160 bpm (3.0 s).

Kick: a sine swept from 160 to 48 Hz (exponential, 40 ms) under a 0.35 s
decay, with a 2 ms click. Snare: two tones (185 and 330 Hz, 0.12 s decay)
plus noise band-passed at 2.5 kHz (Q 0.7, 0.18 s decay). Closed hat: noise
high-passed at 7 kHz, 45 ms decay. Pattern per bar (eighths): kick on 1 and
the "and" of 2 and 3, snare on 2 and 4, hats on every eighth, accented on the
beat. Each bar is one loop period of 1.5 s, so any whole bar has the file's
level; the file loops. Normalised to -18 dBFS rms (AES17).
Run: python3 assets/make/drums.py
"""

import math
import os
import random

import wavfile as wf

BPM = 160
EIGHTH = 60 / BPM / 2
BAR = 8 * EIGHTH


def kick(rng):
    n = int(0.5 * wf.RATE)
    out, ph = [], 0.0
    for i in range(n):
        t = i / wf.RATE
        f = 48 + (160 - 48) * math.exp(-t / 0.04)
        ph += 2 * math.pi * f / wf.RATE
        click = rng.uniform(-1, 1) * math.exp(-t / 0.002) * 0.3
        out.append(math.sin(ph) * math.exp(-t / 0.35 * 2.3) + click)
    return out


def snare(rng):
    n = int(0.4 * wf.RATE)
    noise = wf.biquad([rng.uniform(-1, 1) for _ in range(n)], *wf.bandpass(2500.0, 0.7))
    out = []
    for i in range(n):
        t = i / wf.RATE
        tone = 0.5 * math.sin(2 * math.pi * 185 * t) + 0.3 * math.sin(2 * math.pi * 330 * t)
        out.append(tone * math.exp(-t / 0.12 * 2.3) + 1.6 * noise[i] * math.exp(-t / 0.18 * 2.3))
    return out


def hat(rng):
    n = int(0.12 * wf.RATE)
    noise = wf.biquad([rng.uniform(-1, 1) for _ in range(n)], *wf.highpass(7000.0, 0.7))
    return [noise[i] * math.exp(-(i / wf.RATE) / 0.045 * 2.3) for i in range(n)]


def main():
    rng = random.Random(160)
    k, s, h = kick(rng), snare(rng), hat(rng)
    n_bar = round(BAR * wf.RATE)
    bar = [0.0] * n_bar

    def hit(sound, eighth, gain):
        start = round(eighth * EIGHTH * wf.RATE)
        for i, v in enumerate(sound):
            # A hit that rings past the bar's end wraps round: the loop is seamless.
            bar[(start + i) % n_bar] += gain * v

    for e in range(8):
        hit(h, e, 0.35 if e % 2 == 0 else 0.22)
    for e in (0, 3, 4):
        hit(k, e, 1.0)
    for e in (2, 6):
        hit(s, e, 0.8)
    x = wf.normalise(bar + bar)
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "drum-loop.wav")
    wf.write(out, x, bits=16, seed=160)
    wf.report("drum-loop.wav", x)


if __name__ == "__main__":
    main()
