"""The desktop app (`emoscope gui`) and the headless live view (`emoscope live`) on the streaming loop."""
