"""The backup format and where backups live: stores, manifests, checksums, Clonezilla folders."""
