"""A DAW-neutral session: tracks (audio files), gains, pans, plugin chains and a master chain.

Details: ``docs/mix-plans.md``.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, field_validator, model_validator

from daw_bridge.errors import SessionError, error_key
from daw_bridge.files import read_settings_file
from daw_bridge.outputs import atomic_output

from daw_bridge.panlaw import CONSTANT_POWER_LAW_DB
from daw_bridge.ranges import FADER_DB, PAN

__all__ = [
    "MixPlan",
    "PluginSpec",
    "Session",
    "Track",
    "load_session",
]

_JSON_SUFFIXES = (".json",)
_YAML_SUFFIXES = (".yaml", ".yml")
# pedalboard classes that are containers or plugin hosts, not built-in effects
_NOT_BUILTIN_EFFECTS = frozenset(
    {"Plugin", "Pedalboard", "Chain", "Mix", "PluginContainer", "ExternalPlugin", "VST3Plugin", "AudioUnitPlugin"}
)
_NOT_PARAMETERS = frozenset({"is_effect", "is_instrument"})

ParamValue = bool | int | float | str


# --------------------------------------------------------------------------- models


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, validate_assignment=True)


def _builtin_class(name: str) -> type:
    import pedalboard  # pedalboard is torch-free; imported only when a builtin is checked

    cls = getattr(pedalboard, name, None)
    if (
        name.startswith("_")
        or name in _NOT_BUILTIN_EFFECTS
        or not isinstance(cls, type)
        or not issubclass(cls, pedalboard.Plugin)
    ):
        known = sorted(
            n
            for n in dir(pedalboard)
            if not n.startswith("_")
            and n not in _NOT_BUILTIN_EFFECTS
            and isinstance(getattr(pedalboard, n), type)
            and issubclass(getattr(pedalboard, n), pedalboard.Plugin)
        )
        raise ValueError(f"{name!r} is not a pedalboard effect; use one of {', '.join(known)}")
    return cls


def builtin_parameters(name: str) -> list[str]:
    """Parameter names of the pedalboard effect class ``name`` (e.g. ``"threshold_db"``)."""
    cls = _builtin_class(name)
    return sorted(
        n
        for n in dir(cls)
        if not n.startswith("_") and n not in _NOT_PARAMETERS and isinstance(getattr(cls, n), property)
    )


class PluginSpec(_Model):
    """One plugin in a chain.

    * ``kind="builtin"``: ``name`` is a pedalboard effect class (``"Compressor"``,
      ``"HighpassFilter"``, ``"PeakFilter"``, ``"Reverb"``, ``"Gain"``, ...) and ``params`` its
      constructor arguments by name, in the units the name says (``threshold_db``: dB,
      ``cutoff_frequency_hz``: Hz, ``attack_ms``: ms). Unknown classes and parameters are refused.
    * ``kind="vst3"``: ``path`` is a ``.vst3`` bundle; ``name`` optionally picks one plugin of a
      bundle holding several; ``params`` are set by parameter name in the plugin's own
      (physical) units; ``state`` is the plugin's raw state (``raw_state``), base64, applied
      before ``params``.

    ``bypass=True`` keeps the plugin in the chain but leaves the audio untouched.
    """

    kind: Literal["builtin", "vst3"]
    name: str | None = Field(default=None, description="pedalboard class (builtin) or plugin in a VST3 bundle")
    path: Path | None = Field(default=None, description="VST3 bundle (vst3 only); relative to the session file")
    params: dict[str, ParamValue] = Field(default_factory=dict, description="parameter values, physical units")
    state: str | None = Field(default=None, description="base64 of the VST3 plugin's raw_state (vst3 only)")
    bypass: bool = False

    @model_validator(mode="after")
    def _check_kind(self) -> PluginSpec:
        if self.kind == "builtin":
            if not self.name:
                raise ValueError("a builtin plugin needs name (a pedalboard effect, e.g. 'Compressor')")
            if self.path is not None:
                raise ValueError("path is for vst3 plugins; a builtin plugin has only a name")
            if self.state is not None:
                raise ValueError("state is for vst3 plugins; give a builtin plugin's settings in params")
            known = builtin_parameters(self.name)
            unknown = sorted(set(self.params) - set(known))
            if unknown:
                raise ValueError(
                    f"{self.name} has no parameter {', '.join(map(repr, unknown))}; it has {', '.join(known)}"
                )
        else:
            if self.path is None:
                raise ValueError("a vst3 plugin needs path (a .vst3 bundle)")
            if self.path.suffix.lower() != ".vst3":
                raise ValueError(f"path {str(self.path)!r} is not a .vst3 bundle")
            if self.state is not None:
                try:
                    base64.b64decode(self.state, validate=True)
                except (binascii.Error, ValueError):
                    raise ValueError(
                        "state is not valid base64 (write the plugin's raw_state base64-encoded)"
                    ) from None
        return self

    def label(self) -> str:
        """A short name for messages: the class name, or the VST3 bundle's file name."""
        if self.kind == "builtin":
            return str(self.name)
        return f"{Path(self.path).name}" + (f" ({self.name})" if self.name else "")  # type: ignore[arg-type]


