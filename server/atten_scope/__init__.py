"""Atten-Scope: what a language model attends to while it reads code."""

import os

# Torch's OpenMP threads wait for work passively. When the cores are shared (an analysis and a
# heatmap at once, the editor, other processes), threads that spin while they wait slow every
# computation several times over: a 2,048-token heatmap overview took 17 s spinning and 1.8 s
# passive on 2 busy cores, a forward pass 20 s and 14 s. It counts only when set before torch
# starts its threads (so here, before any module imports torch); the environment can override it.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
