"""The drum kit catalogue: which recorded acoustic kits the generator plays, and their packages.

Each :class:`KitSpec` names a kit's family (kits sharing recordings), source (a Hydrogen
``drumkit.xml`` folder or a SoundFont preset), Debian package, licence and author, and which
instrument or SoundFont key plays each General MIDI key; :data:`LEFT_OUT` says why the other kits
of those packages are not in it. :func:`check_kits` names the packages to install. Torch-free;
:mod:`automix.data.kits` re-exports every public name and turns these kits into one-shots.
"""

from __future__ import annotations

import dataclasses
import shutil
from collections.abc import Iterable, Mapping
from pathlib import Path

from daw_bridge.errors import AutomixError

__all__ = [
    "APT_PACKAGES",
    "CATALOGUE",
    "GROOVE_KEYS",
    "LEFT_OUT",
    "KeySource",
    "KitSpec",
    "check_kits",
    "families",
    "kit_names",
]

#: Debian packages holding the catalogue's kits and the SoundFont renderer.
APT_PACKAGES: tuple[str, ...] = (
    "hydrogen-data", "hydrogen-drumkits", "avldrums.lv2-soundfont", "fluid-soundfont-gm",
    "musescore-general-soundfont-lossless", "fluidsynth",
)
#: Keys every catalogue kit must play (what the groove styles use).
GROOVE_KEYS: tuple[int, ...] = (36, 37, 38, 40, 41, 42, 44, 45, 46, 48, 49, 51, 53, 55, 56)

_HYDROGEN = Path("/usr/share/hydrogen/data/drumkits")
_SF2 = Path("/usr/share/sounds/sf2")


@dataclasses.dataclass(frozen=True)
class KeySource:
    """What sounds a General MIDI key in one kit.

    ``ref``: the Hydrogen instrument name, or the SoundFont key. ``transpose``: semitones (a derived
    drum: the source resampled lower); ``gain_db``: extra level (an alias played softer);
    ``note``: why, for a substitute.
    """

    ref: str | int
    transpose: float = 0.0
    gain_db: float = 0.0
    note: str = ""


@dataclasses.dataclass(frozen=True)
class KitSpec:
    """One catalogue kit. ``keys`` maps every key of :data:`GROOVE_KEYS` to its :class:`KeySource`."""

    name: str
    family: str
    source: str  # "hydrogen" or "soundfont"
    package: str
    path: str  # Hydrogen kit folder or SoundFont file
    licence: str
    licence_source: str
    author: str
    description: str
    keys: Mapping[int, KeySource]
    preset: tuple[int, int] = (0, 0)  # SoundFont (bank, program)
    channel: int = 9  # SoundFont MIDI channel (0-based)
    articulation: str = "sticks"

    def to_dict(self) -> dict:
        """JSON-ready description (what a take's annotation and the card say about the kit)."""
        out = {
            "name": self.name, "family": self.family, "source": self.source, "package": self.package,
            "path": self.path, "licence": self.licence, "licence_source": self.licence_source,
            "author": self.author, "articulation": self.articulation,
        }
        if self.source == "soundfont":
            out["preset"] = {"bank": self.preset[0], "program": self.preset[1], "channel": self.channel + 1}
        return out

    def key_map(self) -> dict[str, str]:
        """``{GM key: what plays it}`` in words, substitutes marked."""
        out = {}
        for key in sorted(self.keys):
            src = self.keys[key]
            what = f"key {src.ref}" if isinstance(src.ref, int) else str(src.ref)
            if src.transpose:
                what += f", {-src.transpose:g} semitones lower" if src.transpose < 0 else f", {src.transpose:+g} semitones"
            if src.gain_db:
                what += f", {src.gain_db:+g} dB"
            if src.note:
                what += f" ({src.note})"
            out[str(key)] = what
        return out


def _h(name: str, folder: str, *, family: str, licence: str, licence_source: str, author: str,
       description: str, keys: Mapping[int, KeySource | str], package: str = "hydrogen-drumkits") -> KitSpec:
    full = {k: v if isinstance(v, KeySource) else KeySource(v) for k, v in keys.items()}
    return KitSpec(name, family, "hydrogen", package, str(_HYDROGEN / folder), licence, licence_source, author,
                   description, full)


