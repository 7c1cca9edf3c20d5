"""Per-face cues measured frame by frame in the video loop (blinks, gaze, face touching, panic)."""
