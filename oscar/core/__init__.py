"""What every room uses: processes, errors, messages, settings, configuration, logs."""