_GPL2_H2 = "/usr/share/doc/hydrogen-drumkits/copyright"
_DERIVED_MID = "no second rack tom: the rack tom resampled 3 semitones lower"

_HYDROGEN_KITS: tuple[KitSpec, ...] = (
    _h("GMRockKit", "GMRockKit", package="hydrogen-data", family="gmrockkit",
       licence="GPL-2+", licence_source="/usr/share/doc/hydrogen-data/copyright (Files: *); drumkit.xml: GPL",
       author="Glen MacArthur, Sebastian Moors",
       description="Pearl DX 5-piece (the 'Black Pearl'), 5 velocity layers, mono 44.1 kHz",
       keys={36: "Kick", 37: "Stick", 38: "Snare", 40: "Snare Rimshot", 41: "Floor Tom", 42: "Hat Closed",
             44: "Hat Pedal", 45: "Tom 2", 46: "Hat Open", 48: "Tom 1", 49: "Crash", 51: "Ride", 53: "Bell",
             55: "Splash", 56: "Cowbell"}),
    _h("BJA_Pacific", "BJA_Pacific", family="bja-pacific",
       licence="CC-BY-SA-3.0-US", licence_source=f"{_GPL2_H2} (Files: drumkits/BJA_Pacific.h2drumkit); drumkit.xml",
       author="Bransin James Anderson (samples), Luc Tanguay (kit)",
       description="PDP Pacific kit, 8 velocity layers (cymbals 3-6), 44.1 kHz AIFF; one rack tom and a floor tom",
       keys={36: "BassDrum", 37: KeySource("Snare", gain_db=-12.0, note="no side stick: a soft snare hit"),
             38: "Snare", 40: KeySource("Snare", gain_db=2.0, note="no rimshot: the snare"),
             41: "Floor Tom", 42: "Hi Hat Closed",
             44: KeySource("Hi Hat Closed", gain_db=-6.0, note="no pedal hi-hat: a soft closed hi-hat"),
             45: KeySource("Tom", transpose=-3.0, note=_DERIVED_MID), 46: "Hi Hat Opened", 48: "Tom",
             49: "Crash Left", 51: "Ride", 53: "Ride Bell",
             55: KeySource("Crash Right", note="no splash: the second crash"),
             56: KeySource("Ride Bell", note="no cowbell: the ride bell")}),
    _h("ColomboAcousticDrumkit", "ColomboAcousticDrumkit", family="colombo",
       licence="GPL-2+ with composition exception",
       licence_source=f"{_GPL2_H2} (Files: drumkits/ColomboAcousticDrumkit.h2drumkit)",
       author="Marcos Guglielmetti",
       description="wooden toms 12/13/16 in., 21 in. bass drum, 14x4 piccolo snare; 1-4 layers, 44.1 kHz FLAC",
       keys={36: "BassDrum", 37: "Stick", 38: "Snare Rock", 40: "Snare1", 41: "Tom Low", 42: "Closed HH",
             44: "Pedal HH", 45: "Tom Mid", 46: "Open HH", 48: "Tom Hi", 49: "crash16inch", 51: "ride-crash20inch",
             53: "ride-cup", 55: KeySource("crash20inch--2", note="no splash: the 20 in. crash"),
             56: KeySource("ride-cup", note="no cowbell: the ride cup")}),
    _h("ForzeeStereo", "ForzeeStereo", family="forzee",
       licence="GPL-2", licence_source=f"{_GPL2_H2} (Files: drumkits/ForzeeStereo.h2drumkit); drumkit.xml",
       author="Vladimir Sadovnikov, Alexander Belokurov",
       description="Tama Superstar drums, Pearl free-floating snare, Paiste cymbals; 3-5 layers, stereo 48 kHz",
       keys={36: 'Kick (Tama Superstar 22")', 37: "Rim Click (Pearl Free Floating Maple 14x3.5)",
             38: "Snare (Pearl Free Floating Maple 14x3.5)", 40: "Snare Rimshot (Pearl Free Floating Maple 14x3.5)",
             41: 'Tom Low (Tama Superstar 16")', 42: 'Hi-Hat Closed (Paiste Alpha Metal edge 14")',
             44: 'Hi-Hat Pedal (Paiste Alpha Metal edge 14")', 45: 'Tom Mid (Tama Superstar 13")',
             46: 'Hi-Hat Open (Paiste Alpha Metal edge 14")', 48: 'Tom High (Tama Superstar 12")',
             49: 'Crash (Paiste Rude Thin 18")', 51: 'Ride (Custom, Zagrebin 22")',
             53: 'Ride Bell (Custom, Zagrebin 22")', 55: 'Splash (Paiste Rude 10")',
             56: KeySource('Ride Bell (Custom, Zagrebin 22")', note="no cowbell: the ride bell")}),
    _h("Millo-Drums_v.1", "Millo-Drums_v.1", family="millo-ludwig",
       licence="GPL-2", licence_source=f"{_GPL2_H2} (Files: drumkits/Millo-Drums_v.1.h2drumkit)",
       author="Emiliano Grilli (Emillo)",
       description="a Ludwig kit with a 'sixties' sound; one sample per instrument, 44.1 kHz FLAC",
       keys={36: "Kick", 37: "Stick", 38: "Snare Rock", 40: KeySource("Snare Rock", gain_db=2.0, note="no rimshot"),
             41: "Tom Low", 42: "Closed HH", 44: "Pedal HH", 45: "Tom Mid", 46: "Open HH", 48: "Tom Hi", 49: "Crash",
             51: "Ride Rock", 53: KeySource("Ride Rock", note="no ride bell: the ride"),
             55: KeySource("Crash Jazz", note="no splash: the jazz crash"), 56: "Cowbell"}),
    _h("Millo_MultiLayered2", "Millo_MultiLayered2", family="millo-ludwig",
       licence="GPL-2", licence_source=f"{_GPL2_H2} (Files: drumkits/Millo_MultiLayered2.h2drumkit)",
       author="Emiliano Grilli (Emillo)",
       description="the same Ludwig kit, second multi-layer recording (2-5 layers, 44.1 kHz FLAC); "
                   "its two rack toms share samples",
       keys={36: "Kick", 37: "Stick", 38: "Snare Rock", 40: KeySource("Snare Rock", gain_db=2.0, note="no rimshot"),
             41: "Tom Low", 42: "Closed HH", 44: "Pedal HH",
             45: KeySource("Tom Hi", transpose=-3.0, note="the kit's Tom Mid repeats Tom Hi's samples: Tom Hi "
                                                          "resampled 3 semitones lower"),
             46: "Open HH", 48: "Tom Hi", 49: "Crash", 51: "Ride Rock",
             53: KeySource("Ride Rock", note="no ride bell: the ride"),
             55: KeySource("Crash Jazz", note="no splash: the second crash"),
             56: KeySource("Ride Rock", gain_db=-6.0, note="the package lacks the kit's cowbell sample "
                                                            "(misc_Cowbell.flac): the ride, softer")}),
    _h("Millo_MultiLayered3", "Millo_MultiLayered3", family="millo-ludwig",
       licence="GPL-2", licence_source=f"{_GPL2_H2} (Files: drumkits/Millo_MultiLayered3.h2drumkit)",
       author="Emiliano Grilli (Emillo)",
       description="the same Ludwig kit, third recording (cricketstudios.it; 1-7 layers, 44.1 kHz FLAC)",
       keys={36: "Kick", 37: "Stick", 38: "Snare Rock", 40: KeySource("Snare Rock", gain_db=2.0, note="no rimshot"),
             41: "Tom Low", 42: "Closed HH", 44: "Pedal HH", 45: "Tom Mid", 46: "Open HH", 48: "Tom Hi", 49: "Crash",
             51: "Ride Jazz", 53: KeySource("Ride Jazz", note="no ride bell: the ride"),
             55: KeySource("Crash", gain_db=-4.0, note="no splash: the crash, softer"), 56: "Cowbell"}),
    _h("rumpf_kit_z01", "rumpf_kit_z01_h2", family="rumpf",
       licence="CC-BY-3.0", licence_source=f"{_GPL2_H2} (Files: drumkits/rumpf_kit_z01_h2.h2drumkit); README.txt",
       author="Emanuel Rumpf",
       description="sampled acoustic kit (rumpf_kit_z01, 2012); one sample per instrument, 48 kHz 24-bit FLAC",
       keys={36: "c3 - bass drum 1", 37: "c#3 - stick", 38: "d3 - snare 1", 40: "e3 - snare 2", 41: "b3 - low tom",
             42: "f#3 - hi-hat closed", 44: "g#3 - hi-hat pedal", 45: "c4 - middle tom", 46: "a#3 - hi-hat open",
             48: "d4 - high tom", 49: "c#4 - crash", 51: "d#4 - cymbal 1", 53: "f4 - ride bell",
             55: KeySource("e4 - cymbal 2", note="the kit's second cymbal as the splash"), 56: "g#4 - cowbell"}),
)

