"""What crosses the network: deployment (deploy/), network boot (pxe/), SSH export and import (ssh/)."""
