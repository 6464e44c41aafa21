"""Results to output: payloads, JSON, plain text, CSV rows, rich tables, files and pictures."""