_AVL_KEYS = {36: KeySource(36), 37: KeySource(37), 38: KeySource(38),
             40: KeySource(40, note="no rimshot: the snare edge"), 41: KeySource(41), 42: KeySource(42),
             44: KeySource(44), 45: KeySource(45, transpose=-3.0, note=_DERIVED_MID),
             46: KeySource(46, note="semi-open hi-hat"), 48: KeySource(45, note="the rack tom"), 49: KeySource(49),
             51: KeySource(51), 53: KeySource(53), 55: KeySource(55), 56: KeySource(56)}
_AVL_LICENCE = ("CC-BY-SA-3.0 (produced music may be licensed freely; the by-sa terms bind modified sample "
                "libraries)")
_AVL_LICENCE_SOURCE = "/usr/share/doc/avldrums.lv2-soundfont/copyright (Files: sf2/*); avldrums.lv2 sf2/README"
_GM_KEYS = {k: KeySource(k) for k in GROOVE_KEYS}
_FLUID_LICENCE_SOURCE = "/usr/share/doc/fluid-soundfont-gm/copyright"
_MUSESCORE_LICENCE_SOURCE = "/usr/share/doc/musescore-general-soundfont-lossless/copyright"
_GM_PRESETS = (("Standard", 0, "sticks"), ("Room", 8, "sticks"), ("Power", 16, "sticks"), ("Jazz", 32, "sticks"),
               ("Brush", 40, "brushes"))

