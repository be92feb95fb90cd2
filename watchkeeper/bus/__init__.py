"""Typed publish/subscribe: messages, the ``Bus`` protocol, and the local and NATS JetStream backends.

Stages import :mod:`watchkeeper.bus.messages` and :mod:`watchkeeper.bus.protocol` only; the backends
(:mod:`watchkeeper.bus.local`, :mod:`watchkeeper.bus.nats`) are chosen by ``runtime.wiring``.
"""
