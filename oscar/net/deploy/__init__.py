"""Déploiement: a server sends a backup to the PCs of a room (multicast with udpcast, or each
at its own pace over HTTP); each client applies one of the seven procedures."""
