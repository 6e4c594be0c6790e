"""The DAW-side commands of ``automix``: render, session, presets, plugins.

Thin, like the rest of the CLI: each command is one call into :mod:`daw_bridge`. Nothing here
imports torch, so these commands start fast.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
from typing import Any

from automix.cli.common import (SUBTYPES, Parser, add_limiter_option, add_verbosity, command, finite_float, positive_int,
                                reads_args)

log = logging.getLogger("automix")

RENDER_EXAMPLES = """\
examples:
  automix render plan.json -o mix.wav
  automix render stems/ -o mix.wav --presets              # role presets on every track, master-clean on the sum
  automix render plan.yaml -o mix.flac --target-lufs -14 --true-peak -1 --force
  automix render session/my-song.ardour -o mix.wav --no-normalize
  automix render plan.json -o mix.wav --threads 1 --tail 4 --bit-depth 32f -v
"""

SESSION_EXAMPLES = """\
examples:
  automix session import stems/ -o plan.json                  # one track per stem, roles from file names
  automix session import stems/ -o plan.yaml --map roles.json --presets --target-lufs -16
  automix session import old-session/ -o plan.json            # an Ardour session folder (or .ardour / .rpp)
  automix session show plan.json
  automix session write plan.json --format ardour -o my-song-ardour/ --mix mix.wav
  automix session write plan.json --format reaper -o my-song-reaper/
  automix session write plan.json --format midi -o automation/ --force
"""

PRESETS_EXAMPLES = """\
examples:
  automix presets list
  automix presets list --kind master
  automix presets show snare
  automix presets show master-clean --json
"""

PLUGINS_EXAMPLES = """\
examples:
  automix plugins show ~/.vst3/MyEQ.vst3
  automix plugins show Compressor
  automix plugins show ~/.vst3/Bundle.vst3 --name "Bundle Reverb" --json
