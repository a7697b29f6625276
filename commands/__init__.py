"""The `vigie` command line (commands/main.py), split by area. Commands import
connectors/ and pipeline/; nothing imports commands."""
