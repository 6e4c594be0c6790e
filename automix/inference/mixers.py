"""The mixers the one mix flow (:mod:`automix.inference.mixing`) can hand stems to.

* :class:`WaveUNetMixer`: a Mix-Wave-U-Net; stems matched to its slots, streamed through the
  network in tiles (any length, bounded memory), brought to the level it was trained to;
* :class:`RulesMixer`: the rule-based console (:mod:`daw_bridge.rules`): a mix plan from the
  stems' roles, rendered with pedalboard; any stems, no weights.

:func:`load_mixer` picks one for a ``model`` argument; :func:`choose_mixer` picks one by what the
stems are when no model was named. A new mixer implements :class:`Mixer`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from automix.inference.mix_settings import MixResult, MixSettings, target_lufs
from daw_bridge.errors import AudioError, AutomixError, CheckpointError, StemMatchError
from daw_bridge.rules.roles import role_family
from daw_bridge.stems import check_perspective, guess_role

log = logging.getLogger("automix")


class Mixer(Protocol):
    """What the mix flow needs of a mixer."""

    name: str

    def mix_files(self, files: list[Path], output: Path | None, settings: MixSettings, notes: list[str]) -> MixResult:
        """Mix ``files`` into ``output`` (``None``: into ``result.audio``); ``notes`` so far come first."""
        ...

    def mix_array(self, stems: Any, names: Sequence[str] | None, sample_rate: int, settings: MixSettings) -> np.ndarray:
        """Mix in-memory stems into ``[2, T]`` float32."""
        ...


def load_mixer(model: Any = None) -> Mixer:
    """The mixer for ``model``: ``"rules"``, a :class:`Mixer`, or a model name, path or
    :class:`~automix.models.checkpoint.Model` (``None``: the default mixing model)."""
    if isinstance(model, (WaveUNetMixer, RulesMixer, ConsoleMixer)):
        return model
    if isinstance(model, str) and model == "rules":
        return RulesMixer()
    from automix.models import pretrained

    loaded = pretrained.load(model)
    if loaded.task != "mix":
        raise StemMatchError(f"model '{loaded.name}' is a {loaded.task} model; choose a mixing model")
    if loaded.card.architecture == "console-mixer":
        return ConsoleMixer(loaded)
    return WaveUNetMixer(loaded)


#: Role families of drum-kit microphones: stems of these alone go to the drum default.
DRUM_FAMILIES = frozenset({"kick", "snare", "hi-hat", "tom", "overheads", "room", "ride", "crash", "percussion"})


def stem_families(names: Sequence[str | Path]) -> list[str | None]:
    """The role family read off each stem's name (``None`` where no role is named)."""
    return [role_family(guess_role(Path(n).stem if isinstance(n, Path) else str(n))[0]) for n in names]


def choose_mixer(names: Sequence[str | Path]) -> tuple[Mixer, str]:
    """The mixer for stems when no model was named, and why: drum mic stems (every named role a
    drum role) go to the default drum mixer; other stems to an installed learned console mixer
    whose slots cover their roles, else to the rule-based console (any stems)."""
    from automix.models import pretrained

    families = stem_families(names)
    named = {f for f in families if f is not None}
    if named and named <= DRUM_FAMILIES:
        default = pretrained.default_model_name("mix")
        return load_mixer(default), f"drum mic stems: the default drum mixer '{default}'"
    for name, card in pretrained.list_models().items():
        covers = {f for f in stem_families(card.input_names) if f is not None}
        if card.task == "mix" and card.architecture == "console-mixer" and named and named <= covers:
            return load_mixer(name), f"stems whose roles the learned console mixer '{name}' was trained on"
    roles = ", ".join(sorted(named - DRUM_FAMILIES)) or "no role in their names"
    return RulesMixer(), f"not drum mic stems ({roles}): the rule-based console, which mixes any stems"


# --------------------------------------------------------------------------- rule-based console


class RulesMixer:
    """The rule-based console: role loudness, pans and high-passes, a calibrated master; any stems."""

    name = "rules"

    def __init__(self, balance: str = "auto", processing: bool = True) -> None:
        self.balance = balance  # see daw_bridge.rules.BALANCES
        self.processing = processing

    def _levels(self, settings: MixSettings) -> dict[str, Any]:
        """:class:`~daw_bridge.rules.RulesSettings` fields from ``settings``."""
        from daw_bridge.rules import DEFAULT_TARGET_LUFS

        side = check_perspective(settings.perspective) or "drummer"
        return {"target_lufs": target_lufs(settings.loudness, DEFAULT_TARGET_LUFS), "true_peak_db": settings.true_peak_db,
                "perspective": side, "balance": self.balance, "processing": self.processing}

    def mix_files(self, files: list[Path], output: Path | None, settings: MixSettings, notes: list[str]) -> MixResult:
        from daw_bridge.rules import mix_with_rules

        if settings.mapping is not None:
            raise AutomixError("--map/--map-file assign model slots; with --model rules roles come from file names")
        for note in notes:
            log.warning(note)
        rendered = mix_with_rules(files, output, name=output.stem if output is not None else "mix",
                                  overwrite=settings.force, subtype=settings.subtype, progress=settings.progress,
                                  limiter=settings.limiter_on(target_lufs(settings.loudness, 0.0)),
                                  **self._levels(settings))
        for note in rendered.plan.notes:
            log.info(note)
        for warning in rendered.warnings:
            log.warning(warning)
        return MixResult(
            output=rendered.path, sample_rate=rendered.sample_rate, frames=rendered.frames, model=self.name,
            notes=[*notes, *rendered.notes, *rendered.warnings], peak_db=rendered.true_peak_db,
            audio=rendered.audio, loudness_lufs=rendered.loudness_lufs, gain_db=rendered.gain_db,
            plan=rendered.plan, render=rendered,
        )

    def mix_array(self, stems: Any, names: Sequence[str] | None, sample_rate: int, settings: MixSettings) -> np.ndarray:
        from automix.inference.stem_files import named_array
        from daw_bridge.rules import mix_audio_with_rules

        array, names = named_array(stems, names)
        return mix_audio_with_rules(array, names, sample_rate, **self._levels(settings))


