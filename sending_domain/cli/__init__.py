"""The ``sending-domain`` command line: one module per command, ``print`` only here."""
