"""Offline speech through the espeak-ng command (installed by ``make install``; no network, no model
download). Phrases can be played on the sound card, written to a WAV file, or both.

Playing never stops the program: espeak-ng runs in the background, and a missing binary or a
machine without a sound card produces one warning line, after which speech is switched off.
"""

from __future__ import annotations

import io
import shutil
import subprocess
import wave
from collections.abc import Callable
from pathlib import Path

import numpy as np

from emoscope.errors import EmoscopeError
from emoscope.files import atomic_output, ensure_writable_folder

ENGINE = "espeak-ng"
GAP_SECONDS = 0.3
"""Silence between phrases in a written WAV file."""


def engine_path() -> str | None:
    return shutil.which(ENGINE)


def synthesize(text: str, voice: str = "en") -> tuple[np.ndarray, int]:
    """``text`` spoken as int16 mono samples and their sample rate."""
    binary = engine_path()
    if binary is None:
        raise EmoscopeError(f"{ENGINE} not found: install it (`make install`, or apt-get install {ENGINE})")
    done = subprocess.run([binary, "-v", voice, "--stdout", text], capture_output=True, timeout=60)
    if done.returncode != 0 or not done.stdout:
        message = done.stderr.decode(errors="replace").strip().splitlines()
        raise EmoscopeError(f"{ENGINE} failed to speak {text!r}: {message[-1] if message else 'no output'}")
    with wave.open(io.BytesIO(done.stdout)) as audio:
        rate = audio.getframerate()
        samples = np.frombuffer(audio.readframes(audio.getnframes()), dtype=np.int16)
    return samples, rate


def write_wav(path: str | Path, samples: np.ndarray, rate: int) -> Path:
    """Mono 16-bit WAV, renamed into place when complete; a refused write is one OutputError line.

    The file is opened here, not by ``wave``: a ``wave`` writer that failed to open its own file
    prints an "Exception ignored" traceback when it is collected."""
    path = Path(path)
    with atomic_output(path) as temporary, temporary.open("wb") as file, wave.open(file, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(np.asarray(samples, dtype=np.int16).tobytes())
    return path


class Speaker:
    """Says phrases aloud (``play``) and/or collects them for one WAV file (``wav_path``)."""

    def __init__(self, play: bool = False, wav_path: str | Path | None = None, voice: str = "en",
                 warn: Callable[[str], None] = print):
        self.play = play
        self.wav_path = Path(wav_path) if wav_path else None
        if self.wav_path is not None:
            ensure_writable_folder(self.wav_path.parent)  # now, not after the whole session
        self.voice = voice
        self.warn = warn
        self.spoken: list[str] = []
        self._player: subprocess.Popen | None = None
        if self.wav_path is not None and engine_path() is None:
            raise EmoscopeError(f"{ENGINE} not found, so {self.wav_path} cannot be written: install it "
                                f"(`make install`, or apt-get install {ENGINE})")
        if self.play and engine_path() is None:
            self._give_up(f"{ENGINE} not found; speech is off (install it with `make install`)")

    def _give_up(self, reason: str) -> None:
        self.warn(f"warning: {reason}")
        self.play = False

    def _check_player(self, wait: bool) -> None:
        """Warn once if the last phrase could not be played (e.g. no sound card)."""
        if self._player is None or (not wait and self._player.poll() is None):
            return
        _, err = self._player.communicate(timeout=30)
        self._player = None
        # espeak-ng exits 0 even when it cannot open an audio device; its stderr tells.
        problems = [line for line in err.decode(errors="replace").splitlines() if "error" in line.lower()]
        if problems:
            self._give_up(f"cannot play speech ({problems[-1].strip()}); use --speak-to FILE.wav instead")

    def say(self, text: str) -> None:
        self.spoken.append(text)
        if not self.play:
            return
        self._check_player(wait=True)  # one phrase at a time, in order
        if self.play:
            self._player = subprocess.Popen([engine_path(), "-v", self.voice, text],
                                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def close(self) -> Path | None:
        """Finish playing and write the WAV file; returns its path (None when nothing was said)."""
        if self.play:
            self._check_player(wait=True)
        if self.wav_path is None or not self.spoken:
            return None
        pieces, rate = [], 22050
        for text in self.spoken:
            samples, rate = synthesize(text, self.voice)
            pieces += [samples, np.zeros(int(GAP_SECONDS * rate), dtype=np.int16)]
        return write_wav(self.wav_path, np.concatenate(pieces[:-1]), rate)
