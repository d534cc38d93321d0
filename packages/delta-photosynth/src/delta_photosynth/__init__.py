"""deltamod-photosynth: leaf photosynthesis for deltamod.

Modules: :mod:`.config` (torch-free options), :mod:`.fvcb` (C3 FvCB, ``photosynth.fvcb``),
:mod:`.c4` (C4 Collatz, ``photosynth.c4``), :mod:`.biochem` (limiting rates),
:mod:`.temperature` (temperature responses), :mod:`.stomata` (Medlyn / Ball–Berry and the
implicit Ci solve), :mod:`.data` (LI-COR and table readers, canonical stores),
:mod:`.synthetic` (synthetic curves, ``photosynth.synthetic``).
"""
