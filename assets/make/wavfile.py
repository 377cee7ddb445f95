"""Mono WAV reading and writing, levels and normalisation, with the Python 3
standard library only (the project's asset scripts run without numpy).

Levels follow the project's convention (AES17): rms in dBFS is stated so that
a full-scale sine reads 0 dBFS, i.e. 20*log10(sqrt(2) * rms). ohmpatch's
`file_in` plays a 0 dBFS sine at `level_dbu`, so a file whose AES17 rms is
R dBFS comes out at `level_dbu + R` dBu rms.
"""

import math
import random
import struct
import wave

RATE = 48_000
# Every source asset is normalised to this AES17 rms, the level `check`
# assumes for a file or live input (18 dB below full scale, EBU R68).
NOMINAL_DBFS = -18.0


def read(path):
    """First channel of a PCM (16/24-bit) or float (32-bit) WAV as floats, and the rate."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise ValueError(f"{path}: not a WAV file")
    fmt = body = None
    at = 12
    while at + 8 <= len(data):
        cid, size = data[at:at + 4], struct.unpack("<I", data[at + 4:at + 8])[0]
        chunk = data[at + 8:at + 8 + size]
        if cid == b"fmt ":
            fmt = chunk
        elif cid == b"data":
            body = chunk
        at += 8 + size + (size & 1)
    tag, ch, rate = struct.unpack("<HHI", fmt[:8])
    bits = struct.unpack("<H", fmt[14:16])[0]
    if tag == 0xFFFE:  # WAVE_FORMAT_EXTENSIBLE: the real tag opens the sub-format GUID.
        tag = struct.unpack("<H", fmt[24:26])[0]
    width = bits // 8
    step = ch * width
    out = []
    for i in range(0, len(body) - step + 1, step):
        b = body[i:i + width]
        if tag == 3 and width == 4:
            out.append(struct.unpack("<f", b)[0])
        elif tag == 1 and width in (2, 3):
            out.append(int.from_bytes(b, "little", signed=True) / 2 ** (bits - 1))
        else:
            raise ValueError(f"{path}: format {tag}, {bits}-bit is not read here")
    return out, rate


def write(path, x, bits=16, seed=1):
    """Write mono PCM at 48 kHz with TPDF dither (seeded: the file is
    reproducible); `seed=None` rounds without dither."""
    rng = random.Random(seed) if seed is not None else None
    full = 2 ** (bits - 1)
    frames = bytearray()
    for s in x:
        d = (rng.random() - rng.random()) if rng else 0.0  # TPDF, ±1 LSB
        v = int(round(s * full + d))
        v = max(-full, min(full - 1, v))
        frames += v.to_bytes(bits // 8, "little", signed=True)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(bits // 8)
        w.setframerate(RATE)
        w.writeframes(bytes(frames))


def rms_dbfs(x):
    """AES17 rms: a full-scale sine is 0 dBFS."""
    ms = sum(s * s for s in x) / max(1, len(x))
    return 10 * math.log10(2 * ms) if ms > 0 else -math.inf


def peak_dbfs(x):
    p = max(abs(s) for s in x)
    return 20 * math.log10(p) if p > 0 else -math.inf


def normalise(x, target_dbfs=NOMINAL_DBFS):
    """Scale `x` to the AES17 rms `target_dbfs`; refuse if it would clip."""
    g = 10 ** ((target_dbfs - rms_dbfs(x)) / 20)
    y = [s * g for s in x]
    if max(abs(s) for s in y) >= 0.98:
        raise ValueError("normalising would clip: the material's crest factor is too high")
    return y


def biquad(x, b, a):
    """Direct form I biquad; a[0] is 1."""
    b0, b1, b2 = b
    _, a1, a2 = a
    x1 = x2 = y1 = y2 = 0.0
    out = []
    for s in x:
        y = b0 * s + b1 * x1 + b2 * x2 - a1 * y1 - a2 * y2
        x2, x1, y2, y1 = x1, s, y1, y
        out.append(y)
    return out


def lowpass(f0, q):
    """RBJ cookbook low-pass coefficients at 48 kHz."""
    w = 2 * math.pi * f0 / RATE
    al = math.sin(w) / (2 * q)
    c = math.cos(w)
    a0 = 1 + al
    return ([(1 - c) / 2 / a0, (1 - c) / a0, (1 - c) / 2 / a0], [1.0, -2 * c / a0, (1 - al) / a0])


def highpass(f0, q):
    """RBJ cookbook high-pass coefficients at 48 kHz."""
    w = 2 * math.pi * f0 / RATE
    al = math.sin(w) / (2 * q)
    c = math.cos(w)
    a0 = 1 + al
    return ([(1 + c) / 2 / a0, -(1 + c) / a0, (1 + c) / 2 / a0], [1.0, -2 * c / a0, (1 - al) / a0])


def bandpass(f0, q):
    """RBJ cookbook band-pass (0 dB peak) coefficients at 48 kHz."""
    w = 2 * math.pi * f0 / RATE
    al = math.sin(w) / (2 * q)
    c = math.cos(w)
    a0 = 1 + al
    return ([al / a0, 0.0, -al / a0], [1.0, -2 * c / a0, (1 - al) / a0])


def report(name, x):
    print(f"{name}: {len(x) / RATE:.3f} s, peak {peak_dbfs(x):.2f} dBFS, rms {rms_dbfs(x):.2f} dBFS (AES17)")
