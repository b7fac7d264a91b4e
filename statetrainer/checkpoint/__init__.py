"""Checkpoints: the file format (io), what goes in and comes out (content), ckpt_path resolution.

See docs/checkpoints.md for what is saved, the guarantees and the safety model.
"""
