"""Users' own multitrack collections: a manifest, a folder scanner and a torch dataset.

A *collection* is a folder of songs; each song has stem files and, optionally, a mix. A
*manifest* (JSON, or YAML when PyYAML is importable; PyYAML is not a dependency of automix)
says which file feeds which model *slot*::

    {
      "version": 1,
      "sample_rate": 44100,                      # optional: other rates are resampled
      "root": ".",                               # optional: song folders are relative to this,
                                                 # itself relative to the manifest file
      "slots": ["bass", "drums", "vocals", "other"],
      "songs": [
        {"name": "Song A", "folder": "Song A", "mix": "Mix.wav", "split": "train",
         "stems": [{"file": "Bass DI.wav", "slot": "bass"},
                   {"file": "Kick.wav", "slot": "drums"},
                   {"file": "OH.wav", "slot": "drums", "channel": 0}],
         "unassigned": ["Click.wav"]},
        {"name": "Song B", "mix": null, "stems": [...]}   # mix null: the sum of the stems
      ]
    }

* :func:`load_manifest` / :func:`parse_manifest` validate it (pydantic, unknown keys are
  refused) and raise :class:`ManifestError` with one line naming every bad key
  (``songs[3].stems[1].slot: 'kik' is not one of the manifest slots (...)``).
* :func:`scan_collection` writes a starter manifest by scanning ``root/<song>/`` folders and
  :func:`write_manifest` saves it atomically (the ``automix datasets manifest`` command).
* :class:`MultitrackDataset` serves training segments for mixing (stems -> mix) or
  separation (mix -> stems).

Definitions the dataset relies on (the same everywhere in this module):

* a **slot signal** is mono: the sum of the slot's sources, each source being one channel of
  a file (``channel``) or the mean of all its channels;
* the **sum-of-stems mix** (``mix: null``) is stereo: the sum of every stem, a mono source
  (or one channel, or a file of more than two channels, downmixed) placed in the centre
  with gain 1 on both sides, a stereo file kept as it is. Its mono fold-down (the mean of
  L and R) therefore equals the sum of the slot signals;
* a **mix file** is used as it is: mono is duplicated to stereo; more than two channels is
  refused (the song is skipped with a reason).

Importing this module imports torch (the dataset subclasses ``torch.utils.data.Dataset``).
"""

from __future__ import annotations

import collections
import dataclasses
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch

from automix.data.manifest import (  # the manifest's names are re-exported: users import them from here
    MANIFEST_VERSION,
    SPLITS,
    Manifest,
    ManifestError,
    SongEntry,
    StemEntry,
    check_manifest_files,
    listing,
    load_manifest,
    parse_manifest,
    root_of,
    scan_collection,
    song_files,
    write_manifest,
)
from automix.data.segment_settings import Augmentation, CollectionSettings
from automix.data.segments import RandomSegmentSampler, fixed_segments, gain_db_for, rms_db
from automix.data.sources import LOUDNESS_INDEX_NAME, LoudnessCache, Source, read_region, stereo
from daw_bridge.audio import probe, resampled_length, to_mono
from daw_bridge.errors import AutomixError
from daw_bridge.loudness import measure_loudness

__all__ = [
    "LOUDNESS_INDEX_NAME",
    "MANIFEST_VERSION",
    "SPLITS",
    "Augmentation",
    "CollectionSettings",
    "Manifest",
    "ManifestError",
    "MultitrackDataset",
    "SkippedSong",
    "SongEntry",
    "SongInfo",
    "StemEntry",
    "check_manifest_files",
    "load_manifest",
    "parse_manifest",
    "scan_collection",
    "write_manifest",
]

logger = logging.getLogger("automix")

_SILENCE_RETRIES = 10  # extra random draws when a segment is near-silent
_MAX_GAIN_DB = 60.0  # loudness normalisation gain limit (as daw_bridge.loudness.normalize_loudness)


# --------------------------------------------------------------------------------------------
# The dataset


