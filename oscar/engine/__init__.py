"""One module per outside tool: pure argv builders and parsers, and thin functions that run them."""
