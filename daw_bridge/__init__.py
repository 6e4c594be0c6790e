"""daw_bridge: the DAW side of automix (stems and sessions in, renders and sessions out).

It never imports torch: a DAW user can import stems, render a mix plan and write a session
without the learning stack. Shared torch-free code (audio files, loudness) comes from
:mod:`automix.audio`.
"""
