"""deltamod-photosynth: leaf photosynthesis for deltamod: FvCB, stomatal conductance."""
