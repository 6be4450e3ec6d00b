"""Running analyses: the fitting stage (the only layer that calls the sampler), fit I/O, the run
directory (atomic, never destroying data), its manifest, the outputs stage, and the jobs the
command line calls: ``analyze``, ``rebuild_report`` and ``update_run``.

The top library layer: it may import every other subpackage; none imports it.
"""
