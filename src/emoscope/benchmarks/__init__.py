"""What measures the jobs: `emoscope bench` (speed, agreement, real-face photos, pipeline fidelity, robustness,
hand photos, cue validation, the fuzz). Speed targets live here, not in timed tests."""
