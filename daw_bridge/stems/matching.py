"""Matching stem files to a model's slots: the assignment, explicit mappings, the matcher."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from daw_bridge.errors import StemMatchError
from daw_bridge.stems.names import ROLE_ALIASES, RoleGuess, alias_index, guess_tokens, normalise_name

# --------------------------------------------------------------------------- results

_CHANNEL_SUFFIX_RE = re.compile(r"^(.*\S):(\d+)$")
_SILENT = ("", "none")


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



#: Words in the notes that only say what an explicit mapping asked for (a caller may show them as
#: details rather than warnings).
AS_ASKED = "as the mapping asks"


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
        self.index = alias_index(aliases)
        self.sources: dict[str, list[ChannelSource]] = {slot: [] for slot in self.slots}
        self.fixed: set[str] = set()  # slots set by the mapping
        self.silenced: set[str] = set()  # slots forced silent by the mapping
        self.used: set[Path] = set()  # files named in the mapping
        self.notes: list[str] = []
        self.unmatched: list[tuple[Path, str]] = []  # (file, reason shown in parentheses)
        self.slot_tokens = {slot: normalise_name(slot) for slot in self.slots}
        self.slot_keys: dict[str, tuple[str, str | None]] = {}
        for slot in self.slots:
            g = guess_tokens(self.slot_tokens[slot], self.index)
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
        pairs: list[tuple[Path, RoleGuess]] = []
        families: dict[str, list[Path]] = {}
        for path in self.files:
            if path in self.used:
                continue
            g = guess_tokens(normalise_name(path), self.index)
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

    def _direct_slot(self, g: RoleGuess) -> str | None:
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

    def _leave(self, path: Path, g: RoleGuess) -> None:
        """Record ``path`` as unmatched, with its role if that helps; a file whose slot the mapping
        set (``--map kick="Kick Out.wav"`` beside Kick In.wav) is left out with a note instead:
        the mapping chose another file for that slot."""
        fixed = self._fixed_slot_for(g.key) if g.role else None
        if fixed is not None:
            chosen = " + ".join(self._shown(src.path) + ("" if src.channel is None else f":{src.channel}")
                                for src in self.sources[fixed]) or "silence"
            self.notes.append(f"{fixed}: {self._shown(path)} left out, {AS_ASKED} ({fixed}: {chosen})")
            return
        self.unmatched.append((path, g.role or ""))

    def _shown(self, path: Path) -> str:
        """The file's name, or its path when another file has the same name."""
        return str(path) if sum(f.name == path.name for f in self.files) > 1 else path.name

    def _assign_pair(self, path: Path, g: RoleGuess) -> None:
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
                    notes.append(f"{slot} is silent, {AS_ASKED}")
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
