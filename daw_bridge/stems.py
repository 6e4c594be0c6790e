"""Match stem files exported from a DAW to a model's ordered stem slots.

A model mixes a fixed, ordered set of *slots* (for the drum mixer: :data:`DRUM_SLOTS`, named
after the ENST-drums folders). Users export one file per track from their DAW, named however
their session named the tracks ("01 Kick In.wav", "OH L.wav", "Rack Tom.wav", ...). This
module guesses each file's *role* from its name and assigns files to slots; the user can
override any guess with an explicit mapping (the CLI's ``--map SLOT=FILE``).

Pure Python: nothing here opens audio. The caller probes each file's channel count and passes
it in, so the matcher can split a stereo overhead pair or note a downmix.

Matching rules, in order (see :func:`match_stems`):

1. The mapping is applied first; a file it names is not guessed again and a slot it names
   receives nothing else.
2. Every other file's name is normalised (:func:`normalise_name`) and given a role and an
   optional side (:func:`guess_role`); each slot name gets a role the same way, so
   ``"overhead_L"`` is the overhead role on the left side and a custom slot set such as
   ``("bass", "vocal", "guitar", "keys")`` works without extra tables.
3. A file goes to the slot with the same normalised name, else the slot with its role and
   side, else (a sided file) the slot with its role and no side. A file of a paired role with
   no side ("OH.wav") feeds the L/R pair: a stereo file is split by channel, a mono one goes to
   the empty side(s). An unnumbered file of a numbered family ("Tom.wav" for ``tom_1..3``)
   takes the family's free slots in file-name order.
4. Several files in one slot are summed; stereo files in a slot are downmixed; slots with no
   file are silent. Every such decision is recorded as a one-line note.
5. Files left over raise :class:`~daw_bridge.errors.StemMatchError` unless ``ignore_unmatched``;
   if no file matched any slot at all, it raises regardless.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from daw_bridge.errors import StemMatchError

__all__ = [
    "STRIPPED_EXTENSIONS",
    "DRUM_SLOTS",
    "EXPORT_SUFFIXES",
    "ROLE_ALIASES",
    "SIDE_ALIASES",
    "PERSPECTIVES",
    "ChannelSource",
    "StemAssignment",
    "guess_role",
    "load_mapping_file",
    "match_stems",
    "natural_key",
    "normalise_name",
    "parse_mapping",
    "check_perspective",
]

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
_CHANNEL_SUFFIX_RE = re.compile(r"^(.*\S):(\d+)$")
_SILENT = ("", "none")

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


def _alias_index(aliases: Mapping[str, Sequence[str]]) -> dict[Tokens, str]:
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
class _Guess:
    """What a name says: role (None if unknown), side, and a number right after the role."""

    tokens: Tokens
    role: str | None
    side: str | None
    number: int | None

    @property
    def key(self) -> str:
        """Role used for matching: the role, or the whole normalised name if none is known."""
        return self.role if self.role is not None else " ".join(self.tokens)


def _guess(tokens: Tokens, index: Mapping[Tokens, str]) -> _Guess:
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
        return _Guess(tokens, None, sides.pop() if len(sides) == 1 else None, None)
    _, start, end, role, side = best
    if side is None:
        rest = tokens[:start] + tokens[end:]
        sides = {side_words[t] for t in rest if t in side_words}
        side = sides.pop() if len(sides) == 1 else None
    number = int(tokens[end]) if end < len(tokens) and tokens[end].isdigit() else None
    return _Guess(tokens, role, side, number)


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
    guess = _guess(normalise_name(name), _alias_index(aliases))
    return guess.role, guess.side


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class ChannelSource:
    """One input to a slot: a file, and which channel of it (0-based).

    ``channel=None`` means all channels, downmixed to mono if the file has more than one.
    """

    path: Path
    channel: int | None = None

    def label(self, *, full_path: bool = False) -> str:
        """``name`` or ``name:channel`` (the path instead of the name if ``full_path``)."""
        name = str(self.path) if full_path else self.path.name
        return name if self.channel is None else f"{name}:{self.channel}"


@dataclass
class StemAssignment:
    """Which files (and channels) feed each slot of a model.

    ``sources`` has every slot, in slot order; a slot's sources are summed. ``missing`` lists
    the slots with no source (they will be silence), ``unmatched`` the files left out (only
    with ``ignore_unmatched``), and ``notes`` one-line warnings about every guess worth
    checking (sums, downmixes, split pairs, silent slots, ignored files).
    """

    slots: tuple[str, ...]
    sources: dict[str, list[ChannelSource]]
    missing: list[str] = field(default_factory=list)
    unmatched: list[Path] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def describe(self) -> str:
        """A small table, one line per slot: ``slot  file[:channel] + ...`` or ``(silence)``.

        File names are shown, or full paths when two different files share a name. A last
        ``ignored`` line lists unmatched files.
        """
        paths = {src.path for srcs in self.sources.values() for src in srcs} | set(self.unmatched)
        names = [p.name for p in paths]
        full = len(names) != len(set(names))
        rows = [("slot", "source")]
        for slot in self.slots:
            srcs = self.sources.get(slot, [])
            rows.append((slot, " + ".join(s.label(full_path=full) for s in srcs) or "(silence)"))
        if self.unmatched:
            rows.append(("ignored", ", ".join(str(p) if full else p.name for p in self.unmatched)))
        width = max(len(slot) for slot, _ in rows)
        return "\n".join(f"{slot:<{width}}  {text}" for slot, text in rows)


# --------------------------------------------------------------------------- mapping input


def _add_mapping_value(result: dict[str, list[str]], slot: str, files: list[str], where: str) -> None:
    """Add ``files`` (empty = silent) for ``slot``; refuse mixing silence with files."""
    if slot in result and (not result[slot]) != (not files):
        raise StemMatchError(f"{where}: {slot} is both set silent and given files; keep one of them")
    result.setdefault(slot, []).extend(files)


def parse_mapping(items: Sequence[str]) -> dict[str, list[str]]:
    """Parse CLI ``--map`` values into ``{slot: [file, ...]}``.

    Each item is ``SLOT=FILE``; ``FILE`` may end in ``:N`` for one channel (0-based) and may
    be several files joined by ``+`` to sum them (``kick=a.wav+b.wav``). ``SLOT=`` or
    ``SLOT=none`` forces the slot silent (an empty list). Repeating a slot adds files to it.
    Slot and file names are checked later, by :func:`match_stems`. A file whose name contains
    ``+`` can be given through a mapping file (:func:`load_mapping_file`).

    >>> parse_mapping(["kick=01 Kick In.wav", "overhead_L=OH.wav:0", "tom_3=none"])
    {'kick': ['01 Kick In.wav'], 'overhead_L': ['OH.wav:0'], 'tom_3': []}
    """
    if isinstance(items, str):
        items = [items]
    result: dict[str, list[str]] = {}
    for item in items:
        slot, eq, value = item.partition("=")
        slot, value = slot.strip(), value.strip()
        if not eq or not slot:
            raise StemMatchError(f"--map {item!r} is not SLOT=FILE; write e.g. --map kick='01 Kick In.wav'")
        if value.lower() in _SILENT:
            files: list[str] = []
        else:
            files = [part.strip() for part in value.split("+")]
            if not all(files):
                raise StemMatchError(f"--map {item!r} has an empty file name around '+'; write SLOT=a.wav+b.wav")
        _add_mapping_value(result, slot, files, f"--map {item!r}")
    return result


def load_mapping_file(path: str | os.PathLike[str]) -> dict[str, list[str]]:
    """Read a JSON mapping file ``{"slot": "file" | ["file", ...] | "none" | null}``.

    Returns the same shape as :func:`parse_mapping` (silent slots as empty lists). File names
    are kept whole (they may contain ``+``); ``"name.wav:1"`` still selects a channel.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise StemMatchError(f"mapping file {path} does not exist; check the path") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise StemMatchError(f"cannot read mapping file {path}: {exc}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise StemMatchError(
            f"mapping file {path} is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg}); "
            'write {"slot": "file", "other_slot": ["a.wav", "b.wav"]}'
        ) from None
    if not isinstance(data, dict):
        raise StemMatchError(f'mapping file {path} must hold a JSON object like {{"kick": "Kick In.wav"}}')
    result: dict[str, list[str]] = {}
    for slot, value in data.items():
        where = f"mapping file {path}, slot {slot!r}"
        if not slot.strip():
            raise StemMatchError(f"mapping file {path} has an empty slot name; use the model's slot names")
        if value is None or (isinstance(value, str) and value.strip().lower() in _SILENT):
            files: list[str] = []
        elif isinstance(value, str):
            files = [value.strip()]
        elif isinstance(value, list) and value and all(isinstance(v, str) and v.strip() for v in value):
            files = [v.strip() for v in value]
        elif isinstance(value, list) and not value:
            files = []
        else:
            raise StemMatchError(f"{where}: value must be a file name, a list of file names or null (silent)")
        _add_mapping_value(result, slot.strip(), files, where)
    return result


