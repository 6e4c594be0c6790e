"""Tests for daw_bridge.stems: guessing stem roles from DAW file names and matching them to slots."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest

from daw_bridge.errors import AutomixError, StemMatchError
from daw_bridge.stems import (
    DRUM_SLOTS,
    ROLE_ALIASES,
    ChannelSource,
    StemAssignment,
    guess_role,
    load_mapping_file,
    match_stems,
    normalise_name,
    parse_mapping,
)

STEMS = Path("/session/stems")


def paths(*names: str) -> list[Path]:
    return [STEMS / n for n in names]


def match(
    names: Sequence[str] | dict[str, int],
    slots: Sequence[str] = DRUM_SLOTS,
    *,
    mapping: Mapping[str, str | Sequence[str]] | None = None,
    ignore_unmatched: bool = False,
) -> StemAssignment:
    """Match files by name; ``names`` may give channel counts (default mono)."""
    counts = names if isinstance(names, dict) else dict.fromkeys(names, 1)
    files = paths(*counts)
    return match_stems(
        files,
        slots,
        channels={STEMS / n: c for n, c in counts.items()},
        mapping=mapping,
        ignore_unmatched=ignore_unmatched,
    )


def src(name: str, channel: int | None = None) -> ChannelSource:
    return ChannelSource(STEMS / name, channel)


def assert_one_line(message: str) -> None:
    assert message and "\n" not in message and "\r" not in message


# --------------------------------------------------------------------------- roles


@pytest.mark.parametrize(
    ("name", "role", "side"),
    [
        ("01 Kick In.wav", "kick", None),
        ("02_Snare Top.wav", "snare", None),
        ("OH L.wav", "overheads", "L"),
        ("Overhead R.flac", "overheads", "R"),
        ("OH.wav", "overheads", None),
        ("Tom 1.wav", "tom_1", None),
        ("Rack Tom.wav", "tom_1", None),
        ("Floor Tom.wav", "tom_3", None),
        ("hi-hat.wav", "hi-hat", None),
        ("HH.wav", "hi-hat", None),
        ("Hats.aif", "hi-hat", None),
        ("BD.wav", "kick", None),
        ("SD.wav", "snare", None),
        ("Kick.wav", "kick", None),
        ("tom1.wav", "tom_1", None),
        ("FT.wav", "tom_3", None),
        ("Room.wav", "room", None),
        ("Bass DI.wav", "bass", None),
        ("Vocals.wav", "vocal", None),
        # variants
        ("OHL.wav", "overheads", "L"),
        ("OH_R.wav", "overheads", "R"),
        ("Overhead Left.wav", "overheads", "L"),
        ("OHLeft.wav", "overheads", "L"),
        ("Overheads.R.wav", "overheads", "R"),
        ("Overheads.wav", "overheads", None),
        ("Cymbals.wav", "overheads", None),
        ("Kick Out.wav", "kick", None),
        ("Kick Sub.wav", "kick", None),
        ("Bass Drum.wav", "kick", None),
        ("Snare Bottom.wav", "snare", None),
        ("SnareTop.wav", "snare", None),
        ("snr.wav", "snare", None),
        ("HiHat.wav", "hi-hat", None),
        ("Hi Hat.wav", "hi-hat", None),
        ("hi_hat.wav", "hi-hat", None),
        ("High Tom.wav", "tom_1", None),
        ("T1.wav", "tom_1", None),
        ("Mid Tom.wav", "tom_2", None),
        ("Rack Tom 2.wav", "tom_2", None),
        ("Tom 2.wav", "tom_2", None),
        ("Tom_03.wav", "tom_3", None),
        ("Low Tom.wav", "tom_3", None),
        ("Floor Tom 2.wav", "tom_3", None),
        ("Tom.wav", "tom", None),
        ("Gtr DI.wav", "guitar", None),
        ("Piano.wav", "keys", None),
        ("Random Noise.wav", None, None),
    ],
)
def test_guess_role(name: str, role: str | None, side: str | None) -> None:
    assert guess_role(name) == (role, side)


@pytest.mark.parametrize(
    "name",
    [
        "Kick In.wav",
        "01 Kick In.wav",
        "01_Kick In.wav",
        "1-Kick In.wav",
        "01. Kick In.wav",
        "01 - Kick In.wav",
        "KICK_IN.WAV",
        "kick-in.aiff",
        "KickIn.wav",
        "Kick In_bounce.wav",
        "Kick In-mix.wav",
        "Kick In (stereo).wav",
        "Kick In st.wav",
        "Kick In mono.wav",
        "Kick In_v2.wav",
        "Kick In take 3.wav",
        "Kick In_bounce_v2.wav",
        "Kick.In.wav",
    ],
)
def test_normalise_variants(name: str) -> None:
    assert normalise_name(name) == ("kick", "in")


def test_normalise_keeps_meaningful_words_and_numbers() -> None:
    assert normalise_name("hi-hat.wav") == ("hi", "hat")
    assert normalise_name("Tom 1.wav") == ("tom", "1")
    assert normalise_name("03 Tom 01.wav") == ("tom", "1")
    assert normalise_name("Mix.wav") == ("mix",)  # a suffix word is kept when nothing else is left
    assert normalise_name("Stereo Mix.wav") == ("stereo", "mix")
    assert normalise_name("01.wav") == ("1",)
    assert normalise_name(Path("/a/b/OH.L.wav")) == ("oh", "l")
    assert normalise_name("Kick.notanext") == ("kick", "notanext")


def test_alias_table_is_consistent() -> None:
    # every alias normalises to something and no alias belongs to two roles (ValueError otherwise)
    for role in ROLE_ALIASES:
        assert guess_role(role)[0] == role
    assert {"kick", "snare", "hi-hat", "tom_1", "tom_2", "tom_3", "overheads"} <= set(ROLE_ALIASES)


def test_guess_role_with_custom_aliases() -> None:
    aliases = {**ROLE_ALIASES, "fiddle": ("violin solo", "fdl")}
    assert guess_role("03 Fdl.wav", aliases=aliases) == ("fiddle", None)
    with pytest.raises(ValueError, match="both"):
        guess_role("x", aliases={"a": ("same",), "b": ("same",)})


# --------------------------------------------------------------------------- matching drums


@pytest.mark.parametrize(
    ("name", "slot"),
    [
        ("01 Kick In.wav", "kick"),
        ("BD.wav", "kick"),
        ("Kick.wav", "kick"),
        ("02_Snare Top.wav", "snare"),
        ("SD.wav", "snare"),
        ("hi-hat.wav", "hi-hat"),
        ("HH.wav", "hi-hat"),
        ("Hats.aif", "hi-hat"),
        ("Tom 1.wav", "tom_1"),
        ("tom1.wav", "tom_1"),
        ("Rack Tom.wav", "tom_1"),
        ("Tom.wav", "tom_1"),
        ("Mid Tom.wav", "tom_2"),
        ("Floor Tom.wav", "tom_3"),
        ("FT.wav", "tom_3"),
        ("OH L.wav", "overhead_L"),
        ("OHL.wav", "overhead_L"),
        ("Overhead Left.wav", "overhead_L"),
        ("Overhead R.flac", "overhead_R"),
        ("OH_R.wav", "overhead_R"),
        ("overhead_R.wav", "overhead_R"),
    ],
)
def test_each_name_matches_its_slot(name: str, slot: str) -> None:
    result = match([name])
    assert result.sources[slot] == [src(name)]
    assert all(not s for k, s in result.sources.items() if k != slot)


def test_full_kit() -> None:
    names = [
        "01 Kick In.wav", "02_Snare Top.wav", "03 HH.wav", "04 Rack Tom.wav", "05 Tom 2.wav",
        "06 Floor Tom.wav", "07 OH L.wav", "08 OH R.wav",
    ]
    result = match(names)
    assert result.slots == DRUM_SLOTS
    assert list(result.sources) == list(DRUM_SLOTS)
    assert [s[0].path.name for s in result.sources.values()] == names
    assert result.missing == [] and result.unmatched == [] and result.notes == []


def test_sources_lists_every_slot_in_order_and_missing_slots_are_noted() -> None:
    result = match(["Kick.wav", "Snare.wav"])
    assert list(result.sources) == list(DRUM_SLOTS)
    assert result.missing == ["hi-hat", "tom_1", "tom_2", "tom_3", "overhead_L", "overhead_R"]
    assert result.sources["tom_3"] == []
    assert any(n.startswith("tom_3 has no file; it will be silence") for n in result.notes)


def test_kick_in_and_out_are_summed_with_a_note() -> None:
    result = match(["Kick In.wav", "Kick Out.wav", "Snare Top.wav", "Snare Bottom.wav"])
    assert result.sources["kick"] == [src("Kick In.wav"), src("Kick Out.wav")]
    assert result.sources["snare"] == [src("Snare Top.wav"), src("Snare Bottom.wav")]
    assert any(n.startswith("kick: summed 2 files (Kick In.wav + Kick Out.wav)") for n in result.notes)
    assert any(n.startswith("snare: summed 2 files") for n in result.notes)


def test_stereo_overhead_pair_is_split() -> None:
    result = match({"Kick.wav": 1, "OH.wav": 2})
    assert result.sources["overhead_L"] == [src("OH.wav", 0)]
    assert result.sources["overhead_R"] == [src("OH.wav", 1)]
    assert "overhead_L/overhead_R: took the left/right channels of OH.wav" in result.notes
    assert "overhead_L" not in result.missing


def test_overheads_named_in_plural_are_split_too() -> None:
    result = match({"Overheads.wav": 2})
    assert result.sources["overhead_L"] == [src("Overheads.wav", 0)]
    assert result.sources["overhead_R"] == [src("Overheads.wav", 1)]


def test_mono_overhead_without_side_feeds_both_sides() -> None:
    result = match({"OH.wav": 1})
    assert result.sources["overhead_L"] == [src("OH.wav")]
    assert result.sources["overhead_R"] == [src("OH.wav")]
    assert any("OH.wav is mono with no side; used it for both" in n for n in result.notes)


def test_mono_overhead_without_side_fills_the_empty_side() -> None:
    result = match({"OH L.wav": 1, "OH.wav": 1})
    assert result.sources["overhead_L"] == [src("OH L.wav")]
    assert result.sources["overhead_R"] == [src("OH.wav")]
    assert any(n.startswith("overhead_R: OH.wav is mono") for n in result.notes)


def test_stereo_file_in_mono_slot_is_downmixed_with_a_note() -> None:
    result = match({"Snare.wav": 2, "Kick.wav": 1, "OH L.wav": 2})
    assert result.sources["snare"] == [src("Snare.wav")]
    assert "snare: Snare.wav is stereo, downmixed to mono" in result.notes
    assert "overhead_L: OH L.wav is stereo, downmixed to mono" in result.notes
    assert not any(n.startswith("kick:") for n in result.notes)
    result = match({"Kick.wav": 6})
    assert "kick: Kick.wav has 6 channels, downmixed to mono" in result.notes


def test_several_unnumbered_toms_are_ordered_by_name() -> None:
    result = match(["Kick.wav", "Tom B.wav", "Tom A.wav", "Tom C.wav"])
    assert result.sources["tom_1"] == [src("Tom A.wav")]
    assert result.sources["tom_2"] == [src("Tom B.wav")]
    assert result.sources["tom_3"] == [src("Tom C.wav")]
    assert any(n.startswith("tom: 3 unnumbered files assigned in name order") for n in result.notes)


def test_unnumbered_tom_takes_a_free_tom_slot() -> None:
    result = match(["Rack Tom.wav", "Tom.wav", "Floor Tom.wav"])
    assert result.sources["tom_1"] == [src("Rack Tom.wav")]
    assert result.sources["tom_2"] == [src("Tom.wav")]
    assert result.sources["tom_3"] == [src("Floor Tom.wav")]
    assert any(n.startswith("tom_2: Tom.wav has no number") for n in result.notes)


def test_too_many_unnumbered_toms_are_unmatched() -> None:
    with pytest.raises(StemMatchError, match=r"no slot for: Toms D\.wav \(tom; no free tom slot\)"):
        match(["Toms A.wav", "Toms B.wav", "Toms C.wav", "Toms D.wav"])


def test_unmatched_files_are_refused_with_their_roles() -> None:
    names = ["Kick.wav", "Snare.wav", "Room.wav", "Bass DI.wav", "Vocals.wav", "Mystery.wav"]
    with pytest.raises(StemMatchError) as info:
        match(names)
    message = str(info.value)
    assert_one_line(message)
    assert message.startswith(
        "no slot for: Room.wav (room), Bass DI.wav (bass), Vocals.wav (vocal), Mystery.wav;"
    )
    assert "--map SLOT=FILE" in message and "--ignore-unmatched" in message
    assert isinstance(info.value, AutomixError)


def test_unmatched_files_are_kept_with_ignore_unmatched() -> None:
    result = match(["Kick.wav", "Room.wav", "Vocals.wav"], ignore_unmatched=True)
    assert result.unmatched == paths("Room.wav", "Vocals.wav")
    assert result.sources["kick"] == [src("Kick.wav")]
    assert "ignored 2 file(s) with no slot: Room.wav (room), Vocals.wav (vocal)" in result.notes


def test_no_file_matching_any_slot_is_an_error_even_when_ignoring() -> None:
    with pytest.raises(StemMatchError, match=r"none of the 2 files matched a slot") as info:
        match(["Room.wav", "Vocals.wav"], ignore_unmatched=True)
    assert_one_line(str(info.value))
    assert "Room.wav (room)" in str(info.value)


def test_no_files_is_an_error() -> None:
    with pytest.raises(StemMatchError, match="no stem files given"):
        match_stems([], DRUM_SLOTS, channels={})


def test_duplicate_file_paths_count_once() -> None:
    files = paths("Kick.wav", "Kick.wav")
    result = match_stems(files, DRUM_SLOTS, channels={files[0]: 1})
    assert result.sources["kick"] == [src("Kick.wav")]


def test_missing_channel_count_is_a_caller_bug() -> None:
    with pytest.raises(ValueError, match="Kick.wav"):
        match_stems(paths("Kick.wav"), DRUM_SLOTS, channels={})


def test_bad_slots_are_a_caller_bug() -> None:
    with pytest.raises(ValueError):
        match_stems(paths("Kick.wav"), ("kick", "kick"), channels={STEMS / "Kick.wav": 1})


# --------------------------------------------------------------------------- other slot sets


def test_custom_slot_set() -> None:
    slots = ("bass", "vocal", "guitar", "keys")
    result = match(["01 Bass DI.wav", "02 Lead Vox.wav", "03 BVs.wav", "04 Gtr.wav", "05 Piano.wav"], slots)
    assert result.sources["bass"] == [src("01 Bass DI.wav")]
    assert result.sources["vocal"] == [src("02 Lead Vox.wav"), src("03 BVs.wav")]
    assert result.sources["guitar"] == [src("04 Gtr.wav")]
    assert result.sources["keys"] == [src("05 Piano.wav")]
    with pytest.raises(StemMatchError, match=r"no slot for: Kick\.wav \(kick\)"):
        match(["Bass.wav", "Kick.wav"], slots)


def test_custom_numbered_and_unknown_slots() -> None:
    slots = ("gtr_1", "gtr_2", "fiddle")
    result = match(["Guitar B.wav", "Guitar A.wav", "Fiddle.wav"], slots)
    assert result.sources["gtr_1"] == [src("Guitar A.wav")]
    assert result.sources["gtr_2"] == [src("Guitar B.wav")]
    assert result.sources["fiddle"] == [src("Fiddle.wav")]
    result = match(["Gtr 2.wav"], slots)
    assert result.sources["gtr_2"] == [src("Gtr 2.wav")]


def test_numbered_file_goes_to_a_single_unnumbered_slot() -> None:
    result = match(["Tom 1.wav", "Tom 2.wav", "Kick.wav"], ("kick", "tom"))
    assert result.sources["tom"] == [src("Tom 1.wav"), src("Tom 2.wav")]


def test_stereo_room_pair_into_custom_sided_slots() -> None:
    result = match({"Room.wav": 2, "Kick.wav": 1}, ("kick", "room_L", "room_R"))
    assert result.sources["room_L"] == [src("Room.wav", 0)]
    assert result.sources["room_R"] == [src("Room.wav", 1)]


# --------------------------------------------------------------------------- explicit mapping


def test_mapping_overrides_guessing() -> None:
    names = {"Kick In.wav": 1, "Kick Out.wav": 1, "Snare.wav": 1, "OH.wav": 2, "Perc.wav": 1}
    mapping = {
        "kick": "Kick Out.wav",
        "hi-hat": "Perc",  # by stem
        "overhead_L": "OH.wav:1",  # channel
        "overhead_R": "OH.wav:0",
    }
    result = match(names, mapping=mapping)  # Kick In.wav: left out, the mapping chose Kick Out.wav for kick
    assert "kick: Kick In.wav left out, as the mapping asks (kick: Kick Out.wav)" in result.notes
    assert result.sources["kick"] == [src("Kick Out.wav")]
    assert result.sources["hi-hat"] == [src("Perc.wav")]
    assert result.sources["overhead_L"] == [src("OH.wav", 1)]
    assert result.sources["overhead_R"] == [src("OH.wav", 0)]
    assert result.sources["snare"] == [src("Snare.wav")]
    assert result.unmatched == []
    assert not any("took the left/right" in n for n in result.notes)


def test_mapping_sums_with_plus_and_lists() -> None:
    names = ["Kick In.wav", "Kick Out.wav", "Sub.wav", "Snare.wav"]
    result = match(names, mapping={"kick": "Kick In.wav+Sub.wav", "snare": ["Snare.wav", "Kick Out.wav"]})
    assert result.sources["kick"] == [src("Kick In.wav"), src("Sub.wav")]
    assert result.sources["snare"] == [src("Snare.wav"), src("Kick Out.wav")]
    assert not any("summed" in n for n in result.notes)  # asked for explicitly


def test_mapping_prefers_a_whole_name_containing_plus() -> None:
    result = match(["Kick+Sub.wav", "Snare.wav"], mapping={"kick": "Kick+Sub.wav"})
    assert result.sources["kick"] == [src("Kick+Sub.wav")]


def test_mapping_by_path_name_stem_and_case() -> None:
    names = ["01 Kick In.wav", "Snare.wav", "Hat.wav"]
    result = match(
        names,
        mapping={"kick": str(STEMS / "01 Kick In.wav"), "Snare": "snare.WAV", "hi-hat": "hat"},
    )
    assert result.sources["kick"] == [src("01 Kick In.wav")]
    assert result.sources["snare"] == [src("Snare.wav")]
    assert result.sources["hi-hat"] == [src("Hat.wav")]


def test_mapping_silent_slot() -> None:
    for silent in ("", "none", "None", [], None):
        result = match(["Kick.wav", "Snare.wav"], mapping={"snare": silent}, ignore_unmatched=True)
        assert result.sources["snare"] == []
        assert "snare" in result.missing
        assert result.unmatched == []  # left out: the mapping chose silence for its slot
        assert "snare: Snare.wav left out, as the mapping asks (snare: silence)" in result.notes
        assert "snare is silent, as the mapping asks" in result.notes


def test_mapping_stereo_file_without_channel_is_downmixed() -> None:
    result = match({"Kick.wav": 1, "Amb.wav": 2}, mapping={"overhead_L": "Amb.wav"})
    assert result.sources["overhead_L"] == [src("Amb.wav")]
    assert "overhead_L: Amb.wav is stereo, downmixed to mono" in result.notes


def test_mapping_unknown_slot_lists_valid_slots() -> None:
    with pytest.raises(StemMatchError) as info:
        match(["Kick.wav"], mapping={"kik": "Kick.wav"})
    message = str(info.value)
    assert_one_line(message)
    assert "unknown slot 'kik'" in message
    assert "kick, snare, hi-hat, tom_1, tom_2, tom_3, overhead_L, overhead_R" in message


def test_mapping_unknown_file_lists_given_files() -> None:
    with pytest.raises(StemMatchError) as info:
        match(["Kick.wav", "Snare.wav"], mapping={"kick": "Kik.wav"})
    message = str(info.value)
    assert_one_line(message)
    assert "Kik.wav" in message and "given files: Kick.wav, Snare.wav" in message
    with pytest.raises(StemMatchError, match=r"Sub\.wav"):
        match(["Kick.wav"], mapping={"kick": "Kick.wav+Sub.wav"})


def test_mapping_channel_out_of_range() -> None:
    with pytest.raises(StemMatchError, match=r"OH\.wav has 2 channel\(s\), numbered 0-1") as info:
        match({"OH.wav": 2}, mapping={"overhead_L": "OH.wav:2"})
    assert_one_line(str(info.value))


def test_mapping_ambiguous_name_asks_for_a_path() -> None:
    files = [Path("/a/Kick.wav"), Path("/b/Kick.wav")]
    with pytest.raises(StemMatchError, match="give the full path"):
        match_stems(files, DRUM_SLOTS, channels=dict.fromkeys(files, 1), mapping={"kick": "Kick.wav"})
    result = match_stems(
        files, DRUM_SLOTS, channels=dict.fromkeys(files, 1), mapping={"kick": "/b/Kick.wav"}, ignore_unmatched=True
    )
    assert result.sources["kick"] == [ChannelSource(Path("/b/Kick.wav"), None)]
    assert result.unmatched == []  # left out: the mapping chose the other one for kick
    assert "kick: /a/Kick.wav left out, as the mapping asks (kick: /b/Kick.wav)" in result.notes  # same names


def test_mapping_mixing_none_and_files_is_an_error() -> None:
    with pytest.raises(StemMatchError, match="none"):
        match(["Kick.wav"], mapping={"kick": ["none", "Kick.wav"]})


def test_parsed_mapping_feeds_match_stems() -> None:
    mapping = parse_mapping(["kick=Kick In.wav+Kick Out.wav", "overhead_L=OH.wav:0", "overhead_R=OH.wav:1"])
    result = match({"Kick In.wav": 1, "Kick Out.wav": 1, "OH.wav": 2}, mapping=mapping)
    assert result.sources["kick"] == [src("Kick In.wav"), src("Kick Out.wav")]
    assert result.sources["overhead_R"] == [src("OH.wav", 1)]


# --------------------------------------------------------------------------- parse_mapping / files


def test_parse_mapping() -> None:
    assert parse_mapping(
        ["kick=01 Kick In.wav", "overhead_L=OH.wav:0", "kick=a.wav+b.wav", " snare = Snare.wav ", "tom_3=", "tom_2=none"]
    ) == {
        "kick": ["01 Kick In.wav", "a.wav", "b.wav"],
        "overhead_L": ["OH.wav:0"],
        "snare": ["Snare.wav"],
        "tom_3": [],
        "tom_2": [],
    }
    assert parse_mapping([]) == {}
    assert parse_mapping(["kick=a=b.wav"]) == {"kick": ["a=b.wav"]}


@pytest.mark.parametrize(
    "items",
    [["kick"], ["=Kick.wav"], ["kick=a.wav+"], ["kick=a.wav++b.wav"], ["kick=none", "kick=Kick.wav"]],
)
def test_parse_mapping_errors(items: list[str]) -> None:
    with pytest.raises(StemMatchError) as info:
        parse_mapping(items)
    assert_one_line(str(info.value))


def test_load_mapping_file(tmp_path: Path) -> None:
    path = tmp_path / "map.json"
    path.write_text(json.dumps({"kick": ["a.wav", "b.wav"], "snare": "Snare+Top.wav", "tom_3": None, "tom_2": "none"}))
    assert load_mapping_file(path) == {"kick": ["a.wav", "b.wav"], "snare": ["Snare+Top.wav"], "tom_3": [], "tom_2": []}


@pytest.mark.parametrize(
    "text",
    ["{not json", '["kick", "a.wav"]', '{"kick": 3}', '{"kick": ["a.wav", 2]}', '{"kick": [""]}', '{"": "a.wav"}'],
)
def test_load_mapping_file_errors(tmp_path: Path, text: str) -> None:
    path = tmp_path / "map.json"
    path.write_text(text)
    with pytest.raises(StemMatchError) as info:
        load_mapping_file(path)
    assert_one_line(str(info.value))


def test_load_mapping_file_missing(tmp_path: Path) -> None:
    with pytest.raises(StemMatchError, match="does not exist"):
        load_mapping_file(tmp_path / "nope.json")


# --------------------------------------------------------------------------- output


def test_describe_table() -> None:
    result = match({"Kick In.wav": 1, "Kick Out.wav": 1, "OH.wav": 2, "Room.wav": 2}, ignore_unmatched=True)
    lines = result.describe().splitlines()
    assert lines[0].split() == ["slot", "source"]
    assert lines[1] == "kick        Kick In.wav + Kick Out.wav"
    assert lines[3] == "hi-hat      (silence)"
    assert lines[7] == "overhead_L  OH.wav:0"
    assert lines[8] == "overhead_R  OH.wav:1"
    assert lines[9] == "ignored     Room.wav"


def test_all_notes_and_messages_are_single_lines() -> None:
    result = match(
        {"Kick In.wav": 1, "Kick Out.wav": 2, "OH.wav": 2, "Toms 1.wav": 1, "Toms 2.wav": 1, "Room.wav": 1},
        ignore_unmatched=True,
    )
    assert result.notes
    for note in result.notes:
        assert_one_line(note)
