"""Segment file storage tiers.

Today segments live on the worker's local disk under ``storage.media_root`` (written by ``recorder``, read by
the API through ``api.files.media_file``). This package is where the S3-compatible warm tier of the
scale-out work (issue 10) goes; the import contracts already place it among the backends.
"""
