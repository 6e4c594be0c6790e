"""Stem files and a model's slots: names, roles, and matching (pure Python, opens no audio).

A model mixes an ordered set of *slots* (the drum mixer: :data:`DRUM_SLOTS`, the ENST-drums
names). :func:`guess_role` reads a role and side off a file name; :func:`match_stems` assigns
files to slots, an explicit mapping (``--map SLOT=FILE``) first. Rules: ``docs/stem-matching.md``.
"""

from daw_bridge.stems.matching import (
    AS_ASKED,
    ChannelSource,
    StemAssignment,
    load_mapping_file,
    match_stems,
    natural_key,
    parse_mapping,
)
from daw_bridge.stems.names import (
    DRUM_SLOTS,
    EXPORT_SUFFIXES,
    PERSPECTIVES,
    ROLE_ALIASES,
    SIDE_ALIASES,
    STRIPPED_EXTENSIONS,
    check_perspective,
    guess_role,
    normalise_name,
)

__all__ = [
    "AS_ASKED",
    "DRUM_SLOTS",
    "EXPORT_SUFFIXES",
    "PERSPECTIVES",
    "ROLE_ALIASES",
    "SIDE_ALIASES",
    "STRIPPED_EXTENSIONS",
    "ChannelSource",
    "StemAssignment",
    "check_perspective",
    "guess_role",
    "load_mapping_file",
    "match_stems",
    "natural_key",
    "normalise_name",
    "parse_mapping",
]