class Track(_Model):
    """One audio track: a file placed on the timeline, with gain, pan and a plugin chain.

    ``file`` is relative to the session file's folder unless absolute. ``channel`` (0-based)
    takes one channel of a multichannel file; ``None`` takes the file as it is (a mono file
    is panned, a stereo file balanced). ``offset_s`` is where the file starts on the timeline
    (s, >= 0). ``gain_db`` (dB, [-120, 24]) is applied after the plugins, then ``pan``
    (-1 left, 0 centre, +1 right) with the session's pan law. ``role`` is what the track is
    (``"kick"``, ``"overhead_L"``, ``"vocal"``; see :mod:`daw_bridge.stems`), or ``None``.
    """

    name: str = Field(min_length=1)
    file: Path
    channel: int | None = Field(default=None, ge=0, description="0-based channel of the file, or all")
    role: str | None = None
    offset_s: float = Field(default=0.0, ge=0.0, description="start on the timeline, s")
    gain_db: float = Field(default=FADER_DB.default, ge=FADER_DB.minimum, le=FADER_DB.maximum, description="fader, dB")
    pan: float = Field(default=PAN.default, ge=PAN.minimum, le=PAN.maximum, description="-1 left, 0 centre, +1 right")
    mute: bool = False
    solo: bool = False
    plugins: list[PluginSpec] = Field(default_factory=list, description="insert chain, in order")


