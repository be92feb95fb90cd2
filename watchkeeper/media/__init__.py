"""Segment file storage tiers: the local media folder (hot) and an S3-compatible bucket (warm).

``protocol`` holds the ``ObjectStore`` protocol, its errors and ``SegmentFiles``, the one reader of segment
bytes from either tier (stages and the API use it); ``s3`` is the boto3 backend that ``runtime.wiring``
picks from the ``tiers`` section. ``recorder.tiering`` moves segments from hot to warm.
"""
