"""Training data: ENST-drums, users' multitrack collections, and a generated drum corpus.

* :mod:`automix.data.enst` — the ENST-drums loader (splits, loudness normalisation, segments);
* :mod:`automix.data.collection` — any multitrack collection described by a manifest;
* :mod:`automix.data.generate` — a realistic drum multitrack generator writing the ENST layout
  (torch-free), built from :mod:`~automix.data.grooves` (MIDI grooves), :mod:`~automix.data.kits`
  (the kit catalogue), :mod:`~automix.data.rooms` and :mod:`~automix.data.recording` (rooms, mics,
  levels) and :mod:`~automix.data.mixstyles` (engineer-like target mixes);
  :mod:`~automix.data.kitsplit` makes leave-kit-out splits of its corpora.

Stem slots follow :data:`daw_bridge.stems.DRUM_SLOTS` (the Mix-Wave-U-Net's input order).
"""