class Session(_Model):
    """A DAW-neutral session (and, filled in, a mix plan: see :data:`MixPlan`).

    ``sample_rate`` (Hz) is the rate the session renders at (files at other rates are
    resampled). ``master`` is the chain on the stereo sum. ``target_lufs`` (LUFS, or ``None``
    to leave the level alone) is the integrated loudness the render is normalised to, and
    ``true_peak_db`` (dBTP, <= 0) the ceiling it must stay under. ``pan_law_db`` is the pan
    law (dB at centre, see :func:`pan_gains`); the default -3 is constant power, the law the
    renderer and the session writers use. ``notes`` are one-line remarks (from the importer:
    resampled files, unequal lengths).
    """

    format: Literal[1] = 1
    name: str = Field(default="session", min_length=1)
    sample_rate: int = Field(default=44100, gt=0, le=768000, description="Hz")
    tracks: list[Track] = Field(default_factory=list)
    master: list[PluginSpec] = Field(default_factory=list, description="chain on the stereo sum, in order")
    target_lufs: float | None = Field(default=None, ge=-70.0, le=0.0, description="LUFS, None = leave as is")
    true_peak_db: float = Field(default=-1.0, ge=-20.0, le=0.0, description="ceiling, dBTP")
    pan_law_db: float = Field(default=CONSTANT_POWER_LAW_DB, ge=-6.0, lt=0.0, description="dB at centre")
    notes: list[str] = Field(default_factory=list)

    _source: Path | None = PrivateAttr(default=None)

    @field_validator("tracks")
    @classmethod
    def _unique_names(cls, tracks: list[Track]) -> list[Track]:
        seen: set[str] = set()
        for track in tracks:
            if track.name in seen:
                raise ValueError(f"track name {track.name!r} is used twice; give each track its own name")
            seen.add(track.name)
        return tracks

    def __eq__(self, other: object) -> bool:
        """Equal when the contents are; where the session was loaded from does not count."""
        if not isinstance(other, Session):
            return NotImplemented
        return type(self) is type(other) and self.model_dump() == other.model_dump()

    __hash__ = None  # type: ignore[assignment]  # mutable, like other pydantic models

    # ------------------------------------------------------------------ paths

    @property
    def source(self) -> Path | None:
        """The file this session was loaded from or last saved to (absolute), if any."""
        return self._source

    @property
    def base_dir(self) -> Path:
        """Folder relative paths are resolved against: the session file's, else the current one."""
        return self._source.parent if self._source is not None else Path.cwd()

    def _resolve(self, path: Path, base: Path) -> Path:
        path = Path(path).expanduser()
        return path if path.is_absolute() else (base / path).absolute()

    def resolve_paths(self, base: str | os.PathLike[str] | None = None) -> Session:
        """A copy with every audio file and VST3 path made absolute.

        Relative paths are taken relative to ``base`` (default :attr:`base_dir`).
        """
        root = Path(base).expanduser().absolute() if base is not None else self.base_dir
        data = self.model_dump()
        for track in data["tracks"]:
            track["file"] = self._resolve(track["file"], root)
            for plugin in track["plugins"]:
                if plugin["path"] is not None:
                    plugin["path"] = self._resolve(plugin["path"], root)
        for plugin in data["master"]:
            if plugin["path"] is not None:
                plugin["path"] = self._resolve(plugin["path"], root)
        resolved = type(self).model_validate(data)
        resolved._source = self._source
        return resolved

    def audio_paths(self, base: str | os.PathLike[str] | None = None) -> list[Path]:
        """Absolute path of each track's file, in track order."""
        return [t.file for t in self.resolve_paths(base).tracks]

    def inputs(self, base: str | os.PathLike[str] | None = None) -> list[Path]:
        """What writing or rendering this session reads: its audio files and its own file."""
        return [*self.audio_paths(base), *([self.source] if self.source is not None else [])]

    def missing_files(self, base: str | os.PathLike[str] | None = None) -> list[Path]:
        """Every audio file and VST3 bundle the session names that does not exist (absolute paths).

        Check this before rendering, so the user hears of all of them at once. Each path is
        listed once, in session order (tracks, their plugins, then the master chain).
        """
        resolved = self.resolve_paths(base)
        wanted: list[Path] = []
        for track in resolved.tracks:
            wanted.append(track.file)
            wanted.extend(p.path for p in track.plugins if p.path is not None)
        wanted.extend(p.path for p in resolved.master if p.path is not None)
        missing: list[Path] = []
        for path in wanted:
            if path not in missing and not path.exists():
                missing.append(path)
        return missing

    # ------------------------------------------------------------------ files

    @classmethod
    def from_data(cls, data: Any, *, where: str = "session") -> Session:
        """Validate plain data (a dict from JSON/YAML); errors raise one-line :class:`SessionError`."""
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            raise SessionError(f"{where}: {describe_validation_error(exc)}") from None

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Session:
        """Read a session from ``.json`` or ``.yaml``/``.yml``; see :func:`load_session`."""
        path = Path(path).expanduser().absolute()
        suffix = path.suffix.lower()
        if suffix not in _JSON_SUFFIXES + _YAML_SUFFIXES:
            raise SessionError(f"{path}: a session file must end in .json, .yaml or .yml")
        data = read_settings_file(
            path, "session file", error=SessionError, shape="a mapping with format, name, sample_rate and tracks"
        )
        session = cls.from_data(data, where=str(path))
        session._source = path
        return session

    def save(self, path: str | os.PathLike[str], *, overwrite: bool = False) -> Path:
        """Write the session to ``path`` (``.json``, or ``.yaml``/``.yml`` with PyYAML), atomically.

        Refuses to replace an existing file unless ``overwrite``. Paths are written as they
        are (relative ones stay relative: they are read back against the new file's folder).
        Returns the absolute path written.
        """
        path = Path(path).expanduser().absolute()
        suffix = path.suffix.lower()
        data = self.model_dump(mode="json")
        if suffix in _JSON_SUFFIXES:
            text = json.dumps(data, indent=2, ensure_ascii=False) + "\n"
        elif suffix in _YAML_SUFFIXES:
            yaml = _import_yaml(f"writing {path}")
            text = yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
        else:
            raise SessionError(f"{path}: save a session as .json, .yaml or .yml")
        with atomic_output(path, overwrite=overwrite) as tmp:
            tmp.write_text(text, encoding="utf-8")
        self._source = path
        return path


#: A session whose gains, pans and plugins have been filled in; the renderer's input.
MixPlan = Session


def load_session(path: str | os.PathLike[str]) -> Session:
    """Read and validate a session file (``.json``, ``.yaml``, ``.yml``).

    Raises :class:`SessionError` with one line naming the file and the bad key as a dotted
    path, e.g. ``session.json: tracks.2.pan: Input should be less than or equal to 1``.
    """
    return Session.load(path)


def describe_validation_error(exc: ValidationError) -> str:
    """One line per pydantic error, joined by ``; ``: ``dotted.key: message``."""
    parts = []
    for err in exc.errors():
        loc = error_key(err["loc"]) or "(top level)"
        if err["type"] == "extra_forbidden":
            message = "unknown key; check its spelling"
        else:
            message = str(err["msg"]).removeprefix("Value error, ")
        parts.append(f"{loc}: {' '.join(message.split())}")
    return "; ".join(parts)


def _import_yaml(doing: str) -> Any:
    try:
        import yaml
    except ImportError:
        raise SessionError(
            f"{doing} needs PyYAML, which is not installed; run `pip install pyyaml` or use a .json session file"
        ) from None
    return yaml
