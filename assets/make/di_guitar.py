"""assets/di-guitar.wav: a DI electric guitar phrase, as a pickup delivers it.

Model: an extended Karplus-Strong string (Jaffe & Smith, CMJ 1983): a delay
line one period long with a two-point loss filter, linear-interpolated for
tuning; the excitation is a noise burst shaped by the pick (one-pole low-pass)
and the picking position (a comb, 0.13 of the string). The pickup reads the
string at 0.2 of its length (a second comb) and its coil inductance against
the cable's capacitance makes the usual resonant low-pass (3.2 kHz, Q 2.2).

Twelve eighth notes at 120 bpm (3.0 s), E minor pentatonic, monophonic: each
note damps the last, like a player re-fretting. Every note is brought to the
same rms (after the pickup), so any stretch of whole notes has the file's
level; the file loops.
Normalised to -18 dBFS rms (AES17). Run: python3 assets/make/di_guitar.py
"""

import math
import os
import random

import wavfile as wf

NOTE_S = 0.25
# E2 G2 A2 B2 D3 E3 D3 B2 A2 G2 A2 B2 (semitones above E2).
PHRASE = [0, 3, 5, 7, 10, 12, 10, 7, 5, 3, 5, 7]
E2 = 82.4069


def pluck(freq, n, rng):
    period = wf.RATE / freq
    size = int(period) + 2
    # Excitation: a noise burst one period long, softened by the pick...
    burst = []
    lp = 0.0
    for _ in range(int(period)):
        lp += 0.5 * (rng.uniform(-1, 1) - lp)
        burst.append(lp)
    # ...and combed by where it is picked.
    d = max(1, round(0.13 * period))
    burst = [burst[i] - (burst[i - d] if i >= d else 0.0) for i in range(len(burst))]
    # Loop gain for a 60 dB decay in about 2.5 s at this pitch.
    g = 10 ** (-3.0 / (2.5 * freq))
    buf = [0.0] * (size + 2)
    out = []
    w = 0
    for i in range(n):
        x = burst[i] if i < len(burst) else 0.0
        # Read one period back (fractional, linear interpolation).
        pos = w - period
        k = math.floor(pos)
        f = pos - k
        a = buf[k % len(buf)]
        b = buf[(k + 1) % len(buf)]
        c = buf[(k - 1) % len(buf)]
        delayed = a + f * (b - a)
        prev = c + f * (a - c)
        y = x + g * 0.5 * (delayed + prev)
        buf[w % len(buf)] = y
        w += 1
        out.append(y)
    # The pickup's position along the string: another comb.
    dp = max(1, round(0.2 * period))
    return [out[i] - (out[i - dp] if i >= dp else 0.0) for i in range(n)]


def main():
    rng = random.Random(82)
    n = int(NOTE_S * wf.RATE)
    fade = int(0.004 * wf.RATE)
    notes = []
    for semis in PHRASE:
        note = pluck(E2 * 2 ** (semis / 12), n, rng)
        # Pickup inductance against cable capacitance, then DC out.
        note = wf.biquad(note, *wf.lowpass(3200.0, 2.2))
        note = wf.biquad(note, *wf.highpass(30.0, 0.7))
        # Damped at the end of its eighth.
        for i in range(fade):
            note[n - 1 - i] *= i / fade
        r = math.sqrt(sum(s * s for s in note) / n)
        notes.append([s / r for s in note])
    x = [s for note in notes for s in note]
    x = wf.normalise(x)
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "di-guitar.wav")
    wf.write(out, x, bits=16, seed=82)
    wf.report("di-guitar.wav", x)


if __name__ == "__main__":
    main()
