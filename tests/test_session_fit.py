"""Every waveform mix comes with an editable session: faders and pans (and in Ardour an ACE EQ per
track) fitted to the model's mix, read back from Ardour and REAPER, whose render matches the
fidelity the command reports."""

from __future__ import annotations

import re

import numpy as np
import pytest

import automix
import daw_bridge
from daw_bridge.render import render
from tests.support import cli, read_mix, stem_folder


@pytest.mark.parametrize("fmt", ["ardour", "reaper"])
def test_mix_session_holds_fitted_faders_and_pans(tmp_path, capsys, fmt):
    stems = stem_folder(tmp_path / "stems")
    out, session = tmp_path / "mix.wav", tmp_path / "session"
    rc, stdout, err = cli(capsys, "mix", stems, "-o", out, "--session", session, "--session-format", fmt)
    assert rc == 0, err
    reported = re.search(r"render is ([-\d.]+) dB SNR, MR-STFT ([\d.]+)", stdout)
    assert reported, stdout
    snr_reported = float(reported.group(1))
    back = daw_bridge.open_session(session if fmt == "ardour" else session / "mix.rpp")
    gains = [t.gain_db for t in back.tracks]
    pans = [t.pan for t in back.tracks]
    assert max(abs(g) for g in gains) > 0.5 and len({round(p, 2) for p in pans}) > 2  # not unity, not one pan
    # the session's own render (no normalisation) against the model's mix: the reported fidelity
    mixed = render(back.model_copy(update={"target_lufs": None, "master": []}), None, normalize=False, tail_s=0.0).audio
    model_mix = read_mix(out)
    n = min(mixed.shape[1], model_mix.shape[1])
    err_power = np.sum((mixed[:, :n] - model_mix[:, :n]) ** 2)
    snr = 10 * np.log10(np.sum(model_mix[:, :n] ** 2) / err_power)
    assert snr == pytest.approx(snr_reported, abs=0.3)


def test_python_api_reports_the_session_fidelity(tmp_path):
    """REAPER carries faders and pans; Ardour also an EQ per track, which comes nearer the mix."""
    stems = stem_folder(tmp_path / "stems")
    reaper = automix.mix(stems, tmp_path / "mix.wav", session=tmp_path / "r", session_format="reaper")
    assert reaper.session is not None and reaper.session_fidelity.snr_db > 3.0
    assert reaper.session_fidelity.fitted == ("gain", "pan")
    ardour = automix.mix(stems, tmp_path / "mix2.wav", session=tmp_path / "a")
    assert ardour.session_fidelity.fitted == ("gain", "pan", "eq")
    assert ardour.session_fidelity.snr_db > reaper.session_fidelity.snr_db + 0.5
    back = daw_bridge.open_session(tmp_path / "a")
    assert any(p.name == "PeakFilter" for t in back.tracks for p in t.plugins)  # ACE EQs, read back as pedalboard's
    shelves = [p.params["q"] for t in back.tracks for p in t.plugins if p.name.endswith("ShelfFilter")]
    assert shelves == pytest.approx([1 / np.sqrt(2)] * len(shelves), abs=1e-6)  # fitted as ACE EQ holds them
    assert not any("only shelf Q" in n for n in ardour.session.notes)


def test_a_fit_can_hold_eq_parameters(tmp_path):
    from automix.console.fit import ARDOUR_HOLD, fit_console
    from automix.console.model import ConsoleError

    rng = np.random.default_rng(0)
    stems = rng.standard_normal((2, 44100)).astype(np.float32) * 0.1
    target = np.stack([stems[0] * 0.8 + stems[1] * 0.3, stems[0] * 0.2 + stems[1] * 0.9]).astype(np.float32)
    fit = fit_console(stems, target, 44100, names=["a", "b"], groups=("gain", "pan", "eq"), progress=False,
                      hold=ARDOUR_HOLD, check_render=False)
    assert all(v["low_shelf_q"] == pytest.approx(1 / np.sqrt(2)) and v["high_shelf_q"] == pytest.approx(1 / np.sqrt(2))
               for v in fit.tracks)
    with pytest.raises(ConsoleError, match="hold takes EQ parameters"):
        fit_console(stems, target, 44100, names=["a", "b"], progress=False, hold=("gain_db",))


def test_real_ardour_renders_the_mix_session_at_the_reported_fidelity(tmp_path):
    """The real Ardour 7 (ardour7-export) renders the session ``automix mix --session`` wrote: the
    stems through the fitted faders, pans and ACE EQs (the AI mix muted) equal daw_bridge's render
    of the session to within pedalboard's float32 filters, and that render sits at the reported
    SNR against the model's mix."""
    from tests.test_daw_ardour import ardour_export

    stems = stem_folder(tmp_path / "stems")
    result = automix.mix(stems, tmp_path / "mix.wav", session=tmp_path / "session")
    back = daw_bridge.open_session(tmp_path / "session")
    expected = render(back, None, normalize=False, tail_s=0.0).audio.astype(np.float64)
    audio = ardour_export(tmp_path / "session", result.session.path.stem, tmp_path / "ardour.wav", expected.shape[1],
                          rate=back.sample_rate)
    assert 10 * np.log10(np.sum(expected**2) / np.sum((audio - expected) ** 2)) > 50
    model_mix = read_mix(tmp_path / "mix.wav").astype(np.float64)
    n = min(audio.shape[1], model_mix.shape[1])
    snr = 10 * np.log10(np.sum(model_mix[:, :n] ** 2) / np.sum((audio[:, :n] - model_mix[:, :n]) ** 2))
    assert snr == pytest.approx(result.session_fidelity.snr_db, abs=0.3) and snr > 3.0
