"""devhost's Storage binding extension: queue, timer and blob triggers/bindings against Azurite.

Modules: ``azurite`` (find, start, stop the emulator), ``connections`` (a binding's ``connection`` →
SDK clients), ``names`` (queue/container naming, encodings), ``expressions`` (``{id}``-style binding
expressions), ``queue_listener`` / ``queue_output`` (queue trigger and output), ``ncrontab`` /
``timer_listener`` / ``timer_status`` (timer trigger), ``blobs`` (blob input/output), ``extension`` (the
:class:`StorageExtension` the host loads).
"""
