"""Takumi KB's web face: Flask app factory (web.app.create_app), blueprints, templates, static assets.

Imports nothing heavy: page views never load torch, FAISS or Whisper; the
search engine is loaded on the first search (web.searching).
"""
