"""The theory's old home, kept so that `gradsim.theory.NAME` goes on working.

The theory now lives one idea to a file: `meanfield` (length map, q*, chi1, phase diagram),
`init` (initialisation rules) and `window` (Nielsen's window).
"""

from __future__ import annotations

from .init import INITS, init_sigma_w2, orthogonal_gain_squared  # noqa: F401
from .meanfield import *  # noqa: F401,F403
from .meanfield import (  # noqa: F401
    PHASE_GRID, PHASE_SIGMA_B2, Q_MAX, Q_MIN, SIGMA_W2_MAX, ActLike, InitPoint, PhaseResult, chi1, chi1s,
    critical_sigma_w2, depth_scale, dact_limit_square, expect, fixed_point_q, fixed_points, length_map,
    length_maps, normal_rule, phase, regime, solve_bracketed,
)
from .window import (  # noqa: F401
    WINDOW_GRID, WINDOW_ROWS, WINDOW_SCAN, WINDOW_X, WINDOW_X_LIMIT, WindowResult, WindowRow, sigmoid_window_edge,
    sigmoid_window_width, window, window_intervals, window_width,
)
