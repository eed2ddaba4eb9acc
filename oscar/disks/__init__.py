"""The PC's disks as OSCAR sees them: the model (no I/O), probing, locks, hotplug."""