_SOUNDFONT_KITS: tuple[KitSpec, ...] = (
    KitSpec("AVL Black Pearl", "avl", "soundfont", "avldrums.lv2-soundfont", str(_SF2 / "Black_Pearl_4_LV2.sf2"),
            _AVL_LICENCE, _AVL_LICENCE_SOURCE, "Glen MacArthur (AVL Drumkits, 2015)",
            "Pearl 4-piece (one rack tom, a floor tom), multi-velocity; shares its hi-hats with AVL Red Zeppelin",
            _AVL_KEYS, preset=(0, 0), channel=0),
    KitSpec("AVL Red Zeppelin", "avl", "soundfont", "avldrums.lv2-soundfont", str(_SF2 / "Red_Zeppelin_4_LV2.sf2"),
            _AVL_LICENCE, _AVL_LICENCE_SOURCE, "Glen MacArthur (AVL Drumkits, 2015)",
            "Ludwig-style 4-piece (one rack tom, a floor tom), multi-velocity; shares its hi-hats with AVL Black Pearl",
            _AVL_KEYS, preset=(0, 0), channel=0),
    *(KitSpec(f"FluidR3 {label}", "fluidr3", "soundfont", "fluid-soundfont-gm", str(_SF2 / "FluidR3_GM.sf2"),
              "MIT", _FLUID_LICENCE_SOURCE, "Frank Wen and contributors (Fluid R3 GM)",
              f"General MIDI '{label}' drum kit (bank 128, program {program}); the five Fluid kits share cymbals, "
              "hi-hats and most toms and differ in kick and snare",
              _GM_KEYS, preset=(128, program), channel=9, articulation=art)
      for label, program, art in _GM_PRESETS),
    *(KitSpec(f"MuseScore {label}", "fluidr3", "soundfont", "musescore-general-soundfont-lossless",
              str(_SF2 / "MuseScore_General_Full.sf2"), "MIT", _MUSESCORE_LICENCE_SOURCE,
              "S. Christian Collins (MuseScore General), from Fluid R3 by Frank Wen",
              f"MuseScore General '{label}' drum kit (bank 128, program {program}): Fluid R3's drum samples "
              "(correlation 0.99-1.00 for kick, snare, toms and cymbals) with other hi-hats",
              _GM_KEYS, preset=(128, program), channel=9, articulation=art)
      for label, program, art in _GM_PRESETS),
)

