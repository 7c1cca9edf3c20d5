"""What users run: one video's analysis, photos predicted, batches on the local or the Ray engine, the panic
study's cross-validation. The front ends (CLI, web app, desktop app, Python API) call these."""
