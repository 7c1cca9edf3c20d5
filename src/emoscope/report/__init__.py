"""The behavioural report: accumulated from the video loop's results, written as JSON, charts and HTML."""
