"""``batch`` and ``verify DIR``: many devices, each with its own identity.

Modules, in the order a run uses them:

* ``request``: :class:`BatchRequest` (what was asked) and :class:`Plan` (validated);
* ``common``, ``sources``, ``attestation``, ``probe``, ``plan``: turning a request into a
  plan -- common values, per-device CSV values, the PAI, a probe device measured against
  the partition -- before anything is written;
* ``layout``, ``series_dir``, ``manifest``, ``resume``: the series directory, its
  manifest, and picking up where a killed run stopped;
* ``device``, ``workers``: building devices in a process pool;
* ``run``: the ``batch`` command body; ``verify``: ``verify DIR``.
"""
