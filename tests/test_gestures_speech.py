"""Offline speech through espeak-ng: real synthesis, checked for audible speech of a plausible length."""

import wave

import numpy as np
import pytest

from emoscope.errors import EmoscopeError
from emoscope.gestures import speech
from emoscope.gestures.speech import GAP_SECONDS, Speaker, synthesize

needs_espeak = pytest.mark.skipif(speech.engine_path() is None, reason="espeak-ng not installed (`make install`)")


def read_wav(path):
    with wave.open(str(path)) as audio:
        assert audio.getnchannels() == 1 and audio.getsampwidth() == 2
        rate = audio.getframerate()
        return np.frombuffer(audio.readframes(audio.getnframes()), dtype=np.int16), rate


def voiced_share(samples: np.ndarray, rate: int) -> float:
    """Share of 20 ms windows louder than -40 dBFS: speech has many, silence or a click has none."""
    window = int(0.02 * rate)
    frames = samples[: len(samples) // window * window].astype(np.float64).reshape(-1, window) / 32768
    return float((np.sqrt((frames**2).mean(axis=1)) > 0.01).mean())


@needs_espeak
def test_synthesized_phrase_is_audible_speech_of_plausible_length():
    samples, rate = synthesize("Victory!")
    seconds = len(samples) / rate
    assert 0.3 < seconds < 3.0
    assert voiced_share(samples, rate) > 0.3
    longer, _ = synthesize("Victory! Super! Loser! Punch!")
    assert len(longer) > 2.5 * len(samples)  # four words take longer than one


@needs_espeak
def test_speaker_writes_every_phrase_in_order_into_one_wav(tmp_path):
    speaker = Speaker(wav_path=tmp_path / "said.wav")
    for text in ("Victory!", "Punch!"):
        speaker.say(text)
    path = speaker.close()
    samples, rate = read_wav(path)
    expected = sum(len(synthesize(t)[0]) for t in ("Victory!", "Punch!")) + int(GAP_SECONDS * rate)
    assert len(samples) == expected
    assert voiced_share(samples, rate) > 0.3
    assert speaker.spoken == ["Victory!", "Punch!"]


@needs_espeak
def test_nothing_said_writes_no_file(tmp_path):
    assert Speaker(wav_path=tmp_path / "none.wav").close() is None
    assert not (tmp_path / "none.wav").exists()


@needs_espeak
def test_playing_without_a_sound_card_warns_once_and_never_fails():
    warnings = []
    speaker = Speaker(play=True, warn=warnings.append)
    speaker.say("Super!")
    speaker.say("Loser!")
    speaker.close()
    # On a machine with audio nothing is reported; without, exactly one warning and speech stops.
    assert len(warnings) <= 1
    assert all(w.startswith("warning: cannot play speech") for w in warnings)


def test_missing_engine_is_a_warning_for_playing_and_an_error_for_a_file(monkeypatch, tmp_path):
    monkeypatch.setattr(speech, "engine_path", lambda: None)
    warnings = []
    speaker = Speaker(play=True, warn=warnings.append)
    speaker.say("Punch!")
    assert speaker.close() is None and len(warnings) == 1 and "espeak-ng not found" in warnings[0]
    with pytest.raises(EmoscopeError, match="espeak-ng not found"):
        Speaker(wav_path=tmp_path / "x.wav")
    with pytest.raises(EmoscopeError, match="espeak-ng not found"):
        synthesize("Punch!")
