"""Adapters: spreadsheets (rosters), legacy sources and, later, the client SDK.

``tongxin.adapters`` uses only the public APIs of the standard and the hub."""
