"""The stream worker: the Faust app, one handler per agent, batching, dead letters."""