# --------------------------------------------------------------------------- matching


def natural_key(path: Path) -> list[tuple[int, int | str]]:
    """Sort key for file names putting "Tom 2" before "Tom 10"."""
    return [(0, int(p)) if p.isdigit() else (1, p) for p in re.split(r"(\d+)", path.name.lower()) if p]


def _quote_list(paths: Sequence[Path]) -> str:
    return ", ".join(p.name for p in paths)


class _Matcher:
    """State of one :func:`match_stems` call."""

    def __init__(
        self,
        files: Sequence[Path],
        slots: Sequence[str],
        channels: Mapping[Path, int],
        aliases: Mapping[str, Sequence[str]],
    ) -> None:
        self.slots = tuple(slots)
        if not self.slots or len(set(self.slots)) != len(self.slots):
            raise ValueError(f"slots must be non-empty and unique, got {self.slots!r}")
        seen: dict[str, Path] = {}
        for f in files:
            seen.setdefault(os.path.normcase(os.path.abspath(f)), Path(f))
        self.files = list(seen.values())
        if not self.files:
            raise StemMatchError("no stem files given; export one file per track from your DAW and pass them")
        counts = {Path(k): int(v) for k, v in channels.items()}
        lacking = [f for f in self.files if counts.get(f, 0) < 1]
        if lacking:
            raise ValueError(f"channels lacks a positive channel count for: {_quote_list(lacking)}")
        self.channels = counts
        self.index = _alias_index(aliases)
        self.sources: dict[str, list[ChannelSource]] = {slot: [] for slot in self.slots}
        self.fixed: set[str] = set()  # slots set by the mapping
        self.silenced: set[str] = set()  # slots forced silent by the mapping
        self.used: set[Path] = set()  # files named in the mapping
        self.notes: list[str] = []
        self.unmatched: list[tuple[Path, str]] = []  # (file, reason shown in parentheses)
        self.slot_tokens = {slot: normalise_name(slot) for slot in self.slots}
        self.slot_keys: dict[str, tuple[str, str | None]] = {}
        for slot in self.slots:
            g = _guess(self.slot_tokens[slot], self.index)
            role = g.key
            if g.role is not None and g.number is not None and not re.search(r"_\d+$", role):
                role = f"{role}_{g.number}"  # "gtr_2" -> guitar_2, a member of the guitar family
            self.slot_keys[slot] = (role, g.side)

    # ---- mapping

    def apply_mapping(self, mapping: Mapping[str, str | Sequence[str]]) -> None:
        for raw_slot, value in mapping.items():
            slot = self._mapped_slot(raw_slot)
            items = [] if value is None else [value] if isinstance(value, str) else list(value)
            items = [item.strip() for item in items]
            if all(item.lower() in _SILENT for item in items):  # also an empty list
                self.fixed.add(slot)
                self.silenced.add(slot)
                continue
            if any(item.lower() in _SILENT for item in items):
                raise StemMatchError(f"map {slot}: mixes 'none' with files; give files or 'none'")
            for item in items:
                for src in self._expand(slot, item):
                    if src not in self.sources[slot]:
                        self.sources[slot].append(src)
                    self.used.add(src.path)
            self.fixed.add(slot)
            self.silenced.discard(slot)

    def _mapped_slot(self, name: str) -> str:
        name = name.strip()
        if name in self.slots:
            return name
        folded = [s for s in self.slots if s.lower() == name.lower()]
        if len(folded) == 1:
            return folded[0]
        raise StemMatchError(f"unknown slot {name!r} in --map; valid slots: {', '.join(self.slots)}")

    def _expand(self, slot: str, item: str) -> list[ChannelSource]:
        """Resolve ``item`` (``file``, ``file:N`` or ``a+b``) into sources; whole name first."""
        src = self._source(slot, item)
        if src is not None:
            return [src]
        if "+" in item:
            parts = [p.strip() for p in item.split("+")]
            if not all(parts):
                raise StemMatchError(f"map {slot}={item}: empty file name around '+'; write {slot}=a.wav+b.wav")
            sources = []
            for part in parts:
                part_src = self._source(slot, part)
                if part_src is None:
                    raise self._no_file(slot, part)
                sources.append(part_src)
            return sources
        raise self._no_file(slot, item)

    def _source(self, slot: str, spec: str) -> ChannelSource | None:
        path = self._find_file(slot, spec)
        if path is not None:
            return ChannelSource(path, None)
        m = _CHANNEL_SUFFIX_RE.match(spec)
        if m is None:
            return None
        path = self._find_file(slot, m.group(1))
        if path is None:
            return None
        channel, count = int(m.group(2)), self.channels[path]
        if channel >= count:
            raise StemMatchError(
                f"map {slot}={spec}: {path.name} has {count} channel(s), numbered 0-{count - 1}; "
                f"pick one of them or drop ':{channel}'"
            )
        return ChannelSource(path, channel)

    def _find_file(self, slot: str, spec: str) -> Path | None:
        """Find ``spec`` among the files: by path, then file name, then stem (exact, then any case)."""
        if not spec:
            return None
        target = os.path.normcase(os.path.abspath(os.path.expanduser(spec)))
        for f in self.files:
            if str(f) == spec or os.path.normcase(os.path.abspath(f)) == target:
                return f
        for attr in ("name", "stem"):
            for fold in (False, True):
                want = spec.lower() if fold else spec
                hits = [f for f in self.files if (getattr(f, attr).lower() if fold else getattr(f, attr)) == want]
                if len(hits) > 1:
                    raise StemMatchError(
                        f"map {slot}={spec}: several files match ({', '.join(map(str, hits))}); give the full path"
                    )
                if hits:
                    return hits[0]
        return None

    def _no_file(self, slot: str, spec: str) -> StemMatchError:
        return StemMatchError(
            f"map {slot}={spec}: no such stem file; given files: {_quote_list(self.files)}"
        )

    # ---- guessing

    def _slot_for(self, role: str, side: str | None) -> str | None:
        """First slot not set by the mapping with this role and side."""
        for slot in self.slots:
            if slot not in self.fixed and self.slot_keys[slot] == (role, side):
                return slot
        return None

    def _fixed_slot_for(self, role: str) -> str | None:
        return next((s for s in self.slots if s in self.fixed and self.slot_keys[s][0] == role), None)

    def _family(self, role: str) -> list[str]:
        """Free slots numbered within ``role`` ("tom" -> tom_1, tom_2, tom_3), in slot order."""
        pattern = re.compile(re.escape(role) + r"_\d+")
        return [s for s in self.slots if s not in self.fixed and pattern.fullmatch(self.slot_keys[s][0])]

    def guess(self) -> None:
        pairs: list[tuple[Path, _Guess]] = []
        families: dict[str, list[Path]] = {}
        for path in self.files:
            if path in self.used:
                continue
            g = _guess(normalise_name(path), self.index)
            slot = self._direct_slot(g)
            if slot is not None:
                self.sources[slot].append(ChannelSource(path, None))
            elif g.side is None and (self._slot_for(g.key, "L") or self._slot_for(g.key, "R")):
                pairs.append((path, g))
            elif self._family(g.key):
                families.setdefault(g.key, []).append(path)
            else:
                self._leave(path, g)
        for path, g in pairs:
            self._assign_pair(path, g)
        for role, paths in families.items():
            self._assign_family(role, paths)

    def _direct_slot(self, g: _Guess) -> str | None:
        """The slot a file goes to by name, number, role or role without side; or None."""
        for slot in self.slots:
            if slot not in self.fixed and self.slot_tokens[slot] == g.tokens:
                return slot
        key = g.key
        candidates: list[tuple[str, str | None]] = []
        if g.number is not None and g.role is not None and not re.search(r"_\d+$", key):
            candidates += [(f"{key}_{g.number}", g.side), (f"{key}_{g.number}", None)]
        candidates += [(key, g.side), (key, None)]
        base = re.fullmatch(r"(.+)_\d+", key)
        if base and not self._family(base.group(1)):  # "Tom 1" with a model that has one "tom" slot
            candidates += [(base.group(1), g.side), (base.group(1), None)]
        for role, side in candidates:
            if side is None and g.side is None and (self._slot_for(role, "L") or self._slot_for(role, "R")):
                return None  # paired role without a side: handled by _assign_pair
            slot = self._slot_for(role, side)
            if slot is not None:
                return slot
        return None

    def _leave(self, path: Path, g: _Guess) -> None:
        """Record ``path`` as unmatched, with its role and why, if that helps."""
        reason = g.role or ""
        fixed = self._fixed_slot_for(g.key) if g.role else None
        if fixed is not None:
            reason += f"; {fixed} is set by the mapping"
        self.unmatched.append((path, reason))

    def _assign_pair(self, path: Path, g: _Guess) -> None:
        left, right = self._slot_for(g.key, "L"), self._slot_for(g.key, "R")
        count = self.channels[path]
        if left is None or right is None:  # the model has only one side of the pair
            slot = left or right
            assert slot is not None
            self.sources[slot].append(ChannelSource(path, None))
            self.notes.append(f"{slot}: {path.name} has no side; used it for {slot}")
        elif count >= 2:
            self.sources[left].append(ChannelSource(path, 0))
            self.sources[right].append(ChannelSource(path, 1))
            extra = f" (channels 2-{count - 1} ignored)" if count > 2 else ""
            self.notes.append(f"{left}/{right}: took the left/right channels of {path.name}{extra}")
        else:
            empty = [s for s in (left, right) if not self.sources[s]]
            targets = empty or [left, right]
            for slot in targets:
                self.sources[slot].append(ChannelSource(path, None))
            if len(targets) == 2:
                self.notes.append(f"{left}/{right}: {path.name} is mono with no side; used it for both")
            else:
                self.notes.append(f"{targets[0]}: {path.name} is mono with no side; used it for the empty side")

    def _assign_family(self, role: str, paths: list[Path]) -> None:
        family = self._family(role)
        free = [s for s in family if not self.sources[s]]
        paths = sorted(paths, key=natural_key)
        placed = list(zip(paths, free))
        for path, slot in placed:
            self.sources[slot].append(ChannelSource(path, None))
        for path in paths[len(placed):]:
            self.unmatched.append((path, f"{role}; no free {role} slot"))
        if len(paths) > 1 and placed:
            order = ", ".join(f"{p.name} -> {s}" for p, s in placed)
            self.notes.append(f"{role}: {len(paths)} unnumbered files assigned in name order: {order}")
        elif placed and placed[0][1] != family[0]:
            path, slot = placed[0]
            self.notes.append(f"{slot}: {path.name} has no number; used the first free {role} slot")

    # ---- result

    def result(self, ignore_unmatched: bool) -> StemAssignment:
        listed = ", ".join(f"{p.name} ({why})" if why else p.name for p, why in self.unmatched)
        if not any(self.sources.values()):
            raise StemMatchError(
                f"none of the {len(self.files)} files matched a slot ({', '.join(self.slots)}): {listed}; "
                "rename the files or use --map SLOT=FILE"
            )
        if self.unmatched and not ignore_unmatched:
            raise StemMatchError(
                f"no slot for: {listed}; use --map SLOT=FILE to assign them or --ignore-unmatched to leave them out "
                f"(slots: {', '.join(self.slots)})"
            )
        notes = list(self.notes)
        missing: list[str] = []
        for slot in self.slots:
            srcs = self.sources[slot]
            if not srcs:
                missing.append(slot)
                if slot in self.silenced:
                    notes.append(f"{slot} is silent, as the mapping asks")
                else:
                    notes.append(
                        f"{slot} has no file; it will be silence (use --map {slot}=FILE if one is meant for it)"
                    )
                continue
            if len(srcs) > 1 and slot not in self.fixed:
                whole_files = len({s.path for s in srcs}) == len(srcs) and all(s.channel is None for s in srcs)
                kind = "files" if whole_files else "sources"
                joined = " + ".join(s.label() for s in srcs)
                notes.append(f"{slot}: summed {len(srcs)} {kind} ({joined}); use --map {slot}=FILE to use only one")
            for src in srcs:
                count = self.channels[src.path]
                if src.channel is None and count > 1:
                    what = "is stereo" if count == 2 else f"has {count} channels"
                    notes.append(f"{slot}: {src.path.name} {what}, downmixed to mono")
        if self.unmatched:
            notes.append(f"ignored {len(self.unmatched)} file(s) with no slot: {listed}")
        return StemAssignment(
            slots=self.slots,
            sources=self.sources,
            missing=missing,
            unmatched=[p for p, _ in self.unmatched],
            notes=notes,
        )


