"""Stem names: the drum slots, role aliases, and guessing a file's role and side from its name."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

#: Sides a stereo mix can be heard from: the kit as the drummer sits at it (hi-hat on the left
#: for a right-handed drummer), or as the audience sees it from the front (mirrored).
PERSPECTIVES: tuple[str, ...] = ("drummer", "audience")


def check_perspective(value: str | None) -> str | None:
    """``value`` lower-cased if it is one of :data:`PERSPECTIVES`; ``None`` and ``"auto"`` give ``None``."""
    if value is None or (isinstance(value, str) and value.lower() == "auto"):
        return None
    if not isinstance(value, str) or value.lower() not in PERSPECTIVES:
        raise ValueError(f"perspective must be 'drummer', 'audience' or 'auto', got {value!r}")
    return value.lower()

#: Slots of the drum mixer, in model order (ENST-drums folder names).
DRUM_SLOTS: tuple[str, ...] = (
    "kick",
    "snare",
    "hi-hat",
    "tom_1",
    "tom_2",
    "tom_3",
    "overhead_L",
    "overhead_R",
)

#: Role -> names a DAW track of that role is commonly given. Each name is normalised with the
#: same tokeniser as file names, so write them naturally ("hi-hat", "tom1", "Rack Tom 2"). The
#: role's own name is an alias too. The longest alias found anywhere in a name wins, ties go to
#: the earliest one ("Bass Drum" is a kick, "Floor Tom 2" a floor tom). An alias may belong to
#: one role only. Roles outside a model's slots are still useful: unmatched files are reported
#: with them. "tom" is the generic, unnumbered tom (see :func:`match_stems`).
ROLE_ALIASES: dict[str, tuple[str, ...]] = {
    "kick": (
        "kick", "kik", "kck", "bd", "bass drum", "kick drum", "kick in", "kick out",
        "kick inside", "kick outside", "kick sub", "sub kick", "kick front", "kick back",
    ),
    "snare": (
        "snare", "snr", "sn", "sd", "snare drum", "snare top", "snare bottom", "snare btm",
        "snare bot", "snare under", "snare up", "snare down", "sn top", "sn bot", "sn btm",
    ),
    "hi-hat": ("hihat", "hi hat", "hh", "hat", "hats", "hi hats", "hihats", "high hat"),
    "tom_1": (
        "tom 1", "rack tom", "rack tom 1", "high tom", "hi tom", "t1", "rack 1", "tom hi",
        "tom high",
    ),
    "tom_2": ("tom 2", "mid tom", "rack tom 2", "t2", "rack 2", "tom mid"),
    "tom_3": (
        "tom 3", "floor tom", "floor", "ft", "low tom", "lo tom", "t3", "floor tom 1",
        "tom low", "tom lo", "tom floor",
    ),
    "tom": ("toms", "tom tom"),
    "overheads": (
        "oh", "ohs", "overhead", "over head", "overheads", "ovh", "ovhd", "ovhs", "cymbals",
        "cymbal", "cym", "cyms",
    ),
    "room": (
        "rooms", "rm", "amb", "ambience", "ambient", "drum room", "room mic", "room mics",
        "far room", "near room", "mono room", "trash",
    ),
    "ride": ("rd",),
    "crash": ("china", "splash"),
    "drums": ("drum", "kit", "drum bus", "drum kit", "drumkit"),
    "percussion": (
        "perc", "shaker", "tamb", "tambourine", "conga", "congas", "bongo", "bongos",
        "cowbell", "clap", "claps",
    ),
    "bass": (
        "bass di", "bass amp", "bass gtr", "bass guitar", "sub bass", "bass synth", "bss",
        "upright bass",
    ),
    "vocal": (
        "vocals", "vox", "voc", "vocs", "voice", "lead vocal", "lead vocals", "lead vox",
        "bv", "bvs", "bgv", "bgvs", "backing vocal", "backing vocals", "backing vox", "choir",
        "harmony", "harmonies",
    ),
    "guitar": (
        "guitars", "gtr", "gtrs", "gt", "electric guitar", "elec gtr", "acoustic",
        "acoustic guitar", "ac gtr", "ag", "eg", "gtr di", "gtr amp",
    ),
    "keys": (
        "key", "keyboard", "keyboards", "kbd", "piano", "pno", "organ", "rhodes", "wurli",
        "synth", "synths", "pad", "pads", "ep", "clav",
    ),
    "strings": ("string", "violin", "violins", "viola", "cello", "vln"),
    "brass": ("horns", "horn", "trumpet", "trombone", "sax", "saxophone"),
    "fx": ("sfx", "efx", "effects", "effect"),
    "click": ("metronome", "click track", "met"),
    "mix": ("mixdown", "stereo mix", "full mix", "master", "2 mix", "two mix"),
}

#: Side -> tokens that mark it ("OH L", "Overhead Left"); "OHL"/"OHLeft" (alias + side glued
#: together) are recognised too.
SIDE_ALIASES: dict[str, tuple[str, ...]] = {"L": ("l", "left"), "R": ("r", "right")}

#: Extensions stripped from names (other dots are separators: Pro Tools "OH.L.wav").
STRIPPED_EXTENSIONS: frozenset[str] = frozenset(
    {
        "wav", "wave", "aif", "aiff", "aifc", "flac", "mp3", "ogg", "oga", "opus", "m4a",
        "mp4", "aac", "caf", "w64", "rf64", "bwf", "wv", "sd2", "snd", "au", "alac",
    }
)

#: Trailing words that DAWs and engineers add to exported file names; dropped from the end of
#: a name while something else remains ("Kick In_bounce (stereo)" -> "kick in").
EXPORT_SUFFIXES: frozenset[str] = frozenset(
    {
        "bounce", "bounced", "mix", "mixed", "stereo", "st", "mono", "print", "printed",
        "export", "exported", "render", "rendered", "consolidated", "final", "copy", "audio",
        "stem", "track",
    }
)

#: Words that, followed by a number at the end of a name, mark a take or version ("_v2",
#: "take 3", "Pro Tools .dup1").
_VERSION_WORDS: frozenset[str] = frozenset({"v", "ver", "version", "take", "tk", "dup", "copy", "alt", "rev"})

_CAMEL_RE = re.compile(r"(?<=[a-z])(?=[A-Z])")
_LETTER_DIGIT_RE = re.compile(r"(?<=[^\W\d_])(?=\d)|(?<=\d)(?=[^\W\d_])")
_SEPARATOR_RE = re.compile(r"[\W_]+")

Tokens = tuple[str, ...]


# --------------------------------------------------------------------------- names and roles


def _tokenise(text: str) -> list[str]:
    """Split ``text`` on separators, camel case and letter/digit boundaries; lowercase."""
    text = _CAMEL_RE.sub(" ", text)
    text = _LETTER_DIGIT_RE.sub(" ", text)
    tokens = [t for t in _SEPARATOR_RE.split(text.lower()) if t]
    return [str(int(t)) if t.isascii() and t.isdigit() else t for t in tokens]


def _strip_extension(name: str) -> str:
    stem, dot, ext = name.rpartition(".")
    return stem if dot and stem and ext.lower() in STRIPPED_EXTENSIONS else name


def _strip_suffixes(tokens: list[str]) -> list[str]:
    """Drop export suffixes and trailing take/version numbers while a real word remains."""

    def has_word(ts: Sequence[str]) -> bool:
        return any(t not in EXPORT_SUFFIXES and not t.isdigit() for t in ts)

    while True:
        if len(tokens) >= 3 and tokens[-1].isdigit() and tokens[-2] in _VERSION_WORDS and has_word(tokens[:-2]):
            del tokens[-2:]
        elif len(tokens) >= 2 and tokens[-1] in EXPORT_SUFFIXES and has_word(tokens[:-1]):
            del tokens[-1]
        else:
            return tokens


def normalise_name(name: str | os.PathLike[str]) -> Tokens:
    """Return the lowercase word tokens of a file or track name, for matching.

    A path-like contributes its file name only; a string is used whole (track names may contain
    "/"). Steps: strip a known audio extension; split on spaces, underscores, dashes, dots and
    other punctuation, on camel case ("KickIn") and between letters and digits ("tom1");
    write numbers without leading zeros; drop a leading track number ("01 ", "01_", "1-",
    "01. "); drop trailing export suffixes ("_bounce", "-mix", "(stereo)", " st", "mono") and
    take/version numbers ("_v2", "take 3"), but never the last real word.

    >>> normalise_name("01_Kick In_bounce_v2.wav")
    ('kick', 'in')
    >>> normalise_name("Hi-Hat (stereo).aif")
    ('hi', 'hat')
    """
    text = Path(name).name if isinstance(name, os.PathLike) else str(name)
    tokens = _tokenise(_strip_extension(text.strip()))
    if len(tokens) > 1 and tokens[0].isdigit():
        tokens = tokens[1:]
    return tuple(_strip_suffixes(tokens))


def alias_index(aliases: Mapping[str, Sequence[str]]) -> dict[Tokens, str]:
    index: dict[Tokens, str] = {}
    for role, names in aliases.items():
        for alias in (role, *names):
            key = tuple(_tokenise(alias))
            if not key:
                raise ValueError(f"role alias {alias!r} of {role!r} has no words")
            other = index.setdefault(key, role)
            if other != role:
                raise ValueError(f"role alias {alias!r} is given for both {other!r} and {role!r}")
    return index


@dataclass(frozen=True)
class RoleGuess:
    """What a name says: role (None if unknown), side, and a number right after the role."""

    tokens: Tokens
    role: str | None
    side: str | None
    number: int | None

    @property
    def key(self) -> str:
        """Role used for matching: the role, or the whole normalised name if none is known."""
        return self.role if self.role is not None else " ".join(self.tokens)


def guess_tokens(tokens: Tokens, index: Mapping[Tokens, str]) -> RoleGuess:
    side_words = {word: side for side, words in SIDE_ALIASES.items() for word in words}
    longest = max(map(len, index), default=1)
    best: tuple[int, int, int, str, str | None] | None = None  # (length, start, end, role, side)
    for start in range(len(tokens)):
        for end in range(min(len(tokens), start + longest), start, -1):
            role = index.get(tokens[start:end])
            if role is not None:
                if best is None or end - start > best[0]:
                    best = (end - start, start, end, role, None)
                break
        else:  # an alias glued to a side: "ohl", "ohleft"
            token = tokens[start]
            for word, side in side_words.items():
                stem = token[: -len(word)]
                if token.endswith(word) and len(stem) >= 2 and (stem,) in index:
                    if best is None:
                        best = (1, start, start + 1, index[(stem,)], side)
                    break
    if best is None:
        sides = {side_words[t] for t in tokens if t in side_words}
        return RoleGuess(tokens, None, sides.pop() if len(sides) == 1 else None, None)
    _, start, end, role, side = best
    if side is None:
        rest = tokens[:start] + tokens[end:]
        sides = {side_words[t] for t in rest if t in side_words}
        side = sides.pop() if len(sides) == 1 else None
    number = int(tokens[end]) if end < len(tokens) and tokens[end].isdigit() else None
    return RoleGuess(tokens, role, side, number)


def guess_role(
    name: str | os.PathLike[str], *, aliases: Mapping[str, Sequence[str]] = ROLE_ALIASES
) -> tuple[str | None, str | None]:
    """Guess the role and side of a file or DAW track name.

    Returns ``(role, side)``: ``role`` is a key of ``aliases`` (default :data:`ROLE_ALIASES`,
    e.g. ``"kick"``, ``"tom_3"``, ``"overheads"``, ``"vocal"``) or ``None`` when no alias
    occurs in the name; ``side`` is ``"L"``, ``"R"`` or ``None`` (none or both found). The name
    is normalised first (:func:`normalise_name`); the longest alias found anywhere wins, ties
    go to the earliest.

    >>> guess_role("02_Snare Top.wav")
    ('snare', None)
    >>> guess_role("Overhead Left.flac")
    ('overheads', 'L')
    >>> guess_role("Floor Tom")
    ('tom_3', None)
    """
    guess = guess_tokens(normalise_name(name), alias_index(aliases))
    return guess.role, guess.side
