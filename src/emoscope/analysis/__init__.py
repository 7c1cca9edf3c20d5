"""Behaviour analysis: per-frame cues (blinks, face touching, gaze) and the per-person report."""
