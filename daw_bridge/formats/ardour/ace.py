"""A plan's plugin chain as Ardour's own ACE plugins (ACE EQ, ACE Compressor), and back.

pedalboard's ``LowShelfFilter`` / ``PeakFilter`` / ``HighShelfFilter`` are the RBJ cookbook
biquads. ACE EQ (``urn:ardour:a-eq``: a low shelf, four bells, a high shelf, a master gain)
runs the same analogue prototypes as state-variable filters, so a bell of quality Q is the bell
of bandwidth ``2/ln 2 * asinh(1/(2Q))`` octaves exactly, and a shelf of Q 1/sqrt(2) (ACE EQ's
only shelf Q) is exactly its shelf at the corner ``fs/pi * atan(tan(pi f/fs) / sqrt(A))`` (low)
or ``* sqrt(A)`` (high), ``A = 10^(gain/40)``. Values outside ACE EQ's ranges (gains +-20 dB,
bandwidth 0.1-4 octaves) and shelves of another Q are written as near as it goes, with a note.
ACE Compressor (``urn:ardour:a-comp``) smooths the gain reduction in dB where pedalboard's
Compressor smooths the level: a compressed track sounds close to the plan, not identical.
Measured against Ardour 7's own render: ``docs/formats.md`` (Ardour).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from daw_bridge.builtin_effects import builtin_defaults
from daw_bridge.session import PluginSpec

EQ_URI = "urn:ardour:a-eq"
COMP_URI = "urn:ardour:a-comp"
COMP_STEREO_URI = "urn:ardour:a-comp#stereo"
_SHELF_Q = 1.0 / math.sqrt(2.0)
_EQ_GAIN = (-20.0, 20.0)
_EQ_FREQ = (20.0, 20000.0)
_BANDWIDTH = (0.1, 4.0)
#: pedalboard's compressor times are 2 pi time constants, ACE Compressor's one.
_TIME_SCALE = 2.0 * math.pi
#: ACE EQ glides each setting from 0 in 64-frame steps and stops this near what is written.
_SETTLES = {"freq": 0.1, "g": 0.05, "bw": 0.001}

#: ACE EQ's ports in index order: (symbol, name, default).
EQ_PORTS: tuple[tuple[str, str, float], ...] = (
    ("freql", "Frequency L", 160.0), ("gl", "Gain L", 0.0),
    ("freq1", "Frequency 1", 300.0), ("g1", "Gain 1", 0.0), ("bw1", "Bandwidth 1", 1.0),
    ("freq2", "Frequency 2", 1000.0), ("g2", "Gain 2", 0.0), ("bw2", "Bandwidth 2", 1.0),
    ("freq3", "Frequency 3", 2500.0), ("g3", "Gain 3", 0.0), ("bw3", "Bandwidth 3", 1.0),
    ("freq4", "Frequency 4", 6000.0), ("g4", "Gain 4", 0.0), ("bw4", "Bandwidth 4", 1.0),
    ("freqh", "Frequency H", 9000.0), ("gh", "Gain H", 0.0), ("master", "Master Gain", 0.0),
    ("filtogl", "Filter L", 0.0), ("filtog1", "Filter 1", 0.0), ("filtog2", "Filter 2", 0.0),
    ("filtog3", "Filter 3", 0.0), ("filtog4", "Filter 4", 0.0), ("filtogh", "Filter H", 0.0),
    ("enable", "Enable", 1.0),
)  # fmt: skip
#: ACE Compressor's input ports in index order (its meters, 6-8, are outputs).
COMP_PORTS: tuple[tuple[str, str, float, int], ...] = (
    ("att", "Attack", 10.0, 0), ("rel", "Release", 80.0, 1), ("kn", "Knee", 0.0, 2), ("rat", "Ratio", 4.0, 3),
    ("thr", "Threshold", 0.0, 4), ("mak", "Makeup", 0.0, 5), ("sidech", "Sidechain", 0.0, 9),
    ("enable", "Enable", 1.0, 10),
)  # fmt: skip
_COMP_RANGES = {"att": (0.1, 100.0), "rel": (1.0, 2000.0), "rat": (1.0, 20.0), "thr": (-60.0, 0.0), "mak": (0.0, 30.0)}
_EQ_CLASSES = ("LowShelfFilter", "PeakFilter", "HighShelfFilter")


@dataclass
class AcePlugin:
    """One ACE plugin as it goes into a route: its URI, display name and port values by symbol."""

    uri: str
    name: str
    ports: dict[str, float]

    def port_list(self) -> list[tuple[int, str, str, float]]:
        """``(parameter index, symbol, name, value)`` of every input control port."""
        if self.uri == EQ_URI:
            return [(i, sym, nm, self.ports.get(sym, d)) for i, (sym, nm, d) in enumerate(EQ_PORTS)]
        return [(i, sym, nm, self.ports.get(sym, d)) for sym, nm, d, i in COMP_PORTS]


@dataclass
class AceChain:
    """A chain as ACE plugins, before the fader; ``post_gain_db``: the gain the fader takes over."""

    plugins: list[AcePlugin] = field(default_factory=list)
    post_gain_db: float = 0.0
    notes: list[str] = field(default_factory=list)

    @property
    def nonlinear(self) -> bool:
        return any(p.uri != EQ_URI for p in self.plugins)

    def gain_after(self, gain_db: float) -> None:
        """Add ``gain_db`` after the plugins (an ACE EQ's master gain), where the fader cannot take it."""
        self.plugins.append(AcePlugin(EQ_URI, "ACE EQ", {"master": gain_db}))


def _glide(sample_rate: int) -> float:
    """What of the way to a new setting ACE EQ's smoothing leaves per 64-frame step (its 25 Hz ``tau``)."""
    return math.exp(-2.0 * math.pi * 64.0 * 25.0 / sample_rate)


def settling_target(value: float, threshold: float, sample_rate: int) -> float:
    """What to write so that ACE EQ, whose smoothing glides from 0 towards what is written
    (``1 - r`` of the way per 64 frames) and stops within ``threshold`` of it, settles at ``value``
    (``value`` itself where no written value lands there: within ``threshold`` then)."""
    r = _glide(sample_rate)
    if abs(value) < threshold:
        return value
    for n in range(1, 2000):  # written = value / (1 - r^n) must itself stop after n steps
        written = value / (1.0 - r**n)
        if abs(written) * r**n < threshold <= abs(written) * r ** (n - 1):
            return written
    return value


def settled_value(written: float, threshold: float, sample_rate: int) -> float:
    """Where ACE EQ's smoothing settles for the ``written`` setting (the inverse of
    :func:`settling_target`)."""
    r = _glide(sample_rate)
    if abs(written) < threshold:
        return 0.0
    steps = math.ceil(math.log(threshold / abs(written)) / math.log(r))
    while abs(written) * r**steps >= threshold:
        steps += 1
    return written * (1.0 - r**steps)


def _clip(value: float, bounds: tuple[float, float]) -> float:
    return min(max(float(value), bounds[0]), bounds[1])


def q_to_octaves(q: float) -> float:
    """A bell's bandwidth in octaves for the quality ``q`` (RBJ's definition)."""
    return 2.0 / math.log(2.0) * math.asinh(1.0 / (2.0 * q))


def octaves_to_q(octaves: float) -> float:
    return 1.0 / (2.0 * math.sinh(math.log(2.0) / 2.0 * octaves))


def shelf_corner(freq_hz: float, gain_db: float, sample_rate: int, *, low: bool, to_ace: bool) -> float:
    """A Q 1/sqrt(2) shelf's corner in pedalboard's terms as ACE EQ's (``to_ace``) or back."""
    a = 10.0 ** (gain_db / 40.0)
    scale = math.sqrt(a) if low != to_ace else 1.0 / math.sqrt(a)
    nyquist_frac = min(max(freq_hz / sample_rate, 1e-9), 0.4999)
    return sample_rate / math.pi * math.atan(math.tan(math.pi * nyquist_frac) * scale)


class _EqBuilder:
    """Fills one ACE EQ with LTI stages (filters commute, so any order goes in)."""

    def __init__(self) -> None:
        self.ports: dict[str, float] = {}
        self.bells = 0
        self.master_db = 0.0

    def fits(self, name: str) -> bool:
        if name == "PeakFilter":
            return self.bells < 4
        return f"filtog{'l' if name == 'LowShelfFilter' else 'h'}" not in self.ports

    def add(self, name: str, params: dict[str, float], rate: int, label: str, notes: list[str]) -> None:
        gain, freq, q = params["gain_db"], params["cutoff_frequency_hz"], params["q"]
        g = _clip(gain, _EQ_GAIN)
        if g != gain:
            notes.append(f"{label}: {name} {gain:+.1f} dB written as {g:+.1f} dB (ACE EQ's limit)")
        if name == "PeakFilter":
            self.bells += 1
            octaves = q_to_octaves(q)
            bw = _clip(octaves, _BANDWIDTH)
            if abs(bw - octaves) > 1e-9:
                notes.append(f"{label}: a bell of Q {q:.3g} written at Q {octaves_to_q(bw):.3g} (ACE EQ's limit)")
            slot = str(self.bells)
            self._set(slot, _clip(freq, _EQ_FREQ), g, rate)
            self.ports[f"bw{slot}"] = settling_target(bw, _SETTLES["bw"], rate)
        else:
            low = name == "LowShelfFilter"
            slot = "l" if low else "h"
            if abs(q - _SHELF_Q) > 1e-3:
                notes.append(f"{label}: a {'low' if low else 'high'} shelf of Q {q:.3g} written at ACE EQ's "
                             f"only shelf Q, 0.707 (the shape differs)")
            self._set(slot, _clip(shelf_corner(freq, g, rate, low=low, to_ace=True), _EQ_FREQ), g, rate)
        self.ports[f"filtog{slot}"] = 1.0

    def _set(self, slot: str, freq: float, gain: float, rate: int) -> None:
        self.ports[f"freq{slot}"] = settling_target(freq, _SETTLES["freq"], rate)
        self.ports[f"g{slot}"] = settling_target(gain, _SETTLES["g"], rate)

    def plugin(self, label: str, notes: list[str]) -> AcePlugin:
        master = _clip(self.master_db, _EQ_GAIN)
        if master != self.master_db:
            notes.append(f"{label}: {self.master_db:+.1f} dB of gain before a compressor written as {master:+.1f} dB")
        return AcePlugin(EQ_URI, "ACE EQ", {**self.ports, "master": master})


def _comp_plugin(params: dict[str, float], label: str, notes: list[str]) -> AcePlugin:
    wanted = {"thr": params["threshold_db"], "rat": params["ratio"], "att": params["attack_ms"] / _TIME_SCALE,
              "rel": params["release_ms"] / _TIME_SCALE, "mak": 0.0, "kn": 0.0}
    ports = {k: (_clip(v, _COMP_RANGES[k]) if k in _COMP_RANGES else v) for k, v in wanted.items()}
    for key, text in (("att", "attack"), ("rel", "release"), ("thr", "threshold"), ("rat", "ratio")):
        if ports[key] != wanted[key]:
            scale = _TIME_SCALE if key in ("att", "rel") else 1.0  # in pedalboard's terms
            notes.append(f"{label}: compressor {text} {wanted[key] * scale:g} written as {ports[key] * scale:g} "
                         "(ACE Compressor's limit)")
    return AcePlugin(COMP_URI, "ACE Compressor", ports)


def _params(spec: PluginSpec) -> dict[str, float]:
    return {**builtin_defaults(str(spec.name)), **{k: float(v) for k, v in spec.params.items()}}  # type: ignore[arg-type]


def ace_chain(chain: Sequence[PluginSpec], sample_rate: int, label: str) -> AceChain | None:
    """``chain`` as ACE plugins, or None when a plugin in it has no ACE counterpart.

    Filters go into ACE EQs, each ``Compressor`` into an ACE Compressor (a mono one per
    channel, as pedalboard compresses each channel alone); ``Gain`` after the last compressor
    (every ``Gain`` of a chain without one) moves to the fader, ``Gain`` before it into the
    preceding ACE EQ's master gain. Bypassed plugins are left out.
    """
    out = AceChain()
    mapped = [s for s in chain if not s.bypass]
    if len(mapped) < len(chain):
        out.notes.append(f"{label}: bypassed plugins are not written")
    if any(s.kind != "builtin" or s.name not in (*_EQ_CLASSES, "Gain", "Compressor") for s in mapped):
        return None
    last_comp = max((i for i, s in enumerate(mapped) if s.name == "Compressor"), default=-1)
    eq: _EqBuilder | None = None
    for i, spec in enumerate(mapped):
        params = _params(spec)
        if spec.name == "Gain" and i > last_comp:
            out.post_gain_db += params["gain_db"]
        elif spec.name == "Gain":
            eq = eq or _EqBuilder()
            eq.master_db += params["gain_db"]
        elif spec.name == "Compressor":
            if eq is not None:
                out.plugins.append(eq.plugin(label, out.notes))
                eq = None
            out.plugins.append(_comp_plugin(params, label, out.notes))
        else:
            if eq is not None and not eq.fits(str(spec.name)):
                out.plugins.append(eq.plugin(label, out.notes))
                eq = None
            eq = eq or _EqBuilder()
            eq.add(str(spec.name), params, sample_rate, label, out.notes)
    if eq is not None:
        out.plugins.append(eq.plugin(label, out.notes))
    if out.nonlinear:
        out.notes.append(f"{label}: its compressor is an ACE Compressor, whose detector differs from pedalboard's: "
                         "the track sounds close to the plan's render, not identical")
    return out


# --------------------------------------------------------------------------- reading back


def _eq_specs(ports: dict[str, float], rate: int) -> list[PluginSpec]:
    specs: list[PluginSpec] = []
    defaults = {sym: d for sym, _, d in EQ_PORTS}
    for slot, name in (("l", "LowShelfFilter"), ("1", "PeakFilter"), ("2", "PeakFilter"), ("3", "PeakFilter"),
                       ("4", "PeakFilter"), ("h", "HighShelfFilter")):  # fmt: skip
        gain = settled_value(ports.get(f"g{slot}", 0.0), _SETTLES["g"], rate)
        if ports.get(f"filtog{slot}", 1.0) <= 0 or gain == 0.0:
            continue
        freq = settled_value(ports.get(f"freq{slot}", defaults[f"freq{slot}"]), _SETTLES["freq"], rate)
        if name == "PeakFilter":
            q = octaves_to_q(settled_value(ports.get(f"bw{slot}", 1.0), _SETTLES["bw"], rate))
        else:
            freq, q = shelf_corner(freq, gain, rate, low=slot == "l", to_ace=False), _SHELF_Q
        params = {"gain_db": gain, "cutoff_frequency_hz": freq, "q": q}
        specs.append(PluginSpec(kind="builtin", name=name, params=params))
    if ports.get("master", 0.0) != 0.0:
        specs.append(PluginSpec(kind="builtin", name="Gain", params={"gain_db": ports["master"]}))
    return specs


def plugin_specs(uri: str, ports: dict[str, float], sample_rate: int) -> list[PluginSpec] | None:
    """The pedalboard chain that plays an ACE EQ or ACE Compressor (None: another plugin).

    A disabled plugin (``enable`` 0) is an empty chain."""
    if uri not in (EQ_URI, COMP_URI, COMP_STEREO_URI):
        return None
    if ports.get("enable", 1.0) <= 0:
        return []
    if uri == EQ_URI:
        return _eq_specs(ports, sample_rate)
    specs = [PluginSpec(kind="builtin", name="Compressor", params={
        "threshold_db": ports.get("thr", 0.0), "ratio": ports.get("rat", 4.0),
        "attack_ms": ports.get("att", 10.0) * _TIME_SCALE, "release_ms": ports.get("rel", 80.0) * _TIME_SCALE})]
    if ports.get("mak", 0.0) != 0.0:
        specs.append(PluginSpec(kind="builtin", name="Gain", params={"gain_db": ports["mak"]}))
    return specs


def as_ardour_plays(chain: Sequence[PluginSpec], sample_rate: int) -> list[PluginSpec] | None:
    """``chain`` as the Ardour session plays it: each setting through ACE EQ's ranges and shelf
    Q and back (None: not carried). The gain the fader takes over is a trailing ``Gain``."""
    ace = ace_chain(chain, sample_rate, "chain")
    if ace is None:
        return None
    specs: list[PluginSpec] = []
    for plugin in ace.plugins:
        specs.extend(plugin_specs(plugin.uri, plugin.ports, sample_rate) or [])
    if ace.post_gain_db:
        specs.append(PluginSpec(kind="builtin", name="Gain", params={"gain_db": ace.post_gain_db}))
    return specs
