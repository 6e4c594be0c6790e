"""The one mix flow: every mix (``automix mix``, ``remix``, ``demo``, evaluation baselines) goes here.

>>> import automix
>>> result = automix.mix("stems/", "mix.wav", model="rules", loudness=-14)   # doctest: +SKIP
>>> result.output, result.duration, result.notes                              # doctest: +SKIP

:func:`mix` checks the outputs against the inputs (:mod:`daw_bridge.outputs`), collects the
stems, hands them to a :class:`~automix.inference.mixers.Mixer` (a Wave-U-Net or the
rule-based console, picked by :func:`~automix.inference.mixers.load_mixer`) and writes the DAW
session when asked. :func:`mix_audio` is the same for arrays in memory.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from automix.inference.mix_settings import MixResult, MixSettings
from automix.inference.mixers import Mixer, choose_mixer, load_mixer
from automix.inference.stem_files import StemsInput, collect_stem_files
from daw_bridge.errors import OutputError
from daw_bridge.outputs import check_output_folder, check_output_path, reading

if TYPE_CHECKING:
    from daw_bridge.formats import WrittenSession

log = logging.getLogger("automix")

def _check_mix_output(output: str | os.PathLike, settings: MixSettings) -> Path:
    path = check_output_path(output, overwrite=settings.force)
    if path.suffix.lower() not in (".wav", ".wave", ".flac"):
        raise OutputError(f"{path.name}: write the mix as .wav or .flac")
    if path.suffix.lower() == ".flac" and settings.subtype == "FLOAT":
        raise OutputError(f"{path.name}: FLAC holds 16- or 24-bit samples; use .wav for float output")
    return path


def _input_paths(stems: StemsInput) -> list[Path]:
    items = [stems] if isinstance(stems, (str, os.PathLike)) else list(stems)
    return [Path(item) for item in items]


def mix(
    stems: StemsInput,
    output: str | os.PathLike | None = None,
    *,
    model: Any = None,
    settings: MixSettings | None = None,
    **options: Any,
) -> MixResult:
    """Mix a folder (or list) of stem files into ``output`` (``automix mix``).

    ``stems``: a folder exported from a DAW, or files and folders. ``output``: a WAV or FLAC
    file (atomic; never one of the stems), or ``None`` for the mix in ``result.audio``.
    ``model``: an installed model name, a checkpoint path, a loaded model, ``"rules"`` for the
    rule-based console, or ``None`` to pick by the stems (:func:`~automix.inference.mixers.choose_mixer`:
    drum mic stems the drum default, other stems the rule-based console; ``result.notes`` says
    which). ``settings`` and ``options`` (the fields of
    :class:`MixSettings`, e.g. ``loudness=-14``, ``perspective="audience"``, ``session="dir"``).

    Notes about what was fixed (resampled, padded, silent slots) are in ``result.notes`` and
    logged as warnings on the ``automix`` logger. Raises :class:`~daw_bridge.errors.AutomixError`
    subclasses for input that cannot be used; no output is left behind then.
    """
    started = time.perf_counter()
    s = MixSettings.of(settings, options)
    with reading([*_input_paths(stems), s.mapping if isinstance(s.mapping, (str, os.PathLike)) else None]):
        out = _check_mix_output(output, s) if output is not None else None
        if s.session is not None:
            check_output_folder(s.session, force=s.force)  # before mixing
        files, notes = collect_stem_files(stems, exclude=out)
        with reading(files):
            mixer, why = _mixer_for(model, files, mapped=s.mapping is not None)
            result = mixer.mix_files(files, out, s, notes)
            result.choice = why
            if s.session is not None:
                result.session = write_mix_session(result, s)
    result.seconds = time.perf_counter() - started
    return result


def _mixer_for(model: Any, names: Sequence[str | Path], mapped: bool = False) -> tuple[Mixer, str | None]:
    """``model``'s mixer, or (``None``) the one chosen by the stems and why (logged); a mapping
    (``mapped``) assigns the default model's slots, so it keeps the default model."""
    if model is not None or mapped:
        return load_mixer(model), None
    mixer, why = choose_mixer(names)
    log.info("mixing with %s (%s; --model chooses another)", mixer.name, why)
    return mixer, why


def mix_audio(
    stems: np.ndarray | Mapping[str, np.ndarray],
    sample_rate: int,
    *,
    model: Any = None,
    names: Sequence[str] | None = None,
    settings: MixSettings | None = None,
    **options: Any,
) -> np.ndarray:
    """Mix in-memory stems; returns ``[2, T]`` float32 (the mixer's sample rate).

    ``stems``: ``[n, T]`` (a Wave-U-Net's slots in order, or any stems with ``names`` for the
    rule-based console) or ``{name: [T] or [1, T]}`` (slot names; missing slots are silence).
    Audio at another ``sample_rate`` is resampled for a network. Options as for :func:`mix`.
    """
    s = MixSettings.of(settings, options)
    given = names if names is not None else (list(stems) if isinstance(stems, Mapping) else None)
    mixer = load_mixer(model) if model is not None or given is None else _mixer_for(None, given)[0]
    return mixer.mix_array(stems, names, sample_rate, s)


def write_mix_session(result: MixResult, settings: MixSettings) -> "WrittenSession":
    """Write ``result`` as a DAW session: a console mixer's plan as it is; for a waveform mix, the
    stems on tracks with the faders and pans (in Ardour also an EQ per track) fitted to the mix (its fidelity in
    ``result.session_fidelity``), and the mix itself on a muted "AI mix" track for A/B."""
    from automix.inference.session_fit import fit_session
    from daw_bridge import session_from_assignment, write_session

    name = settings.session_name or (result.output.stem if result.output is not None else "mix")
    if result.plan is not None:
        session = result.plan
    else:
        assert result.assignment is not None
        session = session_from_assignment(result.assignment, sample_rate=result.sample_rate, name=name)
        session, result.session_fidelity = fit_session(session, result, settings.session_format)
        log.info(result.session_fidelity.summary())
    written = write_session(session, settings.session, format=settings.session_format, name=name, mix=result.output,
                            force=settings.force)
    for note in written.notes:
        log.info(note)
    return written