def match_stems(
    files: Sequence[Path],
    slots: Sequence[str],
    *,
    channels: Mapping[Path, int],
    mapping: Mapping[str, str | Sequence[str]] | None = None,
    ignore_unmatched: bool = False,
    aliases: Mapping[str, Sequence[str]] = ROLE_ALIASES,
) -> StemAssignment:
    """Assign stem ``files`` to a model's ``slots``.

    ``channels`` gives every file's channel count (the caller probes the files; a missing or
    non-positive count is a bug and raises :class:`ValueError`). ``mapping`` is the explicit
    ``{slot: file spec or [specs]}`` from :func:`parse_mapping` / :func:`load_mapping_file`
    (or typed by hand); it is applied first and overrides guessing. ``aliases`` replaces the
    role table (default :data:`ROLE_ALIASES`).

    Mapping specs are resolved against ``files`` by exact path, then file name, then stem
    (name without extension), each case-sensitively then not. ``"name.wav:1"`` takes channel
    1 (0-based); ``"a.wav+b.wav"`` or a list sums files; ``""``, ``"none"`` or ``[]`` forces the
    slot silent. A mapped slot gets nothing else and a mapped file is not guessed again.

    Other files are guessed (rules in the module docstring): by name, role and side; several
    files with one role are summed (Kick In + Kick Out); a stereo file in a slot is downmixed;
    a sideless file of a paired role (OH.wav) is split by channel over ``*_L``/``*_R``, or
    used for the empty side(s) if mono; unnumbered toms fill the free ``tom_N`` slots in
    file-name order. Each such decision adds a line to ``notes``.

    Raises :class:`StemMatchError` (one-line message) for an unknown slot or file in the
    mapping, a channel out of range, files that fit no slot unless ``ignore_unmatched`` (they
    are then listed in ``unmatched``), and when no file matched any slot at all.
    """
    matcher = _Matcher([Path(f) for f in files], slots, channels, aliases)
    if mapping:
        matcher.apply_mapping(mapping)
    matcher.guess()
    return matcher.result(ignore_unmatched)