#: Every kit the generator plays, by name (catalogue order: Hydrogen kits, then SoundFont kits).
CATALOGUE: dict[str, KitSpec] = {k.name: k for k in (*_HYDROGEN_KITS, *_SOUNDFONT_KITS)}

#: Kits in the same Debian packages that are not in the catalogue, and why.
LEFT_OUT: dict[str, str] = {
    "The Black Pearl 1.0 (hydrogen-drumkits)": "the same recordings as GMRockKit (sample correlation 1.00)",
    "Audiophob (hydrogen-drumkits)": "one-shots gathered from freesound.org (8-bit and dubstep sounds), not one "
                                     "recorded kit",
    "ElectricEmpireKit (hydrogen-drumkits)": "electronic (synthesised)",
    "HardElectro1 (hydrogen-drumkits)": "electronic (synthesised)",
    "VariBreaks (hydrogen-drumkits)": "electronic (Roland V-Synth)",
    "TR808EmulationKit (hydrogen-data)": "electronic (TR-808 emulation)",
    "Gimme A Hand 1.0 (hydrogen-drumkits)": "hand percussion, no drum kit",
    "circAfrique v4 (hydrogen-drumkits)": "West African hand drums (djembe, dunun), no drum kit",
    "FluidR3 / MuseScore Electronic, TR-808": "electronic",
    "FluidR3 / MuseScore Orchestra Kit, MuseScore marching kits": "orchestral and marching percussion, no drum kit",
    "FluidR3 / MuseScore Standard 1-7, Room 1-7, Power 1-3, Jazz 1-4, Brush 1-2": "variants of the five kits that "
                                                                                   "change a few keys",
    "FluidR3_GS.sf2 (fluid-soundfont-gs)": "holds only a sound-effects kit (bank 128, program 56)",
}


def kit_names() -> list[str]:
    """Catalogue kit names, in catalogue order."""
    return list(CATALOGUE)


def families(kits: Iterable[str] | None = None) -> dict[str, list[str]]:
    """``{family: [kit names]}`` for ``kits`` (default: the whole catalogue), in catalogue order."""
    wanted = list(CATALOGUE) if kits is None else [_spec(k).name for k in kits]
    out: dict[str, list[str]] = {}
    for name in CATALOGUE:
        if name in wanted:
            out.setdefault(CATALOGUE[name].family, []).append(name)
    return out


def _spec(kit: str | KitSpec) -> KitSpec:
    if isinstance(kit, KitSpec):
        return kit
    if kit not in CATALOGUE:
        raise AutomixError(f"unknown kit '{kit}'; the catalogue has: {', '.join(CATALOGUE)}")
    return CATALOGUE[kit]


def install_hint(packages: Iterable[str]) -> str:
    """The apt-get line that installs the Debian ``packages``."""
    return f"apt-get install -y --no-install-recommends {' '.join(sorted(set(packages)))}"


def check_kits(kits: Iterable[str] | None = None) -> None:
    """Raise :class:`AutomixError` naming the Debian packages to install if any of ``kits``
    (default: all) or FluidSynth (for SoundFont kits) is missing."""
    missing: list[str] = []
    for name in (list(CATALOGUE) if kits is None else list(kits)):
        spec = _spec(name)
        path = Path(spec.path)
        ok = (path / "drumkit.xml").is_file() if spec.source == "hydrogen" else path.is_file()
        if not ok:
            missing.append(spec.package)
        if spec.source == "soundfont" and shutil.which("fluidsynth") is None:
            missing.append("fluidsynth")
    if missing:
        raise AutomixError(f"the drum kits need Debian packages that are missing ({', '.join(sorted(set(missing)))}); "
                           f"run: {install_hint(missing)}")