@dataclass(frozen=True)
class SongInfo:
    """A song the dataset serves: ``frames`` is its length at the dataset's sample rate."""

    name: str
    split: str | None
    folder: Path
    frames: int
    slots: tuple[str, ...]  # slots with at least one stem (mask 1)
    mix: Path | None  # None: the sum of the stems


@dataclass(frozen=True)
class SkippedSong:
    """A song left out, and why (one line naming the file)."""

    name: str
    reason: str


@dataclass
class _Song:
    info: SongInfo
    slots: list[list[Source]]  # per manifest slot
    mix: Source | None
    frames: int
    mask: np.ndarray  # [N_slots] float32
    stem_gain: np.ndarray = field(default_factory=lambda: np.ones(0, np.float32))  # [N_slots]
    mix_gain: float = 1.0

    @property
    def stems(self) -> list[Source]:
        return [s for srcs in self.slots for s in srcs]

    @property
    def files(self) -> list[Source]:
        return self.stems + ([self.mix] if self.mix is not None else [])


def _select_splits(split: str | Sequence[str] | None) -> set[str] | None:
    if split is None:
        return None
    wanted = {split} if isinstance(split, str) else set(split)
    bad = sorted(wanted - set(SPLITS))
    if bad or not wanted:
        raise ValueError(f"split must be one of {', '.join(SPLITS)} (or a list of them), got {split!r}")
    return wanted


def _chosen_songs(
    manifest: Manifest, wanted_splits: set[str] | None, split: str | Sequence[str] | None
) -> list[tuple[int, SongEntry]]:
    """``(index, song)`` of the manifest's songs in ``wanted_splits`` (None: all); raises
    :class:`ManifestError` for missing files or when no song is in the split."""
    check_manifest_files(manifest, None)  # root is absolute or resolved from the cwd
    chosen = [(i, s) for i, s in enumerate(manifest.songs) if wanted_splits is None or s.split in wanted_splits]
    if not chosen:
        counts = collections.Counter(s.split or "none" for s in manifest.songs)
        have = ", ".join(f"{k}: {v}" for k, v in sorted(counts.items()))
        raise ManifestError(f"no song has split {split!r} in the manifest (songs per split: {have})")
    return chosen


def _sample_rate(asked: int | None, manifest: Manifest, songs: Sequence[_Song]) -> int:
    """The dataset's rate (Hz): ``asked``, else the manifest's, else the files' most common (44100 without files)."""
    rates = collections.Counter(s.file_rate for song in songs for s in song.files)
    if asked is not None:
        return asked
    if manifest.sample_rate is not None:
        return manifest.sample_rate
    if rates:
        return max(rates, key=lambda r: (rates[r], r))
    return 44100


