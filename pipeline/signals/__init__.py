"""Signals across articles: stories, and the rules that watch them."""
