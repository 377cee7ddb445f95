"""assets/voice.wav: a spoken phrase, from espeak-ng (Debian package
`espeak-ng`, made with 1.51) resampled to 48 kHz with sox (float, so sox adds no dither:
the file is reproducible).

    espeak-ng -v en-gb -s 200 -p 40 -w TMP/raw.wav "TEXT"
    sox -R TMP/raw.wav -r 48000 -e floating-point -b 32 TMP/48k.wav rate -v

then, here: leading and trailing silence trimmed (below -50 dBFS), placed
at the start of exactly 3.0 s, 10 ms fades, normalised to -18 dBFS rms
(AES17) over the whole file (pauses included), so the file loops at the
same level. Run: python3 assets/make/voice.py
"""

import os
import subprocess
import tempfile

import wavfile as wf

TEXT = "Testing, one, two, three. Check the vocal mic."
SECONDS = 3.0


def main():
    with tempfile.TemporaryDirectory() as tmp:
        raw = os.path.join(tmp, "raw.wav")
        hi = os.path.join(tmp, "48k.wav")
        subprocess.run(["espeak-ng", "-v", "en-gb", "-s", "200", "-p", "40", "-w", raw, TEXT], check=True)
        subprocess.run(["sox", "-R", raw, "-r", "48000", "-e", "floating-point", "-b", "32", hi, "rate", "-v"], check=True)
        x, rate = wf.read(hi)
    assert rate == wf.RATE
    floor = 10 ** (-50 / 20)
    first = next(i for i, s in enumerate(x) if abs(s) > floor)
    last = len(x) - next(i for i, s in enumerate(reversed(x)) if abs(s) > floor)
    x = x[first:last]
    n = int(SECONDS * wf.RATE)
    if len(x) > n:
        raise SystemExit(f"the phrase lasts {len(x) / wf.RATE:.2f} s; it must fit {SECONDS} s")
    fade = int(0.01 * wf.RATE)
    for i in range(fade):
        x[i] *= i / fade
        x[-1 - i] *= i / fade
    x = x + [0.0] * (n - len(x))
    x = wf.normalise(x)
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "voice.wav")
    wf.write(out, x, bits=16, seed=65)
    wf.report("voice.wav", x)


if __name__ == "__main__":
    main()