class MultitrackDataset(torch.utils.data.Dataset):
    """Training segments from a multitrack collection described by a manifest.

    ``manifest_or_path``: a manifest file, or a :class:`Manifest` (a relative ``root`` is then
    taken from the current folder). The options below are the fields of ``settings`` (a
    :class:`CollectionSettings`, kept as :attr:`settings`), each also a keyword that replaces
    the settings' value. ``input_length`` / ``output_length`` (required) are the model's
    (e.g. ``WaveUNet.input_length_for(n)``); the output covers the centre of the input,
    ``context = (input_length - output_length) // 2`` samples in from each side, which must
    be a whole number (same-mode models: equal lengths).

    Each item is a dict of tensors:

    * ``mode="mix"``: ``input`` stems ``[N_slots, input_length]`` (one mono signal per slot in
      the manifest's slot order; absent slots are zeros) -> ``target`` mix
      ``[mix_channels, output_length]`` (default stereo; a mono mix file is duplicated; a
      null mix is the sum of the stems, see the module docstring);
    * ``mode="separate"``: ``input`` mix ``[mix_channels, input_length]`` -> ``target`` stems
      ``[N_slots, output_length]`` (mono);
    * ``mask`` ``[N_slots]`` float32: 1 for slots the song has stems for, 0 for absent ones;
    * ``song``: index into :attr:`songs`; ``start``: first target sample in the song (frames
      at :attr:`sample_rate`; the input starts ``context`` frames earlier). Audio outside the
      song is zeros.

    ``segment="random"``: each index draws a target window, every window position of every
    song equally likely, from ``(seed, epoch, index)`` (``seed=None``: fresh randomness on
    each call); a segment whose mix over the target window is below ``silence_db`` dBFS RMS
    is drawn again, up to 10 times (the loudest draw is kept).
    ``len()`` is ``samples_per_epoch``, by default the number of target windows that cover
    the collection once. Call :meth:`set_epoch` for new segments each epoch.
    ``segment="sequential"``: every song tiled by consecutive target windows (the last one
    ends at the song's end; a song shorter than a window gives one zero-padded window), for
    deterministic validation.

    ``loudness_target`` (LUFS): ``mode="mix"`` scales each slot signal and the mix to that
    integrated loudness over the whole song; ``mode="separate"`` scales the mix to it and the
    stems by the same gain (they keep their share of the mix). Silent signals are left
    alone; gains are limited to +-60 dB. Measurements are cached in
    ``.automix-loudness.json`` next to the manifest (keyed by path, size and mtime).

    Files and sample rates: every song's files are probed (headers) when the dataset is
    built; a manifest naming missing files raises one :class:`ManifestError` listing them;
    a song with an unreadable file is skipped: it goes to :attr:`skipped` with the reason and
    one warning is logged. A file that fails later (NaN samples found while reading a
    segment) never stops an epoch: the song is skipped from then on (logged, and added to
    :attr:`skipped` of that process's copy), a random segment is drawn from another song,
    and a sequential one is returned as zeros with an all-zero mask. ``sample_rate``
    defaults to the manifest's, else the most common rate of the files; other files are
    resampled (soxr, on the fly per segment).

    ``augment`` (``mode="separate"`` with random segments only): an :class:`Augmentation` (or
    anything with ``gain_db`` and ``remix``, such as :class:`automix.train.recipe.AugmentSpec`, or
    a dict of them). Each slot of a drawn segment is, with probability ``remix``, replaced by
    that slot from another random song and position (songs without the slot are passed
    over), then scaled by a gain drawn uniformly in ``gain_db`` (dB); the input mix is the
    sum of the augmented slots (stereo as in a sum-of-stems mix) and the targets are their
    mono signals. Everything is drawn from the item's ``(seed, epoch, index)`` generator, so
    an item is the same on every call. Sequential (validation) segments are never augmented.
    """

    def __init__(
        self, manifest_or_path: Manifest | str | os.PathLike, *, settings: CollectionSettings | None = None,
        **options: Any,
    ) -> None:
        super().__init__()
        s = self.settings = CollectionSettings.of(settings, options)
        wanted_splits = _select_splits(s.split)
        manifest, index_dir = self._load(manifest_or_path)
        self.manifest = manifest
        self.root = root_of(manifest, None)
        self.slots: tuple[str, ...] = tuple(manifest.slots)
        self.mode = s.mode
        self.segment = s.segment
        self.input_length = int(s.input_length)
        self.output_length = int(s.output_length)
        self.context = (self.input_length - self.output_length) // 2
        self.mix_channels = s.mix_channels
        self.loudness_target = None if s.loudness_target is None else float(s.loudness_target)
        self.silence_db = float(s.silence_db)
        self.seed = s.seed
        self.augment: Augmentation | None = s.augment
        self.epoch = 0
        self.skipped: list[SkippedSong] = []

        chosen = _chosen_songs(manifest, wanted_splits, s.split)
        songs = self._probe_songs(chosen)
        self.sample_rate = _sample_rate(s.sample_rate, manifest, songs)
        songs = [self._finish_song(song) for song in songs]
        if self.loudness_target is not None:
            songs = self._measure(songs, LoudnessCache(index_dir))
        self._report_skipped(songs, len(chosen), s.split)
        self._songs = songs
        self.songs: list[SongInfo] = [song.info for song in songs]
        self._failed: set[int] = set()
        self._positions = fixed_segments([song.frames for song in songs], self.output_length)
        self._len = s.samples_per_epoch or len(self._positions)
        self._sampler: tuple[list[int], RandomSegmentSampler] | None = None  # (alive songs, sampler)

    # ------------------------------------------------------------------ building

    def _load(self, manifest_or_path: Manifest | str | os.PathLike) -> tuple[Manifest, Path]:
        """The manifest, validated, and the folder of its loudness cache; sets ``manifest_path``."""
        if isinstance(manifest_or_path, (str, os.PathLike)):
            self.manifest_path: Path | None = Path(manifest_or_path).expanduser().absolute()
            manifest = load_manifest(self.manifest_path)
            index_dir = self.manifest_path.parent
        else:
            self.manifest_path = None
            manifest = parse_manifest(manifest_or_path)
            index_dir = root_of(manifest, None)
        return manifest, index_dir

    def _report_skipped(self, songs: list[_Song], chosen: int, split: str | Sequence[str] | None) -> None:
        """Log the songs skipped (of ``chosen``); raise :class:`ManifestError` when none is left."""
        if self.skipped:
            logger.warning(
                "skipped %d of %d song(s) (see dataset.skipped): %s",
                len(self.skipped), chosen, listing([f"{s.name}: {s.reason}" for s in self.skipped]),
            )
        if not songs:
            raise ManifestError(
                f"no readable song in the {'collection' if split is None else f'{split!r} split'}: "
                f"{listing([f'{s.name}: {s.reason}' for s in self.skipped])}"
            )

    def _probe_songs(self, chosen: Sequence[tuple[int, SongEntry]]) -> list[_Song]:
        songs: list[_Song] = []
        bad_channels: list[str] = []
        for i, song in chosen:
            folder, mix_path, stem_paths = song_files(song, self.root)
            if not song.stems:
                reason = "no stems listed; assign its files to slots in the manifest"
                self.skipped.append(SkippedSong(song.name, reason))
                continue
            try:
                infos = {p: probe(p) for p in dict.fromkeys(stem_paths + ([mix_path] if mix_path else []))}
            except AutomixError as exc:
                self.skipped.append(SkippedSong(song.name, str(exc)))
                continue
            if mix_path is not None and infos[mix_path].channels > 2:
                self.skipped.append(SkippedSong(
                    song.name, f"{mix_path} has {infos[mix_path].channels} channels; a mix must be mono or stereo"
                ))
                continue
            slots: list[list[Source]] = [[] for _ in self.slots]
            for j, (stem, path) in enumerate(zip(song.stems, stem_paths)):
                info = infos[path]
                if stem.channel is not None and stem.channel >= info.channels:
                    bad_channels.append(
                        f"songs[{i}].stems[{j}].channel: {stem.channel} but {path.name} has "
                        f"{info.channels} channel(s), numbered from 0"
                    )
                slots[self.slots.index(stem.slot)].append(
                    Source(path, stem.channel, info.sample_rate, info.channels, info.frames, info.frames)
                )
            mix = None
            if mix_path is not None:
                info = infos[mix_path]
                mix = Source(mix_path, None, info.sample_rate, info.channels, info.frames, info.frames)
            mask = np.array([1.0 if srcs else 0.0 for srcs in slots], dtype=np.float32)
            present = tuple(slot for slot, srcs in zip(self.slots, slots) if srcs)
            info = SongInfo(song.name, song.split, folder, 0, present, mix_path)
            songs.append(_Song(info, slots, mix, 0, mask))
        if bad_channels:
            raise ManifestError(f"the manifest asks for channels the files lack: {listing(bad_channels)}")
        return songs

    def _finish_song(self, song: _Song) -> _Song:
        """Lengths at the dataset's rate; resampling noted once per song."""
        rate = self.sample_rate

        def at_rate(src: Source) -> Source:
            if src.file_rate == rate:
                return src
            frames = resampled_length(src.file_frames, src.file_rate, rate)
            return Source(src.path, src.channel, src.file_rate, src.file_channels, src.file_frames, frames)

        song.slots = [[at_rate(s) for s in srcs] for srcs in song.slots]
        song.mix = at_rate(song.mix) if song.mix is not None else None
        others = sorted({s.file_rate for s in song.files if s.file_rate != rate})
        if others:
            logger.info("%s: resampling files at %s Hz to %d Hz", song.info.name, ", ".join(map(str, others)), rate)
        song.frames = max(s.frames for s in song.files)
        song.info = dataclasses.replace(song.info, frames=song.frames)
        song.stem_gain = np.ones(len(self.slots), dtype=np.float32)
        return song

    def _full(self, sources: Sequence[Source], frames: int, kind: str) -> np.ndarray:
        """The whole mono or stereo sum of ``sources`` (``kind`` "mono" / "stereo")."""
        out = np.zeros((1 if kind == "mono" else 2, frames), dtype=np.float32)
        for src in sources:
            audio = read_region(src, self.sample_rate, 0, frames)
            out += to_mono(audio) if kind == "mono" else stereo(audio)
        return out

    def _lufs(self, index: LoudnessCache, kind: str, sources: Sequence[Source], frames: int) -> float:
        key, files = index.key(kind, self.sample_rate, sources)
        lufs = index.get(key)
        if lufs is None:
            lufs = measure_loudness(self._full(sources, frames, kind), self.sample_rate)
            index.put(key, kind, self.sample_rate, files, lufs)
        return lufs

    def _gain(self, lufs: float) -> float:
        assert self.loudness_target is not None
        return float(10.0 ** (gain_db_for(lufs, self.loudness_target, _MAX_GAIN_DB) / 20.0))

    def _measure(self, songs: list[_Song], index: LoudnessCache) -> list[_Song]:
        """Loudness gains for every song (cached); songs whose files fail to read are skipped."""
        kept: list[_Song] = []
        mix_kind = "stereo" if self.mix_channels == 2 else "mono"
        for song in songs:
            mix_sources = [song.mix] if song.mix is not None else song.stems
            try:
                song.mix_gain = self._gain(self._lufs(index, mix_kind, mix_sources, song.frames))
                if self.mode == "mix":
                    song.stem_gain = np.array(
                        [self._gain(self._lufs(index, "mono", srcs, song.frames)) if srcs else 1.0
                         for srcs in song.slots],
                        dtype=np.float32,
                    )
                else:
                    song.stem_gain = np.full(len(self.slots), song.mix_gain, dtype=np.float32)
            except (AutomixError, OSError) as exc:
                self.skipped.append(SkippedSong(song.info.name, str(exc)))
                continue
            kept.append(song)
        index.save()
        return kept

    # ------------------------------------------------------------------ segments

    def __len__(self) -> int:
        return self._len

    def set_epoch(self, epoch: int) -> None:
        """Choose the random segments of ``epoch`` (each epoch draws different ones)."""
        self.epoch = int(epoch)

    def _render(self, k: int, start: int) -> tuple[np.ndarray, np.ndarray]:
        """``(input, target)`` of song ``k`` for the target window starting at ``start``."""
        song, rate = self._songs[k], self.sample_rate
        n_in, n_out, ctx = self.input_length, self.output_length, self.context
        in_start = start - ctx
        if self.mode == "mix":
            stems = np.zeros((len(self.slots), n_in), dtype=np.float32)
            mix = np.zeros((2, n_out), dtype=np.float32)
            for j, srcs in enumerate(song.slots):
                for src in srcs:
                    audio = read_region(src, rate, in_start, n_in)
                    stems[j] += to_mono(audio)[0]
                    if song.mix is None:
                        mix += stereo(audio[:, ctx : ctx + n_out])
            if song.mix is not None:
                mix = stereo(read_region(song.mix, rate, start, n_out))
            stems *= song.stem_gain[:, None]
            target = (mix if self.mix_channels == 2 else to_mono(mix)) * np.float32(song.mix_gain)
            return stems, np.ascontiguousarray(target, dtype=np.float32)
        # separate
        stems = np.zeros((len(self.slots), n_out), dtype=np.float32)
        if song.mix is None:
            mix = np.zeros((2, n_in), dtype=np.float32)
            for j, srcs in enumerate(song.slots):
                for src in srcs:
                    audio = read_region(src, rate, in_start, n_in)
                    mix += stereo(audio)
                    stems[j] += to_mono(audio)[0, ctx : ctx + n_out]
        else:
            mix = stereo(read_region(song.mix, rate, in_start, n_in))
            for j, srcs in enumerate(song.slots):
                for src in srcs:
                    stems[j] += to_mono(read_region(src, rate, start, n_out))[0]
        mix = (mix if self.mix_channels == 2 else to_mono(mix)) * np.float32(song.mix_gain)
        stems *= song.stem_gain[:, None]
        return np.ascontiguousarray(mix, dtype=np.float32), stems

    def _slot_signal(self, k: int, j: int, in_start: int) -> np.ndarray:
        """Slot ``j`` of song ``k`` over the input window from ``in_start``: ``[2, input_length]``
        as it sits in a sum-of-stems mix (loudness gain applied)."""
        song = self._songs[k]
        out = np.zeros((2, self.input_length), dtype=np.float32)
        for src in song.slots[j]:
            out += stereo(read_region(src, self.sample_rate, in_start, self.input_length))
        return out * np.float32(song.stem_gain[j])

    def _augmented(self, rng: np.random.Generator) -> tuple[int, int, np.ndarray, np.ndarray, np.ndarray]:
        """An augmented random segment: ``(song, start, mix, stems, mask)`` (see ``augment``)."""
        assert self.augment is not None
        ctx, n_out = self.context, self.output_length
        k, start, slots = self._draw_loud(
            rng,
            lambda k, start: np.stack([self._slot_signal(k, j, start - ctx) for j in range(len(self.slots))]),
            lambda slots: rms_db(slots.sum(axis=0)[:, ctx : ctx + n_out]),
        )
        mask = self._songs[k].mask.copy()
        for j in range(len(self.slots)):
            if rng.random() >= self.augment.remix:
                continue
            other = self._draw(rng)
            if other is None or not self._songs[other[0]].mask[j]:
                continue
            try:
                slots[j] = self._slot_signal(other[0], j, other[1] - ctx)
            except (AutomixError, OSError) as exc:
                self._fail(other[0], exc)
                continue
            mask[j] = 1.0
        lo, hi = self.augment.gain_db
        gains = (10.0 ** (rng.uniform(lo, hi, size=len(self.slots)) / 20.0)).astype(np.float32)
        slots *= gains[:, None, None]
        mix = slots.sum(axis=0)
        if self.mix_channels == 1:
            mix = to_mono(mix)
        stems = slots.mean(axis=1)[:, ctx : ctx + n_out]
        return k, start, np.ascontiguousarray(mix, np.float32), np.ascontiguousarray(stems, np.float32), mask

    def _draw_loud(self, rng: np.random.Generator, render, level) -> tuple[int, int, Any]:
        """``(song, start, render(song, start))`` of a random segment louder than ``silence_db``.

        At most ``_SILENCE_RETRIES + 1`` readable draws; if none is loud enough, the loudest by
        ``level(rendered)``. A song that fails to read is set aside (:meth:`_fail`) and costs no
        retry; when every song has failed, :class:`AutomixError`.
        """
        best: tuple[float, int, int, Any] | None = None
        draws = 0
        while draws <= _SILENCE_RETRIES:
            drawn = self._draw(rng)
            if drawn is None:
                if best is not None:
                    break
                raise AutomixError(
                    f"every song of the collection failed to read: "
                    f"{listing([f'{s.name}: {s.reason}' for s in self.skipped])}"
                )
            k, start = drawn
            try:
                rendered = render(k, start)
            except (AutomixError, OSError) as exc:
                self._fail(k, exc)
                continue
            draws += 1
            value = level(rendered)
            if best is None or value > best[0]:
                best = (value, k, start, rendered)
            if value >= self.silence_db:
                break
        assert best is not None
        return best[1], best[2], best[3]

    def _mix_level(self, inp: np.ndarray, target: np.ndarray) -> float:
        """RMS level (dBFS) of the mix over the target window."""
        if self.mode == "mix":
            return rms_db(target)
        return rms_db(inp[:, self.context : self.context + self.output_length])

    def _fail(self, k: int, exc: BaseException) -> None:
        if k in self._failed:
            return
        self._failed.add(k)
        name = self._songs[k].info.name
        self.skipped.append(SkippedSong(name, str(exc)))
        logger.warning("skipping song %r from now on: %s", name, exc)

    def _item(self, k: int, start: int, inp: np.ndarray, target: np.ndarray, mask: np.ndarray) -> dict[str, Any]:
        return {
            "input": torch.from_numpy(np.ascontiguousarray(inp)),
            "target": torch.from_numpy(np.ascontiguousarray(target)),
            "mask": torch.from_numpy(mask.copy()),
            "song": k,
            "start": int(start),
        }

    def _zeros(self, k: int, start: int) -> dict[str, Any]:
        n_slots = len(self.slots)
        if self.mode == "mix":
            inp = np.zeros((n_slots, self.input_length), np.float32)
            target = np.zeros((self.mix_channels, self.output_length), np.float32)
        else:
            inp = np.zeros((self.mix_channels, self.input_length), np.float32)
            target = np.zeros((n_slots, self.output_length), np.float32)
        return self._item(k, start, inp, target, np.zeros(n_slots, np.float32))

    def tile(self, index: int) -> tuple[int, int]:
        """``(song, start)`` of sequential item ``index`` (the target window's first frame)."""
        return self._positions[index]

    def _draw(self, rng: np.random.Generator) -> tuple[int, int] | None:
        """A random ``(song, start)`` among the songs not failed yet (None if none is left)."""
        alive = [k for k in range(len(self._songs)) if k not in self._failed]
        if not alive:
            return None
        if self._sampler is None or self._sampler[0] != alive:
            lengths = [self._songs[k].frames for k in alive]
            self._sampler = (alive, RandomSegmentSampler(lengths, self.output_length))
        j, start = self._sampler[1].draw(rng)
        return alive[j], start

    def __getitem__(self, index: int) -> dict[str, Any]:
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError(f"index {index} out of range for {len(self)} items")
        if self.segment == "sequential":
            k, start = self.tile(index)
            if k in self._failed:
                return self._zeros(k, start)
            try:
                inp, target = self._render(k, start)
            except (AutomixError, OSError) as exc:
                self._fail(k, exc)
                return self._zeros(k, start)
            return self._item(k, start, inp, target, self._songs[k].mask)
        rng = np.random.default_rng(None if self.seed is None else [self.seed, self.epoch, index])
        if self.augment is not None:
            k, start, inp, target, mask = self._augmented(rng)
            return self._item(k, start, inp, target, mask)
        k, start, (inp, target) = self._draw_loud(rng, self._render, lambda pair: self._mix_level(*pair))
        return self._item(k, start, inp, target, self._songs[k].mask)

    def __repr__(self) -> str:
        return (
            f"MultitrackDataset({len(self.songs)} songs, {len(self.skipped)} skipped, mode={self.mode!r}, "
            f"segment={self.segment!r}, slots={list(self.slots)}, sample_rate={self.sample_rate}, "
            f"input_length={self.input_length}, output_length={self.output_length}, len={len(self)})"
        )