"""

WRITE_FORMATS = ("ardour", "reaper", "midi")


def _lufs_or_none(text: str) -> float | None:
    if text.strip().lower() in ("none", "off"):
        return None
    return finite_float(text)


def _tail(text: str) -> float | str:
    if text.strip().lower() == "auto":
        return "auto"
    value = finite_float(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more seconds, or 'auto', got {text}")
    return value


def register(sub: Any) -> None:
    """Register ``render``, ``session``, ``presets`` and ``plugins`` on the ``automix`` parser."""
    p = command(
        sub, "render", _cmd_render,
        help="render a mix plan (or a stems folder, or an Ardour/REAPER session) with pedalboard",
        description="Render a mix plan with pedalboard: each track's plugin chain (built-in effects or VST3 "
        "plugins), gain, constant-power pan (-3 dB at centre; stereo files are balanced), the sum, the master "
        "chain, then loudness normalisation to the plan's target LUFS under its true-peak ceiling. Effect tails "
        "are kept and reported plugin latency compensated. PLAN is a plan file (.json/.yaml), an Ardour "
        "session (.ardour or its folder), a REAPER project (.rpp) or a folder of stems.",
        epilog=RENDER_EXAMPLES,
    )
    p.add_argument("plan", metavar="PLAN", help="mix plan file, DAW session, or stems folder")
    p.add_argument("-o", "--output", required=True, metavar="MIX.wav", help="mix file to write (.wav or .flac)")
    p.add_argument("--force", action="store_true", help="overwrite MIX if it exists")
    p.add_argument("--presets", action="store_true", help="give tracks without plugins their role's preset chain")
    p.add_argument("--master", default=None, metavar="PRESET", help="master chain preset (with --presets default: master-clean; 'none' for none)")
    p.add_argument("--target-lufs", type=_lufs_or_none, default=argparse.SUPPRESS, metavar="LUFS", help="loudness target, overrides the plan's ('none': leave the level)")
    p.add_argument("--true-peak", type=finite_float, default=None, metavar="DBTP", help="true-peak ceiling, overrides the plan's")
    p.add_argument("--no-normalize", action="store_true", help="no loudness normalisation (levels as the plan sets them)")
    add_limiter_option(p, "--target-lufs is given")
    p.add_argument("--tail", type=_tail, default="auto", metavar="SECONDS", help="effect tail after the last sample: seconds, or 'auto' (until the mix falls silent)")
    p.add_argument("--threads", type=positive_int, default=None, help="tracks rendered in parallel (default: one per core)")
    p.add_argument("--strict", action="store_true", help="stop at a plugin that fails while processing, instead of rendering without it")
    p.add_argument("--bit-depth", default="24", choices=["16", "24", "32f"], help="sample format of MIX")
    add_verbosity(p)

    p = command(
        sub, "session", _cmd_session,
        help="import stems or DAW sessions into a mix plan; write plans out as Ardour, REAPER or MIDI",
        description="Mix plans are DAW-neutral sessions (JSON/YAML): tracks with audio files, roles, offsets, "
        "gain, pan, mute/solo and plugin chains, a master chain, a loudness target. 'import' builds one from a "
        "stems folder or an Ardour/REAPER session; 'show' prints one; 'write' turns one into a new Ardour 7 "
        "session, REAPER project or MIDI automation file (CC7 volume, CC10 pan) without touching your files.",
        epilog=SESSION_EXAMPLES,
    )
    ssub = p.add_subparsers(dest="session_command", metavar="ACTION", parser_class=Parser, required=True)
    imp = ssub.add_parser("import", help="make a mix plan from stems or a DAW session", epilog=SESSION_EXAMPLES)
    imp.add_argument("source", nargs="+", metavar="SOURCE", help="stems folder or files, an Ardour session (.ardour or folder) or a REAPER project (.rpp)")
    imp.add_argument("-o", "--output", required=True, metavar="PLAN.json", help="plan file to write (.json, or .yaml/.yml)")
    imp.add_argument("--map", default=None, metavar="ROLES.json", help="JSON/YAML {track or file name: role} overriding guessed roles (stems only)")
    imp.add_argument("--name", default=None, help="session name (default: the folder's)")
    imp.add_argument("--sample-rate", type=positive_int, default=None, metavar="HZ", help="session rate (default: the stems' most common)")
    imp.add_argument("--presets", action="store_true", help="fill empty plugin chains with role presets")
    imp.add_argument("--master", default=None, metavar="PRESET", help="master chain preset (with --presets default: master-clean; 'none' for none)")
    imp.add_argument("--target-lufs", type=_lufs_or_none, default=argparse.SUPPRESS, metavar="LUFS", help="loudness target to store in the plan ('none': leave the level)")
    imp.add_argument("--force", action="store_true", help="overwrite PLAN if it exists")
    add_verbosity(imp)
    show = ssub.add_parser("show", help="print a mix plan's tracks", epilog=SESSION_EXAMPLES)
    show.add_argument("plan", metavar="PLAN", help="plan file, DAW session or stems folder")
    show.add_argument("--json", action="store_true", help="print the plan as JSON")
    add_verbosity(show)
    wr = ssub.add_parser("write", help="write a plan as a new Ardour session, REAPER project or MIDI file", epilog=SESSION_EXAMPLES)
    wr.add_argument("plan", metavar="PLAN", help="plan file (or a stems folder / DAW session)")
    wr.add_argument("--format", required=True, choices=WRITE_FORMATS, help="what to write")
    wr.add_argument("-o", "--output", required=True, metavar="DIR", help="new folder to create")
    wr.add_argument("--mix", default=None, metavar="MIX.wav", help="a rendered mix to add on a muted 'AI mix' track for A/B (ardour, reaper)")
    wr.add_argument("--name", default=None, help="session name inside DIR (default: the plan's)")
    wr.add_argument("--force", action="store_true", help="replace DIR if it exists")
    add_verbosity(wr)

    p = command(sub, "presets", _cmd_presets, help="list or show plugin-chain presets (per role, and master)", epilog=PRESETS_EXAMPLES)
    psub = p.add_subparsers(dest="presets_command", metavar="ACTION", parser_class=Parser)
    pl = psub.add_parser("list", help="shipped chain presets", epilog=PRESETS_EXAMPLES)
    pl.add_argument("--kind", choices=["track", "master"], default=None, help="only this kind")
    ps = psub.add_parser("show", help="print one preset", epilog=PRESETS_EXAMPLES)
    ps.add_argument("preset", metavar="NAME_OR_FILE")
    ps.add_argument("--json", action="store_true", help="print it as JSON")
    add_verbosity(p)

    p = command(sub, "plugins", _cmd_plugins, help="show a VST3 plugin's (or built-in effect's) parameters and ranges", epilog=PLUGINS_EXAMPLES)
    gsub = p.add_subparsers(dest="plugins_command", metavar="ACTION", parser_class=Parser, required=True)
    gs = gsub.add_parser("show", help="parameters with ranges, units and defaults", epilog=PLUGINS_EXAMPLES)
    gs.add_argument("plugin", metavar="PATH_OR_NAME", help="a .vst3 bundle or a pedalboard effect name (Compressor, Reverb ...)")
    gs.add_argument("--name", default=None, help="plugin inside a bundle holding several")
    gs.add_argument("--json", action="store_true", help="print as JSON")
    add_verbosity(p)


# ------------------------------------------------------------------------------ helpers


def _open_plan(source: str | list[str], *, mapping: str | None = None, name: str | None = None, sample_rate: int | None = None):
    """A session from a plan file, an Ardour/REAPER session or stems (see daw_bridge.open_session)."""
    from daw_bridge import open_session

    return open_session(source, mapping=mapping, name=name, sample_rate=sample_rate)


def _apply_options(session, args: argparse.Namespace):
    """--presets/--master/--target-lufs/--true-peak applied to a session (a new one is returned)."""
    master = getattr(args, "master", None)
    if getattr(args, "presets", False) or master is not None:
        from daw_bridge.chains import apply_chain_presets

        if master is None:
            master = "master-clean" if args.presets else None
        elif master.strip().lower() == "none":
            master = None
        session = apply_chain_presets(session, master=master, tracks=bool(getattr(args, "presets", False)))
    updates: dict[str, Any] = {}
    if hasattr(args, "target_lufs"):
        updates["target_lufs"] = args.target_lufs
    if getattr(args, "true_peak", None) is not None:
        updates["true_peak_db"] = args.true_peak
    if updates:
        from daw_bridge.session import Session

        data = session.model_dump()
        data.update(updates)
        new = Session.from_data(data, where="options")
        new._source = session._source
        session = new
    return session


def _fmt_db(value: float) -> str:
    return "-inf" if value == -math.inf else f"{value:+.1f}"


def _print_plan(session) -> None:
    print(f"{session.name}: {len(session.tracks)} tracks at {session.sample_rate} Hz, "
          f"target {'none' if session.target_lufs is None else f'{session.target_lufs:g} LUFS'}, "
          f"true peak <= {session.true_peak_db:g} dBTP, pan law {session.pan_law_db:g} dB")
    width = max([len(t.name) for t in session.tracks] + [5])
    print(f"  {'track':{width}s}  {'role':12s} {'gain':>6s} {'pan':>6s} {'start s':>8s}  flags  plugins")
    for t in session.tracks:
        flags = ("M" if t.mute else "-") + ("S" if t.solo else "-")
        chain = ", ".join(p.label() + (" (bypassed)" if p.bypass else "") for p in t.plugins) or "-"
        print(f"  {t.name:{width}s}  {(t.role or '-'):12s} {_fmt_db(t.gain_db):>6s} {t.pan:+6.2f} {t.offset_s:8.3f}  {flags:5s}  {chain}")
    if session.master:
        print(f"  master: {', '.join(p.label() for p in session.master)}")
    for note in session.notes:
        print(f"  note: {note}")


# ------------------------------------------------------------------------------ commands


def _limiter(args: argparse.Namespace) -> bool:
    """--limiter / --no-limiter, else on when a level was asked with --target-lufs."""
    if args.limiter is not None:
        return bool(args.limiter)
    return getattr(args, "target_lufs", None) is not None


@reads_args("plan")
def _cmd_render(args: argparse.Namespace) -> int:
    from daw_bridge.render import render

    session = _apply_options(_open_plan(args.plan), args)
    subtype = SUBTYPES[args.bit_depth]
    result = render(
        session,
        args.output,
        overwrite=args.force,
        threads=args.threads,
        tail_s=args.tail,
        normalize=not args.no_normalize,
        subtype=subtype,
        progress=False if args.quiet else None,
        strict=args.strict,
        limiter=_limiter(args),
    )
    for note in result.notes:
        log.info(note)
    for warning in result.warnings:
        log.warning(warning)
    if not args.quiet:
        print(result.summary())
    if result.failed_plugins:  # the mix is written, but it is not what the plan asked for
        count = len(result.failed_plugins)
        log.error(
            f"{count} plugin{'s' if count > 1 else ''} failed while processing (see the warnings); {args.output} was "
            "written without them: fix or remove them, or use --strict to stop at the first failure"
        )
        return 1
    return 0


@reads_args("source", "plan", "mix")
def _cmd_session(args: argparse.Namespace) -> int:
    if args.session_command == "import":
        from daw_bridge.outputs import check_output_path

        check_output_path(args.output, overwrite=args.force)  # fail before reading anything
        sources = args.source if len(args.source) > 1 else args.source[0]
        session = _open_plan(sources, mapping=args.map, name=args.name, sample_rate=args.sample_rate)
        session = _apply_options(session, args)
        path = session.save(args.output, overwrite=args.force)
        if args.verbose:
            _print_plan(session)
        elif not args.quiet:
            for note in session.notes:
                log.warning(note)
        if not args.quiet:
            roles = sum(1 for t in session.tracks if t.role)
            print(f"wrote {path}: {len(session.tracks)} tracks ({roles} with a role) at {session.sample_rate} Hz")
        return 0
    if args.session_command == "show":
        session = _open_plan(args.plan)
        if args.json:
            print(session.model_dump_json(indent=2))
        else:
            _print_plan(session)
        return 0
    from daw_bridge import write_session

    session = _open_plan(args.plan)
    if args.name is not None:
        session = session.model_copy(update={"name": args.name})
    result = write_session(session, args.output, format=args.format, mix=args.mix, force=args.force)
    for note in result.notes:
        log.info(note)
    if not args.quiet:
        print(f"wrote {args.format} session {result.path}")
    return 0


def _cmd_presets(args: argparse.Namespace) -> int:
    from daw_bridge.chains import list_chain_presets, load_chain_preset

    if args.presets_command in (None, "list"):
        kind = getattr(args, "kind", None)
        presets = [p for p in list_chain_presets() if kind is None or p.kind == kind]
        rows = [(p.name, p.kind, ", ".join(p.roles) or "-", " > ".join(x.label() for x in p.plugins)) for p in presets]
        widths = [max([len(r[i]) for r in rows] + [4]) for i in range(3)]
        for row in rows:
            print("  ".join(f"{cell:{w}s}" for cell, w in zip(row[:3], widths)) + "  " + row[3])
        return 0
    preset = load_chain_preset(args.preset)
    if args.json:
        print(preset.model_dump_json(indent=2, exclude_none=True))
        return 0
    print(f"{preset.name} ({preset.kind}): {preset.description}")
    if preset.roles:
        print(f"  roles: {', '.join(preset.roles)}")
    for i, plugin in enumerate(preset.plugins, 1):
        params = ", ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in plugin.params.items())
        print(f"  {i}. {plugin.label()}" + (f": {params}" if params else ""))
    return 0


def _num(value: Any, missing: str) -> str:
    return missing if value is None else f"{value:g}"


def _cmd_plugins(args: argparse.Namespace) -> int:
    from daw_bridge.plugins import describe_plugin

    info = describe_plugin(args.plugin, name=args.name)
    if args.json:
        print(json.dumps(info, indent=2, default=str))
        return 0
    print(f"{info['name']} ({info['kind']}{', ' + str(info['path']) if info.get('path') else ''})")
    if info.get("latency_samples"):
        print(f"  reports {info['latency_samples']} samples of latency")
    for p in info["parameters"]:
        unit = f" {p['unit']}" if p.get("unit") else ""
        if p.get("choices"):
            span = " | ".join(map(str, p["choices"]))
        elif p.get("is_boolean"):
            span = "on/off"
        else:
            span = f"{_num(p['minimum'], '-inf')} .. {_num(p['maximum'], 'inf')}{unit}"
        print(f"  {p['name']:28s} {span:32s} default {_num(p['default'], '-')}{unit}")
    return 0
