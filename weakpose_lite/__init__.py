"""weakpose-lite: weakly-supervised 3D pose from a single 2D pose via multi-view consistency (Rochette et al., BMVC 2019)."""

__version__ = "0.1.0"
