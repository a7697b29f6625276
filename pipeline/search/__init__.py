"""Search engines behind one interface (engine.py) and their client adapters."""
