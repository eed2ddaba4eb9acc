"""OSCAR_déploie: each cloned PC gets its own name, address, licence key and domain or
workgroup from one clients file per room."""