# --------------------------------------------------------------------------- learned console mixer


class ConsoleMixer:
    """A learned console mixer: per-track gain, pan and EQ predicted from the stems, a master
    calibrated like the rule-based console's, rendered with pedalboard; any stems."""

    def __init__(self, model: Any) -> None:
        self.model = model
        self.name = model.name

    def mix_files(self, files: list[Path], output: Path | None, settings: MixSettings, notes: list[str]) -> MixResult:
        from automix.inference.console_plan import console_plan
        from daw_bridge.render import render

        if settings.mapping is not None:
            raise AutomixError("--map/--map-file assign model slots; a console mixer reads roles from file names")
        for note in notes:
            log.warning(note)
        plan = console_plan(self.model, files, settings, name=output.stem if output is not None else "mix")
        for note in plan.notes:
            log.info(note)
        rendered = render(plan, output, overwrite=settings.force, subtype=settings.subtype,
                          progress=settings.progress, limiter=settings.limiter_on(plan.target_lufs))
        for warning in rendered.warnings:
            log.warning(warning)
        rendered.plan = plan
        return MixResult(
            output=rendered.path, sample_rate=rendered.sample_rate, frames=rendered.frames, model=self.name,
            notes=[*notes, *plan.notes, *rendered.warnings], peak_db=rendered.true_peak_db, audio=rendered.audio,
            loudness_lufs=rendered.loudness_lufs, gain_db=rendered.gain_db, plan=plan, render=rendered,
        )

    def mix_array(self, stems: Any, names: Sequence[str] | None, sample_rate: int, settings: MixSettings) -> np.ndarray:
        from automix.inference.console_plan import with_stem_files

        with with_stem_files(stems, names, sample_rate) as files:
            out = self.mix_files(files, None, settings, [])
        frames = max(np.asarray(v).shape[-1] for v in (stems.values() if isinstance(stems, Mapping) else [stems]))
        return out.audio[:, :frames]


# --------------------------------------------------------------------------- Mix-Wave-U-Net


class WaveUNetMixer:
    """A Mix-Wave-U-Net: the stems matched to its slots, streamed through it in tiles."""

    def __init__(self, model: Any) -> None:
        self.model = model
        self.name = model.name

    def _target_and_mirror(self, settings: MixSettings) -> tuple[float | None, bool]:
        return target_lufs(settings.loudness, self.model.card.output_lufs), mirrors(settings.perspective, self.model)

    def mix_files(self, files: list[Path], output: Path | None, settings: MixSettings, notes: list[str]) -> MixResult:
        from automix.inference.network_mix import mix_files_with_network

        target, mirror = self._target_and_mirror(settings)
        return mix_files_with_network(self.model, files, output, settings, notes, target=target, mirror=mirror)

    def mix_array(self, stems: Any, names: Sequence[str] | None, sample_rate: int, settings: MixSettings) -> np.ndarray:
        from automix.inference.network_mix import mix_array_with_network

        target, mirror = self._target_and_mirror(settings)
        data = slot_array(stems, self.model.slots)
        return mix_array_with_network(self.model, data, sample_rate, settings, target=target, mirror=mirror)


def slot_array(stems: Any, slots: Sequence[str]) -> np.ndarray:
    """``[len(slots), T]`` float32 from ``[n, T]`` in slot order or ``{slot: [T] or [1, T]}``."""
    if isinstance(stems, Mapping):
        unknown = sorted(set(stems) - set(slots))
        if unknown:
            raise StemMatchError(f"unknown slot(s) {unknown}; the model's slots are {list(slots)}")
        arrays = {k: np.atleast_2d(np.asarray(v, dtype=np.float32)).mean(axis=0) for k, v in stems.items()}
        length = max(a.shape[-1] for a in arrays.values())
        data = np.zeros((len(slots), length), dtype=np.float32)
        for i, slot in enumerate(slots):
            if slot in arrays:
                data[i, : arrays[slot].shape[-1]] = arrays[slot]
    else:
        data = np.asarray(stems, dtype=np.float32)
        if data.ndim != 2 or data.shape[0] != len(slots):
            raise StemMatchError(f"stems must be [{len(slots)}, samples] in slot order {list(slots)}")
    if not np.isfinite(data).all():
        raise AudioError("stems hold NaN or infinite samples")
    return data


def mirrors(perspective: str | None, model: Any) -> bool:
    """Whether ``model``'s mixes must be mirrored (left and right swapped) to be heard from
    ``perspective`` (``"drummer"``, ``"audience"``; ``None``/``"auto"``: as the model mixes).

    Raises :class:`~daw_bridge.errors.CheckpointError` when a side is asked of a model whose
    card does not record its own (``training.perspective``).
    """
    wanted = check_perspective(perspective)
    if wanted is None:
        return False
    own = model.card.training.perspective
    if not own:
        raise CheckpointError(
            f"model '{model.name}' does not record which side it mixes from (its card has no training.perspective); "
            "leave the perspective at auto"
        )
    return wanted != own
